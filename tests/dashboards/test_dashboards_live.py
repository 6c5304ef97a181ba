"""Every PromQL query of every dashboard runs without error on a real Prometheus loaded with the
stack's recording rules and synthetic series of every metric the dashboards read.

Each test runs on Prometheus 3.5.3 (what the charts deploy) and 2.42 (bookworm), tools/engines.py.
One Prometheus per generation serves the whole module, all started together, so the waits for rates
and recorded series overlap instead of adding up.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitoring.alert_rules import build_rule_files
from monitoring.alerting_spec import AlertingSpec
from tests.dashboards.dashboard_queries import as_seen_through_thanos, iter_queries, metric_names, recording_rule_names
from tests.engines import EveryMetric, SyntheticExporter, generation_url, instant_query, prometheus_per_generation
from tests.helpers import engine_params, wait_until


def _prometheus_queries(dashboards) -> list:
    return [q for d in dashboards for q in iter_queries(d.model) if q.datasource_type == "prometheus"]


def _served_metrics(dashboards) -> set[str]:
    """Every metric the dashboards read that a target exposes (not recorded, not Prometheus' own)."""
    recorded = recording_rule_names()
    return {
        name
        for q in _prometheus_queries(dashboards)
        for name in metric_names(q.text)
        if not name.startswith(("re:", "slo:", "ALERTS")) and name != "up" and name not in recorded
    } | {"otelcol_exporter_send_failed_spans_total"}


@pytest.fixture(scope="module")
def prometheus_urls(dashboards, tmp_path_factory) -> Iterator[dict[str, str | Exception]]:
    """URL of a running Prometheus per generation whose binary is there (or why it did not start)."""
    rules = as_seen_through_thanos(build_rule_files(AlertingSpec(environment="dev")))
    with SyntheticExporter(EveryMetric(_served_metrics(dashboards))) as exporter, prometheus_per_generation(
        tmp_path_factory, "prometheus", rules, exporter.target
    ) as urls:
        yield urls


@pytest.fixture(params=engine_params("prometheus"))
def url(request, prometheus_urls) -> str:
    """The module's Prometheus of one generation."""
    return generation_url(request.param, prometheus_urls)


def test_every_promql_query_succeeds_on_a_real_prometheus_with_the_recording_rules(dashboards, url):
    # A few scrapes and rule evaluations, so rates and recorded series exist.
    wait_until(
        lambda: instant_query(url, 'count(slo:error_budget_remaining:ratio{environment="dev"})')["data"]["result"],
        timeout=30,
        what="the first recording-rule results",
    )
    failures = []
    for query in _prometheus_queries(dashboards):
        answer = instant_query(url, query.text)
        if answer.get("status") != "success":
            failures.append(f"{query.dashboard} / {query.panel}: {answer.get('error')}\n{query.text}")
    assert not failures, "\n\n".join(failures)


def test_slo_dashboard_queries_find_the_recorded_series(dashboards, url):
    """Not only valid but matching: the SLO panels' selectors find what the recording rules write."""
    model = next(d.model for d in dashboards if d.uid == "tf-slo")
    queries = [q for q in iter_queries(model) if q.datasource_type == "prometheus" and "slo:" in q.text]
    api = [q for q in queries if 'slo="api-' in q.text]
    assert api
    wait_until(
        lambda: all(instant_query(url, q.text)["data"]["result"] for q in api),
        timeout=30,
        what="every API SLO panel to show data",
    )
