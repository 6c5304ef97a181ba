"""OpenTelemetry Collector gateway: pipelines, CORS, span metrics and the metric name contract."""

from __future__ import annotations

import pytest
from tests.logs_traces.logs_traces_helpers import CORS_ORIGINS, JAEGER_OTLP
from pydantic import ValidationError

from stacks.config import ConfigError
from tools.mockrun import StackRun

from monitoring.otel import (
    CONTRACT_BUCKET_BOUNDS_SECONDS,
    SPANMETRICS_NAMESPACE,
    SPANMETRICS_PROMETHEUS_NAMES,
    OtelCollectorSpec,
    go_duration_seconds,
    otel_collector_config,
    prometheus_metric_name,
)

_KINDS = ("receivers", "processors", "exporters")


def test_every_pipeline_component_is_defined(otel):
    connectors = set(otel["connectors"])
    for name, pipeline in otel["service"]["pipelines"].items():
        for kind in _KINDS:
            for component in pipeline[kind]:
                defined = set(otel[kind]) | (connectors if kind != "processors" else set())
                assert component in defined, f"{name}.{kind}: {component}"
    for extension in otel["service"]["extensions"]:
        assert extension in otel["extensions"]


def test_every_defined_component_is_used(otel):
    used = {c for p in otel["service"]["pipelines"].values() for k in _KINDS for c in p[k]}
    for kind in ("receivers", "processors", "exporters", "connectors"):
        assert set(otel[kind]) <= used, kind


def test_connector_links_traces_to_metrics(otel):
    pipelines = otel["service"]["pipelines"]
    assert "spanmetrics" in pipelines["traces"]["exporters"]
    assert "spanmetrics" in pipelines["metrics"]["receivers"]


def test_traces_go_to_jaeger_in_plaintext_inside_the_cluster(otel):
    assert otel["service"]["pipelines"]["traces"] == {
        "receivers": ["otlp"],
        "processors": ["memory_limiter", "k8sattributes", "batch"],
        "exporters": ["otlp/jaeger", "spanmetrics"],
    }
    assert otel["exporters"]["otlp/jaeger"]["endpoint"] == JAEGER_OTLP
    assert otel["exporters"]["otlp/jaeger"]["tls"] == {"insecure": True}


def test_memory_limiter_first_and_batch_last_in_every_pipeline(otel):
    for name, pipeline in otel["service"]["pipelines"].items():
        assert pipeline["processors"][0] == "memory_limiter", name
        assert pipeline["processors"][-1] == "batch", name
    limiter = otel["processors"]["memory_limiter"]
    assert limiter["spike_limit_percentage"] < limiter["limit_percentage"]
    assert limiter["check_interval"]


def test_metrics_pipeline_exports_to_prometheus_on_8889(otel):
    metrics = otel["service"]["pipelines"]["metrics"]
    assert metrics["receivers"] == ["otlp", "spanmetrics"]
    assert metrics["exporters"] == ["prometheus"]
    prometheus = otel["exporters"]["prometheus"]
    assert prometheus["endpoint"].endswith(":8889")
    assert prometheus["resource_to_telemetry_conversion"] == {"enabled": True}
    assert prometheus["add_metric_suffixes"] is True


def test_otlp_receives_grpc_and_http_with_cors_for_browsers(otel):
    protocols = otel["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317")
    assert protocols["http"]["endpoint"].endswith(":4318")
    assert protocols["http"]["cors"]["allowed_origins"] == CORS_ORIGINS


@pytest.mark.parametrize("origin", ["*", "app.terrafusion.example", "https://app.example/path", ""])
def test_unsafe_or_malformed_cors_origin_is_rejected_before_any_resource(origin):
    run = StackRun("dev", {"otelCollector.corsOrigins": [origin]})
    with pytest.raises(ConfigError, match=r"^terrafusion-monitoring:otelCollector\.corsOrigins\[0\]: .*no bare '\*'\)$"):
        run.execute()
    assert run.resources == []


def test_jaeger_endpoint_must_be_host_port():
    with pytest.raises(AssertionError, match="jaeger_otlp_endpoint"):
        otel_collector_config(OtelCollectorSpec(), "http://jaeger:4317", CORS_ORIGINS)


def test_spanmetrics_buckets_include_the_contract_bounds(otel):
    spanmetrics = otel["connectors"]["spanmetrics"]
    assert spanmetrics["histogram"]["unit"] == "s"
    bounds = [go_duration_seconds(b, "") for b in spanmetrics["histogram"]["explicit"]["buckets"]]
    for bound in CONTRACT_BUCKET_BOUNDS_SECONDS:
        assert any(abs(bound - b) < 1e-9 for b in bounds), bound
    assert bounds == sorted(bounds)
    assert {0.1, 0.3, 1.0, 2.0, 3.0} == set(CONTRACT_BUCKET_BOUNDS_SECONDS)


def test_spanmetrics_dimensions_are_the_http_semantic_conventions(otel):
    dimensions = [d["name"] for d in otel["connectors"]["spanmetrics"]["dimensions"]]
    assert dimensions == ["http.route", "http.request.method", "http.response.status_code"]


@pytest.mark.parametrize(
    ("buckets", "message"),
    [
        (["100ms", "1s", "2s", "3s"], "missing contract bound(s) 0.3s"),
        (["100ms", "300ms", "1s", "2s"], "missing contract bound(s) 3s"),
        (["100ms", "300ms", "250ms", "1s", "2s", "3s"], "spanmetricsBuckets[2]: '250ms' must be greater"),
        (["100ms", "300ms", "1s", "2s", "3 s"], "spanmetricsBuckets[4]: '3 s' is not a duration"),
    ],
)
def test_spanmetrics_buckets_without_the_contract_are_rejected(buckets, message):
    with pytest.raises(ValidationError) as error:
        OtelCollectorSpec(spanmetrics_buckets=buckets)
    assert message in str(error.value) and "otelCollector" not in str(error.value)


def test_span_metric_names_are_what_prometheus_will_see(otel):
    spanmetrics = otel["connectors"]["spanmetrics"]
    assert spanmetrics["namespace"] == SPANMETRICS_NAMESPACE
    unit = spanmetrics["histogram"]["unit"]
    assert prometheus_metric_name(f"{SPANMETRICS_NAMESPACE}.duration", unit) == SPANMETRICS_PROMETHEUS_NAMES["duration"]
    assert prometheus_metric_name(f"{SPANMETRICS_NAMESPACE}.calls", "", monotonic_counter=True) == \
        SPANMETRICS_PROMETHEUS_NAMES["calls"]
    assert SPANMETRICS_PROMETHEUS_NAMES["duration"] + "_bucket" == "traces_span_metrics_duration_seconds_bucket"


@pytest.mark.parametrize(
    ("otel_name", "unit", "counter", "prometheus_name"),
    [
        ("http.server.request.duration", "s", False, "http_server_request_duration_seconds"),
        ("browser.page_load.duration", "s", False, "browser_page_load_duration_seconds"),
        ("browser.time_to_interactive", "s", False, "browser_time_to_interactive_seconds"),
        ("browser.page_views", "{view}", True, "browser_page_views_total"),
        ("browser.js_errors", "{error}", True, "browser_js_errors_total"),
        ("db.client.operation.duration", "s", False, "db_client_operation_duration_seconds"),
    ],
)
def test_contract_metric_names_pass_through_the_prometheus_exporter(otel_name, unit, counter, prometheus_name):
    assert prometheus_metric_name(otel_name, unit, monotonic_counter=counter) == prometheus_name


def test_service_label_is_copied_from_service_name_only_when_missing(otel):
    statements = [
        s for group in otel["processors"]["transform/contract_labels"]["metric_statements"]
        if group["context"] == "datapoint" for s in group["statements"]
    ]
    assert statements == [
        'set(attributes["service"], resource.attributes["service.name"]) '
        'where attributes["service"] == nil and resource.attributes["service.name"] != nil'
    ]


def test_collector_exposes_its_own_metrics_on_8888(otel):
    (reader,) = otel["service"]["telemetry"]["metrics"]["readers"]
    assert reader["pull"]["exporter"]["prometheus"] == {"host": "0.0.0.0", "port": 8888}


def test_k8sattributes_does_not_associate_by_connection(otel):
    sources = [s for a in otel["processors"]["k8sattributes"]["pod_association"] for s in a["sources"]]
    assert {s["from"] for s in sources} == {"resource_attribute"}


@pytest.mark.parametrize(
    ("update", "message"),
    [
        ({"memory_limit_percentage": 50, "memory_spike_limit_percentage": 50}, "Value error, memorySpikeLimitPercentage: 50"),
        ({"batch_send_size": 10000, "batch_max_size": 100}, "Value error, batchMaxSize: 100"),
        ({"batch_timeout": "soon"}, "Value error, batchTimeout: 'soon'"),
    ],
)
def test_invalid_collector_settings_are_rejected(update, message):
    with pytest.raises(ValidationError, match=message.replace(".", r"\.")):
        OtelCollectorSpec(**update)
