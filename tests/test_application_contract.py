"""The README's application contract is the metrics contract: what applications, browsers and CI
jobs must send, checked against monitoring/metrics_contract.py and the collector's event path
(monitoring/otel.py) so neither can drift from the other."""

from __future__ import annotations

import re
from pathlib import Path

from plan import exporters
from monitoring import metrics_contract as mc
from monitoring import otel
from monitoring.slo_catalogue import SLO_CATALOGUE, LatencySli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()
# What senders outside the platform produce (the platform's own exporters are not their contract).
SENDER_PRODUCERS = {"application", "otel-event-aggregation", "pushgateway"}
# The Pushgateway's own per-group series: it writes them, no sender does.
PUSHGATEWAY_OWN = {"push_time_seconds", "push_failure_time_seconds"}
_TOKEN = re.compile(r"`([a-z][a-z0-9_]*[a-z0-9])`")
_PREFIXES = ("http_server_", "db_client_", "terrafusion_", "browser_")


def section(text: str) -> str:
    start = text.index("## Application contract")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def sender_families() -> list[mc.Family]:
    return [f for f in mc.FAMILIES if SENDER_PRODUCERS & set(f.producers) and f.name not in PUSHGATEWAY_OWN]


def missing_families(text: str) -> list[str]:
    tokens = set(_TOKEN.findall(section(text)))
    return sorted(f.name for f in sender_families() if f.name not in tokens)


def unknown_names(text: str) -> list[str]:
    """Metric-like names in the section that the contract does not declare (as a series, a
    histogram's base name, or a label)."""
    names = mc.contract_names() | {f.name for f in mc.FAMILIES}
    labels = frozenset().union(*(f.labels for f in mc.FAMILIES))
    tokens = {t for t in _TOKEN.findall(section(text)) if t.startswith(_PREFIXES)}
    return sorted(t for t in tokens if t not in names and t not in labels)


def test_every_family_senders_produce_is_in_the_readme_table():
    assert sender_families(), "the contract declares no sender families"
    assert missing_families(README) == []


def test_every_name_the_readme_promises_is_declared():
    assert unknown_names(README) == []


def test_the_checks_fail_on_a_readme_that_drifted():
    drifted = README.replace("`terrafusion_db_connection_failures_total`", "`db_client_connection_failures_total`")
    assert missing_families(drifted) == ["terrafusion_db_connection_failures_total"]
    assert unknown_names(drifted) == ["db_client_connection_failures_total"]


def test_readme_event_rows_are_generated_from_the_event_path():
    assert otel.event_contract_markdown() in section(README)


def test_every_event_metric_is_a_family_of_the_event_path():
    available = mc.available_families({"otel-event-aggregation"})
    for metric in otel.EVENT_METRICS:
        for name in metric.prometheus_names:
            assert name in available, name
            assert set(metric.attributes) <= available[name].labels, name


def test_the_readme_names_the_endpoints_and_event_attribute():
    text = section(README)
    for needle in (
        f":{otel.OTLP_HTTP_PORT}",
        "/v1/logs",
        f"`{otel.EVENT_NAME_ATTRIBUTE}`",
        f"{exporters.PUSHGATEWAY_FULLNAME}.monitoring.svc:{exporters.PUSHGATEWAY_PORT}",
        "/metrics/job/",
        "grouping key",
    ):
        assert needle in text, needle


def test_browser_buckets_hold_every_slo_threshold_of_an_event_histogram():
    histograms = {m.prometheus_names[0].removesuffix("_bucket") for m in otel.EVENT_METRICS if m.value_attribute}
    thresholds = [s.sli.threshold_seconds for s in SLO_CATALOGUE if isinstance(s.sli, LatencySli) and s.sli.metric in histograms]
    assert thresholds, "no SLO reads an event histogram"
    assert all(t in otel.BROWSER_BUCKETS_SECONDS for t in thresholds)


def test_the_collector_builds_its_event_pipeline_from_the_event_metrics():
    config = otel.otel_collector_config(otel.OtelCollectorSpec(), "jaeger.monitoring.svc:4317", [])
    counts = config["connectors"]["count/events"]["logs"]
    histograms = {h["name"]: h for h in config["connectors"]["signaltometrics/events"]["logs"]}
    for metric in otel.EVENT_METRICS:
        if metric.value_attribute:
            assert histograms[metric.name]["histogram"]["buckets"] == list(otel.BROWSER_BUCKETS_SECONDS)
            assert histograms[metric.name]["unit"] == "s"
        else:
            assert [a["key"] for a in counts[metric.name]["attributes"]] == list(metric.attributes)
    pipelines = config["service"]["pipelines"]
    assert pipelines["logs/events"]["exporters"] == ["count/events", "signaltometrics/events"]
    assert pipelines["metrics/events"] == {
        "receivers": ["count/events", "signaltometrics/events"],
        "processors": ["memory_limiter", "deltatocumulative", "batch"],
        "exporters": ["prometheus"],
    }
    # The metrics contract recognises this pipeline as the event producer.
    assert "otel-event-aggregation" in mc._collector_pipelines(config)[0]
    # A sender's own OTLP metric of an event name never reaches the exporter.
    assert "filter/event_metric_names" in pipelines["metrics"]["processors"]
