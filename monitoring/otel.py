"""OpenTelemetry Collector gateway config (chart `opentelemetry-collector`, mode deployment).

Services and browsers send OTLP here (gRPC :4317, HTTP :4318 with CORS for browsers). Traces go
to Jaeger over OTLP and through the spanmetrics connector; metrics (the applications' own SDK
metrics, the browser metrics, the span metrics) leave through one Prometheus exporter on :8889
that Prometheus scrapes. The collector's own metrics are on :8888.

Which names reach Prometheus (the metrics contract, docs/architecture.md#metrics-contract, and README "Application contract"):
the Prometheus exporter turns an OTel name into a Prometheus name by replacing every character
outside [a-zA-Z0-9:] with '_', appending the unit ('s' -> '_seconds', 'ms' -> '_milliseconds',
'By' -> '_bytes', '1' and '{...}' -> nothing) and '_total' to monotonic counters; histograms then
get `_bucket`, `_sum`, `_count`. So:
  http.server.request.duration (s, histogram)    -> http_server_request_duration_seconds_bucket
  browser.page_load.duration (s, histogram)      -> browser_page_load_duration_seconds_bucket
  browser.page_views ({view}, counter)           -> browser_page_views_total
  traces.span.metrics.duration (s, spanmetrics)  -> traces_span_metrics_duration_seconds_bucket
  traces.span.metrics.calls (counter)            -> traces_span_metrics_calls_total
Attributes become labels the same way: http.route -> http_route.
Ref: https://github.com/prometheus/otlptranslator/blob/main/metric_namer.go (used by the exporter)
Ref: https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/exporter/prometheusexporter

Span metrics deliberately keep their own namespace (`traces.span.metrics`, the connector's
default) instead of being named `http.server.request.duration`: spans are head-sampled (prod
keeps ~10%, health checks 0%), so span-derived counts are not request counts. The SLO metric
`http_server_request_duration_seconds` comes unsampled from each service's SDK metrics; span
metrics serve the Jaeger Monitor tab and trace-to-metrics links.

The service graph (who calls whom, how often, how many fail, how long) comes from the servicegraph
connector, which pairs each client span with the server span of the same call (same trace, the
server span's parent is the client span) in an in-memory store. Both spans must reach the same
connector, so the gateway above cannot run it with more than one replica: it receives spans from
the services round-robin. The gateway therefore forwards every span with the loadbalancing
exporter, routed by trace ID (consistent hashing over the backends), to a second collector
deployment that runs only the connector (servicegraph_collector_config): every span of a trace
lands on the same second-tier replica, for any number of replicas in either tier. The backends are
found by DNS on a headless Service (one A record per ready pod, re-resolved every 5 s), so the
gateway needs no Kubernetes API access for it. When the second tier scales or rolls, about R/N of
the trace routes move and the edges in flight at that moment expire unpaired: a dip in the graph
for a few seconds, never a wrong edge.
Ref: open-telemetry/opentelemetry-collector-contrib connector/servicegraphconnector/README.md ("it
     needs to process all spans of a trace to function properly ... using the load balancing exporter
     in a layer on front of collector instances running this connector");
     exporter/loadbalancingexporter/README.md (routing_key traceID, resolver dns hostname/port/interval,
     "Around R/N of the routes will be rerouted"); both are in otelcol-contrib 0.158.0
     (opentelemetry-collector-releases@v0.158.0 distributions/otelcol-contrib/manifest.yaml).

Pure module: no Pulumi import. Validation errors (SpecError) name the key inside the spec, e.g.
`batchTimeout`; plan/settings.py adds where the spec sits in the stack file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import Field, model_validator
from monitoring.errors import SpecError
from monitoring.models import SpecModel

OTLP_GRPC_PORT = 4317
OTLP_HTTP_PORT = 4318
PROMETHEUS_EXPORTER_PORT = 8889
TELEMETRY_METRICS_PORT = 8888
HEALTH_CHECK_PORT = 13133

# Bucket bounds (seconds) the rules and dashboards rely on: latency SLI at le="0.3", RED panels at
# 0.1/1/2/3 s (README "Application contract").
CONTRACT_BUCKET_BOUNDS_SECONDS = (0.1, 0.3, 1.0, 2.0, 3.0)
DEFAULT_SPANMETRICS_BUCKETS = (
    "5ms", "10ms", "25ms", "50ms", "100ms", "250ms", "300ms", "500ms", "1s", "2s", "3s", "5s", "10s",
)  # fmt: skip

SPANMETRICS_NAMESPACE = "traces.span.metrics"
# The spanmetrics histogram's unit (its Prometheus name ends in _seconds_bucket).
SPANMETRICS_UNIT = "s"
SPANMETRICS_DIMENSIONS = ("http.route", "http.request.method", "http.response.status_code")
# What Prometheus sees from the spanmetrics connector (unit s, namespace above).
SPANMETRICS_PROMETHEUS_NAMES = {
    "calls": "traces_span_metrics_calls_total",
    "duration": "traces_span_metrics_duration_seconds",
}

# --- Service graph (servicegraph connector, second collector tier) ------------------------------
#
# What the connector emits, per edge (client service -> server service): the OTel names and units
# below, data point attributes `client`, `server`, `connection_type` ("" for a direct call,
# `messaging_system`, `database`, `virtual_node`) and `failed` ("true"/"false": part of the series
# identity, so a failed and a succeeded call are two series of one edge). The latency histograms
# are in seconds (the legacy millisecond unit and names are feature gates deprecated since
# v0.154.0). Virtual nodes are on (that gate is stable since v0.154.0): an edge whose server never
# reports (an external API, a database) gets the peer attribute's value (peer.service, db.name,
# db.system) as its server when the store entry expires, and a root server span gets client
# `user`. The Prometheus exporter (add_metric_suffixes) keeps `_total` on the counters and appends
# `_seconds` to the histograms.
# Ref: open-telemetry/opentelemetry-collector-contrib connector/servicegraphconnector/connector.go
#      (collectCountMetrics, collectServerLatencyMetrics "traces_service_graph_request_server",
#      collectClientLatencyMetrics, buildDimensions, secondsUnit, onExpire), config.go (store.ttl,
#      store.max_items, latency_histogram_buckets, dimensions, virtual_node_peer_attributes,
#      metrics_flush_interval "Default is 60s"), internal/metadata/generated_feature_gates.go
#      (legacyLatencyMetricNames, legacyLatencyUnitMs deprecated, virtualNode stable, to v0.154.0),
#      README.md "Metrics"; prometheus/otlptranslator metric_namer.go (suffixes).
SERVICEGRAPH_METRICS = {
    # key: (OTel name, unit, monotonic counter)
    "requests": ("traces_service_graph_request_total", "", True),
    "failed": ("traces_service_graph_request_failed_total", "", True),
    "server": ("traces_service_graph_request_server", "s", False),
    "client": ("traces_service_graph_request_client", "s", False),
}
SERVICEGRAPH_LABELS = ("client", "server", "connection_type", "failed")
SERVICEGRAPH_CONNECTOR = "servicegraph"
# The gateway's exporter to the second tier.
SERVICEGRAPH_FORWARDER = "loadbalancing/servicegraph"


def servicegraph_prometheus_name(key: str) -> str:
    """What Prometheus sees of one service graph metric (histograms: the base of _bucket/_sum/_count)."""
    name, unit, monotonic = SERVICEGRAPH_METRICS[key]
    return prometheus_metric_name(name, unit, monotonic_counter=monotonic)


# Resource attributes that must not become labels (resource_to_telemetry_conversion turns every
# resource attribute into a label): per-process and per-browser values would make a new series
# for each process start or each user agent. `[.]` rather than an escaped dot: the pattern sits
# in an OTTL string literal, where a backslash would itself need escaping.
VOLATILE_RESOURCE_ATTRIBUTES = "^(process|telemetry|os|host|browser|user_agent|device|webengine)[.].*"

# --- Events: many short-lived senders (browsers, CI jobs) -----------------------------------------
#
# A browser or a CI job is not a metrics writer Prometheus can use: each page load is a new SDK
# instance, and the prometheus exporter keeps one last value per series identity, so cumulative
# points of different senders overwrite each other (Ref: opentelemetry-collector-contrib
# exporter/prometheusexporter/accumulator.go). Instead each sender emits one OTLP log record per
# event (`event.name` attribute or the record's EventName) and the collector is the single writer:
# the count connector counts events (monotonic delta sums), signaltometrics builds explicit-bucket
# histograms from an event attribute (delta), deltatocumulative accumulates both per collector
# replica, and the prometheus exporter exposes them; the rules `sum by (app)` over the replicas
# (each its own scrape target). All four are in otelcol-contrib 0.158.0.
# Ref: open-telemetry/opentelemetry-collector-releases@v0.158.0 distributions/otelcol-contrib/manifest.yaml
#      (connector/countconnector, connector/signaltometricsconnector, processor/deltatocumulativeprocessor,
#      exporter/prometheusexporter); opentelemetry-collector-contrib connector/countconnector/counter.go
#      (SetIsMonotonic(true), delta), connector/signaltometricsconnector/README.md ("does NOT perform any
#      stateful or time based aggregations", delta output, "Single writer"),
#      processor/deltatocumulativeprocessor/README.md (max_stale, max_streams).
EVENT_NAME_ATTRIBUTE = "event.name"
# Seconds. Must include the SLO thresholds (time to interactive 2 s, page load 3 s) and the
# FrontendSlowPageLoad bound (p75 above 4 s).
BROWSER_BUCKETS_SECONDS = (0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 7.5, 10.0, 15.0, 30.0)


@dataclass(frozen=True)
class EventMetric:
    """A metric the collector derives from events: a count of `event`, or (value_attribute set) a
    histogram of that attribute in seconds. `attributes` are required on the event and become labels."""

    name: str  # OTel name
    event: str
    attributes: tuple[str, ...]
    description: str
    sender: str  # who sends the event (README "Application contract")
    value_attribute: str | None = None

    @property
    def unit(self) -> str:
        return "s" if self.value_attribute else ""

    @property
    def prometheus_names(self) -> tuple[str, ...]:
        if self.value_attribute:
            base = prometheus_metric_name(self.name, "s")
            return tuple(f"{base}_{suffix}" for suffix in ("bucket", "count", "sum"))
        return (prometheus_metric_name(self.name, "", monotonic_counter=True),)


EVENT_METRICS: tuple[EventMetric, ...] = (
    EventMetric("browser.page_views", "browser.page_view", ("app",), "Page loads.", "browsers"),
    EventMetric("browser.js_errors", "browser.js_error", ("app",), "Uncaught JavaScript errors.", "browsers"),
    EventMetric(
        "browser.page_load.duration", "browser.page_view", ("app",), "Page load time.", "browsers",
        value_attribute="browser.page_load.duration",
    ),
    EventMetric(
        "browser.time_to_interactive", "browser.page_view", ("app",), "Time to interactive.", "browsers",
        value_attribute="browser.time_to_interactive",
    ),
    EventMetric("terrafusion.pipeline.runs", "terrafusion.pipeline.run", ("pipeline", "result"), "CI pipeline runs.", "CI jobs"),
    EventMetric("terrafusion.deployments", "terrafusion.deployment", ("service", "result"), "Deployments.", "CI jobs"),
)  # fmt: skip


def _event_condition(event: str) -> str:
    # Either spelling of an event's name: the attribute (older SDKs, hand-written OTLP JSON) or the
    # log record's EventName field (OTLP 1.5+, OTTL path `event_name`).
    return f'(attributes["{EVENT_NAME_ATTRIBUTE}"] == "{event}" or event_name == "{event}")'


def event_connectors() -> dict[str, Any]:
    counts: dict[str, Any] = {}
    histograms: list[dict[str, Any]] = []
    for m in EVENT_METRICS:
        attributes = [{"key": a} for a in m.attributes]
        if m.value_attribute is None:
            # Ref: opentelemetry-collector-contrib connector/countconnector/README.md (logs, conditions,
            # attributes: an event without one of them is not counted).
            counts[m.name] = {"description": m.description, "conditions": [_event_condition(m.event)], "attributes": attributes}
        else:
            # Ref: connector/signaltometricsconnector/README.md (histogram buckets/value, attributes,
            # conditions, include_resource_attributes).
            histograms.append(
                {
                    "name": m.name,
                    "description": m.description,
                    "unit": m.unit,
                    "conditions": [f'{_event_condition(m.event)} and attributes["{m.value_attribute}"] != nil'],
                    "include_resource_attributes": [{"key": "service.name"}],
                    "attributes": attributes,
                    "histogram": {
                        "buckets": list(BROWSER_BUCKETS_SECONDS),
                        "value": f'Double(attributes["{m.value_attribute}"])',
                    },
                }
            )
    return {"count/events": {"logs": counts}, "signaltometrics/events": {"logs": histograms}}


# Go durations as the collector parses them (time.ParseDuration), the subset used here.
_GO_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)$")
_GO_UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_ORIGIN = re.compile(r"^https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?$")
_HOST_PORT = re.compile(r"^[A-Za-z0-9.-]+:\d{1,5}$")


def go_duration_seconds(value: str, key: str) -> float:
    match = _GO_DURATION.match(value) if isinstance(value, str) else None
    if not match:
        raise SpecError(key, f"{value!r} is not a duration like '100ms', '1s', '2m'")
    return float(match.group(1)) * _GO_UNIT_SECONDS[match.group(2)]




class OtelCollectorSpec(SpecModel):
    memory_limit_percentage: int = Field(
        default=80, ge=10, le=95, description="memory_limiter hard limit, % of the container memory limit."
    )
    memory_spike_limit_percentage: int = Field(
        default=25, ge=1, le=50, description="memory_limiter spike allowance; soft limit = limit - spike."
    )
    batch_send_size: int = Field(default=8192, ge=1, description="batch: items that trigger a send.")
    batch_max_size: int = Field(default=10000, ge=1, description="batch: upper bound of one batch.")
    batch_timeout: str = Field(default="1s", description="batch: send at least this often.")
    spanmetrics_buckets: list[str] = Field(
        default_factory=lambda: list(DEFAULT_SPANMETRICS_BUCKETS),
        description="Span duration histogram bounds (Go durations); must include 100ms, 300ms, 1s, 2s, 3s.",
    )
    spanmetrics_flush_interval: str = Field(default="15s", description="How often span metrics are emitted.")

    @model_validator(mode="after")
    def _valid(self) -> OtelCollectorSpec:
        if self.memory_spike_limit_percentage >= self.memory_limit_percentage:
            raise SpecError(
                "memorySpikeLimitPercentage",
                f"{self.memory_spike_limit_percentage} must be below memoryLimitPercentage "
                f"{self.memory_limit_percentage}",
            )
        if self.batch_max_size < self.batch_send_size:
            raise SpecError(
                "batchMaxSize",
                f"{self.batch_max_size} must be >= batchSendSize {self.batch_send_size} (batch processor rule)",
            )
        go_duration_seconds(self.batch_timeout, "batchTimeout")
        go_duration_seconds(self.spanmetrics_flush_interval, "spanmetricsFlushInterval")
        bounds = [
            go_duration_seconds(b, f"spanmetricsBuckets[{i}]")
            for i, b in enumerate(self.spanmetrics_buckets)
        ]
        for i in range(1, len(bounds)):
            if bounds[i] <= bounds[i - 1]:
                raise SpecError(
                    f"spanmetricsBuckets[{i}]",
                    f"{self.spanmetrics_buckets[i]!r} must be greater than the previous bound "
                    f"{self.spanmetrics_buckets[i - 1]!r}",
                )
        missing = [b for b in CONTRACT_BUCKET_BOUNDS_SECONDS if not any(abs(b - x) < 1e-9 for x in bounds)]
        if missing:
            raise SpecError(
                "spanmetricsBuckets",
                f"missing contract bound(s) {', '.join(f'{m:g}s' for m in missing)} (rules and dashboards use them)",
            )
        return self

    def bucket_bounds_seconds(self) -> list[float]:
        return [go_duration_seconds(b, "") for b in self.spanmetrics_buckets]


SERVICE_GRAPH_KEY = "serviceGraph"  # where the collector spec holds this one


class ServiceGraphSpec(SpecModel):
    """The servicegraph connector of the second collector tier (module docstring)."""

    store_ttl: str = Field(
        default="10s",
        description="How long a client or server span waits in the store for the other side of its call. "
        "It must cover the time between the two services exporting: an SDK batches spans for up to 5 s "
        "(OTEL_BSP_SCHEDULE_DELAY), the gateway for batchTimeout.",
    )
    store_max_items: int = Field(
        default=10000, ge=100,
        description="Calls waiting for their other side, per replica; beyond it new spans are dropped "
        "(otelcol_connector_servicegraph_dropped_spans_total). About calls per second x storeTtl / replicas.",
    )
    metrics_flush_interval: str = Field(default="15s", description="How often the edge metrics are emitted.")

    @model_validator(mode="after")
    def _durations(self) -> ServiceGraphSpec:
        # Keys relative to the collector spec this one sits in (its `serviceGraph`): a SpecError's key
        # is relative to the outermost spec (plan/settings.py stack_file_key).
        if go_duration_seconds(self.store_ttl, f"{SERVICE_GRAPH_KEY}.storeTtl") < 1:
            raise SpecError(f"{SERVICE_GRAPH_KEY}.storeTtl", f"{self.store_ttl!r} is under 1s: spans of one call arrive seconds apart")
        go_duration_seconds(self.metrics_flush_interval, f"{SERVICE_GRAPH_KEY}.metricsFlushInterval")
        return self


def validate_cors_origins(origins: list[str]) -> list[str]:
    """Browser origins allowed to POST OTLP/HTTP. A bare '*' is refused: the receiver answers with
    `Access-Control-Allow-Credentials: true`, and browsers reject a wildcard origin with it.
    Ref: https://github.com/open-telemetry/opentelemetry-collector/blob/main/config/confighttp/README.md
    """
    for i, origin in enumerate(origins):
        if not _ORIGIN.match(origin):
            raise SpecError(
                f"corsOrigins[{i}]",
                f"{origin!r} must be an origin such as 'https://app.example.com' or 'https://*.example.com' "
                "(no path, no bare '*')",
            )
    return origins


def prometheus_metric_name(otel_name: str, unit: str, *, monotonic_counter: bool = False) -> str:
    """The Prometheus name the exporter gives an OTel metric (suffixes on, default escaping), for the
    units this project uses. Mirrors the rule described in the module docstring, for docs and tests."""
    units = {"s": "seconds", "ms": "milliseconds", "By": "bytes", "1": "", "%": "percent"}
    unit = "" if unit.startswith("{") else unit
    tokens = [t for t in re.split(r"[^a-zA-Z0-9:]+", otel_name) if t]
    suffix = units.get(unit, unit)
    if suffix and suffix not in tokens:
        tokens.append(suffix)
    if monotonic_counter:
        tokens = [t for t in tokens if t != "total"] + ["total"]
    return "_".join(tokens)


def otlp_http_paths(config: dict[str, Any], receiver: str = "otlp") -> list[str]:
    """The OTLP/HTTP request paths the collector serves data on: /v1/<signal> for each signal a
    pipeline takes from `receiver`, in signal order. A path for another signal would only reach a
    receiver with nothing behind it, so it is not exposed.
    Ref: open-telemetry/opentelemetry-proto docs/specification.md "OTLP/HTTP Request" (default URL
    paths /v1/traces, /v1/metrics, /v1/logs)."""
    pipelines = config.get("service", {}).get("pipelines", {})
    signals = {name.split("/")[0] for name, pipeline in pipelines.items() if receiver in pipeline.get("receivers", [])}
    return [f"/v1/{signal}" for signal in ("traces", "metrics", "logs") if signal in signals]


_READ = ["get", "list", "watch"]


def collector_api_rules(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The ClusterRole rules the collector's own config needs from the Kubernetes API, and no more:
    the k8sattributes processor (in any pipeline) watches pods and namespaces in every namespace,
    replicasets when it extracts the deployment (pod -> ReplicaSet owner -> Deployment name), nodes
    when it extracts node metadata beyond the pod's nodeName. No other component here calls the API.
    Ref: open-telemetry/opentelemetry-collector-contrib processor/k8sattributesprocessor/README.md
    "Role-based access control" (stored snapshot 002bd1e1; the 0.170.0 chart's preset grants the
    same pods/namespaces/replicasets: templates/clusterrole.yaml).
    """
    used = {p for pipeline in config.get("service", {}).get("pipelines", {}).values() for p in pipeline.get("processors", [])}
    attribute_processors = [
        config["processors"][name] for name in sorted(used) if name.split("/")[0] in ("k8sattributes", "k8s_attributes")
    ]
    if not attribute_processors:
        return []
    rules: list[dict[str, Any]] = [{"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": list(_READ)}]
    extracted = {m for proc in attribute_processors for m in (proc.get("extract") or {}).get("metadata", [])}
    from_nodes = any(
        rule.get("from") == "node"
        for proc in attribute_processors
        for key in ("labels", "annotations")
        for rule in (proc.get("extract") or {}).get(key, [])
    )
    if extracted & {"k8s.deployment.name", "k8s.deployment.uid"}:
        rules.append({"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": list(_READ)})
    if "k8s.node.uid" in extracted or from_nodes:
        rules.append({"apiGroups": [""], "resources": ["nodes"], "verbs": list(_READ)})
    return rules


def otel_collector_config(
    spec: OtelCollectorSpec,
    jaeger_otlp_endpoint: str,
    cors_origins: list[str],
    servicegraph_backends: str | None = None,
) -> dict[str, Any]:
    """The collector config (chart value `config`).

    `jaeger_otlp_endpoint` is Jaeger's OTLP gRPC host:port inside the cluster (plaintext: traffic
    stays in the namespace). `servicegraph_backends`: the headless Service of the second tier that
    builds the service graph (None: no service graph). Needs the contrib image (the k8s
    distribution has no prometheus exporter).
    """
    if not _HOST_PORT.match(jaeger_otlp_endpoint):
        raise AssertionError(
            f"jaeger_otlp_endpoint: {jaeger_otlp_endpoint!r} must be host:port (OTLP gRPC, no scheme)"
        )
    # cors_origins were checked by validate_cors_origins in settings validation (plan/settings.py).
    receivers = {
        # Ref: https://github.com/open-telemetry/opentelemetry-collector/blob/main/receiver/otlpreceiver/README.md
        "otlp": {
            "protocols": {
                "grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"},
                "http": {
                    "endpoint": f"0.0.0.0:{OTLP_HTTP_PORT}",
                    # No allowed_headers: the CORS library then allows its defaults (Accept,
                    # Content-Type, X-Requested-With), which is what the browser exporter sends.
                    "cors": {"allowed_origins": list(cors_origins), "max_age": 7200},
                },
            }
        }
    }
    processors = {
        # First in every pipeline: refuses data before the process runs out of memory.
        # Ref: https://github.com/open-telemetry/opentelemetry-collector/blob/main/processor/memorylimiterprocessor/README.md
        "memory_limiter": {
            "check_interval": "1s",
            "limit_percentage": spec.memory_limit_percentage,
            "spike_limit_percentage": spec.memory_spike_limit_percentage,
        },
        # Pod association by resource attributes only, not by connection IP: browser spans arrive
        # through the ingress controller, and its pod IP would tag them with the ingress pod's
        # metadata. Services set k8s.pod.uid / k8s.pod.ip in OTEL_RESOURCE_ATTRIBUTES from the
        # downward API (docs/logs-and-traces.md). Needs RBAC get/list/watch on pods, namespaces,
        # replicasets (collector_api_rules). Ref: https://github.com/open-telemetry/opentelemetry-collector-contrib/blob/main/processor/k8sattributesprocessor/README.md
        "k8sattributes": {
            "auth_type": "serviceAccount",
            "passthrough": False,
            "extract": {
                "metadata": [
                    "k8s.namespace.name",
                    "k8s.pod.name",
                    "k8s.pod.uid",
                    "k8s.deployment.name",
                    "k8s.node.name",
                ]
            },
            "pod_association": [
                {"sources": [{"from": "resource_attribute", "name": "k8s.pod.uid"}]},
                {"sources": [{"from": "resource_attribute", "name": "k8s.pod.ip"}]},
            ],
        },
        # Events: one resource per sending app (service.name only: browser, device and process
        # attributes would make every sender its own stream), and `app` from service.name when the
        # event does not set it. Ref: opentelemetry-collector-contrib pkg/ottl/ottlfuncs (keep_keys, set).
        "transform/events": {
            "error_mode": "ignore",
            "log_statements": [
                {"context": "resource", "statements": ['keep_keys(attributes, ["service.name"])']},
                {
                    "context": "log",
                    "statements": [
                        'set(attributes["app"], resource.attributes["service.name"]) '
                        'where attributes["app"] == nil and resource.attributes["service.name"] != nil'
                    ],
                },
            ],
        },
        # The event metrics have one writer, the event path below: the same names arriving as OTLP
        # metrics (a browser SDK's own cumulative counters) would be the many-writer series again.
        # Ref: opentelemetry-collector-contrib processor/filterprocessor/README.md (metrics.metric)
        "filter/event_metric_names": {
            "error_mode": "ignore",
            "metrics": {"metric": [f'name == "{m.name}"' for m in EVENT_METRICS]},
        },
        # The collector is the only writer of the event streams, so delta -> cumulative is safe
        # here. A stream idle for a day is forgotten (its counter restarts: rate() handles resets);
        # max_streams bounds memory against senders inventing label values.
        # Ref: opentelemetry-collector-contrib processor/deltatocumulativeprocessor/README.md
        "deltatocumulative": {"max_stale": "24h", "max_streams": 10000},
        # Ref: https://github.com/open-telemetry/opentelemetry-collector/blob/main/processor/batchprocessor/README.md
        "batch": {
            "send_batch_size": spec.batch_send_size,
            "send_batch_max_size": spec.batch_max_size,
            "timeout": spec.batch_timeout,
        },
        # The alert contract groups by `service`; OTel metrics carry the service in the resource
        # (`service.name`). Copy it onto every data point that has no `service` of its own, and drop
        # volatile resource attributes before they become labels. Metric names are untouched.
        # (The scrape must use honorLabels: true, or Prometheus renames `service` to
        # `exported_service` because the target already has a `service` label.)
        # Ref: https://github.com/open-telemetry/opentelemetry-collector-contrib/tree/main/processor/transformprocessor
        "transform/contract_labels": {
            "error_mode": "ignore",
            "metric_statements": [
                {
                    "context": "resource",
                    "statements": [f'delete_matching_keys(attributes, "{VOLATILE_RESOURCE_ATTRIBUTES}")'],
                },
                {
                    "context": "datapoint",
                    "statements": [
                        'set(attributes["service"], resource.attributes["service.name"]) '
                        'where attributes["service"] == nil and resource.attributes["service.name"] != nil'
                    ],
                },
            ],
        },
    }
    connectors = {
        # Ref: https://github.com/open-telemetry/opentelemetry-collector-contrib/blob/main/connector/spanmetricsconnector/README.md
        "spanmetrics": {
            "namespace": SPANMETRICS_NAMESPACE,
            "histogram": {"unit": SPANMETRICS_UNIT, "explicit": {"buckets": list(spec.spanmetrics_buckets)}},
            "dimensions": [{"name": name} for name in SPANMETRICS_DIMENSIONS],
            "aggregation_temporality": "AGGREGATION_TEMPORALITY_CUMULATIVE",
            "metrics_flush_interval": spec.spanmetrics_flush_interval,
            # Forget series of operations not seen for a while (renamed routes, removed pods).
            "metrics_expiration": "10m",
            # Key resource metrics on stable attributes only, so a changing attribute does not
            # reset the counters.
            "resource_metrics_key_attributes": ["service.name", "telemetry.sdk.language", "telemetry.sdk.name"],
        },
        **event_connectors(),
    }
    exporters = {
        # `otlp` is the deprecated alias of `otlp_grpc` since collector 0.144; it is accepted by both
        # old and new collectors. Ref: https://github.com/open-telemetry/opentelemetry-collector/blob/main/exporter/otlpexporter/README.md
        "otlp/jaeger": {
            "endpoint": jaeger_otlp_endpoint,
            "tls": {"insecure": True},
            "sending_queue": {"enabled": True},
            "retry_on_failure": {"enabled": True},
        },
        "prometheus": {
            "endpoint": f"0.0.0.0:{PROMETHEUS_EXPORTER_PORT}",
            # Unit and _total suffixes on: this is what makes `..._duration_seconds_bucket` and
            # `browser_page_views_total` (the default; explicit because the contract depends on it).
            "add_metric_suffixes": True,
            "resource_to_telemetry_conversion": {"enabled": True},
            "metric_expiration": "10m",
        },
    }
    trace_exporters = ["otlp/jaeger", "spanmetrics"]
    if servicegraph_backends is not None:
        exporters[SERVICEGRAPH_FORWARDER] = servicegraph_forwarding_exporter(servicegraph_backends)
        trace_exporters.append(SERVICEGRAPH_FORWARDER)
    return {
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{HEALTH_CHECK_PORT}"}},
        "receivers": receivers,
        "processors": processors,
        "connectors": connectors,
        "exporters": exporters,
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "k8sattributes", "batch"],
                    "exporters": trace_exporters,
                },
                "metrics": {
                    "receivers": ["otlp", "spanmetrics"],
                    "processors": ["memory_limiter", "filter/event_metric_names", "transform/contract_labels", "batch"],
                    "exporters": ["prometheus"],
                },
                # OTLP logs are accepted only as events: counted/measured, then dropped.
                "logs/events": {
                    "receivers": ["otlp"],
                    "processors": ["memory_limiter", "transform/events", "batch"],
                    "exporters": ["count/events", "signaltometrics/events"],
                },
                "metrics/events": {
                    "receivers": ["count/events", "signaltometrics/events"],
                    "processors": ["memory_limiter", "deltatocumulative", "batch"],
                    "exporters": ["prometheus"],
                },
            },
            "telemetry": {
                # Ref: https://opentelemetry.io/docs/collector/internal-telemetry/
                "metrics": {
                    "level": "normal",
                    "readers": [
                        {
                            "pull": {
                                "exporter": {
                                    "prometheus": {"host": "0.0.0.0", "port": TELEMETRY_METRICS_PORT}
                                }
                            }
                        }
                    ],
                }
            },
        },
    }


def servicegraph_collector_config(spec: ServiceGraphSpec, gateway: OtelCollectorSpec) -> dict[str, Any]:
    """The second collector tier (chart value `config`): OTLP gRPC from the gateway's loadbalancing
    exporter only, the servicegraph connector, and the edge metrics out through a Prometheus exporter
    on :8889 (self-metrics on :8888), named as the module docstring says. The latency buckets are
    the span metrics' (`gateway.spanmetrics_buckets`, which hold the contract bounds), so the edge
    and span latencies compare; the memory limits are the gateway's.

    The connector type is `servicegraph` (connector/servicegraphconnector metadata.yaml `type`; its
    generated documentation titles it `service_graph`, and the metrics contract reads either).
    No `dimensions`: every extra attribute would multiply the edge series. The resource of the
    connector's metrics is empty, so no resource attribute becomes a label here.
    Ref: open-telemetry/opentelemetry-collector-contrib connector/servicegraphconnector/config.go,
    connector.go (buildMetrics: an empty resource), documentation.md."""
    return {
        "extensions": {"health_check": {"endpoint": f"0.0.0.0:{HEALTH_CHECK_PORT}"}},
        "receivers": {"otlp": {"protocols": {"grpc": {"endpoint": f"0.0.0.0:{OTLP_GRPC_PORT}"}}}},
        "processors": {
            "memory_limiter": {
                "check_interval": "1s",
                "limit_percentage": gateway.memory_limit_percentage,
                "spike_limit_percentage": gateway.memory_spike_limit_percentage,
            },
        },
        "connectors": {
            SERVICEGRAPH_CONNECTOR: {
                "latency_histogram_buckets": list(gateway.spanmetrics_buckets),
                "store": {"ttl": spec.store_ttl, "max_items": spec.store_max_items},
                "metrics_flush_interval": spec.metrics_flush_interval,
            }
        },
        "exporters": {
            "prometheus": {
                "endpoint": f"0.0.0.0:{PROMETHEUS_EXPORTER_PORT}",
                "add_metric_suffixes": True,
                # The connector drops an edge not seen for 15 minutes (connector.go cleanCache);
                # the exporter forgets it 10 minutes after its last flush, as in the gateway.
                "metric_expiration": "10m",
            },
        },
        "service": {
            "extensions": ["health_check"],
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["memory_limiter"], "exporters": [SERVICEGRAPH_CONNECTOR]},
                "metrics/servicegraph": {"receivers": [SERVICEGRAPH_CONNECTOR], "exporters": ["prometheus"]},
            },
            "telemetry": {
                "metrics": {
                    "level": "normal",
                    "readers": [{"pull": {"exporter": {"prometheus": {"host": "0.0.0.0", "port": TELEMETRY_METRICS_PORT}}}}],
                }
            },
        },
    }


def servicegraph_forwarding_exporter(backends_host: str) -> dict[str, Any]:
    """The gateway's exporter to the second tier: every span of a trace to one backend (routing by
    trace ID), the backends being the A records of the headless Service `backends_host`, OTLP gRPC
    in plaintext (in the namespace, as to Jaeger). A backend that is gone takes its queue with it;
    the retry and queue of the OTLP template apply per backend.
    Ref: open-telemetry/opentelemetry-collector-contrib exporter/loadbalancingexporter/config.go
    (routing_key, protocol.otlp: the otlp exporter's settings without endpoint, resolver.dns
    hostname/port/interval/timeout), README.md (routing_key traceID; "The DNS resolver will
    periodically check for updates", interval 5s by default)."""
    if not re.match(r"^[A-Za-z0-9.-]+$", backends_host):
        raise AssertionError(f"backends_host: {backends_host!r} must be a host name (the headless Service)")
    return {
        "routing_key": "traceID",
        "protocol": {
            "otlp": {
                "tls": {"insecure": True},
                "sending_queue": {"enabled": True},
                "retry_on_failure": {"enabled": True},
            }
        },
        "resolver": {"dns": {"hostname": backends_host, "port": str(OTLP_GRPC_PORT)}},
    }


def event_contract_markdown() -> str:
    """The README "Application contract" rows of the events (tests/test_application_contract.py
    keeps the README equal to this): one row per sender and event, required attributes first, then
    the measured ones (optional: without them the event is still counted)."""
    rows: dict[tuple[str, str], list[EventMetric]] = {}
    for m in EVENT_METRICS:
        rows.setdefault((m.sender, m.event), []).append(m)
    lines = []
    for (sender, event), metrics in rows.items():
        required = dict.fromkeys(a for m in metrics for a in m.attributes)
        measured = [f"`{m.value_attribute}` (s, optional)" for m in metrics if m.value_attribute]
        series = [
            f"histogram `{m.prometheus_names[0].removesuffix('_bucket')}`" if m.value_attribute else f"counter `{m.prometheus_names[0]}`"
            for m in metrics
        ]
        attributes = ", ".join([*(f"`{a}`" for a in required), *measured])
        lines.append(f"| {sender} | `{event}` | {attributes} | {', '.join(series)} |")
    return "\n".join(lines) + "\n"
