"""Helpers of the dashboard tests: walk built dashboards, resolve Grafana variables, check queries.

A module of its own (not conftest): tests import it as `tests.dashboards.dashboard_queries`; it cannot pick up another
package's conftest. The allow-lists of metric sources are explicit here on purpose: a dashboard that
starts reading a new metric must be added to one of them, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import promql_parser

from monitoring.alert_rules import build_rule_files
from monitoring.alerting_spec import AlertingSpec
from monitoring.datasources import (
    ALERTMANAGER_UID,
    ELASTICSEARCH_LOGS_UID,
    INFLUXDB_TRENDS_UID,
    JAEGER_UID,
    THANOS_UID,
    metrics_datasources,
)

# --- datasources ------------------------------------------------------------------------------

# UID -> Grafana plugin type. Thanos and Alertmanager are provisioned by components/grafana_content.py
# from metrics_datasources(); the logs/trends/traces backends are provisioned with issue 3 under the
# constants of monitoring/datasources.py, which is what dashboards may refer to already.
PROVISIONED_DATASOURCES: dict[str, str] = {
    **{spec.uid: spec.type for spec in metrics_datasources("http://thanos", "http://alertmanager", "30s")},
    ELASTICSEARCH_LOGS_UID: "elasticsearch",
    INFLUXDB_TRENDS_UID: "influxdb",
    JAEGER_UID: "jaeger",
}
assert THANOS_UID in PROVISIONED_DATASOURCES and ALERTMANAGER_UID in PROVISIONED_DATASOURCES

# --- metric sources ---------------------------------------------------------------------------

# The instrumentation contract (README "Application contract", docs/architecture.md#metrics-contract).
_HISTOGRAMS = (
    "http_server_request_duration_seconds",
    "browser_page_load_duration_seconds",
    "browser_time_to_interactive_seconds",
    "db_client_operation_duration_seconds",
    "terrafusion_session_duration_seconds",
)
CONTRACT_METRICS = frozenset(
    {f"{h}_{suffix}" for h in _HISTOGRAMS for suffix in ("bucket", "count", "sum")}
    | {
        "browser_page_views_total",
        "browser_js_errors_total",
        "probe_success",
        "pg_up",
        "pg_locks_count",
        "pg_replication_lag_seconds",
        "db_client_connection_count",
        "db_client_connection_max",
        "terrafusion_db_connection_attempts_total",
        "terrafusion_db_connection_failures_total",
        "terrafusion_active_users",
        "terrafusion_sessions_total",
        "terrafusion_feature_usage_total",
        "terrafusion_funnel_step_total",
        "terrafusion_pipeline_runs_total",
        "terrafusion_deployments_total",
        "terrafusion_build_duration_seconds",
        "terrafusion_test_coverage_ratio",
    }
)
CONTRACT_PREFIXES = ("pg_stat_database_",)  # the contract names postgres_exporter's family

# Exporters the stack itself runs (or runs with issue 3, already watched by the alert rules).
STACK_EXPORTER_METRICS = frozenset(
    {
        # Prometheus and its rule engine
        "up",
        "ALERTS",
        "ALERTS_FOR_STATE",
        "prometheus_tsdb_head_series",
        "prometheus_rule_evaluation_failures_total",
        "prometheus_remote_storage_samples_failed_total",
        # kube-state-metrics
        "kube_pod_info",
        "kube_pod_status_phase",
        "kube_pod_container_status_restarts_total",
        "kube_pod_container_resource_requests",
        "kube_deployment_spec_replicas",
        "kube_deployment_status_replicas_available",
        "kube_deployment_status_replicas_updated",
        "kube_node_status_allocatable",
        "kube_node_status_capacity",
        "kube_persistentvolume_capacity_bytes",
        # kubelet and cAdvisor
        "container_cpu_usage_seconds_total",
        "container_memory_working_set_bytes",
        "container_cpu_cfs_periods_total",
        "container_cpu_cfs_throttled_periods_total",
        "kubelet_volume_stats_used_bytes",
        "kubelet_volume_stats_capacity_bytes",
        "kubelet_volume_stats_available_bytes",
        # Alertmanager
        "alertmanager_alerts_received_total",
        "alertmanager_notifications_total",
        "alertmanager_notifications_failed_total",
        # Thanos
        "thanos_compact_halted",
        "thanos_shipper_upload_failures_total",
        # Fluent Bit, elasticsearch-exporter, OpenTelemetry Collector (issue 3)
        "fluentbit_output_proc_bytes_total",
        "fluentbit_output_errors_total",
        "elasticsearch_cluster_health_status",
        "elasticsearch_filesystem_data_size_bytes",
        "elasticsearch_filesystem_data_available_bytes",
        "otelcol_exporter_send_failed_spans",
        "otelcol_exporter_send_failed_spans_total",
        # the collector's service graph tier (monitoring/otel.py SERVICEGRAPH_METRICS)
        "traces_service_graph_request_total",
        "traces_service_graph_request_failed_total",
    }
)

# The Security dashboard's optional producers (docs/dashboards.md): the Trivy Operator
# (security.trivyOperator.enabled) and the cluster's Cilium CNI (cluster.cni, not deployed by the
# program); a stack without one has none of its panels.
EXTERNAL_OPERATOR_METRICS: dict[str, str] = {
    "trivy_image_vulnerabilities": "Trivy Operator",
    "trivy_image_exposedsecrets": "Trivy Operator",
    "trivy_resource_configaudits": "Trivy Operator",
    "trivy_cluster_compliance": "Trivy Operator",
    "cilium_drop_count_total": "Cilium agent",
    "hubble_drop_total": "Cilium Hubble",
}


# The executive dashboard's cost panels (costs.enabled; monitoring/costs.py): OpenCost's prices,
# read directly where one series per node or volume is cheap (the rest through the cost records).
COST_METRICS = frozenset({"node_total_hourly_cost", "pv_hourly_cost"})


def recording_rule_names() -> frozenset[str]:
    files = build_rule_files(AlertingSpec(environment="dev"))
    return frozenset(
        rule["record"] for content in files.values() for group in content["groups"] for rule in group["rules"] if "record" in rule
    )


def as_seen_through_thanos(rule_files: dict[str, dict]) -> dict[str, dict]:
    """The rendered rules, adjusted the way a live test needs them to look like production:
    - recorded series get `environment="dev"`: in the stack, Thanos attaches Prometheus' external
      labels (environment, cluster) to every series it serves, recorded ones included, and every
      dashboard selector filters on it;
    - the 5-minute error-budget groups run every second, so their series exist within the test.
    """
    adjusted = {}
    for stem, content in rule_files.items():
        groups = []
        for group in content["groups"]:
            group = {**group, **({"interval": "1s"} if "interval" in group else {})}
            group["rules"] = [
                {**rule, "labels": {**rule.get("labels", {}), "environment": "dev"}} if "record" in rule else rule
                for rule in group["rules"]
            ]
            groups.append(group)
        adjusted[stem] = {"groups": groups}
    return adjusted


def metric_is_known(name: str, recorded: frozenset[str]) -> bool:
    return (
        name in CONTRACT_METRICS
        or name.startswith(CONTRACT_PREFIXES)
        or name in STACK_EXPORTER_METRICS
        or name in EXTERNAL_OPERATOR_METRICS
        or name in COST_METRICS
        or name in recorded
    )


# --- walking dashboards -----------------------------------------------------------------------


@dataclass(frozen=True)
class Query:
    dashboard: str
    panel: str
    datasource_type: str
    datasource_uid: str  # resolved: no `${datasource}`
    text: str  # the query with every Grafana variable substituted
    target: dict


# Built-in Grafana variables and the values the tests use for them.
BUILTINS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
# Concrete values for the dashboards' query variables (their "All" default is not a concrete value).
CONCRETE = {
    "environment": "dev",
    "service": "checkout",
    "namespace": "shop",
    "route": "/api/v1/orders",
    "funnel": "signup",
    "app": "web",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


def variable_values(model: dict) -> dict[str, str]:
    values = dict(BUILTINS)
    for variable in model.get("templating", {}).get("list", []):
        current = variable.get("current", {}).get("value")
        if isinstance(current, list):
            current = current[0]
        values[variable["name"]] = current
    values.update({k: v for k, v in CONCRETE.items() if k in values})
    return values


def substitute(text: str, values: dict[str, str], *, lucene: bool = False, influxql: bool = False) -> str:
    extra = {"timeFilter": "time > now() - 1h"} if influxql else {}

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(3)
        fmt = match.group(2)
        if name in extra:
            return extra[name]
        if name.isdigit():
            # `$1` is a label_replace capture group; Grafana leaves a name that is no variable as
            # written (public/app/features/templating/template_srv.ts replace: no variable, match kept).
            return match.group(0)
        if name not in values:
            raise KeyError(f"unresolved Grafana variable ${name} in {text!r}")
        value = values[name]
        if lucene or fmt == "lucene":
            return f'"{value}"'
        return value

    return _VARIABLE.sub(replace, text)


def iter_queries(model: dict) -> Iterator[Query]:
    """Every panel target and every annotation query of a dashboard, variables substituted."""
    values = variable_values(model)
    for panel in model.get("panels", []):
        for target in panel.get("targets", []):
            ref = target.get("datasource") or panel.get("datasource") or {}
            uid = substitute(ref.get("uid", ""), values)
            kind = ref.get("type", "")
            raw = target.get("expr") if kind == "prometheus" else target.get("query", "")
            text = substitute(raw or "", values, lucene=kind == "elasticsearch", influxql=kind == "influxdb")
            yield Query(model["uid"], panel.get("title", ""), kind, uid, text, target)
    for annotation in model.get("annotations", {}).get("list", []):
        ref = annotation["datasource"]
        yield Query(
            model["uid"], f"annotation {annotation['name']}", ref["type"], substitute(ref["uid"], values),
            substitute(annotation["expr"], values), annotation,
        )


def iter_panel_datasources(model: dict) -> Iterator[tuple[str, dict]]:
    values = variable_values(model)
    for panel in model.get("panels", []):
        if panel.get("type") == "row":
            continue
        for ref in [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets", [])]:
            if ref:
                yield panel["title"], {"type": ref["type"], "uid": substitute(ref["uid"], values)}


# --- PromQL -----------------------------------------------------------------------------------


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (a `__name__` regex counts as its pattern)."""
    names: set[str] = set()

    def visit(node) -> bool:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    names.add(f"re:{matcher.value}")
        return True

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names


# --- Lucene (Elasticsearch query_string) ------------------------------------------------------

# Fields the log pipeline writes (docs/dashboards.md, "Log fields").
LOG_FIELDS = frozenset(
    {
        "_index",
        "@timestamp",
        "kubernetes.namespace_name",
        "kubernetes.labels.app",
        "level",
        "message",
        "trace_id",
        "event.category",
        "event.outcome",
    }
)
LOG_INDEX_FAMILIES = frozenset({"logs-audit-*", "logs-app-*", "logs-k8s-*", "logs-debug-*"})
_LUCENE_TOKEN = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|(AND|OR|NOT)\b|([\w.@*/-]+)(:)?)')


def check_lucene(query: str) -> list[str]:
    """Problems of a Lucene query: syntax (boolean structure, parentheses, quotes), undocumented fields
    and unknown index families. Empty when valid. A small parser for the subset the dashboards use:
    `field:value`, `field:(a OR b)`, AND/OR/NOT, parentheses, quoted phrases."""
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(query):
        match = _LUCENE_TOKEN.match(query, position)
        if not match or match.end() == position:
            if query[position:].strip() == "":
                break
            return [f"unexpected text at {position}: {query[position:]!r}"]
        position = match.end()
        open_, close, phrase, op, word, colon = match.groups()
        if open_:
            tokens.append(("(", open_))
        elif close:
            tokens.append((")", close))
        elif phrase:
            tokens.append(("term", phrase))
        elif op:
            tokens.append(("op", op))
        elif word and colon:
            tokens.append(("field", word))
        elif word:
            tokens.append(("term", word))
    problems: list[str] = []
    index = 0

    def expression() -> None:
        nonlocal index
        clause()
        while index < len(tokens) and tokens[index][0] == "op" and tokens[index][1] in ("AND", "OR"):
            index += 1
            clause()

    def clause() -> None:
        nonlocal index
        if index < len(tokens) and tokens[index] == ("op", "NOT"):
            index += 1
        if index >= len(tokens):
            problems.append("query ends where a clause is expected")
            return
        kind, value = tokens[index]
        if kind == "field":
            index += 1
            if value not in LOG_FIELDS:
                problems.append(f"field {value!r} is not a documented log field")
            if value == "_index" and index < len(tokens) and tokens[index][1] not in LOG_INDEX_FAMILIES:
                problems.append(f"index {tokens[index][1]!r} is not a log index family")
            if index < len(tokens) and tokens[index][0] in ("term",):
                index += 1
            elif index < len(tokens) and tokens[index][0] == "(":
                group()
            else:
                problems.append(f"field {value!r} has no value")
        elif kind == "(":
            group()
        elif kind == "term":
            index += 1
        else:
            problems.append(f"unexpected {value!r}")
            index += 1

    def group() -> None:
        nonlocal index
        index += 1  # "("
        expression()
        if index < len(tokens) and tokens[index][0] == ")":
            index += 1
        else:
            problems.append("unbalanced parentheses")

    expression()
    if index != len(tokens) and not problems:
        problems.append(f"unexpected {tokens[index][1]!r} after a complete query")
    return problems
