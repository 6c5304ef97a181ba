"""Every PromQL query of every dashboard runs without error on a real Prometheus loaded with the
stack's recording rules and synthetic series of every metric the dashboards read."""

from __future__ import annotations

from dashboard_live import SyntheticExporter, instant_query, run_prometheus, wait_until
from dashboard_queries import iter_queries, metric_names
from helpers import require_tool

from monitoring.alert_rules import build_rule_files
from monitoring.alerting_spec import AlertingSpec


def _as_seen_through_thanos(rule_files: dict[str, dict]) -> dict[str, dict]:
    """The rendered rules, adjusted the way the test needs them to look like production:
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


def test_every_promql_query_succeeds_on_a_real_prometheus_with_the_recording_rules(dashboards, tmp_path):
    prometheus = require_tool("prometheus", "apt-get install -y prometheus")
    queries = [q for d in dashboards for q in iter_queries(d.model) if q.datasource_type == "prometheus"]
    served = {
        name
        for q in queries
        for name in metric_names(q.text)
        if not name.startswith(("re:", "slo:", "ALERTS")) and name != "up"
    } | {"otelcol_exporter_send_failed_spans_total"}
    rules = _as_seen_through_thanos(build_rule_files(AlertingSpec(environment="dev")))
    with SyntheticExporter(served) as exporter, run_prometheus(prometheus, rules, exporter.address, tmp_path) as url:
        # A few scrapes and rule evaluations, so rates and recorded series exist.
        wait_until(
            lambda: instant_query(url, 'count(slo:error_budget_remaining:ratio{environment="dev"})')["data"]["result"],
            timeout=30,
            what="the first recording-rule results",
        )
        failures = []
        for query in queries:
            answer = instant_query(url, query.text)
            if answer.get("status") != "success":
                failures.append(f"{query.dashboard} / {query.panel}: {answer.get('error')}\n{query.text}")
        assert not failures, "\n\n".join(failures)


def test_slo_dashboard_queries_find_the_recorded_series(dashboards, tmp_path):
    """Not only valid but matching: the SLO panels' selectors find what the recording rules write."""
    prometheus = require_tool("prometheus", "apt-get install -y prometheus")
    model = next(d.model for d in dashboards if d.uid == "tf-slo")
    queries = [q for q in iter_queries(model) if q.datasource_type == "prometheus" and "slo:" in q.text]
    served = {"http_server_request_duration_seconds_bucket", "http_server_request_duration_seconds_count"}
    rules = _as_seen_through_thanos(build_rule_files(AlertingSpec(environment="dev")))
    api = [q for q in queries if 'slo="api-' in q.text]
    with SyntheticExporter(served) as exporter, run_prometheus(prometheus, rules, exporter.address, tmp_path) as url:
        wait_until(
            lambda: all(instant_query(url, q.text)["data"]["result"] for q in api),
            timeout=30,
            what="every API SLO panel to show data",
        )
