"""Offline render of a stack: what `pulumi up` would deploy, without the CLI or a cluster.

    python -m tools.render --stack dev [--check] [--out build]

Runs the real program under the Pulumi SDK's mock runtime (tools/mockrun.py) with the stack's
`Pulumi.<stack>.yaml` and writes build/<stack>/ (docs/architecture.md#verification; README "What the render writes"). Secrets are
replaced by "[secret]" everywhere. Output is deterministic: sorted keys, no timestamps, so
`diff -r` of two renders is a review artefact. `--check` also runs the real-tool checks on the
output (tools/checks.py) and exits non-zero on any error.
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any, Mapping

import pydantic

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from components.chart import patch_objects  # noqa: E402
from plan.settings import StackSettings  # noqa: E402
from plan.versions import ALL_CHARTS  # noqa: E402
from monitoring import yaml_text  # noqa: E402
from stacks.config import ConfigError  # noqa: E402
from tools import helm, requests  # noqa: E402
from tools.mockrun import REDACTED, Resource, StackRun, known_stacks, redact  # noqa: E402

CHART_TYPE = "kubernetes:helm.sh/v4:Chart"


def _dump_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _dump_yaml(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml_text.dump(data))


def _short_parent(urn: str) -> str:
    return urn.rsplit("::", 1)[-1] if urn else ""


def _is_kubernetes_object(resource: Resource) -> bool:
    return resource.custom and resource.type.startswith("kubernetes:") and resource.type != CHART_TYPE and (
        not resource.type.startswith("pulumi:providers")
    )


def _whole_numbers(value: Any) -> Any:
    """Integral floats back to ints: the engine's protobuf Struct carries every number as a double,
    so the mocks see `runAsUser: 65534.0` where the program wrote 65534 (and the provider sends an
    integer). Scanners compare such fields as integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(v) for v in value]
    return value


def _manifest(resource: Resource) -> dict[str, Any]:
    """The object as `kubectl apply` would get it; every Secret's data is redacted whole."""
    inputs = _whole_numbers(redact(resource.inputs))
    if inputs.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if key in inputs:
                inputs[key] = {k: REDACTED for k in resource.plain_inputs[key]}
    return inputs


def _manifest_filename(manifest: dict[str, Any]) -> str:
    meta = manifest.get("metadata", {})
    parts = [manifest.get("kind", "Object"), meta.get("namespace") or "cluster", meta.get("name", "unnamed")]
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "-".join(parts)).lower() + ".yaml"


def chart_releases(run: StackRun) -> dict[str, helm.Release]:
    """Every chart the program declares, keyed by its file stem: the chart's name, or the release
    name for a chart deployed twice (Fluent Bit)."""
    charts = run.of_type(CHART_TYPE)
    chart_names = [c.inputs["chart"] for c in charts]
    return {
        (c.inputs["chart"] if chart_names.count(c.inputs["chart"]) == 1 else c.name): chart_release(c)
        for c in charts
    }


_REFS = {(ref.chart, ref.version): ref for ref in ALL_CHARTS}


def chart_release(chart: Resource) -> helm.Release:
    """The release a Chart resource declares. Values are redacted: a secret never reaches Helm's
    output, and the Secrets it renders are redacted whole anyway."""
    inputs = redact(chart.inputs)
    return helm.Release(
        name=inputs["name"],
        ref=_REFS[(inputs["chart"], inputs["version"])],
        namespace=inputs["namespace"],
        values=inputs.get("values", {}),
    )


def chart_dependencies(run: StackRun, releases: dict[str, helm.Release]) -> dict[str, set[str]]:
    """Release name -> the other releases it waits for, through any chain of `depends_on`."""
    graph = {r.name: {d.rsplit("::", 1)[-1] for d in r.depends_on} for r in run.resources}
    names = {r.name for r in releases.values()}

    def closure(name: str, seen: set[str]) -> set[str]:
        for dep in graph.get(name, set()) - seen:
            seen.add(dep)
            closure(dep, seen)
        return seen

    return {name: closure(name, set()) & names for name in names}


def _redact_secret_data(obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if key in obj:
                obj[key] = {k: REDACTED for k in obj[key] or {}}
    return obj


def _cluster_scoped_custom_kinds(objects: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (crd["spec"]["group"], crd["spec"]["names"]["kind"])
        for crd in objects
        if crd.get("kind") == "CustomResourceDefinition" and crd["spec"].get("scope") == "Cluster"
    }


def _fix_custom_scope(objects: list[dict[str, Any]], cluster_kinds: set[tuple[str, str]]) -> None:
    for obj in objects:
        group = obj.get("apiVersion", "").rpartition("/")[0]
        if (group, obj.get("kind")) in cluster_kinds:
            obj.get("metadata", {}).pop("namespace", None)


def template_charts(
    releases: dict[str, helm.Release], jobs: helm.TemplateJobs | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Every object each chart renders, with the program's object patches applied, Secrets redacted,
    cluster-scoped custom kinds without a namespace (the v4 Chart only namespaces what the API
    server says is namespaced). `jobs`: Helm already started on these releases."""
    if jobs is None:
        jobs = helm.TemplateJobs()
        for release in releases.values():
            jobs.start(release)
    by_release = jobs.objects()
    # The Pulumi transforms of components/chart.py (`object_patch`), applied the same way here.
    objects = {
        stem: [_redact_secret_data(o) for o in patch_objects(r.name, by_release[r.name])]
        for stem, r in releases.items()
    }
    cluster_kinds = _cluster_scoped_custom_kinds([o for objs in objects.values() for o in objs])
    for objs in objects.values():
        _fix_custom_scope(objs, cluster_kinds)
    return objects


def _write_objects(directory: Path, objects: list[dict[str, Any]]) -> None:
    """One file per object; a second object with the same kind, namespace and name (an error the
    checks report) gets a numbered file instead of overwriting the first."""
    for obj in objects:
        filename = _manifest_filename(obj)
        n = 1
        while (directory / filename).exists():
            n += 1
            filename = _manifest_filename(obj).removesuffix(".yaml") + f"-{n}.yaml"
        _dump_yaml(directory / filename, obj)


def render(
    stack: str, out_root: Path, charts: bool = True, overrides: dict[str, Any] | None = None
) -> tuple[Path, dict[str, Any]]:
    """Write build/<stack>/. With `charts=False` (bench only) the charts are not templated, so
    objects/ and the request totals are missing. `overrides` change the stack's config the way
    `pulumi config set --path` would (tests render a variant of a stack with them)."""
    # Helm starts on each chart as soon as the program declares it, beside the rest of the run.
    jobs = helm.TemplateJobs() if charts else None

    def start_chart(resource: Resource) -> None:
        if resource.type == CHART_TYPE:
            jobs.start(chart_release(resource))

    try:
        run = StackRun(stack, overrides=dict(overrides or {}), on_record=start_chart if jobs else None).execute()
    except BaseException:
        if jobs:
            jobs.close()
        raise
    releases = chart_releases(run)
    chart_objects = template_charts(releases, jobs) if jobs else {}
    settings_nodes = run.result.plan.settings.cluster.nodes
    out = out_root / stack
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)

    resources = [
        {
            "type": r.type,
            "name": r.name,
            "parent": _short_parent(r.parent),
            "protect": r.protect,
            "inputs": redact(r.inputs),
        }
        for r in run.resources
    ]
    _dump_json(out / "resources.json", resources)
    _dump_json(out / "plan.json", plain(run.result.plan))

    program_objects = [_manifest(r) for r in run.resources if _is_kubernetes_object(r)]
    _write_objects(out / "manifests", program_objects)
    for stem, objects in chart_objects.items():
        _write_objects(out / "objects" / stem, objects)

    waits_for = chart_dependencies(run, releases)
    entries = []
    for stem, release in releases.items():
        entry = {
            "name": release.name,
            "chart": release.ref.chart,
            "version": release.ref.version,
            "repository": release.ref.repository,
            "namespace": release.namespace,
            "waitsFor": sorted(waits_for[release.name]),
        }
        entries.append({**entry, "objects": len(chart_objects.get(stem, []))})
        _dump_yaml(out / "charts" / f"{stem}.yaml", {**entry, "values": release.values})

    _write_grafana(run, out)
    _write_alerting(run, out)
    _write_chart_rules(chart_objects, out)
    (out / "influxdb").mkdir()
    (out / "influxdb" / "schema.iql").write_text(run.result.plan.influxdb.influxql)
    _write_logs_and_traces(run, out)
    # The on-call table: who owns which area, its rotations and escalation chains (docs/oncall.md).
    _dump_json(out / "oncall" / "oncall.json", run.result.plan.ownership.oncall_table())

    by_type: dict[str, list[str]] = {}
    for r in run.resources:
        by_type.setdefault(r.type, []).append(r.name)
    every_object = program_objects + [o for objs in chart_objects.values() for o in objs]
    summary = {
        "stack": stack,
        "environment": run.outputs.get("environment"),
        "resourceCount": len(run.resources),
        "kubernetesObjects": len(every_object),
        "resourcesByType": {t: sorted(names) for t, names in sorted(by_type.items())},
        "charts": sorted(entries, key=lambda c: (c["chart"], c["name"])),
        "requests": requests.totals(every_object, settings_nodes) if charts else None,
        "outputs": {k: (REDACTED if k in run.secret_outputs else v) for k, v in sorted(run.outputs.items())},
        "placeholderSecrets": sorted(run.placeholder_secrets),
        "warnings": sorted(run.warnings),
    }
    _dump_json(out / "summary.json", summary)
    return out, summary


def plain(value: Any) -> Any:
    """The plan as JSON data: dataclasses and spec models as objects (stack-file spelling), tuples as
    lists. The whole stack settings are left out wherever they are held (the stack file is their
    source, and every part the platform deploys is in the slices)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
        return {name: plain(v) for name, v in fields if not isinstance(v, StackSettings)}
    if isinstance(value, pydantic.BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [plain(v) for v in value]
        return sorted(items, key=json.dumps) if isinstance(value, (frozenset, set)) else items
    if isinstance(value, enum.Enum):
        return value.value
    return value


# Every Kubernetes object of a render directory (the function lives with the YAML parser).
read_objects = helm.read_objects


def _write_grafana(run: StackRun, out: Path) -> None:
    datasources = [
        {
            "uid": r.inputs["uid"],
            "name": r.inputs["name"],
            "type": r.inputs["type"],
            "url": r.inputs.get("url"),
            "isDefault": r.inputs.get("isDefault", False),
            "jsonData": json.loads(r.inputs.get("jsonDataEncoded", "{}")),
        }
        for r in run.of_type("grafana:oss/dataSource:DataSource")
    ]
    _dump_json(out / "grafana" / "datasources.json", sorted(datasources, key=lambda d: d["uid"]))
    permissions = run.result.plan.grafana_content.folder_permissions
    folders = [
        {**redact(r.inputs), "permissions": permissions.get(r.inputs["uid"], {})}
        for r in run.of_type("grafana:oss/folder:Folder")
    ]
    _dump_json(out / "grafana" / "folders.json", sorted(folders, key=lambda f: f.get("uid", "")))
    for dashboard in run.of_type("grafana:oss/dashboard:Dashboard"):
        model = json.loads(dashboard.plain_inputs["configJson"])
        _dump_json(out / "grafana" / "dashboards" / f"{model['uid']}.json", model)


def _write_alerting(run: StackRun, out: Path) -> None:
    for rule in run.of_type("kubernetes:monitoring.coreos.com/v1:PrometheusRule"):
        inputs = rule.plain_inputs
        _dump_yaml(out / "prometheus" / "rules" / f"{inputs['metadata']['name']}.yaml", inputs["spec"])
    # The routing config holds no secret by design (receivers read theirs from mounted files;
    # tests/test_stacks.py pins that), so it is written verbatim for amtool and for review.
    path = out / "alertmanager" / "alertmanager.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(run.result.plan.alerting.alertmanager_config_yaml)


def _write_chart_rules(chart_objects: dict[str, list[dict[str, Any]]], out: Path) -> None:
    """The charts' PrometheusRules (kube-prometheus-stack's default rules, object patch applied) next to
    the program's, so promtool, the alert contract and the metrics contract see every rule Prometheus
    loads (it selects PrometheusRules of every release)."""
    for objects in chart_objects.values():
        for obj in objects:
            if obj.get("kind") == "PrometheusRule":
                _dump_yaml(out / "prometheus" / "rules" / f"{obj['metadata']['name']}.yaml", obj["spec"])


def _write_logs_and_traces(run: StackRun, out: Path) -> None:
    for method, path, body in run.result.plan.elasticsearch.lifecycle_requests:
        # "/_ilm/policy/terrafusion-logs-audit" -> ilm-policy-terrafusion-logs-audit.json
        name = path.strip("/").replace("_", "").replace("/", "-")
        _dump_json(out / "elasticsearch" / f"{name}.json", {"method": method, "path": path, "body": body})
    (out / "jaeger").mkdir(exist_ok=True)
    (out / "jaeger" / "sampling.json").write_text(run.result.plan.tracing.sampling_json)
    (out / "fluent-bit").mkdir(exist_ok=True)
    (out / "fluent-bit" / "node.yaml").write_text(run.result.plan.fluent_bit.node_config)
    (out / "fluent-bit" / "events.yaml").write_text(run.result.plan.fluent_bit.events_config)


def _print_table(out: Path, summary: dict[str, Any]) -> None:
    print(f"rendered {summary['stack']} ({summary['environment']}) -> {out}")
    print(f"  {'resources':<36}{summary['resourceCount']}")
    for chart in summary["charts"]:
        print(f"  {'chart ' + chart['chart']:<36}{chart['version']}")
    print(f"  {'kubernetes objects':<36}{summary['kubernetesObjects']}")
    req = summary["requests"]
    print(f"  {'requests (cpu / memory)':<36}{req['cpuCores']} cores / {req['memoryMi']} Mi on {req['assumedNodes']} node(s)")
    for warning in summary["warnings"]:
        print(f"  warning: {warning}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help=f"one of {', '.join(known_stacks())}")
    parser.add_argument("--out", default=str(ROOT / "build"), help="output root (default: build/)")
    parser.add_argument("--check", action="store_true", help="run promtool/amtool/schema checks on the output")
    args = parser.parse_args(argv)
    if args.stack not in known_stacks():
        print(f"unknown stack {args.stack!r}: known stacks are {', '.join(known_stacks())}", file=sys.stderr)
        return 2
    try:
        out, summary = render(args.stack, Path(args.out))
    except (ConfigError, helm.HelmError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    _print_table(out, summary)
    if args.check:
        from tools import checks

        problems = checks.check_render(out)
        for problem in problems:
            print(f"  check failed: {problem}", file=sys.stderr)
        if problems:
            return 1
        print("  checks passed: " + ", ".join(checks.CHECK_NAMES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
