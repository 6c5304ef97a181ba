"""Real-tool checks on a rendered stack (`make render CHECK=1`, and the tests):

- promtool check rules  on prometheus/rules/*.yaml      (Prometheus 2.42 from Debian)
- amtool check-config   on alertmanager/alertmanager.yml (Alertmanager 0.25 from Debian)
- Kubernetes schema validation of manifests/*.yaml (kubernetes-validate, strict: unknown fields fail)

Each check returns a list of problems; an empty list means it passed. A missing tool is a problem,
not a silent pass.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import yaml

CHECK_NAMES = ("promtool check rules", "amtool check-config", "manifest schemas")
# Oldest Kubernetes minor the platform supports (the Grafana chart requires >= 1.25).
KUBERNETES_VERSION = "1.30"


def _run(tool: str, *args: str) -> tuple[int, str]:
    path = shutil.which(tool)
    if path is None:
        return 127, f"{tool} is not installed (make test installs it: apt-get install prometheus prometheus-alertmanager)"
    proc = subprocess.run([path, *args], capture_output=True, text=True, timeout=120)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def check_rules(out: Path) -> list[str]:
    files = sorted((out / "prometheus" / "rules").glob("*.yaml"))
    if not files:
        return []
    code, text = _run("promtool", "check", "rules", *map(str, files))
    return [] if code == 0 else [f"promtool check rules: {text}"]


def check_alertmanager(out: Path) -> list[str]:
    config = out / "alertmanager" / "alertmanager.yml"
    if not config.exists():
        return [f"{config} is missing"]
    code, text = _run("amtool", "check-config", str(config))
    return [] if code == 0 else [f"amtool check-config: {text}"]


def check_manifests(out: Path) -> list[str]:
    problems = []
    for path in sorted((out / "manifests").glob("*.yaml")):
        manifest = yaml.safe_load(path.read_text())
        if "." in manifest["apiVersion"].split("/")[0] and not manifest["apiVersion"].startswith(
            ("apps/", "batch/", "policy/", "rbac.authorization.k8s.io/", "networking.k8s.io/")
        ):
            continue  # custom resources: validated by their own tools (promtool for PrometheusRule)
        try:
            kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            problems.append(f"{path.name}: {error.message} at {'.'.join(map(str, error.path))}")
    return problems


def check_render(out: Path) -> list[str]:
    return check_rules(out) + check_alertmanager(out) + check_manifests(out)
