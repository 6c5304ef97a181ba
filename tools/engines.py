"""Where each generation of the Prometheus/Alertmanager engines lives (the one place that knows).

Generation "2" is what Debian bookworm installs on PATH (Prometheus/promtool 2.42, Alertmanager/
amtool 0.25); generation "3" is what the charts deploy (Prometheus 3.5.3, Alertmanager 0.33.1),
extracted by tools/install-engines.sh from the Debian packages in ../shared/debs into
.tools/engines/3/usr/bin. Checks and tests run the same inputs through both generations.

Pure Python (no Pulumi): tools/checks.py and tests/helpers.py import it.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENGINES_DIR = ROOT / ".tools" / "engines"
PROMETHEUS_TOOLS = ("prometheus", "promtool")
ALERTMANAGER_TOOLS = ("prometheus-alertmanager", "amtool")
# Debian builds Alertmanager to read its default notification templates from this directory at run
# time (upstream embeds them in the binary). An extracted 0.33.1 therefore reads whatever package is
# installed there (bookworm's 0.25, older definitions) and loads no configuration at all without it.
DEBIAN_ALERTMANAGER_SHARE = Path("/usr/share/prometheus/alertmanager")


@dataclass(frozen=True)
class Engine:
    """One generation: the versions it must report and where its binaries are (None: on PATH)."""

    generation: str
    prometheus: str  # version of prometheus and promtool
    alertmanager: str  # version of prometheus-alertmanager and amtool
    bin_dir: Path | None
    install_hint: str
    # Its own default.tmpl when it is not the installed one: list it under `templates:` of a config
    # so its definitions replace the installed ones (0.33 uses e.g. "slack.default.color", unknown
    # to 0.25's file: a Slack message would lose its channel and username).
    alertmanager_templates: Path | None = None

    def version(self, tool: str) -> str:
        if tool in PROMETHEUS_TOOLS:
            return self.prometheus
        if tool in ALERTMANAGER_TOOLS:
            return self.alertmanager
        raise KeyError(f"{tool} is not an engine binary (one of {PROMETHEUS_TOOLS + ALERTMANAGER_TOOLS})")

    def label(self, tool: str) -> str:
        return f"{tool} {self.version(tool)}"


ENGINES = {
    "2": Engine(
        "2", "2.42.0", "0.25.0", None, "as root: apt-get install -y prometheus prometheus-alertmanager"
    ),
    "3": Engine(
        "3", "3.5.3", "0.33.1", ENGINES_DIR / "3" / "usr" / "bin",
        "run tools/install-engines.sh (make test does; DEBS_DIR defaults to ../shared/debs)",
        ENGINES_DIR / "3" / DEBIAN_ALERTMANAGER_SHARE.relative_to("/") / "default.tmpl",
    ),
}  # fmt: skip
GENERATIONS = tuple(ENGINES)


def find(tool: str, generation: str) -> str | None:
    """Path of `tool` of that generation, or None when absent or when it reports another version.

    The version is checked because PATH may hold any Prometheus: a test labelled "2.42" must not
    silently run 3.x (or the reverse).
    """
    engine = ENGINES[generation]
    expected = engine.version(tool)
    if engine.bin_dir is None:
        path = shutil.which(tool)
    else:
        candidate = engine.bin_dir / tool
        path = str(candidate) if candidate.is_file() else None
    if path is None or reported_version(path) != expected:
        return None
    if tool == "prometheus-alertmanager" and not _alertmanager_can_start(engine):
        return None
    return path


def _alertmanager_can_start(engine: Engine) -> bool:
    """An extracted Debian Alertmanager needs an installed package's templates (see above)."""
    if engine.alertmanager_templates is None:
        return True
    return engine.alertmanager_templates.is_file() and (DEBIAN_ALERTMANAGER_SHARE / "default.tmpl").is_file()


def missing_message(tool: str, generation: str) -> str:
    """Why `find` returned None, in one line (which version was expected, how to get it)."""
    engine = ENGINES[generation]
    path = shutil.which(tool) if engine.bin_dir is None else str(engine.bin_dir / tool)
    found = reported_version(path) if path and Path(path).is_file() else None
    state = f"reports {found}" if found else "is not installed"
    if found == engine.version(tool) and tool == "prometheus-alertmanager":
        state = f"cannot start without {DEBIAN_ALERTMANAGER_SHARE}/default.tmpl (any installed prometheus-alertmanager)"
    return f"{engine.label(tool)} (generation {generation}) {state}; {engine.install_hint}"


@functools.cache
def reported_version(path: str) -> str | None:
    """The x.y.z a Prometheus-family binary prints for --version ("promtool, version 3.5.3+ds1 ...")."""
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except OSError:
        return None
    match = re.search(r"version (\d+\.\d+\.\d+)", proc.stdout + proc.stderr)
    return match.group(1) if match else None
