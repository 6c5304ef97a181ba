"""The offline render: the contract's files, deterministic, no secret anywhere, checks pass."""

from __future__ import annotations

import filecmp
import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from tests import renders
from tests.helpers import require_engine
from tools import checks, engines, helm, render, security_scan

# Template-heavy checks (the first-deploy check templates every chart again), next to the renders.
pytestmark = pytest.mark.heavy(45)
# The security scan of both stacks is longer still (trivy takes ~0.06 s of CPU per distinct object,
# beside three checkov runs): a group of its own, so that it runs on another worker than the rest of
# the module, with its own weight (about 70 s on its worker). Its tests take both marks from here.


def SECURITY_SCAN(test):  # noqa: N802 (used as a mark)
    return pytest.mark.heavy(70)(pytest.mark.xdist_group("security-scan")(test))


@pytest.fixture(scope="module")
def rendered(rendered_dirs) -> dict[str, Path]:
    return rendered_dirs


def _tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


def test_render_writes_the_contract_files(rendered):
    files = _tree(rendered["dev"])
    for expected in (
        "summary.json",
        "resources.json",
        "charts/kube-prometheus-stack.yaml",
        "charts/thanos.yaml",
        "charts/grafana.yaml",
        "grafana/datasources.json",
        "alertmanager/alertmanager.yml",
        "influxdb/schema.iql",
        "jaeger/sampling.json",
        "elasticsearch/ilm-policy-terrafusion-logs-audit.json",
        "elasticsearch/indextemplate-terrafusion-logs-audit.json",
        "manifests/namespace-cluster-monitoring.yaml",
    ):
        assert expected in files


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_render_writes_the_plan_the_files_come_from(rendered, stack):
    # plan.json is the plan the program deployed: the reviewed files are its slices, verbatim.
    out = rendered[stack]
    plan = json.loads((out / "plan.json").read_text())
    assert plan["context"]["environment"] == stack
    assert plan["alerting"]["alertmanager_config_yaml"] == (out / "alertmanager" / "alertmanager.yml").read_text()
    assert plan["influxdb"]["influxql"] == (out / "influxdb" / "schema.iql").read_text()
    assert plan["tracing"]["sampling_json"] == (out / "jaeger" / "sampling.json").read_text()
    datasources = json.loads((out / "grafana" / "datasources.json").read_text())
    assert sorted(d["uid"] for d in plan["grafana_content"]["datasources"]) == [d["uid"] for d in datasources]
    assert json.loads((out / "summary.json").read_text())["outputs"]["endpoints"] == plan_endpoints(plan)


def plan_endpoints(plan: dict) -> dict[str, str]:
    """The stack's `endpoints` output as plan.json spells each endpoint (host, named port, scheme)."""

    def url(endpoint: dict, port: str | None = None) -> str:
        number = endpoint["ports"][port] if port else next(iter(endpoint["ports"].values()))
        return f"{endpoint['scheme']}://{endpoint['service']}.{endpoint['namespace']}.svc:{number}"

    tracing, otlp = plan["tracing"], plan["tracing"]["collector_otlp"]
    out = {
        "prometheus": url(plan["prometheus"]["prometheus"], "http-web"),
        "alertmanager": url(plan["prometheus"]["alertmanager"], "http-web"),
        "thanos_query": url(plan["thanos"]["query"], "http"),
        "thanos_query_frontend": url(plan["thanos"]["query_frontend"], "http"),
        "grafana_in_cluster": url(plan["grafana"]["endpoint"]),
        "influxdb": url(plan["influxdb"]["endpoint"]),
        "elasticsearch": url(plan["elasticsearch"]["http"]),
        "jaeger_query": url(tracing["jaeger_query"]),
        "otlp_grpc": url(otlp, "otlp").removeprefix("http://"),
        "otlp_http": url(otlp, "otlp-http"),
        "pushgateway": url(plan["pushgateway"]["endpoint"]),
    }
    return {**out, **({"otlp_http_public": tracing["otlp_http_public_url"]} if tracing["otlp_http_public_url"] else {})}


def test_two_renders_are_byte_identical(rendered, tmp_path_factory):
    again = renders.shared_render(tmp_path_factory, "prod", from_scratch=True)  # Helm and the parse run again too
    comparison = filecmp.dircmp(rendered["prod"], again)
    assert _tree(rendered["prod"]) == _tree(again)
    mismatched = [f for f in _tree(again) if (rendered["prod"] / f).read_bytes() != (again / f).read_bytes()]
    assert mismatched == [], comparison.report()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_secret_value_in_the_render(rendered, stack):
    for path in rendered[stack].rglob("*"):
        if path.is_file():
            text = path.read_text()
            assert "placeholder-" not in text, path
            assert "mock-password" not in text, path
            assert "mock-private-key" not in text, path


def test_secret_manifests_keep_keys_but_not_values(rendered):
    manifest = (rendered["dev"] / "manifests" / "secret-monitoring-thanos-objstore.yaml").read_text()
    assert "objstore.yml: '[secret]'" in manifest


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_chart_is_rendered_object_by_object(rendered, stack):
    summary = json.loads((rendered[stack] / "summary.json").read_text())
    for chart in summary["charts"]:
        stem = chart["chart"] if [c["chart"] for c in summary["charts"]].count(chart["chart"]) == 1 else chart["name"]
        files = sorted((rendered[stack] / "objects" / stem).glob("*.yaml"))
        assert len(files) == chart["objects"] > 0, stem
    assert (rendered[stack] / "objects" / "kube-prometheus-stack" / "prometheus-monitoring-kps-prometheus.yaml").exists()


def test_chart_objects_carry_the_release_namespace_unless_cluster_scoped(rendered):
    objects = render.read_objects(rendered["prod"])
    # Custom kinds whose CRD says `scope: Cluster` (e.g. Trivy's ClusterComplianceReport) have none.
    cluster_custom = render._cluster_scoped_custom_kinds(objects)
    for obj in objects:
        namespace = obj["metadata"].get("namespace")
        group = obj.get("apiVersion", "").rpartition("/")[0]
        if obj["kind"] in helm.CLUSTER_SCOPED_KINDS or (group, obj["kind"]) in cluster_custom:
            assert namespace is None, obj["metadata"]["name"]
        else:
            assert namespace, f"{obj['kind']} {obj['metadata']['name']}"


def test_chart_secrets_are_redacted_whole(rendered):
    secrets = [o for o in render.read_objects(rendered["prod"]) if o["kind"] == "Secret"]
    assert secrets
    for obj in secrets:
        assert set((obj.get("data") or {}).values()) <= {"[secret]"}, obj["metadata"]["name"]
        assert set((obj.get("stringData") or {}).values()) <= {"[secret]"}, obj["metadata"]["name"]


def test_request_totals_come_from_the_rendered_objects(rendered):
    requests = json.loads((rendered["prod"] / "summary.json").read_text())["requests"]
    rows = {(r["kind"], r["workload"]): r for r in requests["workloads"]}
    prometheus = yaml.safe_load(
        (rendered["prod"] / "objects" / "kube-prometheus-stack" / "prometheus-monitoring-kps-prometheus.yaml").read_text()
    )
    assert rows[("Prometheus", "kps-prometheus")]["pods"] == prometheus["spec"]["replicas"]
    # DaemonSets run once per assumed node; the total is the sum of the rows.
    assert all(r["pods"] == requests["assumedNodes"] for r in requests["workloads"] if r["kind"] == "DaemonSet")
    assert sum(Decimal(r["cpu"]) for r in requests["workloads"]) == Decimal(requests["cpuCores"])


def test_a_missing_chart_archive_is_one_clear_line(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CHART_DIR", str(tmp_path))
    assert render.main(["--stack", "dev", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is not in" in err[0] and "make charts" in err[0]


def test_dev_fits_a_laptop_cluster(rendered):
    requests = json.loads((rendered["dev"] / "summary.json").read_text())["requests"]
    assert Decimal(requests["cpuCores"]) <= 2
    assert requests["memoryMi"] <= 4096


def test_summary_lists_pinned_charts(rendered):
    summary = json.loads((rendered["prod"] / "summary.json").read_text())
    assert {c["chart"]: c["version"] for c in summary["charts"]} == {
        "grafana": "12.11.1",
        "kube-prometheus-stack": "88.5.3",
        "thanos": "1.24.1",
        "prometheus-blackbox-exporter": "11.17.2",
        "prometheus-postgres-exporter": "8.2.0",
        "prometheus-elasticsearch-exporter": "7.4.0",
        "prometheus-pushgateway": "3.8.0",
        "influxdb": "4.12.5",
        "eck-operator": "3.5.0",
        "fluent-bit": "0.58.1",
        "jaeger": "4.11.1",
        "opentelemetry-collector": "0.170.0",
        "opentelemetry-operator": "0.122.0",
        "trivy-operator": "0.34.0",
        "opencost": "2.5.17",
    }


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_rules_and_routing_pass_both_engine_generations(rendered, stack):
    for generation in engines.GENERATIONS:
        require_engine("promtool", generation)
        require_engine("amtool", generation)
    assert checks.check_rules(rendered[stack]) + checks.check_alertmanager(rendered[stack]) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_object_passes_the_cluster_checks(rendered, stack):
    assert checks.check_objects(rendered[stack]) == []


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_chart_object_exists_from_the_first_deploy(rendered, stack):
    assert checks.check_first_deploy(rendered[stack]) == []


def test_a_chart_that_does_not_wait_for_the_crds_it_needs_is_a_first_deploy_gap(rendered):
    releases, waits_for = checks.chart_releases(rendered["dev"])
    node = next(r for r in releases if r.name.endswith("fluent-bit-node"))
    gaps = helm.first_deploy_gaps([r for r in releases if r.name in (node.name, "terrafusion-prometheus-chart")],
                                  {**waits_for, node.name: set()})
    assert gaps and all("first `pulumi up` would not create it" in g for g in gaps)


# A pod with a writable root filesystem, scanned beside the stacks (in the same scanner runs, so it
# costs no scanner start-up of its own): both scanners must flag it, or a clean stack proves nothing.
CONTROL = "control"
WRITABLE_ROOT_POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "n"},
                     "spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}}  # fmt: skip


@pytest.fixture(scope="module")
def scanned(rendered) -> dict[str, list]:
    objects = {stack: render.read_objects(out) for stack, out in rendered.items()}
    return security_scan.scan_stacks({**objects, CONTROL: [WRITABLE_ROOT_POD]})


@pytest.fixture(scope="module")
def findings(scanned) -> dict[str, list]:
    """Each stack's findings (the control's are not a stack's)."""
    return {stack: found for stack, found in scanned.items() if stack != CONTROL}


@pytest.mark.parametrize("stack", ["dev", "prod"])
@SECURITY_SCAN
def test_no_security_finding_outside_the_exceptions_file(findings, stack):
    assert [str(f) for f in security_scan.unexcepted(findings[stack], security_scan.load_exceptions())] == []


@SECURITY_SCAN
def test_every_security_exception_still_matches_a_finding(findings):
    every = [f for stack in findings.values() for f in stack]
    assert security_scan.unused(security_scan.load_exceptions(), every) == []


@SECURITY_SCAN
def test_the_scanners_find_a_writable_root_filesystem(scanned):
    found = {(f.scanner, f.check, f.obj) for f in scanned[CONTROL]}
    pod = security_scan.object_id(WRITABLE_ROOT_POD)
    assert ("trivy", "KSV014", pod) in found and ("checkov", "CKV_K8S_22", pod) in found


def test_unknown_stack_is_a_clear_error(capsys):
    assert render.main(["--stack", "qa"]) == 2
    assert "unknown stack 'qa'" in capsys.readouterr().err
