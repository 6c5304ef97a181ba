"""The metrics contract: every series a rule, SLO or panel reads, and who produces it in a stack.

Issue 9, class 1: alerts and panels must not read metrics that no deployed component emits.

The contract has three parts:

1. PRODUCERS: the components that can emit metrics (an exporter at its pinned version, a part of
   Prometheus itself, the application contract of the README, or an ingestion path that does not
   exist yet). Each carries a `Ref:` to the upstream source of its metric names at that version.
2. FAMILIES: each metric family (an exact name, or a prefix ending in `*`), its type, the label
   names its producer sets, its producers, and the Ref. Histograms expand to `_bucket` (+ `le`),
   `_count` and `_sum`.
3. Labels added on the way: every series scraped through a ServiceMonitor/PodMonitor gets the
   target labels of the Prometheus Operator (SCRAPE_TARGET_LABELS), a Probe target gets
   PROBE_TARGET_LABELS plus its static labels, and a query through Thanos Query also sees the
   Prometheus external labels (minus the replica label Thanos deduplicates on). Rule evaluation
   inside Prometheus does NOT see external labels.

Which producers a stack deploys is read from its offline render (`inventory_from_render`): the
ServiceMonitors, PodMonitors and Probes that select a component, the Prometheus custom resource
(remote write, Thanos upload, external labels), the Thanos Query replica labels and the collector
configuration. `available_families(producer_ids)` then returns the families that stack has.
Recorded series are producers too: `recorded_families` evaluates the stack's recording rules (output
labels = labels kept by the expression's aggregations/matching, plus the labels the rule sets) and
the alerting rules (`ALERTS`, `ALERTS_FOR_STATE`).

The checker (`check_expressions`) parses every PromQL expression with `promql_parser` (0.11.0) and
reports:
- a metric name without a deployed producer (cause a: producer not deployed; d: needs an ingestion
  path), a name no producer emits (b: wrong name, with the upstream name when known);
- a label used in a matcher, `by`/`without`, `on`/`ignoring`, `group_left`/`group_right`,
  `label_replace`/`label_join` source, `histogram_quantile` (`le`) or a Grafana `label_values()`
  that the operand does not carry after the aggregations and vector matching below it (c);
- one-to-one vector matching between operands whose label sets differ (c), which never matches;
- a producer that a rule or panel claims to watch (COVERAGE_CLAIMS) but that is not scraped (a).

What is not covered (by design or not yet):
- label VALUES (e.g. `phase="Pending"`, `job=~".*jaeger.*"`) are not checked, only label names;
- a family's label set is the union of what its producers may set; an optional label is accepted
  even where a particular series lacks it. Families marked `open` (prefix families, the spanmetrics
  connector, whose labels include every remaining resource attribute) accept any label;
- functions other than label_replace/label_join/histogram_quantile/vector/absent/scalar are assumed
  to keep their first vector argument's labels;
- whether a recorded series' own inputs have producers is reported at the recording rule, not again
  at every reader of the recorded series;
- metric_relabelings are applied only for `action: drop` on `__name__` alone.

Pure Python (PyYAML; `promql_parser` is imported by the checker only). No Pulumi import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from monitoring import yaml_text
from monitoring.otel import EVENT_METRICS, SERVICEGRAPH_LABELS, SERVICEGRAPH_METRICS, servicegraph_prometheus_name
from monitoring.dashboards.upstream import SIDECAR_LABEL
from monitoring.upstream_rules import UPSTREAM_RULE_PREFIX

# --- labels added on the way to a query ------------------------------------------------------

# Target labels the Prometheus Operator (v0.93.x, bundled by kube-prometheus-stack 88.5.3) sets on
# every ServiceMonitor/PodMonitor target: job, instance, namespace, service, pod, container,
# endpoint (plus `node` when the endpoint address is a Node, e.g. the kubelet).
# Ref: prometheus-operator/prometheus-operator@v0.93.0 pkg/prometheus/promcfg.go
#      (generateServiceMonitorConfig relabelings: node, pod, namespace, service, container, job, endpoint)
SCRAPE_TARGET_LABELS: frozenset[str] = frozenset(
    {"job", "instance", "namespace", "service", "pod", "container", "endpoint"}
)
# A Probe with static targets: job (=jobName), instance (=the probed URL), namespace (the Probe's,
# added to the static labels), plus the Probe's own static labels (e.g. `app`, `service`).
# Ref: prometheus-operator/prometheus-operator@v0.93.0 pkg/prometheus/promcfg.go (generateProbeConfig)
PROBE_TARGET_LABELS: frozenset[str] = frozenset({"job", "instance", "namespace"})
# External labels when the render cannot be read: the stacks set `cluster` and `environment`; the
# operator adds `prometheus` (prometheusExternalLabelName) and `prometheus_replica`
# (replicaExternalLabelName) by default. Thanos Query deduplicates on `prometheus_replica`.
# Ref: prometheus-operator@v0.93.0 pkg/prometheus/promcfg.go (defaultPrometheusExternalLabelName,
#      defaultReplicaExternalLabelName); rendered thanos-query args `--query.replica-label`.
DEFAULT_EXTERNAL_LABELS: frozenset[str] = frozenset({"cluster", "environment", "prometheus", "prometheus_replica"})
DEFAULT_REPLICA_LABELS: frozenset[str] = frozenset({"prometheus_replica"})

# Where an expression is evaluated: in Prometheus (rules: no external labels) or through Thanos
# Query (Grafana: external labels attached by the sidecar/store, replica labels removed).
RULES = "prometheus"
THANOS = "thanos"

_KPS = "kube-prometheus-stack 88.5.3"

# kube-prometheus-stack's default rules (tools/render.py writes them as prometheus/rules/kps-*.yaml)
# aggregate and match on `cluster`, the mixins' multi-cluster label, which no series carries inside
# one Prometheus: `by (cluster, ...)` and `on (cluster, ...)` over an absent label are no-ops there,
# so the checker accepts it in those rules (and only there) and keeps it absent from their results.
# Ref: kubernetes-monitoring/kubernetes-mixin config.libsonnet (clusterLabel: 'cluster'), as
# generated into kube-prometheus-stack 88.5.3 templates/prometheus/rules-1.14/*.yaml.
UPSTREAM_RULE_FILE_PREFIX = UPSTREAM_RULE_PREFIX
MIXIN_OPTIONAL_LABELS: frozenset[str] = frozenset({"cluster"})


@dataclass(frozen=True)
class Producer:
    """A component that emits metric families."""

    id: str
    description: str  # what, at which version, deployed how
    ref: str  # upstream source of its metric names at that version
    scraped: bool = True  # its series get target labels (False: recorded/synthetic series)
    probe: bool = False  # scraped through a Probe (PROBE_TARGET_LABELS) instead of a ServiceMonitor
    extra_target_labels: frozenset[str] = frozenset()
    how_to_deploy: str = ""  # what deploying it takes (chart, ServiceMonitor, ...)
    ingestion_path: bool = False  # cause (d): not an exporter; a push/aggregation path for events
    always: bool = False  # assumed in every stack (the application contract)


PRODUCERS: dict[str, Producer] = {
    p.id: p
    for p in (
        Producer(
            "kube-state-metrics",
            f"kube-state-metrics v2.20.0 as bundled by {_KPS} (subchart kube-state-metrics 8.4.0; "
            "ServiceMonitor with honorLabels, so its namespace/pod/container labels win)",
            "kubernetes/kube-state-metrics@v2.20.0 docs/metrics/ (cluster/node-metrics.md, "
            "workload/pod-metrics.md, workload/deployment-metrics.md, workload/horizontalpodautoscaler-metrics.md, "
            "storage/persistentvolumeclaim-metrics.md)",
        ),
        Producer(
            "node-exporter",
            f"node_exporter v1.12.1 as bundled by {_KPS} (subchart prometheus-node-exporter 4.56.1)",
            "prometheus/node_exporter@v1.12.1 collector/filesystem_common.go, collector/cpu_common.go, "
            "collector/meminfo_linux.go",
            # plan/prometheus_stack.py relabels the pod's node name into `node` (the mixins'
            # node.rules and k8s-resources-node aggregate node-exporter series by it).
            extra_target_labels=frozenset({"node"}),
        ),
        Producer(
            "kubelet",
            f"kubelet /metrics of the cluster's Kubernetes (ServiceMonitor kps-kubelet of {_KPS}, honorLabels)",
            "kubernetes/kubernetes pkg/kubelet/metrics/collectors/volume_stats.go",
            extra_target_labels=frozenset({"node", "metrics_path"}),
        ),
        Producer(
            "cadvisor",
            f"cAdvisor embedded in the kubelet, /metrics/cadvisor (ServiceMonitor kps-kubelet of {_KPS}, "
            "metricRelabelings drop some container_* families)",
            "google/cadvisor@v0.60.5 lib/metrics/prometheus.go; kubernetes/kubernetes pkg/kubelet/server/"
            "server.go containerPrometheusLabelsFunc (labels id, name, image, container, pod, namespace)",
            extra_target_labels=frozenset({"node", "metrics_path"}),
        ),
        Producer(
            "kube-apiserver",
            f"the cluster's kube-apiserver /metrics (ServiceMonitor kps-apiserver of {_KPS}, kubeApiServer.enabled; "
            "managed control planes expose it too)",
            "kubernetes/kubernetes staging/src/k8s.io/apiserver/pkg/endpoints/metrics/metrics.go, "
            "staging/src/k8s.io/component-base/metrics/prometheus/",
        ),
        Producer(
            "prometheus",
            f"Prometheus v3.14.0 self-metrics ({_KPS}, ServiceMonitor kps-prometheus)",
            "prometheus/prometheus@v3.14.0 rules/group.go, notifier/metric.go, cmd/prometheus/main.go, "
            "tsdb/db.go, tsdb/head.go",
        ),
        Producer(
            "prometheus-remote-write",
            "Prometheus v3.14.0 remote-write queue metrics (exist only for a configured remoteWrite queue)",
            "prometheus/prometheus@v3.14.0 storage/remote/queue_manager.go (const labels remote_name, url "
            "from storage/remote/storage.go)",
        ),
        Producer(
            "prometheus-rules",
            "Prometheus v3.14.0 rule evaluation: the `record:` series of the stack's recording rules and "
            "ALERTS / ALERTS_FOR_STATE of its alerting rules (derived from the rendered rule files)",
            "prometheus/prometheus@v3.14.0 rules/alerting.go (alertMetricName ALERTS, alertstate), "
            "rules/recording.go",
            scraped=False,
        ),
        Producer(
            "prometheus-scrape",
            "Prometheus v3.14.0 scrape loop: `up` and scrape_* for every target (labels: the target's)",
            "prometheus/prometheus@v3.14.0 scrape/scrape.go (report: up, scrape_duration_seconds, ...)",
            scraped=False,
        ),
        Producer(
            "alertmanager",
            f"Alertmanager v0.34.0 ({_KPS}, ServiceMonitor kps-alertmanager)",
            "prometheus/alertmanager@v0.34.0 notify/metrics.go, api/metrics/metrics.go, config/coordinator.go",
        ),
        Producer(
            "prometheus-operator",
            f"prometheus-operator v0.93.1 ({_KPS})",
            "prometheus-operator/prometheus-operator@v0.93.0 pkg/operator",
        ),
        Producer(
            "thanos-sidecar",
            "Thanos v0.42.4 sidecar in the Prometheus pods (ServiceMonitor kps-thanos-sidecar on the "
            "thanos-discovery Service); shipper metrics need object storage (upload enabled)",
            "thanos-io/thanos@v0.42.4 cmd/thanos/sidecar.go, pkg/shipper/shipper.go",
        ),
        Producer(
            "thanos-compact",
            "Thanos v0.42.4 compactor (stevehipwell thanos 1.24.1, ServiceMonitor thanos-compact)",
            "thanos-io/thanos@v0.42.4 cmd/thanos/compact.go",
        ),
        Producer("thanos-query", "Thanos v0.42.4 query (stevehipwell thanos 1.24.1)", "thanos-io/thanos@v0.42.4"),
        Producer(
            "thanos-query-frontend", "Thanos v0.42.4 query-frontend (stevehipwell thanos 1.24.1)", "thanos-io/thanos@v0.42.4"
        ),
        Producer("thanos-store", "Thanos v0.42.4 store gateway (stevehipwell thanos 1.24.1)", "thanos-io/thanos@v0.42.4"),
        Producer(
            "thanos-rule",
            "Thanos v0.42.4 ruler (kube-prometheus-stack 88.5.3 ThanosRuler, ServiceMonitor on the "
            "kube-prometheus-stack-thanos-ruler Service; issue 9 class 2, monitoring/windows.py)",
            "thanos-io/thanos@v0.42.4 cmd/thanos/rule.go",
        ),
        Producer("grafana", "Grafana 13.2.0 (grafana-community 12.11.1, chart ServiceMonitor)", "grafana/grafana"),
        Producer(
            "fluent-bit",
            "Fluent Bit 5.1.1 (fluent 0.58.1), /api/v2/metrics/prometheus of the node DaemonSet and the events collector",
            "fluent/fluent-bit@v5.1.1 src/flb_output.c (cmt counters fluentbit_output_*, label name), "
            "src/http_server/api/v2/metrics.c",
        ),
        Producer(
            "otel-collector",
            "OpenTelemetry Collector contrib 0.158.0 internal telemetry on :8888 (ServiceMonitor port `metrics`; "
            "the Go SDK Prometheus exporter adds `_total` to counters)",
            "open-telemetry/opentelemetry-collector@v0.158.0 exporter/exporterhelper/documentation.md, "
            "receiver/receiverhelper/documentation.md, processor/memorylimiterprocessor/documentation.md",
        ),
        Producer(
            "otel-spanmetrics",
            "spanmetrics connector of the OpenTelemetry Collector contrib 0.158.0 (namespace traces.span.metrics, "
            "unit s) exported by the collector's prometheus exporter on :8889 (ServiceMonitor port `prom-exporter`)",
            "open-telemetry/opentelemetry-collector-contrib connector/spanmetricsconnector/README.md "
            "(calls, duration; dimensions service.name, span.name, span.kind, status.code); "
            "exporter/prometheusexporter/README.md (resource_to_telemetry_conversion)",
        ),
        Producer(
            "otel-servicegraph",
            "servicegraph connector of the OpenTelemetry Collector contrib 0.158.0 in the service graph tier "
            "(release otel-servicegraph, fed by the gateway's loadbalancing exporter by trace ID), exported by its "
            "prometheus exporter on :8889 (ServiceMonitor port `prom-exporter`)",
            "open-telemetry/opentelemetry-collector-contrib connector/servicegraphconnector/connector.go "
            "(collectCountMetrics, collectServerLatencyMetrics, collectClientLatencyMetrics, buildDimensions), "
            "README.md 'Metrics'; monitoring/otel.py SERVICEGRAPH_METRICS",
            how_to_deploy="otelCollector.serviceGraph.enabled (plan/tracing.py servicegraph_values)",
        ),
        Producer(
            "jaeger",
            "Jaeger 2.19.0 (jaeger 4.11.1) internal telemetry: the same otelcol_* families on :8888 "
            "(Service port internal-metrics), scraped by the ServiceMonitor `jaeger` (plan/tracing.py, "
            "chart extraObjects); the storage exporter reports as exporter=\"jaeger_storage_exporter\"",
            "jaegertracing/jaeger@v2.19.0 (built on the collector: otelcol_* metrics) "
            "cmd/jaeger/internal/exporters/storageexporter/factory.go (exporterhelper); rendered "
            "objects/jaeger/configmap-monitoring-user-config.yaml service.telemetry.metrics (pull :8888)",
            how_to_deploy="the ServiceMonitor of plan/tracing.py jaeger_service_monitor()",
        ),
        Producer(
            "influxdb",
            "InfluxDB 1.11.8 /metrics (Go runtime metrics only, unauthenticated), scraped by the ServiceMonitor "
            "`influxdb` (plan/influxdb.py): its `up` tells that the server answers",
            "https://docs.influxdata.com/influxdb/v1/supported_protocols/prometheus/; influxdata/influxdb 1.x "
            "services/httpd/handler.go (route prometheus-metrics)",
            how_to_deploy="components/influxdb.py declare_service_monitor (every stack)",
        ),
        Producer(
            "postgres-exporter",
            "postgres_exporter v0.20.1 (prometheus-postgres-exporter 8.2.0, plan/versions.py), deployed "
            "when exporters.postgres.enabled; its ServiceMonitor sets `service`",
            "prometheus-community/postgres_exporter@v0.20.1 collector/pg_stat_database.go, collector/pg_locks.go, "
            "collector/pg_setting.go, collector/pg_replication.go, exporter/postgres_exporter.go (pg_up)",
            how_to_deploy="exporters.postgres.enabled: true (chart prometheus-postgres-exporter 8.2.0, pinned)",
        ),
        Producer(
            "blackbox-exporter",
            "blackbox_exporter v0.28.0 (prometheus-blackbox-exporter 11.17.2), one Probe per configured target",
            "prometheus/blackbox_exporter@v0.28.0 prober/handler.go (probe_success, probe_duration_seconds)",
            probe=True,
            how_to_deploy="exporters.blackbox.* targets (chart prometheus-blackbox-exporter 11.17.2, pinned)",
        ),
        Producer(
            "elasticsearch-exporter",
            "elasticsearch_exporter v1.11.0 (prometheus-elasticsearch-exporter 7.4.0, plan/exporters.py) "
            "against the ECK cluster over https as a `monitor`-only user; its ServiceMonitor (honorLabels) "
            "renames the exporter's `cluster` to `es_cluster`",
            "prometheus-community/elasticsearch_exporter@v1.11.0 collector/cluster_health.go, collector/nodes.go",
            how_to_deploy="components/exporters.py ElasticsearchExporter (deployed in every stack)",
        ),
        Producer(
            "trivy-operator",
            "Trivy Operator 0.32.0 (trivy-operator 0.34.0, plan/trivy_operator.py), deployed when "
            "security.trivyOperator.enabled; its ServiceMonitor (honorLabels) keeps each report's `namespace`",
            "aquasecurity/trivy-operator@v0.32.0 pkg/metrics/collector.go (names, labels), pkg/metrics/types.go "
            "(severity values Critical/High/Medium/Low/Unknown, status Pass/Fail)",
            how_to_deploy="security.trivyOperator.enabled: true (chart trivy-operator 0.34.0, pinned)",
        ),
        Producer(
            "opencost",
            "OpenCost 1.120.1 (opencost 2.5.17, plan/opencost.py), deployed when costs.enabled; its "
            "ServiceMonitor (honorLabels) keeps the allocated container's `namespace`, `pod` and `container` "
            "and the node as `instance`; priced by the stack's custom pricing (costs.*)",
            "opencost/opencost pkg/costmodel/metrics.go initCostModelMetrics (names, labels; the same at the "
            "v1.112.0 tag less `uid`/`arch`), pkg/metrics/kubemetrics.go (the KSM copies it does not emit here)",
            how_to_deploy="costs.enabled: true (chart opencost 2.5.17, pinned)",
        ),
        # The control plane (cluster.controlPlane): scraped only on a self-hosted one, where
        # kube-prometheus-stack's Services and ServiceMonitors for them are rendered (kubeEtcd,
        # kubeScheduler, kubeControllerManager, kubeProxy .enabled; plan/prometheus_stack.py
        # CONTROL_PLANE_TARGETS). On a managed one nothing scrapes them, so a rule or panel reading
        # their families has no producer in that stack.
        Producer(
            "etcd",
            f"etcd /metrics of a self-hosted control plane (ServiceMonitor kps-kube-etcd of {_KPS})",
            "etcd-io/etcd server/etcdserver/metrics.go, server/storage/wal/metrics.go, "
            "server/storage/backend/metrics.go, server/etcdserver/api/rafthttp/metrics.go",
        ),
        Producer(
            "kube-scheduler",
            f"kube-scheduler /metrics of a self-hosted control plane (ServiceMonitor kps-kube-scheduler of {_KPS})",
            "kubernetes/kubernetes pkg/scheduler/metrics/metrics.go (subsystem `scheduler`)",
        ),
        Producer(
            "kube-controller-manager",
            f"kube-controller-manager /metrics of a self-hosted control plane (ServiceMonitor "
            f"kps-kube-controller-manager of {_KPS}); only its `up` is read",
            "kubernetes/kubernetes cmd/kube-controller-manager/app/controllermanager.go (/metrics)",
        ),
        Producer(
            "kube-proxy",
            f"kube-proxy /metrics (:10249) of a self-hosted cluster (ServiceMonitor kps-kube-proxy of {_KPS})",
            "kubernetes/kubernetes pkg/proxy/metrics/metrics.go (subsystem `kubeproxy`)",
        ),
        Producer(
            "cilium-agent",
            "cilium-agent of the cluster's Cilium CNI (not deployed by this program), scraped by the PodMonitor "
            "cilium-agent (plan/cni.py) when cluster.cni is cilium",
            "cilium/cilium Documentation/observability/metrics.rst (Drops/Forwards: drop_count_total, labels "
            "reason, direction); install/kubernetes/cilium/templates/cilium-agent/daemonset.yaml (port `prometheus` 9962)",
            how_to_deploy="cluster.cni: cilium, with prometheus.enabled in the CNI's own values",
        ),
        Producer(
            "hubble",
            "Hubble flow metrics of the cluster's Cilium CNI (not deployed by this program), scraped by the "
            "PodMonitor hubble (plan/cni.py) when cluster.cni is cilium",
            "cilium/cilium pkg/hubble/metrics/drop/handler.go (hubble_drop_total: context labels + reason, "
            "protocol); install/kubernetes/cilium/templates/cilium-agent/daemonset.yaml (port `hubble-metrics` 9965)",
            how_to_deploy="cluster.cni: cilium, with hubble.metrics.enabled including `drop` in the CNI's own values",
        ),
        Producer(
            "pushgateway",
            "Prometheus Pushgateway v1.11.3 (prometheus-pushgateway 3.8.0, plan/exporters.py): the push "
            "endpoint CI jobs push per-run values to (grouping key job + pipeline; ServiceMonitor honorLabels)",
            "prometheus/pushgateway@v1.11.3 README.md (grouping key, PUT/POST, honor_labels, "
            "'not an aggregator or distributed counter but rather a metrics cache')",
            how_to_deploy="components/exporters.py Pushgateway (deployed in every stack)",
            ingestion_path=True,
        ),
        Producer(
            "otel-event-aggregation",
            "the OpenTelemetry Collector 0.158.0 event path (monitoring/otel.py EVENT_METRICS): OTLP log "
            "records from many short-lived senders (browsers, CI runs) -> count and signaltometrics "
            "connectors -> deltatocumulative -> the prometheus exporter on :8889; the collector is the single writer",
            "open-telemetry/opentelemetry-collector-contrib connector/signaltometricsconnector/README.md "
            "(delta output, 'Single writer': collector instance identity added), "
            "processor/deltatocumulativeprocessor (internal/delta/delta.go: samples with an older start "
            "or out of order are dropped), exporter/prometheusexporter/accumulator.go (last value per "
            "series); opentelemetry-collector-releases@v0.158.0 distributions/otelcol-contrib/manifest.yaml",
            how_to_deploy="the logs/events and metrics/events pipelines of monitoring/otel.py (every stack)",
            ingestion_path=True,
        ),
        Producer(
            "prom-aggregation-gateway",
            "prom-aggregation-gateway (adds up pushed counters/histograms from many senders) - NOT deployed; "
            "no chart in /work/shared/charts",
            "weaveworks/prom-aggregation-gateway README.md (moved to zapier/prom-aggregation-gateway)",
            how_to_deploy="zapier prom-aggregation-gateway chart (not in /work/shared/charts)",
            ingestion_path=True,
        ),
        Producer(
            "application",
            "application contract (README 'Application contract'): services expose these on /metrics "
            "selected by their own ServiceMonitor, or send them over OTLP",
            "README.md 'Application contract'; open-telemetry/semantic-conventions@v1.44.0 "
            "docs/http/http-metrics.md, docs/db/database-metrics.md; OTLP->Prometheus names per "
            "open-telemetry/opentelemetry-specification specification/compatibility/prometheus_and_openmetrics.md",
            always=True,
        ),
    )
}


# Producers a stack may leave out by a setting; the rules, SLOs and panels that read only them are
# then left out of that stack too (AlertRule/Slo `requires`, dashboards `without`), never rendered to
# read nothing. Every other producer's readers are always rendered, so its producer must be deployed.
# Which setting deploys each is the stack settings' business (plan/settings.py
# StackSettings.undeployed_producers; each Producer's how_to_deploy says it in words).
OPTIONAL_PRODUCERS: frozenset[str] = frozenset(
    {"postgres-exporter", "blackbox-exporter", "trivy-operator", "opencost", "cilium-agent", "hubble", "otel-servicegraph"}
)


# --- families ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    name: str  # exact name (histograms: the base name), or a prefix ending in "*"
    kind: str  # counter | gauge | histogram | summary | info
    labels: frozenset[str]
    producers: tuple[str, ...]
    ref: str
    open: bool = False  # the label set is not closed: accept any label


def _f(name: str, kind: str, labels: Iterable[str], producers: str | tuple[str, ...], ref: str, *, open: bool = False) -> Family:
    return Family(name, kind, frozenset(labels), (producers,) if isinstance(producers, str) else producers, ref, open)


_KSM = "kubernetes/kube-state-metrics@v2.20.0 docs/metrics/"
_POD = ("namespace", "pod", "uid")
_CONTAINER = (*_POD, "container")
_CADV = ("container", "id", "image", "name", "namespace", "pod")
_FS = ("device", "mountpoint", "fstype", "device_error")
_PG_DB = ("datid", "datname")
# elasticsearch_exporter's `cluster` arrives as `es_cluster` (renamed by its ServiceMonitor's
# metricRelabelings, plan/exporters.py), so `cluster` stays the Prometheus external label.
_ES_NODE = ("es_cluster", "host", "name", "es_master_node", "es_data_node", "es_ingest_node", "es_client_node")
_TRIVY_IMAGE = (
    "namespace", "name", "resource_kind", "resource_name", "container_name",
    "image_registry", "image_repository", "image_tag", "image_digest", "severity",
)
# OpenCost's cost series. Ref: opencost/opencost pkg/costmodel/metrics.go (initCostModelMetrics).
_OPENCOST = "opencost/opencost pkg/costmodel/metrics.go (OpenCost 1.120.x)"
_OPENCOST_NODE = ("instance", "node", "instance_type", "region", "provider_id", "arch", "uid")
_OPENCOST_CONTAINER = ("namespace", "pod", "container", "instance", "node", "uid")
_OTEL_SCOPE = ("otel_scope_name", "otel_scope_version", "otel_scope_schema_url")
_SEMCONV = "open-telemetry/semantic-conventions@v1.44.0"
_HTTP_ATTRS = (
    "http_request_method", "url_scheme", "error_type", "http_response_status_code", "http_route",
    "network_protocol_name", "network_protocol_version", "server_address", "server_port",
)
_DB_OP_ATTRS = (
    "db_system_name", "db_collection_name", "db_namespace", "db_operation_name", "db_response_status_code",
    "error_type", "server_port", "db_query_summary", "db_stored_procedure_name", "network_peer_address",
    "network_peer_port", "server_address",
)

# --- what kube-prometheus-stack's default rules read (monitoring/upstream_rules.py) ---------------
# Only families of producers the stacks scrape: the groups of unscraped targets (etcd, scheduler,
# controller-manager, kube-proxy) are off, so nothing reads their series.
_KSM_W, _KSM_S, _KSM_C, _KSM_P = (_KSM + d for d in ("workload/", "storage/", "cluster/", "policy/"))
_NE = "prometheus/node_exporter@v1.12.1 collector/"
_K8S = "kubernetes/kubernetes (the cluster's; tools/helm.py SUPPORTED_KUBERNETES) "
_PROM = "prometheus/prometheus@v3.14.0 "
_OPERATOR = "prometheus-operator/prometheus-operator@v0.93.0 pkg/operator/operator.go, pkg/k8sutil/"
_APISERVER_REQ = ("verb", "group", "version", "resource", "subresource", "scope", "component")
_OWNER = ("owner_kind", "owner_name", "owner_is_controller")
_UPSTREAM_RULE_FAMILIES: tuple[Family, ...] = (
    # kube-state-metrics
    *(
        _f(f"kube_statefulset_{m}", "gauge", ("namespace", "statefulset", *extra), "kube-state-metrics", _KSM_W + "statefulset-metrics.md")
        for m, extra in (
            ("replicas", ()), ("status_replicas_ready", ()), ("status_replicas_updated", ()),
            ("status_observed_generation", ()), ("metadata_generation", ()),
            ("status_current_revision", ("revision",)), ("status_update_revision", ("revision",)),
        )
    ),
    *(
        _f(f"kube_daemonset_status_{m}", "gauge", ("namespace", "daemonset"), "kube-state-metrics", _KSM_W + "daemonset-metrics.md")
        for m in ("current_number_scheduled", "desired_number_scheduled", "number_available", "number_misscheduled",
                  "updated_number_scheduled")
    ),
    *(
        _f(f"kube_deployment_{m}", "gauge", ("namespace", "deployment"), "kube-state-metrics", _KSM_W + "deployment-metrics.md")
        for m in ("metadata_generation", "status_observed_generation")
    ),
    *(
        _f(f"kube_horizontalpodautoscaler_{m}", "gauge", ("namespace", "horizontalpodautoscaler"), "kube-state-metrics",
           _KSM_W + "horizontalpodautoscaler-metrics.md")
        for m in ("spec_min_replicas", "status_desired_replicas")
    ),
    _f("kube_job_status_active", "gauge", ("namespace", "job_name"), "kube-state-metrics", _KSM_W + "job-metrics.md"),
    _f("kube_job_status_start_time", "gauge", ("namespace", "job_name"), "kube-state-metrics", _KSM_W + "job-metrics.md"),
    _f("kube_job_failed", "gauge", ("namespace", "job_name", "condition", "reason"), "kube-state-metrics", _KSM_W + "job-metrics.md"),
    _f("kube_job_owner", "gauge", ("namespace", "job_name", *_OWNER), "kube-state-metrics", _KSM_W + "job-metrics.md"),
    _f("kube_pod_owner", "gauge", (*_POD, *_OWNER), "kube-state-metrics", _KSM_W + "pod-metrics.md"),
    _f("kube_replicaset_owner", "gauge", ("namespace", "replicaset", *_OWNER), "kube-state-metrics", _KSM_W + "replicaset-metrics.md"),
    *(
        _f(f"kube_poddisruptionbudget_status_{m}", "gauge", ("namespace", "poddisruptionbudget"), "kube-state-metrics",
           _KSM_P + "poddisruptionbudget-metrics.md")
        for m in ("current_healthy", "desired_healthy")
    ),
    _f("kube_resourcequota", "gauge", ("namespace", "resourcequota", "resource", "type"), "kube-state-metrics", _KSM_P + "resourcequota-metrics.md"),
    _f("kube_persistentvolume_status_phase", "gauge", ("persistentvolume", "phase"), "kube-state-metrics", _KSM_S + "persistentvolume-metrics.md"),
    _f(
        "kube_persistentvolume_capacity_bytes", "gauge", ("persistentvolume",), "kube-state-metrics",
        _KSM_S + "persistentvolume-metrics.md",
    ),
    _f(
        "kube_persistentvolumeclaim_access_mode", "gauge", ("namespace", "persistentvolumeclaim", "access_mode"),
        "kube-state-metrics", _KSM_S + "persistentvolumeclaim-metrics.md",
    ),
    # label_<label>: one per Kubernetes label allowed by --metric-labels-allowlist, hence open.
    _f("kube_persistentvolumeclaim_labels", "gauge", ("namespace", "persistentvolumeclaim"), "kube-state-metrics",
       _KSM_S + "persistentvolumeclaim-metrics.md", open=True),
    _f(
        "kube_node_info", "gauge",
        ("node", "kernel_version", "os_image", "container_runtime_version", "kubelet_version", "kubeproxy_version",
         "provider_id", "pod_cidr", "system_uuid", "internal_ip"),
        "kube-state-metrics", _KSM_C + "node-metrics.md",
    ),
    _f("kube_node_spec_taint", "gauge", ("node", "key", "value", "effect"), "kube-state-metrics", _KSM_C + "node-metrics.md"),
    _f("kube_node_spec_unschedulable", "gauge", ("node",), "kube-state-metrics", _KSM_C + "node-metrics.md"),
    *(
        _f(f"kube_state_metrics_{m}", kind, labels, "kube-state-metrics",
           "kubernetes/kube-state-metrics@v2.20.0 pkg/watch/watch.go, pkg/sharding (self metrics on the telemetry port)")
        for m, kind, labels in (
            ("list_total", "counter", ("resource", "result")), ("watch_total", "counter", ("resource", "result")),
            ("shard_ordinal", "gauge", ("shard_ordinal",)), ("total_shards", "gauge", ()),
        )
    ),
    # kubelet (/metrics) and cAdvisor (/metrics/cadvisor)
    _f("kubelet_node_name", "gauge", ("node",), "kubelet", _K8S + "pkg/kubelet/metrics/metrics.go (NodeName)"),
    _f("kubelet_running_pods", "gauge", (), "kubelet", _K8S + "pkg/kubelet/metrics/metrics.go (RunningPodCount)"),
    _f("kubelet_evictions", "counter", ("eviction_signal",), "kubelet", _K8S + "pkg/kubelet/metrics/metrics.go (Evictions)"),
    _f("kubelet_pleg_relist_duration_seconds", "histogram", (), "kubelet", _K8S + "pkg/kubelet/metrics/metrics.go (PLEGRelistDuration)"),
    _f("kubelet_pod_worker_duration_seconds", "histogram", ("operation_type",), "kubelet", _K8S + "pkg/kubelet/metrics/metrics.go (PodWorkerDuration)"),
    *(
        _f(name, "gauge" if "ttl" in name else "counter", (), "kubelet",
           _K8S + "pkg/kubelet/certificate/transport.go, kubelet.go; staging/src/k8s.io/client-go/util/certificate/certificate_manager.go")
        for name in ("kubelet_certificate_manager_client_ttl_seconds", "kubelet_certificate_manager_server_ttl_seconds",
                     "kubelet_certificate_manager_client_expiration_renew_errors", "kubelet_server_expiration_renew_errors")
    ),
    *(
        _f(f"container_memory_{m}", "gauge", _CADV, "cadvisor", "google/cadvisor@v0.60.5 lib/metrics/prometheus.go")
        for m in ("cache", "rss", "swap")
    ),
    # kube-apiserver (ServiceMonitor kps-apiserver) and every component's client-go / build info
    _f("apiserver_request_total", "counter", (*_APISERVER_REQ, "code", "dry_run"), "kube-apiserver",
       _K8S + "staging/src/k8s.io/apiserver/pkg/endpoints/metrics/metrics.go (requestCounter)"),
    _f("apiserver_request_sli_duration_seconds", "histogram", _APISERVER_REQ, "kube-apiserver",
       _K8S + "staging/src/k8s.io/apiserver/pkg/endpoints/metrics/metrics.go (requestSliLatencies)"),
    _f("apiserver_request_terminations_total", "counter", (*_APISERVER_REQ, "code"), "kube-apiserver",
       _K8S + "staging/src/k8s.io/apiserver/pkg/endpoints/metrics/metrics.go (requestTerminationsTotal)"),
    _f("apiserver_client_certificate_expiration_seconds", "histogram", (), "kube-apiserver",
       _K8S + "staging/src/k8s.io/apiserver/pkg/authentication/request/x509/x509.go (clientCertificateExpirationHistogram)"),
    _f("aggregator_unavailable_apiservice", "gauge", ("name",), "kube-apiserver",
       _K8S + "staging/src/k8s.io/kube-aggregator/pkg/controllers/status/metrics/metrics.go"),
    _f("aggregator_unavailable_apiservice_total", "counter", ("name", "reason"), "kube-apiserver",
       _K8S + "staging/src/k8s.io/kube-aggregator/pkg/controllers/status/metrics/metrics.go"),
    _f("kubernetes_build_info", "gauge",
       ("major", "minor", "git_version", "git_commit", "git_tree_state", "build_date", "go_version", "compiler", "platform"),
       ("kube-apiserver", "kubelet"), _K8S + "staging/src/k8s.io/component-base/metrics/prometheus/version/metrics.go"),
    _f("rest_client_requests_total", "counter", ("code", "host", "method"), ("kube-apiserver", "kubelet"),
       _K8S + "staging/src/k8s.io/component-base/metrics/prometheus/restclient/metrics.go"),
    # node-exporter (default collectors only)
    _f("node_load1", "gauge", (), "node-exporter", _NE + "loadavg.go"),
    *(_f(f"node_memory_{m}_bytes", "gauge", (), "node-exporter", _NE + "meminfo_linux.go") for m in ("Buffers", "Cached", "MemFree", "Slab")),
    _f("node_vmstat_pgmajfault", "untyped", (), "node-exporter", _NE + "vmstat_linux.go (default fields include pgmajfault)"),
    *(_f(f"node_disk_{m}", "counter", ("device",), "node-exporter", _NE + "diskstats_linux.go") for m in ("io_time_seconds_total", "io_time_weighted_seconds_total")),
    *(
        _f(f"node_network_{d}_{m}_total", "counter", ("device",), "node-exporter", _NE + "netdev_common.go")
        for d in ("receive", "transmit") for m in ("bytes", "drop", "errs", "packets")
    ),
    _f("node_network_up", "gauge", ("device",), "node-exporter", _NE + "netclass_linux.go"),
    *(_f(f"node_filefd_{m}", "gauge", (), "node-exporter", _NE + "filefd_linux.go") for m in ("allocated", "maximum")),
    _f("node_md_disks", "gauge", ("device", "state"), "node-exporter", _NE + "mdadm_linux.go"),
    _f("node_md_disks_required", "gauge", ("device",), "node-exporter", _NE + "mdadm_linux.go"),
    *(_f(f"node_nf_conntrack_{m}", "gauge", (), "node-exporter", _NE + "conntrack_linux.go") for m in ("entries", "entries_limit")),
    _f("node_textfile_scrape_error", "gauge", (), "node-exporter", _NE + "textfile.go"),
    *(_f(f"node_timex_{m}", "gauge", (), "node-exporter", _NE + "timex.go") for m in ("offset_seconds", "sync_status", "maxerror_seconds")),
    *(_f(f"node_bonding_{m}", "gauge", ("master",), "node-exporter", _NE + "bonding_linux.go") for m in ("active", "slaves")),
    # Prometheus
    *(_f(f"prometheus_engine_{m}", "gauge", (), "prometheus", _PROM + "promql/engine.go") for m in ("queries", "queries_concurrent_max")),
    *(
        _f(f"prometheus_notifications_{m}", "gauge", (), "prometheus", _PROM + "notifier/metric.go")
        for m in ("alertmanagers_discovered", "queue_capacity", "queue_length")
    ),
    *(
        _f(f"prometheus_remote_storage_{m}", "gauge", ("remote_name", "url"), "prometheus-remote-write", _PROM + "storage/remote/queue_manager.go")
        for m in ("queue_highest_sent_timestamp_seconds", "queue_highest_timestamp_seconds", "shards_desired", "shards_max")
    ),
    _f("prometheus_rule_group_rules", "gauge", ("rule_group",), "prometheus", _PROM + "rules/group.go"),
    _f("prometheus_sd_kubernetes_failures_total", "counter", (), "prometheus", _PROM + "discovery/kubernetes/kubernetes.go"),
    _f("prometheus_sd_refresh_failures_total", "counter", ("mechanism", "config"), "prometheus", _PROM + "discovery/refresh/refresh.go"),
    _f("prometheus_target_metadata_cache_entries", "gauge", ("scrape_job",), "prometheus", _PROM + "scrape/metrics.go"),
    _f("prometheus_target_sync_failed_total", "counter", ("scrape_job",), "prometheus", _PROM + "scrape/metrics.go"),
    *(
        _f(f"prometheus_target_{m}_total", "counter", (), "prometheus", _PROM + "scrape/metrics.go")
        for m in ("scrape_pool_exceeded_label_limits", "scrape_pool_exceeded_target_limit", "scrapes_exceeded_body_size_limit",
                  "scrapes_exceeded_sample_limit", "scrapes_sample_duplicate_timestamp", "scrapes_sample_out_of_order")
    ),
    _f("prometheus_tsdb_head_samples_appended_total", "counter", ("type",), "prometheus", _PROM + "tsdb/head.go"),
    _f("prometheus_tsdb_reloads_failures_total", "counter", (), "prometheus", _PROM + "tsdb/db.go"),
    # Alertmanager
    *(
        _f(f"alertmanager_cluster_{m}", "gauge", (), "alertmanager", "prometheus/alertmanager@v0.34.0 cluster/cluster.go")
        for m in ("members", "failed_peers")
    ),
    _f("alertmanager_config_hash", "gauge", (), "alertmanager", "prometheus/alertmanager@v0.34.0 config/coordinator.go"),
    # Go client process collector of every Go component scraped here
    _f("process_start_time_seconds", "gauge", (), ("alertmanager", "prometheus", "prometheus-operator"),
       "prometheus/client_golang prometheus/process_collector.go (registered by default in every Go component)"),
    # The operator's config-reloader sidecar, scraped on `reloader-web` by the kps-prometheus and
    # kps-alertmanager ServiceMonitors. Ref: prometheus-operator@v0.93.0 cmd/prometheus-config-reloader
    # (thanos-io/thanos pkg/reloader: reloader_last_reload_successful)
    _f("reloader_last_reload_successful", "gauge", (), ("prometheus", "alertmanager"), "thanos-io/thanos@v0.42.4 pkg/reloader/reloader.go"),
    # --- what the kept upstream dashboards read (monitoring/dashboards/upstream.py) ---
    _f("kube_namespace_status_phase", "gauge", ("namespace", "phase"), "kube-state-metrics", _KSM_C + "namespace-metrics.md"),
    *(
        _f(f"container_fs_{m}_total", "counter", (*_CADV, "device"), "cadvisor", "google/cadvisor@v0.60.5 container/libcontainer, metrics/prometheus.go")
        for m in ("reads", "reads_bytes", "writes", "writes_bytes")
    ),
    *(
        _f(f"container_network_{d}_{m}_total", "counter", (*_CADV, "interface"), "cadvisor", "google/cadvisor@v0.60.5 metrics/prometheus.go")
        for d in ("receive", "transmit") for m in ("bytes", "packets", "packets_dropped")
    ),
    *(_f(f"node_load{n}", "gauge", (), "node-exporter", _NE + "loadavg.go") for n in (5, 15)),
    *(_f(f"node_disk_{m}_bytes_total", "counter", ("device",), "node-exporter", _NE + "diskstats_linux.go") for m in ("read", "written")),
    # The netstat collector's default --collector.netstat.fields include these three.
    *(
        _f(f"node_netstat_{m}", "untyped", (), "node-exporter", _NE + "netstat_linux.go (netStatFields default)")
        for m in ("Tcp_OutSegs", "Tcp_RetransSegs", "TcpExt_TCPSynRetrans")
    ),
    _f("node_time_seconds", "gauge", (), "node-exporter", _NE + "time.go"),
    _f("node_uname_info", "gauge", ("sysname", "release", "version", "machine", "nodename", "domainname"), "node-exporter", _NE + "uname.go"),
    _f("node_exporter_build_info", "gauge", ("version", "revision", "branch", "goversion", "goos", "goarch", "tags"), "node-exporter",
       "prometheus/common version/info.go (NewCollector), used by node_exporter@v1.12.1 node_exporter.go"),
    # prometheus-operator
    *(
        _f(f"prometheus_operator_{m}", kind, ("controller", *extra), "prometheus-operator", _OPERATOR)
        for m, kind, extra in (
            ("list_operations_total", "counter", ()), ("list_operations_failed_total", "counter", ()),
            ("watch_operations_total", "counter", ()), ("watch_operations_failed_total", "counter", ()),
            ("reconcile_operations_total", "counter", ()), ("reconcile_errors_total", "counter", ()),
            ("status_update_operations_total", "counter", ()), ("status_update_errors_total", "counter", ()),
            ("node_address_lookup_errors_total", "counter", ()), ("ready", "gauge", ()),
            ("syncs", "gauge", ("status",)), ("managed_resources", "gauge", ("resource", "state")),
        )
    ),
)

FAMILIES: tuple[Family, ...] = (
    # kube-state-metrics
    _f("kube_node_status_condition", "gauge", ("node", "condition", "status"), "kube-state-metrics", _KSM + "cluster/node-metrics.md"),
    _f("kube_node_status_allocatable", "gauge", ("node", "resource", "unit"), "kube-state-metrics", _KSM + "cluster/node-metrics.md"),
    _f("kube_node_status_capacity", "gauge", ("node", "resource", "unit"), "kube-state-metrics", _KSM + "cluster/node-metrics.md"),
    _f(
        "kube_pod_info", "gauge",
        (*_POD, "host_ip", "pod_ip", "node", "created_by_kind", "created_by_name", "priority_class", "host_network"),
        "kube-state-metrics", _KSM + "workload/pod-metrics.md",
    ),
    _f("kube_pod_status_phase", "gauge", (*_POD, "phase"), "kube-state-metrics", _KSM + "workload/pod-metrics.md"),
    _f("kube_pod_container_status_waiting_reason", "gauge", (*_CONTAINER, "reason"), "kube-state-metrics", _KSM + "workload/pod-metrics.md"),
    _f("kube_pod_container_status_restarts_total", "counter", _CONTAINER, "kube-state-metrics", _KSM + "workload/pod-metrics.md"),
    _f("kube_pod_container_resource_requests", "gauge", (*_CONTAINER, "node", "resource", "unit"), "kube-state-metrics", _KSM + "workload/pod-metrics.md"),
    _f("kube_pod_container_resource_limits", "gauge", (*_CONTAINER, "node", "resource", "unit"), "kube-state-metrics", _KSM + "workload/pod-metrics.md"),
    _f("kube_deployment_spec_replicas", "gauge", ("namespace", "deployment"), "kube-state-metrics", _KSM + "workload/deployment-metrics.md"),
    _f("kube_deployment_status_replicas_available", "gauge", ("namespace", "deployment"), "kube-state-metrics", _KSM + "workload/deployment-metrics.md"),
    _f("kube_deployment_status_replicas_updated", "gauge", ("namespace", "deployment"), "kube-state-metrics", _KSM + "workload/deployment-metrics.md"),
    _f(
        "kube_deployment_status_condition", "gauge", ("namespace", "deployment", "reason", "condition", "status"),
        "kube-state-metrics", _KSM + "workload/deployment-metrics.md",
    ),
    _f(
        "kube_persistentvolumeclaim_status_phase", "gauge", ("namespace", "persistentvolumeclaim", "phase"),
        "kube-state-metrics", _KSM + "storage/persistentvolumeclaim-metrics.md",
    ),
    _f(
        "kube_horizontalpodautoscaler_status_current_replicas", "gauge", ("namespace", "horizontalpodautoscaler"),
        "kube-state-metrics", _KSM + "workload/horizontalpodautoscaler-metrics.md",
    ),
    _f(
        "kube_horizontalpodautoscaler_spec_max_replicas", "gauge", ("namespace", "horizontalpodautoscaler"),
        "kube-state-metrics", _KSM + "workload/horizontalpodautoscaler-metrics.md",
    ),
    # node-exporter
    *(
        _f(f"node_filesystem_{m}", "gauge", _FS, "node-exporter", "prometheus/node_exporter@v1.12.1 collector/filesystem_common.go")
        for m in ("avail_bytes", "size_bytes", "free_bytes", "files", "files_free", "readonly", "device_error")
    ),
    _f("node_cpu_seconds_total", "counter", ("cpu", "mode"), "node-exporter", "prometheus/node_exporter@v1.12.1 collector/cpu_common.go"),
    _f("node_memory_MemAvailable_bytes", "gauge", (), "node-exporter", "prometheus/node_exporter@v1.12.1 collector/meminfo_linux.go"),
    _f("node_memory_MemTotal_bytes", "gauge", (), "node-exporter", "prometheus/node_exporter@v1.12.1 collector/meminfo_linux.go"),
    # kubelet volume stats, cAdvisor
    *(
        _f(
            f"kubelet_volume_stats_{m}", "gauge", ("namespace", "persistentvolumeclaim"), "kubelet",
            "kubernetes/kubernetes pkg/kubelet/metrics/collectors/volume_stats.go",
        )
        for m in ("available_bytes", "capacity_bytes", "used_bytes", "inodes", "inodes_free", "inodes_used")
    ),
    _f("container_cpu_usage_seconds_total", "counter", (*_CADV, "cpu"), "cadvisor", "google/cadvisor@v0.60.5 lib/metrics/prometheus.go"),
    _f("container_cpu_cfs_periods_total", "counter", _CADV, "cadvisor", "google/cadvisor@v0.60.5 lib/metrics/prometheus.go"),
    _f("container_cpu_cfs_throttled_periods_total", "counter", _CADV, "cadvisor", "google/cadvisor@v0.60.5 lib/metrics/prometheus.go"),
    _f("container_cpu_cfs_throttled_seconds_total", "counter", _CADV, "cadvisor", "google/cadvisor@v0.60.5 lib/metrics/prometheus.go"),
    _f("container_memory_working_set_bytes", "gauge", _CADV, "cadvisor", "google/cadvisor@v0.60.5 lib/metrics/prometheus.go"),
    # Prometheus
    *(
        _f(f"prometheus_{m}", kind, ("rule_group",), "prometheus", "prometheus/prometheus@v3.14.0 rules/group.go")
        for m, kind in (
            ("rule_evaluations_total", "counter"),
            ("rule_evaluation_failures_total", "counter"),
            ("rule_group_interval_seconds", "gauge"),
            ("rule_group_last_duration_seconds", "gauge"),
            ("rule_group_last_evaluation_timestamp_seconds", "gauge"),
        )
    ),
    *(
        _f(f"prometheus_notifications_{m}", "counter", ("alertmanager",), "prometheus", "prometheus/prometheus@v3.14.0 notifier/metric.go")
        for m in ("errors_total", "sent_total", "dropped_total")
    ),
    _f("prometheus_config_last_reload_successful", "gauge", (), "prometheus", "prometheus/prometheus@v3.14.0 cmd/prometheus/main.go"),
    _f("prometheus_tsdb_compactions_failed_total", "counter", (), "prometheus", "prometheus/prometheus@v3.14.0 tsdb/db.go"),
    _f("prometheus_tsdb_head_series", "gauge", (), "prometheus", "prometheus/prometheus@v3.14.0 tsdb/head.go"),
    _f("prometheus_tsdb_size_retentions_total", "counter", (), "prometheus", "prometheus/prometheus@v3.14.0 tsdb/db.go"),
    *(
        _f(
            f"prometheus_remote_storage_{m}", "counter", ("remote_name", "url"), "prometheus-remote-write",
            "prometheus/prometheus@v3.14.0 storage/remote/queue_manager.go",
        )
        for m in ("samples_failed_total", "samples_total", "samples_retried_total")
    ),
    # Alertmanager
    _f("alertmanager_notifications_total", "counter", ("integration",), "alertmanager", "prometheus/alertmanager@v0.34.0 notify/metrics.go"),
    _f(
        "alertmanager_notifications_failed_total", "counter", ("integration", "reason"), "alertmanager",
        "prometheus/alertmanager@v0.34.0 notify/metrics.go",
    ),
    _f("alertmanager_config_last_reload_successful", "gauge", (), "alertmanager", "prometheus/alertmanager@v0.34.0 config/coordinator.go"),
    _f(
        "alertmanager_alerts_received_total", "counter", ("status", "version"), "alertmanager",
        "prometheus/alertmanager@v0.34.0 api/metrics/metrics.go",
    ),
    # Thanos
    _f("thanos_compact_halted", "gauge", (), "thanos-compact", "thanos-io/thanos@v0.42.4 cmd/thanos/compact.go"),
    _f("thanos_sidecar_prometheus_up", "gauge", (), "thanos-sidecar", "thanos-io/thanos@v0.42.4 cmd/thanos/sidecar.go"),
    *(
        _f(f"thanos_shipper_{m}", "counter", (), "thanos-sidecar", "thanos-io/thanos@v0.42.4 pkg/shipper/shipper.go")
        for m in ("uploads_total", "upload_failures_total", "dir_syncs_total", "dir_sync_failures_total")
    ),
    # Fluent Bit
    *(
        _f(f"fluentbit_output_{m}", "counter", ("name",), "fluent-bit", "fluent/fluent-bit@v5.1.1 src/flb_output.c")
        for m in ("proc_bytes_total", "proc_records_total", "errors_total", "retries_total", "retries_failed_total")
    ),
    # OpenTelemetry Collector internal telemetry (also Jaeger v2, which is built on the collector)
    *(
        _f(
            f"otelcol_exporter_{m}_total", "counter", ("exporter", *_OTEL_SCOPE), ("otel-collector", "jaeger"),
            "open-telemetry/opentelemetry-collector@v0.158.0 exporter/exporterhelper/documentation.md "
            "(attribute key: exporter/exporterhelper/internal/obs_report_sender.go ExporterKey)",
        )
        for m in ("sent_spans", "send_failed_spans", "enqueue_failed_spans")
    ),
    *(
        _f(
            f"otelcol_receiver_{m}_total", "counter", ("receiver", "transport", *_OTEL_SCOPE), ("otel-collector", "jaeger"),
            "open-telemetry/opentelemetry-collector@v0.158.0 receiver/receiverhelper/documentation.md",
        )
        for m in ("accepted_spans", "refused_spans")
    ),
    *(
        _f(
            f"otelcol_processor_memory_limiter_{m}_total", "counter", ("processor", *_OTEL_SCOPE), ("otel-collector", "jaeger"),
            "open-telemetry/opentelemetry-collector@v0.158.0 processor/memorylimiterprocessor/documentation.md "
            "(attribute: processor/memorylimiterprocessor/obsreport.go ProcessorKey)",
        )
        for m in ("accepted_spans", "refused_spans")
    ),
    # spanmetrics connector -> prometheus exporter: the labels are the dimensions, `service` (set by
    # the transform/contract_labels processor) and every resource attribute the transform keeps
    # (resource_to_telemetry_conversion), hence open.
    _f(
        "traces_span_metrics_calls_total", "counter",
        ("service_name", "span_name", "span_kind", "status_code", "http_route", "http_request_method",
         "http_response_status_code", "service"),
        "otel-spanmetrics", "open-telemetry/opentelemetry-collector-contrib connector/spanmetricsconnector/README.md",
        open=True,
    ),
    _f(
        "traces_span_metrics_duration_seconds", "histogram",
        ("service_name", "span_name", "span_kind", "status_code", "http_route", "http_request_method",
         "http_response_status_code", "service"),
        "otel-spanmetrics", "open-telemetry/opentelemetry-collector-contrib connector/spanmetricsconnector/README.md",
        open=True,
    ),
    # servicegraph connector -> prometheus exporter (monitoring/otel.py SERVICEGRAPH_METRICS): the
    # edge labels only; its resource is empty and its ServiceMonitor does not honour labels.
    *(
        _f(
            servicegraph_prometheus_name(key), "histogram" if unit else "counter", SERVICEGRAPH_LABELS,
            "otel-servicegraph", "open-telemetry/opentelemetry-collector-contrib connector/servicegraphconnector/connector.go",
        )
        for key, (_, unit, _monotonic) in SERVICEGRAPH_METRICS.items()
    ),
    # postgres_exporter
    _f("pg_up", "gauge", (), "postgres-exporter", "prometheus-community/postgres_exporter@v0.20.1 exporter/postgres_exporter.go"),
    *(
        _f(
            f"pg_stat_database_{m}", kind, _PG_DB, "postgres-exporter",
            "prometheus-community/postgres_exporter@v0.20.1 collector/pg_stat_database.go",
        )
        for m, kind in (
            ("numbackends", "gauge"), ("xact_commit", "counter"), ("xact_rollback", "counter"),
            ("blks_read", "counter"), ("blks_hit", "counter"), ("deadlocks", "counter"),
            ("conflicts", "counter"), ("temp_bytes", "counter"),
        )
    ),
    _f("pg_locks_count", "gauge", ("datname", "mode"), "postgres-exporter", "prometheus-community/postgres_exporter@v0.20.1 collector/pg_locks.go"),
    _f(
        "pg_settings_max_connections", "gauge", (), "postgres-exporter",
        "prometheus-community/postgres_exporter@v0.20.1 collector/pg_setting.go (pg_settings_<name>, no labels)",
    ),
    _f("pg_replication_lag_seconds", "gauge", (), "postgres-exporter", "prometheus-community/postgres_exporter@v0.20.1 collector/pg_replication.go"),
    _f("pg_replication_is_replica", "gauge", (), "postgres-exporter", "prometheus-community/postgres_exporter@v0.20.1 collector/pg_replication.go"),
    # blackbox_exporter
    _f("probe_success", "gauge", (), "blackbox-exporter", "prometheus/blackbox_exporter@v0.28.0 prober/handler.go"),
    _f("probe_duration_seconds", "gauge", (), "blackbox-exporter", "prometheus/blackbox_exporter@v0.28.0 prober/handler.go"),
    # elasticsearch_exporter
    _f(
        "elasticsearch_cluster_health_status", "gauge", ("es_cluster", "color"), "elasticsearch-exporter",
        "prometheus-community/elasticsearch_exporter@v1.11.0 collector/cluster_health.go",
    ),
    *(
        _f(
            f"elasticsearch_filesystem_data_{m}", "gauge", (*_ES_NODE, "mount", "path"), "elasticsearch-exporter",
            "prometheus-community/elasticsearch_exporter@v1.11.0 collector/nodes.go (defaultFilesystemDataLabels)",
        )
        for m in ("available_bytes", "free_bytes", "size_bytes")
    ),
    # Trivy Operator
    _f("trivy_image_vulnerabilities", "gauge", _TRIVY_IMAGE, "trivy-operator", "aquasecurity/trivy-operator@v0.32.0 pkg/metrics/collector.go"),
    _f("trivy_image_exposedsecrets", "gauge", _TRIVY_IMAGE, "trivy-operator", "aquasecurity/trivy-operator@v0.32.0 pkg/metrics/collector.go"),
    _f(
        "trivy_resource_configaudits", "gauge", ("namespace", "name", "resource_kind", "resource_name", "severity"),
        "trivy-operator", "aquasecurity/trivy-operator@v0.32.0 pkg/metrics/collector.go",
    ),
    _f(
        "trivy_cluster_compliance", "gauge", ("title", "description", "status"), "trivy-operator",
        "aquasecurity/trivy-operator@v0.32.0 pkg/metrics/collector.go",
    ),
    # OpenCost: hourly prices per node (per core, GiB of RAM, GPU; the whole node) and per GiB of
    # persistent volume, allocations per container (cores, bytes, GPUs) and per claimed volume (bytes).
    *(
        _f(f"node_{m}_hourly_cost", "gauge", _OPENCOST_NODE, "opencost", _OPENCOST)
        for m in ("cpu", "ram", "gpu", "total")
    ),
    *(
        _f(f"container_{m}", "gauge", _OPENCOST_CONTAINER, "opencost", _OPENCOST)
        for m in ("cpu_allocation", "memory_allocation_bytes", "gpu_allocation")
    ),
    _f("pv_hourly_cost", "gauge", ("volumename", "persistentvolume", "provider_id", "uid"), "opencost", _OPENCOST),
    _f(
        "pod_pvc_allocation", "gauge", ("namespace", "pod", "persistentvolumeclaim", "persistentvolume", "uid"),
        "opencost", _OPENCOST,
    ),
    # Control plane of a self-hosted cluster (PRODUCERS etcd, kube-scheduler, kube-proxy); their
    # label sets vary by Kubernetes/etcd version, hence open.
    _f("etcd_server_has_leader", "gauge", (), "etcd", "etcd-io/etcd server/etcdserver/metrics.go", open=True),
    _f("etcd_server_leader_changes_seen_total", "counter", (), "etcd", "etcd-io/etcd server/etcdserver/metrics.go", open=True),
    _f("etcd_server_proposals_failed_total", "counter", (), "etcd", "etcd-io/etcd server/etcdserver/metrics.go", open=True),
    _f("etcd_disk_wal_fsync_duration_seconds", "histogram", (), "etcd", "etcd-io/etcd server/storage/wal/metrics.go", open=True),
    _f("etcd_disk_backend_commit_duration_seconds", "histogram", (), "etcd", "etcd-io/etcd server/storage/backend/metrics.go", open=True),
    _f(
        "etcd_network_peer_round_trip_time_seconds", "histogram", ("To",), "etcd",
        "etcd-io/etcd server/etcdserver/api/rafthttp/metrics.go", open=True,
    ),
    _f(
        "scheduler_scheduling_attempt_duration_seconds", "histogram", ("result", "profile"), "kube-scheduler",
        "kubernetes/kubernetes pkg/scheduler/metrics/metrics.go", open=True,
    ),
    _f("scheduler_pending_pods", "gauge", ("queue",), "kube-scheduler", "kubernetes/kubernetes pkg/scheduler/metrics/metrics.go", open=True),
    _f(
        "kubeproxy_sync_proxy_rules_duration_seconds", "histogram", (), "kube-proxy",
        "kubernetes/kubernetes pkg/proxy/metrics/metrics.go", open=True,
    ),
    _f(
        "kubeproxy_network_programming_duration_seconds", "histogram", (), "kube-proxy",
        "kubernetes/kubernetes pkg/proxy/metrics/metrics.go", open=True,
    ),
    # Cilium / Hubble (cluster CNI)
    # Ref: cilium/cilium pkg/metrics/metrics.go (DropCount: LabelDropReason `reason`, LabelDirection `direction`)
    _f("cilium_drop_count_total", "counter", ("reason", "direction"), "cilium-agent", "cilium/cilium Documentation/observability/metrics.rst"),
    # Context labels (source/destination ...) only with context options in hubble.metrics.enabled: open.
    _f("hubble_drop_total", "counter", ("reason", "protocol"), "hubble", "cilium/cilium pkg/hubble/metrics/drop/handler.go", open=True),
    # Pushgateway's own per-group metrics
    _f("push_time_seconds", "gauge", ("job", "instance", "pipeline"), "pushgateway", "prometheus/pushgateway@v1.11.3 README.md"),
    _f("push_failure_time_seconds", "gauge", ("job", "instance", "pipeline"), "pushgateway", "prometheus/pushgateway@v1.11.3 README.md"),
    # --- application contract (README "Application contract") ---
    _f(
        "http_server_request_duration_seconds", "histogram", (*_HTTP_ATTRS, *_OTEL_SCOPE), "application",
        f"README.md; {_SEMCONV} docs/http/http-metrics.md (http.server.request.duration)",
    ),
    _f(
        "db_client_operation_duration_seconds", "histogram", (*_DB_OP_ATTRS, *_OTEL_SCOPE), "application",
        f"README.md; {_SEMCONV} docs/db/database-metrics.md (db.client.operation.duration)",
    ),
    _f(
        "db_client_connection_count", "gauge", ("db_client_connection_pool_name", "db_client_connection_state", *_OTEL_SCOPE),
        "application", f"{_SEMCONV} docs/db/database-metrics.md (db.client.connection.count: UpDownCounter -> gauge)",
    ),
    _f(
        "db_client_connection_max", "gauge", ("db_client_connection_pool_name", *_OTEL_SCOPE), "application",
        f"{_SEMCONV} docs/db/database-metrics.md (db.client.connection.max)",
    ),
    # Connection attempts/failures: no semantic convention counts them (the pool metrics are gauges,
    # timeouts and timings), so the design gives them `terrafusion_` names (docs/architecture.md#decisions).
    *(
        _f(
            f"terrafusion_db_connection_{m}_total", "counter", ("db_client_connection_pool_name", *_OTEL_SCOPE),
            "application",
            f"README.md Application contract (Database); {_SEMCONV} docs/db/database-metrics.md (no attempt/failure "
            "counter); docs/architecture.md#decisions 'Names from OpenTelemetry'",
        )
        for m in ("attempts", "failures")
    ),
    _f("terrafusion_active_users", "gauge", ("window",), "application", "README.md Application contract (Business)"),
    _f("terrafusion_sessions_total", "counter", (), "application", "README.md Application contract (Business)"),
    _f("terrafusion_session_duration_seconds", "histogram", (), "application", "README.md Application contract (Business)"),
    _f("terrafusion_feature_usage_total", "counter", ("feature",), "application", "README.md Application contract (Business)"),
    _f("terrafusion_funnel_step_total", "counter", ("funnel", "step"), "application", "README.md Application contract (Business)"),
    # --- events from many short-lived senders (browsers, CI runs), counted by the collector ---
    # One home: monitoring/otel.py EVENT_METRICS (the connectors are built from it). Labels: the
    # event's attributes, plus what the prometheus exporter adds from the (trimmed) resource.
    *(
        _f(
            m.prometheus_names[0].removesuffix("_bucket") if m.value_attribute else m.prometheus_names[0],
            "histogram" if m.value_attribute else "counter",
            (*m.attributes, "service_name", *_OTEL_SCOPE),
            "otel-event-aggregation",
            f"monitoring/otel.py EVENT_METRICS ({m.name} from event {m.event}); README.md Application contract",
        )
        for m in EVENT_METRICS
    ),
    # --- delivery values from CI, pushed per run (grouping key {job, pipeline}) ---
    _f(
        "terrafusion_build_duration_seconds", "gauge", ("pipeline",), "pushgateway",
        "README.md Application contract (CI jobs); docs/architecture.md#decisions 'Events, not counters, from many short-lived senders'",
    ),
    _f("terrafusion_test_coverage_ratio", "gauge", ("pipeline",), "pushgateway", "README.md Application contract (CI jobs)"),
    *_UPSTREAM_RULE_FAMILIES,
)

# Prometheus' synthetic per-target series; their labels are the target labels of every target.
SCRAPE_SERIES: tuple[str, ...] = ("up", "scrape_duration_seconds", "scrape_samples_scraped", "scrape_series_added")


@dataclass(frozen=True)
class Hint:
    upstream: str
    ref: str


# Names rules/panels use that no producer emits, with the upstream name at the pinned version (b).
WRONG_NAMES: dict[str, Hint] = {
    "otelcol_processor_refused_spans": Hint(
        "otelcol_processor_memory_limiter_refused_spans_total (label `processor`)",
        "open-telemetry/opentelemetry-collector@v0.158.0 CHANGELOG.md v0.110.0 'processorhelper: deprecate "
        "accepted/refused/dropped metrics (#11201)'; v0.158.0 processor/processorhelper/documentation.md lists only "
        "otelcol_processor_incoming_items/outgoing_items/internal_duration; "
        "processor/memorylimiterprocessor/documentation.md: otelcol_processor_memory_limiter_refused_spans",
    ),
    "otelcol_processor_refused_spans_total": Hint(
        "otelcol_processor_memory_limiter_refused_spans_total (label `processor`)",
        "as otelcol_processor_refused_spans",
    ),
    "db_client_connection_attempts_total": Hint(
        "no such metric in the semantic conventions (pool metrics are db.client.connection.count, idle.max, "
        "idle.min, max, pending_requests, timeouts, create_time, wait_time, use_time); the design requires a "
        "`terrafusion_` name for it, e.g. terrafusion_db_connection_attempts_total (proposed, to be added to "
        "the README contract)",
        f"{_SEMCONV} docs/db/database-metrics.md; docs/architecture.md#decisions 'Names from OpenTelemetry'",
    ),
    "db_client_connection_failures_total": Hint(
        "no such metric in the semantic conventions (closest: db.client.connection.timeouts -> "
        "db_client_connection_timeouts_total, timeouts only); the design requires a `terrafusion_` name, e.g. "
        "terrafusion_db_connection_failures_total (proposed, to be added to the README contract)",
        f"{_SEMCONV} docs/db/database-metrics.md; docs/architecture.md#decisions 'Names from OpenTelemetry'",
    ),
}

# Labels rules/panels use that a family does not carry, with the upstream label (c).
LABEL_HINTS: dict[tuple[str, str], Hint] = {
    ("db_client_connection_count", "state"): Hint(
        "db_client_connection_state (values idle|used)",
        f"{_SEMCONV} docs/db/database-metrics.md (db.client.connection.count attributes "
        "db.client.connection.pool.name, db.client.connection.state); CHANGELOG v1.26.0 `state` -> "
        "`db.client.connections.state`, v1.28.0 -> `db.client.connection.state`; attribute -> label by "
        "opentelemetry-specification specification/compatibility/prometheus_and_openmetrics.md",
    ),
}


@dataclass(frozen=True)
class CoverageClaim:
    """A rule/panel that says it watches producers which share one family (or a `job` regex)."""

    name: str  # alert name or panel title (exact)
    reads: str  # regex: the claim applies to an expression (panel target) reading such a metric
    producers: tuple[str, ...]
    reason: str


COVERAGE_CLAIMS: tuple[CoverageClaim, ...] = (
    CoverageClaim(
        "TracingSpansDropped", r"otelcol_.*", ("otel-collector", "jaeger"),
        "monitoring/alert_rules/platform.py: 'Jaeger v2 is built on the collector, so its storage exporter "
        "reports through the same otelcol_* metrics'; the description promises 'traces in Jaeger are incomplete'",
    ),
    CoverageClaim(
        "TracingSpansRefused", r"otelcol_.*", ("otel-collector", "jaeger"),
        "same family as TracingSpansDropped: Jaeger's collector pipeline is not watched without its scrape",
    ),
    CoverageClaim(
        "Log, trace and trend pipelines", r"otelcol_.*", ("otel-collector", "jaeger"),
        "operations dashboard: export failures of the trace pipeline include Jaeger's storage exporter",
    ),
    CoverageClaim(
        "Platform components up", r"up", ("elasticsearch-exporter", "jaeger", "influxdb", "pushgateway"),
        "operations dashboard: its `job` regex lists elasticsearch, jaeger, influxdb and pushgateway, each "
        "needs its scrape target",
    ),
)


# --- what a stack has ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyView:
    """One concrete series name as available in a stack: its labels including target labels."""

    name: str
    labels: frozenset[str]
    producers: tuple[str, ...]
    open: bool
    ref: str
    scraped: bool  # external labels apply through Thanos (recorded series too, once stored)


@dataclass(frozen=True)
class StackInventory:
    producers: frozenset[str]
    external_labels: frozenset[str] = DEFAULT_EXTERNAL_LABELS
    replica_labels: frozenset[str] = DEFAULT_REPLICA_LABELS
    probe_static_labels: frozenset[str] = frozenset()
    drops: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # producer -> dropped name regexes
    monitors: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (scrape object, producer ids) for reports
    unmapped: tuple[str, ...] = ()  # scrape objects no producer is known for

    @property
    def thanos_labels(self) -> frozenset[str]:
        return self.external_labels - self.replica_labels


def inventory(producers: Iterable[str], **kwargs: Any) -> StackInventory:
    """An inventory from producer ids (plus the always-present ones); for tests and what-ifs."""
    ids = set(producers) | {p.id for p in PRODUCERS.values() if p.always}
    ids |= {"prometheus-scrape", "prometheus-rules"}
    return StackInventory(producers=frozenset(ids), **kwargs)


def _expand(family: Family) -> list[tuple[str, frozenset[str]]]:
    if family.kind == "histogram":
        return [
            (f"{family.name}_bucket", family.labels | {"le"}),
            (f"{family.name}_count", family.labels),
            (f"{family.name}_sum", family.labels),
        ]
    if family.kind == "summary":
        return [(family.name, family.labels | {"quantile"}), (f"{family.name}_count", family.labels), (f"{family.name}_sum", family.labels)]
    return [(family.name, family.labels)]


def target_labels(producer: Producer, inv: StackInventory | None = None) -> frozenset[str]:
    if not producer.scraped:
        return frozenset()
    if producer.probe:
        return PROBE_TARGET_LABELS | (inv.probe_static_labels if inv else frozenset())
    return SCRAPE_TARGET_LABELS | producer.extra_target_labels


def available_families(producers: Iterable[str], inv: StackInventory | None = None) -> dict[str, FamilyView]:
    """The metric families a stack that deploys `producers` has, by series name (no recorded series)."""
    ids = set(producers)
    drops = inv.drops if inv else {}
    out: dict[str, FamilyView] = {}
    for family in FAMILIES:
        present = [p for p in family.producers if p in ids]
        if not present:
            continue
        for name, labels in _expand(family):
            kept = [p for p in present if not any(re.fullmatch(rx, name) for rx in drops.get(p, ()))]
            if not kept:
                continue
            extra = frozenset().union(*(target_labels(PRODUCERS[p], inv) for p in kept))
            view = FamilyView(name, labels | extra, tuple(kept), family.open, family.ref, True)
            out[name] = _merge(out.get(name), view)
    if "prometheus-scrape" in ids:
        every = frozenset().union(*(target_labels(PRODUCERS[p], inv) for p in ids if p in PRODUCERS and PRODUCERS[p].scraped))
        for name in SCRAPE_SERIES:
            out[name] = FamilyView(name, every, ("prometheus-scrape",), False, PRODUCERS["prometheus-scrape"].ref, True)
    return out


def _merge(old: FamilyView | None, new: FamilyView) -> FamilyView:
    if old is None:
        return new
    return FamilyView(
        new.name, old.labels | new.labels, tuple(dict.fromkeys(old.producers + new.producers)),
        old.open or new.open, old.ref, old.scraped or new.scraped,
    )


def contract_producers_of(name: str) -> tuple[str, ...]:
    """Every producer the contract knows for a series name, deployed or not."""
    found: list[str] = []
    for family in FAMILIES:
        if any(n == name for n, _ in _expand(family)):
            found += family.producers
    return tuple(dict.fromkeys(found))


def contract_names() -> set[str]:
    return {n for family in FAMILIES for n, _ in _expand(family)} | set(SCRAPE_SERIES)


# --- reading a stack's render -----------------------------------------------------------------

# ServiceMonitor/PodMonitor selector name (app.kubernetes.io/name, or app / k8s-app) -> producers.
_MONITOR_PRODUCERS: dict[str, tuple[str, ...]] = {
    "kube-state-metrics": ("kube-state-metrics",),
    "prometheus-node-exporter": ("node-exporter",),
    "kube-prometheus-stack-prometheus": ("prometheus",),
    "kube-prometheus-stack-alertmanager": ("alertmanager",),
    "kube-prometheus-stack-operator": ("prometheus-operator",),
    "kube-prometheus-stack-thanos-discovery": ("thanos-sidecar",),
    "kube-prometheus-stack-thanos-ruler": ("thanos-rule",),
    "kube-prometheus-stack-coredns": ("coredns",),
    "kube-prometheus-stack-kube-controller-manager": ("kube-controller-manager",),
    "kube-prometheus-stack-kube-etcd": ("etcd",),
    "kube-prometheus-stack-kube-proxy": ("kube-proxy",),
    "kube-prometheus-stack-kube-scheduler": ("kube-scheduler",),
    "grafana": ("grafana",),
    "fluent-bit": ("fluent-bit",),
    "prometheus-postgres-exporter": ("postgres-exporter",),
    "prometheus-elasticsearch-exporter": ("elasticsearch-exporter",),
    "jaeger": ("jaeger",),
    "influxdb": ("influxdb",),
    "prometheus-pushgateway": ("pushgateway",),
    "trivy-operator": ("trivy-operator",),
    "opencost": ("opencost",),
    "cilium": ("cilium-agent",),
    "hubble": ("hubble",),
    "prom-aggregation-gateway": ("prom-aggregation-gateway",),
}
_THANOS_COMPONENTS = {
    "compact": "thanos-compact",
    "query": "thanos-query",
    "query-frontend": "thanos-query-frontend",
    "store-gateway": "thanos-store",
}


def _load_objects(stack_dir: Path) -> list[tuple[str, dict]]:
    wanted = ("servicemonitor-", "podmonitor-", "probe-", "prometheus-", "configmap-", "deployment-")
    objects = []
    for path in sorted([*stack_dir.glob("manifests/*.yaml"), *stack_dir.glob("objects/*/*.yaml")]):
        if not path.name.startswith(wanted):
            continue
        try:
            obj = yaml_text.load(path.read_text())
        except yaml.YAMLError:
            continue
        if isinstance(obj, dict) and obj.get("kind"):
            objects.append((str(path.relative_to(stack_dir)), obj))
    return objects


def _monitor_producers(obj: dict) -> tuple[list[str], dict[str, list[str]]]:
    spec = obj.get("spec", {})
    sel = (spec.get("selector") or {}).get("matchLabels") or {}
    name = sel.get("app.kubernetes.io/name") or sel.get("app") or sel.get("k8s-app") or ""
    endpoints = spec.get("endpoints") or spec.get("podMetricsEndpoints") or []
    producers: list[str] = []
    drops: dict[str, list[str]] = {}

    def add(pid: str, endpoint: dict) -> None:
        producers.append(pid)
        for rule in endpoint.get("metricRelabelings") or []:
            if rule.get("action") == "drop" and (rule.get("sourceLabels") or []) == ["__name__"]:
                drops.setdefault(pid, []).append(rule.get("regex", ".*"))

    for endpoint in endpoints or [{}]:
        port, path = endpoint.get("port", ""), endpoint.get("path", "/metrics")
        if name == "kubelet":
            add({"/metrics/cadvisor": "cadvisor", "/metrics/probes": "kubelet-probes"}.get(path, "kubelet"), endpoint)
        elif sel.get("component") == "apiserver":
            add("kube-apiserver", endpoint)
        elif name == "thanos":
            component = sel.get("app.kubernetes.io/component", "")
            add(_THANOS_COMPONENTS.get(component, f"thanos-{component}"), endpoint)
        elif name == "cilium":
            # One agent pod serves both: its own metrics and Hubble's (plan/cni.py).
            add("hubble" if port == "hubble-metrics" else "cilium-agent", endpoint)
        elif name == "opentelemetry-collector":
            add("otel-collector" if port == "metrics" else "otel-collector-prometheus-exporter", endpoint)
        elif name in _MONITOR_PRODUCERS:
            for pid in _MONITOR_PRODUCERS[name]:
                add(pid, endpoint)
    return list(dict.fromkeys(producers)), drops


def _collector_pipelines(config: dict) -> tuple[set[str], set[str]]:
    """Producers the collector's metrics pipelines provide through its prometheus exporter."""
    found: set[str] = set()
    notes: set[str] = set()
    pipelines = (config.get("service") or {}).get("pipelines") or {}
    for pid, pipeline in pipelines.items():
        if str(pid).split("/")[0] != "metrics":
            continue
        exporters = [str(e).split("/")[0] for e in pipeline.get("exporters") or []]
        if "prometheus" not in exporters:
            continue
        receivers = [str(r).split("/")[0] for r in pipeline.get("receivers") or []]
        processors = [str(p).split("/")[0] for p in pipeline.get("processors") or []]
        if "spanmetrics" in receivers:
            found.add("otel-spanmetrics")
        if {"servicegraph", "service_graph"} & set(receivers):  # service_graph: the name its generated docs use
            found.add("otel-servicegraph")
        events = {"signaltometrics", "signal_to_metrics", "count"}  # signal_to_metrics: the newer type name
        if events & set(receivers) and "deltatocumulative" in processors:
            found.add("otel-event-aggregation")
        notes.add(f"{pid}: receivers={receivers} processors={processors} exporters={exporters}")
    return found, notes


def inventory_from_render(stack_dir: str | Path) -> StackInventory:
    """Which producers a rendered stack deploys and scrapes (tools.render output, e.g. /tmp/mc/dev)."""
    stack_dir = Path(stack_dir)
    producers: set[str] = set()
    drops: dict[str, list[str]] = {}
    monitors: list[tuple[str, tuple[str, ...]]] = []
    unmapped: list[str] = []
    probe_labels: set[str] = set()
    external = set(DEFAULT_EXTERNAL_LABELS)
    replica: set[str] | None = None
    collector_configs: list[dict] = []
    prometheus_found = False

    for rel, obj in _load_objects(stack_dir):
        kind = obj["kind"]
        spec = obj.get("spec") or {}
        if kind in ("ServiceMonitor", "PodMonitor"):
            found, dropped = _monitor_producers(obj)
            monitors.append((rel, tuple(found)))
            if not found:
                unmapped.append(rel)
            producers.update(found)
            for pid, rx in dropped.items():
                drops.setdefault(pid, []).extend(rx)
        elif kind == "Probe":
            url = str((spec.get("prober") or {}).get("url", ""))
            pid = "blackbox-exporter" if "blackbox" in url else ""
            monitors.append((rel, (pid,) if pid else ()))
            if pid:
                producers.add(pid)
                static = ((spec.get("targets") or {}).get("staticConfig") or {}).get("labels") or {}
                probe_labels.update(static)
            else:
                unmapped.append(rel)
        elif kind == "Prometheus":
            prometheus_found = True
            external = set((spec.get("externalLabels") or {}).keys())
            name = spec.get("prometheusExternalLabelName", "prometheus")
            rep = spec.get("replicaExternalLabelName", "prometheus_replica")
            external |= {n for n in (name, rep) if n}
            if spec.get("remoteWrite"):
                producers.add("prometheus-remote-write")
            if not (spec.get("thanos") or {}).get("objectStorageConfig"):
                drops.setdefault("thanos-sidecar", []).append("thanos_shipper_.*")
        elif kind == "Deployment" and "thanos-query" in rel and "frontend" not in rel:
            for container in ((spec.get("template") or {}).get("spec") or {}).get("containers") or []:
                for arg in container.get("args") or []:
                    if str(arg).startswith("--query.replica-label="):
                        replica = (replica or set()) | {str(arg).split("=", 1)[1]}
        elif kind == "ConfigMap" and (
            "otel-collector" in rel
            or ((obj.get("metadata") or {}).get("labels") or {}).get("app.kubernetes.io/name") == "opentelemetry-collector"
        ):
            # Every release of the collector chart: the gateway and the service graph tier.
            for text in (obj.get("data") or {}).values():
                try:
                    config = yaml_text.load(text)
                except yaml.YAMLError:
                    continue
                if isinstance(config, dict) and "service" in config:
                    collector_configs.append(config)

    if "otel-collector-prometheus-exporter" in producers:
        for config in collector_configs:
            producers.update(_collector_pipelines(config)[0])
    if prometheus_found:
        producers |= {"prometheus-scrape", "prometheus-rules"}
    producers |= {p.id for p in PRODUCERS.values() if p.always}
    return StackInventory(
        producers=frozenset(producers),
        external_labels=frozenset(external),
        replica_labels=frozenset(replica) if replica is not None else frozenset(),
        probe_static_labels=frozenset(probe_labels),
        drops={k: tuple(v) for k, v in drops.items()},
        monitors=tuple(monitors),
        unmapped=tuple(unmapped),
    )


# --- the expressions a stack evaluates or displays ---------------------------------------------


@dataclass(frozen=True)
class Expression:
    stack: str
    source: str  # rule | slo | panel | variable | datasource
    file: str
    name: str  # alert/record name, panel title, variable name
    expr: str  # PromQL (Grafana variables substituted)
    context: str = RULES  # RULES (in Prometheus) or THANOS (Grafana through Thanos Query)
    group: str = ""
    labels_used: tuple[str, ...] = ()  # labels read from the result (label_values(..., label))
    record: str | None = None  # recording rules: the series written
    rule_labels: tuple[str, ...] = ()  # labels the rule sets
    alert: str | None = None

    @property
    def where(self) -> str:
        group = f" group {self.group}" if self.group else ""
        return f"{self.file}{group}: {self.source} {self.name!r}"


_BUILTIN_DURATIONS = ("__rate_interval", "__interval", "__range", "__auto")
_VAR = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


def substitute_grafana(expr: str, tags: str = 'service="placeholder"') -> str:
    """Replace Grafana variables by values that parse: durations in ranges, `1` elsewhere."""

    def var(m: re.Match) -> str:
        return m.group(1) or m.group(2) or m.group(3)

    expr = expr.replace("$__tags", tags)

    def in_range(m: re.Match) -> str:
        return _VAR.sub(lambda v: "5m", m.group(0))

    expr = re.sub(r"\[[^\]\[]*\$[^\]]*\]", in_range, expr)  # [$__rate_interval], [$__range:1m]

    def other(m: re.Match) -> str:
        name = var(m)
        if name in _BUILTIN_DURATIONS:
            return "5m"
        if name.isdigit():
            return m.group(0)  # a label_replace capture group (`$1`), which Grafana leaves as written
        return "1"

    return _VAR.sub(other, expr)


def _rule_expressions(stack: str, stack_dir: Path) -> list[Expression]:
    out = []
    for path in sorted((stack_dir / "prometheus" / "rules").glob("*.yaml")):
        content = yaml_text.load(path.read_text()) or {}
        rel = str(path.relative_to(stack_dir))
        for group in content.get("groups", []):
            for rule in group.get("rules", []):
                out.append(
                    Expression(
                        stack, "rule", rel, rule.get("alert") or rule.get("record"), str(rule["expr"]), RULES,
                        group.get("name", ""), record=rule.get("record"), alert=rule.get("alert"),
                        rule_labels=tuple((rule.get("labels") or {}).keys()),
                    )
                )
    return out


def slo_expressions(stack: str, stack_dir: Path | None = None) -> list[Expression]:
    """The SLI of every SLO of the catalogue (monitoring/slo_catalogue.py), over the SLO's window; with
    a render, only the SLOs the stack has (its recording group `slo-<id>`: a stack without an SLO's
    optional producer has no such SLO, monitoring/slo_catalogue.py `Slo.requires`)."""
    from monitoring.slo_catalogue import SLO_CATALOGUE
    from monitoring.slo import raw_error_ratio_expr

    groups = None
    if stack_dir is not None:
        groups = {e.group for e in _rule_expressions(stack, stack_dir)}
    return [
        Expression(stack, "slo", "monitoring/slo.py", f"{slo.id} SLI over {slo.window}", raw_error_ratio_expr(slo, slo.window))
        for slo in SLO_CATALOGUE
        if groups is None or f"slo-{slo.id}" in groups
    ]


def _datasource_types(stack_dir: Path) -> dict[str, str]:
    path = stack_dir / "grafana" / "datasources.json"
    if not path.exists():
        return {}
    return {d["uid"]: d["type"] for d in json.loads(path.read_text())}


def _panels(panels: list[dict]) -> Iterable[dict]:
    for panel in panels or []:
        yield panel
        yield from _panels(panel.get("panels", []))


_LABEL_VALUES = re.compile(r"^\s*label_values\((?P<args>.*)\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\((?P<expr>.*)\)\s*$", re.DOTALL)


def _datasource_type(ds: Any, types: dict[str, str], default: str) -> str:
    if isinstance(ds, dict):
        if ds.get("type"):
            return str(ds["type"])
        uid = ds.get("uid")
        return types.get(uid, default) if uid and not str(uid).startswith("$") else default
    if isinstance(ds, str):
        return types.get(ds, default) if not ds.startswith("$") else default
    return default


def _dashboard_models(stack_dir: Path) -> list[tuple[str, dict]]:
    """(path in the render, model) of every dashboard the stack's Grafana loads: ours, provisioned
    through the Grafana provider (grafana/dashboards/), and kube-prometheus-stack's, from the
    ConfigMaps the chart renders carrying the label Grafana's dashboard sidecar loads, as the
    release's object patch leaves them (monitoring/dashboards/upstream.py)."""
    models = []
    for path in sorted((stack_dir / "grafana" / "dashboards").glob("*.json")):
        model = json.loads(path.read_text())
        models.append((str(path.relative_to(stack_dir)), model.get("dashboard", model)))
    for path in sorted(stack_dir.glob("objects/kube-prometheus-stack*/configmap-*.yaml")):
        obj = yaml_text.load(path.read_text())
        if SIDECAR_LABEL not in ((obj.get("metadata") or {}).get("labels") or {}):
            continue
        for key, text in sorted((obj.get("data") or {}).items()):
            if key.endswith(".json"):
                models.append((str(path.relative_to(stack_dir)), json.loads(text)))
    return models


def _dashboard_expressions(stack: str, stack_dir: Path) -> list[Expression]:
    types = _datasource_types(stack_dir)
    default = next((t for t in types.values() if t == "prometheus"), "prometheus")
    out = []
    for rel, model in _dashboard_models(stack_dir):
        title = model.get("title", Path(rel).stem)
        for variable in model.get("templating", {}).get("list", []):
            if variable.get("type") != "query":
                continue
            if _datasource_type(variable.get("datasource"), types, default) != "prometheus":
                continue
            query = variable.get("query")
            query = query.get("query", "") if isinstance(query, dict) else str(query or "")
            name = f"{title} / variable ${variable.get('name')}"
            if m := _LABEL_VALUES.match(query):
                args = m.group("args")
                selector, _, label = args.rpartition(",")
                if selector.strip():
                    out.append(
                        Expression(stack, "variable", rel, name, substitute_grafana(selector), THANOS, labels_used=(label.strip(),))
                    )
            elif m := _QUERY_RESULT.match(query):
                out.append(Expression(stack, "variable", rel, name, substitute_grafana(m.group("expr")), THANOS))
        for panel in _panels(model.get("panels", [])):
            panel_type = _datasource_type(panel.get("datasource"), types, default)
            for target in panel.get("targets", []) or []:
                ds_type = _datasource_type(target.get("datasource"), types, panel_type) if target.get("datasource") else panel_type
                if ds_type != "prometheus" or not target.get("expr"):
                    continue
                out.append(
                    Expression(stack, "panel", rel, f"{title} / {panel.get('title', '')}", substitute_grafana(target["expr"]), THANOS)
                )
    return out


def _datasource_expressions(stack: str, stack_dir: Path) -> list[Expression]:
    path = stack_dir / "grafana" / "datasources.json"
    if not path.exists():
        return []
    out = []
    for ds in json.loads(path.read_text()):
        t2m = (ds.get("jsonData") or {}).get("tracesToMetrics") or {}
        tags = ",".join(f'{t.get("value") or t.get("key")}="placeholder"' for t in t2m.get("tags", []))
        for query in t2m.get("queries", []):
            out.append(
                Expression(
                    stack, "datasource", str(path.relative_to(stack_dir)),
                    f"{ds['name']} tracesToMetrics {query.get('name', '')!r}", substitute_grafana(query["query"], tags), THANOS,
                )
            )
    return out


def collect_expressions(stack: str, stack_dir: str | Path) -> list[Expression]:
    """Every PromQL expression of a rendered stack: rules, SLO SLIs, panels, variables, datasources."""
    stack_dir = Path(stack_dir)
    return [
        *_rule_expressions(stack, stack_dir),
        *slo_expressions(stack, stack_dir),
        *_dashboard_expressions(stack, stack_dir),
        *_datasource_expressions(stack, stack_dir),
    ]


# --- the checker --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    stack: str
    kind: str  # no-producer | wrong-name | undeclared | unknown-label | matching | coverage | parse-error
    cause: str  # a | b | c | d
    metric: str
    label: str
    expression: Expression
    detail: str
    hint: str = ""
    ref: str = ""

    def __str__(self) -> str:
        label = f" label {self.label!r}" if self.label else ""
        hint = f" -> {self.hint}" if self.hint else ""
        return f"[{self.stack}] ({self.cause}) {self.kind}: {self.metric}{label} in {self.expression.where}: {self.detail}{hint}"


@dataclass(frozen=True)
class Shape:
    kind: str  # vector | scalar | string
    labels: frozenset[str] = frozenset()
    open: bool = False


_SCALAR = Shape("scalar")
_STRING = Shape("string")


class _Checker:
    def __init__(self, available: dict[str, FamilyView], inv: StackInventory, expression: Expression, record_problems: bool = True):
        self.available = available
        self.inv = inv
        self.e = expression
        self.problems: list[Problem] = []
        self.record = record_problems
        self.extra = inv.thanos_labels if expression.context == THANOS else frozenset()
        upstream = expression.source == "rule" and Path(expression.file).name.startswith(UPSTREAM_RULE_FILE_PREFIX)
        self.absent_ok = MIXIN_OPTIONAL_LABELS if upstream else frozenset()

    # problems
    def _add(self, kind: str, cause: str, metric: str, label: str, detail: str, hint: str = "", ref: str = "") -> None:
        if self.record:
            self.problems.append(Problem(self.e.stack, kind, cause, metric, label, self.e, detail, hint, ref))

    def _missing(self, name: str, regex: bool) -> None:
        if regex:
            names = [n for n in contract_names() if re.fullmatch(name, n)]
            wrong = [n for n in WRONG_NAMES if re.fullmatch(name, n)]
        else:
            names = [name] if name in contract_names() else []
            wrong = [name] if name in WRONG_NAMES else []
        if names:
            candidates = tuple(dict.fromkeys(p for n in names for p in contract_producers_of(n)))
            ingestion = all(PRODUCERS[p].ingestion_path for p in candidates)
            how = "; ".join(f"{p}: {PRODUCERS[p].how_to_deploy or PRODUCERS[p].description}" for p in candidates)
            self._add(
                "no-producer", "d" if ingestion else "a", name, "",
                f"no deployed producer (candidates: {', '.join(candidates)})", how,
                "; ".join(dict.fromkeys(PRODUCERS[p].ref for p in candidates)),
            )
        elif wrong:
            hint = WRONG_NAMES[wrong[0]]
            self._add("wrong-name", "b", name, "", "no producer emits this name at its pinned version", hint.upstream, hint.ref)
        else:
            self._add("undeclared", "b", name, "", "not in the metrics contract: declare its producer or fix the name")

    def _label(self, metric: str, label: str, shape: Shape, where: str) -> None:
        if shape.kind != "vector" or shape.open or label in shape.labels or label == "__name__":
            return
        if label in self.absent_ok:
            return
        hint = LABEL_HINTS.get((metric, label))
        context = " (external labels are not visible to rule evaluation)" if label in self.inv.external_labels and self.e.context == RULES else ""
        self._add(
            "unknown-label", "c", metric, label,
            f"{where}: the operand carries {sorted(shape.labels)}{context}",
            hint.upstream if hint else "", hint.ref if hint else "",
        )

    # shapes
    def selector(self, vs: Any) -> Shape:
        matchers = list(vs.matchers.matchers) + [m for group in (vs.matchers.or_matchers or []) for m in group]
        name, regex = vs.name, False
        if not name:
            for m in matchers:
                if m.name == "__name__":
                    name, regex = m.value, str(m.op) != "MatchOp.Equal"
        if not name:
            return Shape("vector", open=True)
        if regex:
            views = [v for n, v in self.available.items() if re.fullmatch(name, n)]
        else:
            views = [self.available[name]] if name in self.available else []
        if not views:
            self._missing(name, regex)
            return Shape("vector", open=True)
        labels = frozenset().union(*(v.labels for v in views))
        if any(v.scraped for v in views):
            labels |= self.extra
        shape = Shape("vector", labels, any(v.open for v in views))
        for m in matchers:
            if m.name != "__name__":
                self._label(name, m.name, shape, f"matcher {m.name}")
        return shape

    def infer(self, node: Any) -> Shape:
        import promql_parser as pp

        if isinstance(node, pp.NumberLiteral):
            return _SCALAR
        if isinstance(node, pp.StringLiteral):
            return _STRING
        if isinstance(node, (pp.ParenExpr, pp.UnaryExpr, pp.SubqueryExpr)):
            return self.infer(node.expr)
        if isinstance(node, pp.MatrixSelector):
            return self.selector(node.vector_selector)
        if isinstance(node, pp.VectorSelector):
            return self.selector(node)
        if isinstance(node, pp.Call):
            return self.call(node)
        if isinstance(node, pp.AggregateExpr):
            return self.aggregate(node)
        if isinstance(node, pp.BinaryExpr):
            return self.binary(node)
        return Shape("vector", open=True)

    def _metric_of(self, node: Any) -> str:
        """A readable name for the operand in problem reports: its first metric name."""
        import promql_parser as pp

        found: list[str] = []

        def visit(n: Any) -> None:
            if isinstance(n, pp.VectorSelector) and not found:
                found.append(n.name or next((m.value for m in n.matchers.matchers if m.name == "__name__"), "?"))

        pp.walk(node, visit)
        return found[0] if found else "?"

    def call(self, node: Any) -> Shape:
        import promql_parser as pp

        name = node.func.name
        shapes = [self.infer(a) for a in node.args]
        strings = [a.val if isinstance(a, pp.StringLiteral) else None for a in node.args]
        vector = next((s for s in shapes if s.kind == "vector"), None)
        if str(node.func.return_type) == "ValueType.Scalar":
            return _SCALAR
        if str(node.func.return_type) == "ValueType.String":
            return _STRING
        if name == "vector":
            return Shape("vector")
        if name in ("absent", "absent_over_time"):
            return Shape("vector")
        if vector is None:
            return Shape("vector")
        if name == "label_replace" and len(strings) >= 4:
            metric = self._metric_of(node.args[0])
            if strings[3]:
                self._label(metric, strings[3], vector, "label_replace source")
            return Shape("vector", vector.labels | ({strings[1]} if strings[1] else set()), vector.open)
        if name == "label_join" and len(strings) >= 3:
            metric = self._metric_of(node.args[0])
            for src in strings[3:]:
                if src:
                    self._label(metric, src, vector, "label_join source")
            return Shape("vector", vector.labels | ({strings[1]} if strings[1] else set()), vector.open)
        if name == "histogram_quantile" and len(shapes) == 2:
            self._label(self._metric_of(node.args[1]), "le", shapes[1], "histogram_quantile")
            return Shape("vector", shapes[1].labels - {"le"}, shapes[1].open)
        if name in ("sort_by_label", "sort_by_label_desc"):
            for s in strings[1:]:
                if s:
                    self._label(self._metric_of(node.args[0]), s, vector, name)
        return vector

    def aggregate(self, node: Any) -> Shape:
        import promql_parser as pp

        inner = self.infer(node.expr)
        param = node.param
        if param is not None and not isinstance(param, (pp.NumberLiteral, pp.StringLiteral)):
            self.infer(param)
        op = str(node.op)
        modifier = node.modifier
        labels = list(modifier.labels) if modifier else []
        without = bool(modifier) and str(modifier.type) == "AggModifierType.Without"
        metric = self._metric_of(node.expr)
        for label in labels:
            self._label(metric, label, inner, f"{op} {'without' if without else 'by'} ({', '.join(labels)})")
        if op in ("topk", "bottomk", "limitk", "limit_ratio"):
            return inner
        extra = {param.val} if op == "count_values" and isinstance(param, pp.StringLiteral) else set()
        if without:
            return Shape("vector", (inner.labels - set(labels)) | extra, inner.open)
        # `by` an absent mixin label (see MIXIN_OPTIONAL_LABELS) leaves it absent in the result.
        kept = {label for label in labels if label not in self.absent_ok or label in inner.labels or inner.open}
        return Shape("vector", frozenset(kept) | extra)

    def binary(self, node: Any) -> Shape:
        lhs, rhs = self.infer(node.lhs), self.infer(node.rhs)
        if lhs.kind != "vector" and rhs.kind != "vector":
            return _SCALAR
        if lhs.kind != "vector":
            return rhs
        if rhs.kind != "vector":
            return lhs
        op = str(node.op)
        modifier = node.modifier
        matching = modifier.matching if modifier else None
        on = bool(matching) and str(matching.type) == "LabelModifierType.Include"
        match_labels = list(matching.labels) if matching else []
        card = str(modifier.card) if modifier else "VectorMatchCardinality.OneToOne"
        include = list(modifier.group_labels or []) if modifier else []
        lname, rname = self._metric_of(node.lhs), self._metric_of(node.rhs)
        clause = f"{'on' if on else 'ignoring'} ({', '.join(match_labels)})"
        for label in match_labels:
            if on:
                self._label(lname, label, lhs, clause)
                self._label(rname, label, rhs, clause)
            elif not (lhs.open or rhs.open) and label not in lhs.labels | rhs.labels:
                self._label(lname, label, lhs, clause)
        if card.endswith("ManyToOne"):
            for label in include:
                self._label(rname, label, rhs, f"group_left ({', '.join(include)})")
        elif card.endswith("OneToMany"):
            for label in include:
                self._label(lname, label, lhs, f"group_right ({', '.join(include)})")
        if op in ("and", "unless"):
            return lhs
        if op == "or":
            return Shape("vector", lhs.labels | rhs.labels, lhs.open or rhs.open)
        if card.endswith("ManyToOne"):
            return Shape("vector", lhs.labels | set(include), lhs.open)
        if card.endswith("OneToMany"):
            return Shape("vector", rhs.labels | set(include), rhs.open)
        # one-to-one
        if not (lhs.open or rhs.open):
            left = lhs.labels & set(match_labels) if on else lhs.labels - set(match_labels)
            right = rhs.labels & set(match_labels) if on else rhs.labels - set(match_labels)
            if left != right:
                self._add(
                    "matching", "c", f"{lname} {op} {rname}", ",".join(sorted(left ^ right)),
                    f"one-to-one matching on different label sets: only in lhs {sorted(left - right)}, "
                    f"only in rhs {sorted(right - left)}; the operation never matches",
                )
        if on:
            return Shape("vector", lhs.labels & set(match_labels))
        return Shape("vector", lhs.labels - set(match_labels), lhs.open)


def _parse(expr: str) -> Any:
    import promql_parser

    return promql_parser.parse(expr)


def infer_shape(expression: Expression, available: dict[str, FamilyView], inv: StackInventory) -> tuple[Shape, list[Problem]]:
    checker = _Checker(available, inv, expression)
    try:
        shape = checker.infer(_parse(expression.expr))
    except ValueError as err:
        return Shape("vector", open=True), [
            Problem(expression.stack, "parse-error", "b", "", "", expression, f"promql_parser: {err}")
        ]
    return shape, checker.problems


def recorded_families(expressions: Iterable[Expression], base: dict[str, FamilyView], inv: StackInventory) -> dict[str, FamilyView]:
    """Series written by the stack's recording rules and ALERTS/ALERTS_FOR_STATE, with their labels."""
    rules = [e for e in expressions if e.source == "rule"]
    rules_ref = PRODUCERS["prometheus-rules"].ref
    recorded: dict[str, FamilyView] = {}
    for _ in range(8):  # recording rules may read each other: iterate to a fixed point
        available = {**base, **recorded}
        new: dict[str, FamilyView] = {}
        for e in rules:
            if not e.record:
                continue
            inner = Expression(e.stack, e.source, e.file, e.name, e.expr, RULES)
            checker = _Checker(available, inv, inner, record_problems=False)
            try:
                shape = checker.infer(_parse(e.expr))
            except ValueError:
                shape = Shape("vector", open=True)
            view = FamilyView(e.record, shape.labels | set(e.rule_labels), ("prometheus-rules",), shape.open, rules_ref, True)
            new[e.record] = _merge(new.get(e.record), view)
        if new == recorded:
            break
        recorded = new
    alert_labels: set[str] = {"alertname"}
    alert_open = False
    available = {**base, **recorded}
    for e in rules:
        if not e.alert:
            continue
        checker = _Checker(available, inv, Expression(e.stack, e.source, e.file, e.name, e.expr, RULES), record_problems=False)
        try:
            shape = checker.infer(_parse(e.expr))
        except ValueError:
            shape = Shape("vector", open=True)
        alert_labels |= shape.labels | set(e.rule_labels)
        alert_open |= shape.open
    if any(e.alert for e in rules):
        recorded["ALERTS"] = FamilyView("ALERTS", frozenset(alert_labels | {"alertstate"}), ("prometheus-rules",), alert_open, rules_ref, True)
        recorded["ALERTS_FOR_STATE"] = FamilyView(
            "ALERTS_FOR_STATE", frozenset(alert_labels), ("prometheus-rules",), alert_open, rules_ref, True
        )
    return recorded


def check_expressions(expressions: list[Expression], inv: StackInventory) -> list[Problem]:
    """Problems of every expression against the stack's producers (and its recorded series)."""
    base = available_families(inv.producers, inv)
    available = {**base, **recorded_families(expressions, base, inv)}
    problems: list[Problem] = []
    seen: set[tuple] = set()
    claims = {c.name: c for c in COVERAGE_CLAIMS}
    for e in expressions:
        shape, found = infer_shape(e, available, inv)
        for label in e.labels_used:
            checker = _Checker(available, inv, e)
            checker._label(e.expr.split("{")[0].strip(), label, shape, "label_values()")
            found += checker.problems
        title = e.name.split(" / ", 1)[-1]
        claim = claims.get(e.alert or "") or (claims.get(title) if e.source == "panel" else None)
        read = [m for m in _claim_metrics(e, available) if claim and re.fullmatch(claim.reads, m)]
        if claim and read:
            for pid in claim.producers:
                if pid not in inv.producers:
                    p = PRODUCERS[pid]
                    found.append(
                        Problem(
                            e.stack, "coverage", "a", "/".join(read), "", e,
                            f"claims to watch {pid}, which is not scraped ({claim.reason})",
                            p.how_to_deploy or p.description, p.ref,
                        )
                    )
        for problem in found:
            key = (problem.kind, problem.metric, problem.label, problem.detail if problem.kind == "coverage" else "", e.source, e.file, e.name, e.expr)
            if key not in seen:
                seen.add(key)
                problems.append(problem)
    return problems


def _claim_metrics(e: Expression, available: dict[str, FamilyView]) -> list[str]:
    import promql_parser as pp

    names: list[str] = []

    def visit(n: Any) -> None:
        if isinstance(n, pp.VectorSelector):
            names.append(n.name or next((m.value for m in n.matchers.matchers if m.name == "__name__"), "?"))

    try:
        pp.walk(_parse(e.expr), visit)
    except ValueError:
        pass
    return list(dict.fromkeys(names)) or ["?"]


def check_stack(stack: str, stack_dir: str | Path) -> tuple[StackInventory, list[Expression], list[Problem]]:
    inv = inventory_from_render(stack_dir)
    expressions = collect_expressions(stack, stack_dir)
    return inv, expressions, check_expressions(expressions, inv)


def format_problems(problems: Iterable[Problem]) -> str:
    """One block per (cause, kind, metric, label), listing where it is read."""
    grouped: dict[tuple, list[Problem]] = {}
    for p in problems:
        detail = p.detail if p.kind == "coverage" else ""
        grouped.setdefault((p.stack, p.cause, p.kind, p.metric, p.label, detail), []).append(p)
    lines = []
    for (stack, cause, kind, metric, label, _), items in sorted(grouped.items()):
        first = items[0]
        label_text = f" label {label!r}" if label else ""
        lines.append(f"[{stack}] ({cause}) {kind}: {metric}{label_text}: {first.detail}")
        if first.hint:
            lines.append(f"    fix: {first.hint}")
        if first.ref:
            lines.append(f"    Ref: {first.ref}")
        for where in sorted({p.expression.where for p in items}):
            lines.append(f"    - {where}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """python -m monitoring.metrics_contract <stack> <render dir of that stack>"""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m monitoring.metrics_contract <stack> <render-dir/stack>", file=sys.stderr)
        return 2
    inv, expressions, problems = check_stack(args[0], args[1])
    print(f"producers: {', '.join(sorted(inv.producers))}")
    if inv.unmapped:
        print(f"scrape objects without a known producer: {', '.join(inv.unmapped)}")
    print(f"{len(expressions)} expressions, {len(problems)} problems")
    print(format_problems(problems))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
