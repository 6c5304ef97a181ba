"""kube-prometheus-stack's default dashboards, as the pinned chart renders them, for our Grafana.

Grafana gets its content only through the Grafana provider (no dashboard sidecar, hence no
Kubernetes API token: components/grafana.py), so the chart's dashboard ConfigMaps are not what
Grafana reads. Instead this step renders the pinned chart once with `grafana.forceDeployDashboards`
(`helm template`, no cluster), takes the JSON of the dashboards monitoring/dashboards/upstream.py
keeps, and writes it to monitoring/dashboards/upstream/<file>: a chart bump shows as a diff there,
and tests/test_upstream_dashboards.py fails while the files differ from what the pinned chart renders.

    .venv/bin/python -m tools.upstream_dashboards          # rewrite the files
    .venv/bin/python -m tools.upstream_dashboards --check  # exit 1 when they are stale

Ref: kube-prometheus-stack 88.5.3 templates/grafana/dashboards-1.14/*.yaml (rendered when
`grafana.enabled or grafana.forceDeployDashboards`, and `grafana.defaultDashboardsEnabled`, the
default; one ConfigMap per dashboard, key `<name>.json`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from components.prometheus_stack import FULLNAME
from components.versions import KUBE_PROMETHEUS_STACK
from monitoring.dashboards.upstream import UPSTREAM_DIR, kept_files
from tools import helm

# Only what the dashboards' text depends on: the job names are the chart's defaults, as in the stacks.
VALUES: dict[str, Any] = {"fullnameOverride": FULLNAME, "grafana": {"enabled": False, "forceDeployDashboards": True}}


def render_dashboards() -> dict[str, str]:
    """File name -> dashboard JSON (pretty, sorted keys) of every dashboard the pinned chart renders."""
    objects = helm.template(helm.Release("kps-dashboards", KUBE_PROMETHEUS_STACK, "monitoring", VALUES))
    out: dict[str, str] = {}
    for obj in objects:
        if obj.get("kind") != "ConfigMap" or "grafana_dashboard" not in (obj["metadata"].get("labels") or {}):
            continue
        for key, text in (obj.get("data") or {}).items():
            out[key] = json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n"
    return out


def stale() -> list[str]:
    """Kept files that are missing, differ from the chart, or that the chart no longer renders."""
    rendered = render_dashboards()
    problems = []
    for name in kept_files():
        path = UPSTREAM_DIR / name
        if name not in rendered:
            problems.append(f"{name}: kube-prometheus-stack {KUBE_PROMETHEUS_STACK.version} renders no such dashboard")
        elif not path.exists() or path.read_text() != rendered[name]:
            problems.append(f"{path}: differs from kube-prometheus-stack {KUBE_PROMETHEUS_STACK.version}")
    extra = sorted(p.name for p in UPSTREAM_DIR.glob("*.json") if p.name not in kept_files())
    problems += [f"{UPSTREAM_DIR / name}: not kept by monitoring/dashboards/upstream.py" for name in extra]
    return problems


def write() -> None:
    rendered = render_dashboards()
    UPSTREAM_DIR.mkdir(parents=True, exist_ok=True)
    for path in UPSTREAM_DIR.glob("*.json"):
        if path.name not in kept_files():
            path.unlink()
    for name in kept_files():
        (UPSTREAM_DIR / name).write_text(rendered[name])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale files")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        print("\n".join(problems) or "upstream dashboards are current")
        return 1 if problems else 0
    write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
