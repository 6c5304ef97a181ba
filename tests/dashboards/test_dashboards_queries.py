"""Every query of every dashboard: parses for its datasource, uses provisioned datasources by stable
UID, and reads only metrics the stack can have."""

from __future__ import annotations

import json
import re
from urllib.parse import parse_qs, urlparse

import promql_parser
import pytest
from tests.dashboards.dashboard_queries import (
    COST_METRICS,
    EXTERNAL_OPERATOR_METRICS,
    PROVISIONED_DATASOURCES,
    check_lucene,
    iter_panel_datasources,
    iter_queries,
    metric_is_known,
    metric_names,
    recording_rule_names,
)

from monitoring.datasources import JAEGER_UID
from monitoring.influxdb import FIVE_MINUTE_POLICY, ONE_HOUR_POLICY, RAW_POLICY


def _queries(dashboards, kind: str):
    return [q for d in dashboards for q in iter_queries(d.model) if q.datasource_type == kind]


def test_every_prometheus_query_parses_as_promql_after_substituting_variables(dashboards):
    queries = _queries(dashboards, "prometheus")
    assert len(queries) > 100
    failures = []
    for query in queries:
        try:
            promql_parser.parse(query.text)
        except Exception as error:  # noqa: BLE001 (report every failure at once)
            failures.append(f"{query.dashboard} / {query.panel}: {error}\n{query.text}")
    assert not failures, "\n\n".join(failures)


def test_every_elasticsearch_query_is_valid_lucene_on_documented_log_fields(dashboards):
    queries = _queries(dashboards, "elasticsearch")
    assert queries
    for query in queries:
        assert check_lucene(query.text) == [], (query.dashboard, query.panel, query.text)


def test_elasticsearch_targets_use_the_timestamp_field_and_known_aggregations(dashboards):
    for query in _queries(dashboards, "elasticsearch"):
        target = query.target
        assert target["timeField"] == "@timestamp"
        assert {m["type"] for m in target["metrics"]} <= {"count", "logs", "raw_data"}
        for agg in target["bucketAggs"]:
            assert agg["type"] in ("date_histogram", "terms")
            assert agg["field"] in ("@timestamp", "kubernetes.labels.app", "event.outcome", "event.category")


def test_every_influxql_query_selects_from_a_remote_written_series_with_the_time_filter(dashboards):
    # Prometheus remote_write into InfluxDB 1.x stores a metric as a measurement with field "value".
    # Ref: https://docs.influxdata.com/influxdb/v1/supported_protocols/prometheus/
    queries = _queries(dashboards, "influxdb")
    assert queries
    recorded = recording_rule_names()
    for query in queries:
        raw = query.target["query"]
        assert "$timeFilter" in raw and query.target["rawQuery"] is True
        # FROM ["<retention policy>".]"<measurement>": a named policy must be one the schema creates.
        match = re.search(r'FROM (?:"(?P<rp>[^"]+)"\.)?"(?P<m>[^"]+)"', query.text)
        assert match["rp"] in (None, RAW_POLICY, FIVE_MINUTE_POLICY, ONE_HOUR_POLICY), match["rp"]
        measurement = match["m"]
        assert metric_is_known(measurement, recorded), measurement
        assert re.fullmatch(r'SELECT \w+\("value"\) FROM (?:"\w+"\.)?"\w+" WHERE .+ GROUP BY time\(\w+\)( fill\(\w+\))?', query.text)


def test_every_datasource_a_panel_uses_is_provisioned_with_that_type(dashboards):
    for built in dashboards:
        for panel, ref in iter_panel_datasources(built.model):
            assert ref["uid"] in PROVISIONED_DATASOURCES, (built.uid, panel, ref)
            assert PROVISIONED_DATASOURCES[ref["uid"]] == ref["type"], (built.uid, panel, ref)


def test_every_metric_a_panel_queries_is_in_the_contract_or_produced_by_the_stack(dashboards):
    recorded = recording_rule_names()
    unknown = set()
    for built in dashboards:
        for query in iter_queries(built.model):
            if query.datasource_type != "prometheus":
                continue
            for name in metric_names(query.text):
                if name.startswith("re:"):
                    pattern = re.compile(name[3:])
                    known = [m for m in ("otelcol_exporter_send_failed_spans", "otelcol_exporter_send_failed_spans_total") if pattern.fullmatch(m)]
                    if not known or not all(metric_is_known(m, recorded) for m in known):
                        unknown.add((built.uid, name))
                elif not metric_is_known(name, recorded):
                    unknown.add((built.uid, name))
    assert not unknown, sorted(unknown)


def test_opencost_metrics_and_records_are_read_only_by_the_executive_cost_panels(dashboards):
    readers = set()
    for built in dashboards:
        for query in iter_queries(built.model):
            names = metric_names(query.text) if query.datasource_type == "prometheus" else set()
            if names & COST_METRICS or any("opencost_" in n for n in names):
                readers.add(built.uid)
    assert readers == {"tf-executive-overview"}


def test_external_operator_metrics_are_only_used_on_the_security_dashboard(dashboards):
    for built in dashboards:
        if built.uid == "tf-security":
            continue
        for query in iter_queries(built.model):
            if query.datasource_type == "prometheus":
                assert not metric_names(query.text) & set(EXTERNAL_OPERATOR_METRICS), (built.uid, query.panel)


def test_slo_panels_read_the_slo_recording_rules(dashboards):
    recorded = recording_rule_names()
    model = next(d.model for d in dashboards if d.uid == "tf-slo")
    used = {name for q in iter_queries(model) if q.datasource_type == "prometheus" for name in metric_names(q.text)}
    assert {"slo:error_budget_remaining:ratio", "slo:objective:ratio", "slo:error_budget:ratio"} <= used
    assert {name for name in used if name.startswith("slo:")} <= recorded


def _links(model: dict) -> list[dict]:
    links = []
    for panel in model["panels"]:
        links += panel.get("fieldConfig", {}).get("defaults", {}).get("links", [])
        for override in panel.get("fieldConfig", {}).get("overrides", []):
            for prop in override["properties"]:
                if prop["id"] == "links":
                    links += prop["value"]
    return links


def test_developer_dashboard_links_logs_and_endpoints_to_traces_in_jaeger(dashboards):
    model = next(d.model for d in dashboards if d.uid == "tf-developer-service")
    links = _links(model)
    assert len(links) == 2
    for link in links:
        panes = json.loads(parse_qs(urlparse(link["url"]).query)["panes"][0])
        (pane,) = panes.values()
        assert pane["datasource"] == JAEGER_UID
        assert pane["queries"][0]["datasource"] == {"type": "jaeger", "uid": JAEGER_UID}
    assert any("${__value.raw}" in link["url"] for link in links)  # trace id from the log line


@pytest.mark.parametrize("query", ["level:(error", "foo:bar", "_index:logs-secret-* AND level:error", "level:error AND"])
def test_the_lucene_check_rejects_broken_queries(query):
    assert check_lucene(query)
