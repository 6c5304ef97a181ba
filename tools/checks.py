"""Checks on a rendered stack (`make render CHECK=1`, and the tests), over the complete set of
objects (the program's manifests/ and every chart's objects/):

- promtool check rules  on prometheus/rules/*.yaml      (Prometheus 2.42 and 3.5.3, tools/engines.py)
- amtool check-config   on alertmanager/alertmanager.yml (Alertmanager 0.25 and 0.33.1)
- amtool config routes test, every case of alertmanager/route-tests.json (the ownership model's:
  every area's services at every severity reach their owner's receivers only)
- cluster checks (tools/cluster_checks.py): strict Kubernetes schemas for the oldest and newest
  supported minors, custom resources against their CRDs, unique objects, every reference resolved
- first-deploy gaps (tools/helm.py): no chart object that only the second `pulumi up` would create
- security scan (tools/security_scan.py): trivy and checkov findings, less security/exceptions.yaml

Each check returns a list of problems; an empty list means it passed. A missing tool is a problem,
not a silent pass.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from plan.versions import ALL_CHARTS
from tools import cluster_checks, engines, helm, security_scan


def _generations(tool: str) -> str:
    return f"{tool} {' + '.join(engines.ENGINES[g].version(tool) for g in engines.GENERATIONS)}"


CHECK_NAMES = (
    f"{_generations('promtool')} check rules",
    f"{_generations('amtool')} check-config",
    f"{_generations('amtool')} config routes test (route-tests.json)",
    f"Kubernetes {' + '.join(helm.SUPPORTED_KUBERNETES)} schemas, CRDs, uniqueness, references",
    "first-deploy gaps",
    "trivy + checkov (less security/exceptions.yaml)",
)


def _run_each_generation(tool: str, command: str, *paths: str) -> list[str]:
    """`tool command paths` with every engine generation: the cluster's 3.x and bookworm's 2.x must
    both accept the output. A generation whose binary is missing is a problem, not a pass."""
    problems = []
    for generation in engines.GENERATIONS:
        path = engines.find(tool, generation)
        if path is None:
            problems.append(engines.missing_message(tool, generation))
            continue
        proc = subprocess.run([path, *command.split(), *paths], capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            label = engines.ENGINES[generation].label(tool)
            problems.append(f"{label} {command}: {(proc.stdout + proc.stderr).strip()}")
    return problems


def check_rules(out: Path) -> list[str]:
    files = sorted((out / "prometheus" / "rules").glob("*.yaml"))
    if not files:
        return []
    return _run_each_generation("promtool", "check rules", *map(str, files))


def check_alertmanager(out: Path) -> list[str]:
    config = out / "alertmanager" / "alertmanager.yml"
    if not config.exists():
        return [f"{config} is missing"]
    return _run_each_generation("amtool", "check-config", str(config))


def route_test(amtool: str, config: Path, labels: dict[str, str], receivers: list[str]) -> subprocess.CompletedProcess:
    """`amtool config routes test`: exit 0 when `labels` reach exactly `receivers`, in order."""
    return subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={','.join(receivers)}",
         *(f"{k}={v}" for k, v in labels.items())],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def check_alertmanager_routes(out: Path) -> list[str]:
    config, cases = out / "alertmanager" / "alertmanager.yml", out / "alertmanager" / "route-tests.json"
    if not cases.exists():
        return [f"{cases} is missing"]
    problems = []
    for generation in engines.GENERATIONS:
        path = engines.find("amtool", generation)
        if path is None:
            problems.append(engines.missing_message("amtool", generation))
            continue
        for case in json.loads(cases.read_text()):
            proc = route_test(path, config, case["labels"], case["receivers"])
            if proc.returncode != 0:
                label = engines.ENGINES[generation].label("amtool")
                problems.append(f"{label} config routes test: {case['what']}: {(proc.stdout + proc.stderr).strip()}")
    return problems


def check_objects(out: Path) -> list[str]:
    return cluster_checks.check_all(helm.read_objects(out), helm.SUPPORTED_KUBERNETES)


def chart_releases(out: Path) -> tuple[list[helm.Release], dict[str, set[str]]]:
    """The releases of a render (charts/*.yaml) and the releases each one waits for."""
    refs = {(ref.chart, ref.version): ref for ref in ALL_CHARTS}
    releases, waits_for = [], {}
    for path in sorted((out / "charts").glob("*.yaml")):
        entry = yaml.safe_load(path.read_text())
        releases.append(helm.Release(entry["name"], refs[(entry["chart"], entry["version"])], entry["namespace"], entry["values"]))
        waits_for[entry["name"]] = set(entry.get("waitsFor") or ())
    return releases, waits_for


def check_first_deploy(out: Path) -> list[str]:
    return helm.first_deploy_gaps(*chart_releases(out))


def check_security(out: Path) -> list[str]:
    return security_scan.check({out.name: helm.read_objects(out)})


def check_render(out: Path) -> list[str]:
    return (
        check_rules(out)
        + check_alertmanager(out)
        + check_alertmanager_routes(out)
        + check_objects(out)
        + check_first_deploy(out)
        + check_security(out)
    )
