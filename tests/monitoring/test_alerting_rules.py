"""The rule catalogue against the alert contract (docs/architecture.md#alert-contract) and the instrumentation contract."""

from __future__ import annotations

import json
import re

import promql_parser
import pytest
from tests.monitoring.alerting_helpers import REPO_ROOT, make_spec

from monitoring.alert_rules import RULE_FILE_STEMS, build_rule_files, catalogue_alerts, iter_alerts
from monitoring.slo_catalogue import kebab

RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
SEVERITY_VALUES = {"P1", "P2", "P3", "P4"}

# Metric names rules may use: the application contract (README), exact or by family...
CONTRACT_METRICS = {
    *(f"http_server_request_duration_seconds_{s}" for s in ("bucket", "count", "sum")),
    *(f"browser_page_load_duration_seconds_{s}" for s in ("bucket", "count", "sum")),
    *(f"browser_time_to_interactive_seconds_{s}" for s in ("bucket", "count", "sum")),
    *(f"db_client_operation_duration_seconds_{s}" for s in ("bucket", "count", "sum")),
    "browser_page_views_total",
    "browser_js_errors_total",
    "db_client_connection_count",
    "db_client_connection_max",
    # connection attempts/failures: no semconv metric, so `terrafusion_` names (README application contract).
    "terrafusion_db_connection_attempts_total",
    "terrafusion_db_connection_failures_total",
    "pg_up",
    "pg_locks_count",
    "pg_replication_lag_seconds",
    "terrafusion_sessions_total",  # Business (the sessions rate anomaly signal)
}
# ...plus the standard exporters' metric families, and our own recorded series.
EXPORTER_PREFIXES = (
    "node_",  # node-exporter
    "kube_",  # kube-state-metrics
    "kubelet_volume_stats_",
    "container_",  # cAdvisor
    "prometheus_",
    "alertmanager_",
    "thanos_",
    "fluentbit_output_",
    "elasticsearch_",
    "otelcol_",
    "pg_stat_database_",
    "pg_settings_",
    "probe_",  # blackbox exporter
    "trivy_",  # Trivy Operator (security.trivyOperator.enabled)
    "slo:",
    "anomaly:",
    # OpenCost (node_* and container_* above include its prices and allocations)
    "pv_hourly_cost",
    "pod_pvc_allocation",
    # recorded: the cost records read each other, and kube-prometheus-stack's pod -> workload record
    "namespace_pod:opencost_",
    "namespace_workload_pod:kube_pod_owner:",
)


def _metric_names(expr: str) -> set[str]:
    names: set[str] = set()

    def visit(node):
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for m in node.matchers.matchers:
                if m.name == "__name__":
                    names.add(m.value)
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


@pytest.fixture(scope="module")
def rule_files():
    return build_rule_files(make_spec())


@pytest.fixture(scope="module")
def alerts(rule_files):
    return [rule for _, _, rule in iter_alerts(rule_files)]


def test_rule_files_are_the_documented_stems(rule_files):
    assert tuple(rule_files) == RULE_FILE_STEMS


def test_building_twice_gives_identical_output():
    first = json.dumps(build_rule_files(make_spec()), sort_keys=False)
    assert first == json.dumps(build_rule_files(make_spec()), sort_keys=False)


def test_group_names_are_unique_across_files(rule_files):
    names = [g["name"] for f in rule_files.values() for g in f["groups"]]
    assert len(names) == len(set(names))


def test_every_alert_has_a_p1_to_p4_severity(alerts):
    assert {a["labels"]["severity"] for a in alerts} <= SEVERITY_VALUES


def test_every_alert_carries_the_stack_environment():
    alerts = [r for _, _, r in iter_alerts(build_rule_files(make_spec(environment="dev")))]
    assert {a["labels"]["environment"] for a in alerts} == {"dev"}


def test_every_catalogue_alert_names_a_service_or_a_component():
    for rule in catalogue_alerts():
        if rule.component is None:
            # The service comes from the series: the expression must keep the `service` label, by
            # naming it in its aggregations or by not aggregating at all.
            aggregates = re.search(r"\b(sum|max|min|avg|count)\b", rule.expr) is not None
            keeps_service = "service" in rule.expr or "service" in rule.extra_labels or not aggregates
            assert keeps_service, rule.name


def test_every_slo_series_is_kept_per_service_or_app(rule_files):
    for stem, content in rule_files.items():
        if not stem.startswith("slo-"):
            continue
        for group in content["groups"]:
            for rule in group["rules"]:
                expr = rule["expr"]
                if "record" in rule and not expr.startswith(("vector(", "avg_over_time(slo:", "1 - slo:", "1 - last_over_time(slo:")):
                    assert "by (service)" in expr or "by (app)" in expr, rule["record"]


def test_no_alert_names_both_a_service_and_a_component(alerts):
    assert not [a["alert"] for a in alerts if {"component", "service"} <= a["labels"].keys()]


def test_slo_alerts_carry_the_slo_label(rule_files):
    for stem, _, alert in iter_alerts(rule_files):
        if stem.startswith("slo-"):
            assert alert["labels"]["slo"], alert["alert"]


def test_every_alert_has_summary_description_and_runbook(alerts):
    for alert in alerts:
        annotations = alert["annotations"]
        assert annotations["summary"] and annotations["description"] and annotations["runbook_url"]


def test_every_runbook_url_points_at_an_existing_page(alerts):
    base = make_spec().runbook_base_url
    missing = []
    for alert in alerts:
        url = alert["annotations"]["runbook_url"]
        assert url.startswith(base + "/")
        if not (RUNBOOKS / url.removeprefix(base + "/")).is_file():
            missing.append(url)
    assert missing == []


def test_every_runbook_page_belongs_to_an_alert(alerts):
    pages = {p.name for p in RUNBOOKS.glob("*.md")} - {"index.md"}
    assert pages == {f"{kebab(a['alert'])}.md" for a in alerts}


def test_runbook_index_links_every_page():
    index = (RUNBOOKS / "index.md").read_text()
    linked = set(re.findall(r"\(([a-z0-9-]+\.md)\)", index))
    assert linked == {p.name for p in RUNBOOKS.glob("*.md")} - {"index.md"}


def test_every_runbook_explains_diagnosis_and_mitigation():
    for page in RUNBOOKS.glob("*.md"):
        if page.name == "index.md":
            continue
        text = page.read_text()
        for heading in ("## Meaning", "## Impact", "## Diagnosis", "## Mitigation"):
            assert heading in text, f"{page.name} lacks {heading}"


def test_rules_use_only_contract_and_standard_exporter_metrics(rule_files):
    # A catalogue record (rate_record) is read by the alerts of its group; its own expression is
    # checked here like every other rule's.
    rules = [rule for content in rule_files.values() for group in content["groups"] for rule in group["rules"]]
    recorded = {rule["record"] for rule in rules if "record" in rule and not rule["record"].startswith(EXPORTER_PREFIXES)}
    assert recorded  # the catalogue's own records are among the names read
    unknown = {
        name
        for rule in rules
        for name in _metric_names(rule["expr"])
        if name not in CONTRACT_METRICS | recorded and not name.startswith(EXPORTER_PREFIXES) and name != "up"
    }
    assert unknown == set()


def test_whole_number_bucket_bounds_are_never_matched_literally(rule_files):
    text = json.dumps(rule_files)
    assert not re.search(r'le=\\"\d+\\"', text)


def test_alert_names_are_unique_across_rule_files(rule_files):
    owner: dict[str, str] = {}
    for stem, _, alert in iter_alerts(rule_files):
        assert owner.setdefault(alert["alert"], stem) == stem


def test_catalogue_covers_the_areas_of_the_issue():
    names = {a.name for a in catalogue_alerts()}
    for expected in (
        "NodeNotReady", "KubePodCrashLooping", "KubeDeploymentUnavailable", "KubePersistentVolumeFillingUp",
        "KubeHpaMaxedOut", "KubeContainerNearMemoryLimit", "ApiHighErrorRate", "PostgresConnectionPoolSaturated",
        "PostgresLockContention", "PostgresLowCacheHitRatio", "FrontendJsErrorSpike", "ThanosCompactorHalted",
        "ThanosSidecarUploadFailures", "AlertmanagerNotificationsFailing", "FluentBitOutputErrors",
        "ElasticsearchClusterRed", "TracingSpansDropped", "InfluxDbWriteErrors", "AuthenticationFailureSpike",
        "UnexpectedAuthErrorRate", "Watchdog",
    ):  # fmt: skip
        assert expected in names


def test_watchdog_always_fires():
    (watchdog,) = [a for a in catalogue_alerts() if a.name == "Watchdog"]
    assert watchdog.expr == "vector(1)"
