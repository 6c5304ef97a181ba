"""The platform's NetworkPolicies, planned: a default deny of ingress in every namespace it owns, and one
policy per component allowing exactly the flows of monitoring/network_policy.py into it.

This module knows what the pods look like: the labels each chart or operator puts on them (read
in the rendered templates and, for operator-created pods, in the operators' source) and the ports
each component defines. The flow table itself, who may talk to whom and why, is the pure builder's.

Pod selectors, by where the labels come from:
- charts: `app.kubernetes.io/name` (the chart's name) plus `app.kubernetes.io/component` where
  one release runs several workloads (Thanos, Jaeger's all-in-one, the collector); InfluxDB adds
  its release's instance label because the schema Job's pods share its name label.
- Prometheus and Alertmanager pods (prometheus-operator): `app.kubernetes.io/name` and the
  resource's name in `operator.prometheus.io/name` / `alertmanager`.
  Ref: prometheus-operator v0.93.0 pkg/prometheus/server/operator.go and
  pkg/alertmanager/operator.go, `makeSelectorLabels`.
- Elasticsearch pods (ECK): `common.k8s.elastic.co/type: elasticsearch` and
  `elasticsearch.k8s.elastic.co/cluster-name`. Ref: ECK v3.5.0 pkg/controller/elasticsearch/label/label.go
- the program's Jobs: the labels their components give them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from monitoring import fluentbit, otel, tracing
from monitoring.network_policy import (
    ClusterDns,
    Exposure,
    FlowTable,
    PlatformPorts,
    PlatformWorkloads,
    Port,
    Workload,
    network_policies,
    platform_flow_table,
)
from plan import elasticsearch, exporters, grafana, influxdb as influxdb_facts, opencost as opencost_facts, otel_operator as otel_operator_facts, prometheus_stack as kps, thanos, trivy_operator
from plan.context import PlatformContext
from plan.elasticsearch import ElasticsearchPlan
from plan.exporters import ExportersPlan
from plan.influxdb import InfluxdbPlan
from plan.labels import standard_labels
from plan.prometheus_stack import PrometheusPlan
from plan.settings import NetworkPolicySettings, StackSettings
from plan.tracing import TracingPlan
from plan.opencost import OpencostPlan
from plan.otel_operator import OtelOperatorPlan
from plan.reports import ReportJobPlan
from plan.trivy_operator import TrivyOperatorPlan
from plan.versions import (
    ELASTICSEARCH_EXPORTER,
    GRAFANA,
    JAEGER,
    KUBE_PROMETHEUS_STACK,
    OTEL_COLLECTOR,
    PUSHGATEWAY,
    THANOS,
    TRIVY_OPERATOR,
)


NAME = "app.kubernetes.io/name"
COMPONENT = "app.kubernetes.io/component"
INSTANCE = "app.kubernetes.io/instance"


@dataclass(frozen=True)
class Workloads:
    """What the other slices say about the pods that charts do not label (the module docstring)."""

    namespace: str
    # Node agents (node-exporter, the Fluent Bit DaemonSet) run here.
    agents_namespace: str
    influxdb_labels: Mapping[str, str]
    influxdb_schema_job_labels: Mapping[str, str]
    elasticsearch_lifecycle_job_labels: Mapping[str, str]
    jaeger_retention_job_labels: Mapping[str, str]
    # The Elasticsearch vm.max_map_count DaemonSet's pod labels, when the stack runs it.
    max_map_count_labels: Mapping[str, str] | None
    blackbox_exporter: bool
    postgres_exporter: bool
    thanos_ruler: bool
    trivy_operator: bool
    # OpenCost's pod labels, when the stack runs it.
    opencost_labels: Mapping[str, str] | None = None
    # The collector chart's releases: both label their pods alike but for the instance label.
    collector_release: str = ""
    servicegraph_release: str | None = None
    # The OpenTelemetry Operator's pod labels, when the stack runs it.
    otel_operator_labels: Mapping[str, str] | None = None
    # The weekly report job's pod labels, when the stack runs it.
    report_job_labels: Mapping[str, str] | None = None
    # The Jaeger dependency-links job's pod labels, when the stack runs it.
    jaeger_dependencies_job_labels: Mapping[str, str] | None = None


@dataclass(frozen=True)
class NetworkPoliciesPlan:
    name: str
    # Who may reach whom (docs/network-policies.md is generated from it) and the policies it makes.
    table: FlowTable
    manifests: tuple[Mapping[str, Any], ...]
    # Namespace -> the role its default-deny policy's resource name says ("platform", "agents").
    namespace_roles: Mapping[str, str]


def platform_ports() -> PlatformPorts:
    return PlatformPorts(
        prometheus_web=Port(kps.PROMETHEUS_PORT),
        thanos_sidecar_grpc=Port(kps.THANOS_GRPC_PORT),
        alertmanager_web=Port(kps.ALERTMANAGER_PORT),
        alertmanager_mesh_tcp=Port(kps.ALERTMANAGER_MESH_PORT, "TCP"),
        alertmanager_mesh_udp=Port(kps.ALERTMANAGER_MESH_PORT, "UDP"),
        thanos_http=Port(thanos.HTTP_PORT),
        thanos_grpc=Port(thanos.GRPC_PORT),
        grafana_http=Port(grafana.HTTP_PORT),
        influxdb_http=Port(influxdb_facts.PORT),
        elasticsearch_http=Port(elasticsearch.HTTP_PORT),
        elasticsearch_transport=Port(elasticsearch.TRANSPORT_PORT),
        eck_webhook=Port(elasticsearch.OPERATOR_WEBHOOK_PORT),
        jaeger_otlp_grpc=Port(tracing.OTLP_GRPC_PORT),
        jaeger_query_http=Port(tracing.QUERY_HTTP_PORT),
        jaeger_sampling_http=Port(tracing.SAMPLING_HTTP_PORT),
        jaeger_sampling_grpc=Port(tracing.SAMPLING_GRPC_PORT),
        collector_otlp_grpc=Port(otel.OTLP_GRPC_PORT),
        collector_otlp_http=Port(otel.OTLP_HTTP_PORT),
        blackbox_probe=Port(exporters.BLACKBOX_PORT),
        pushgateway_http=Port(exporters.PUSHGATEWAY_PORT),
        thanos_ruler_grpc=Port(kps.THANOS_RULER_GRPC_PORT),
        otel_operator_webhook=Port(otel_operator_facts.WEBHOOK_PORT),
    )


def platform_workloads(args: Workloads) -> PlatformWorkloads:
    ns, agents = args.namespace, args.agents_namespace

    def chart_pods(key: str, title: str, labels: Mapping[str, str], *metrics: int, namespace: str = ns, **kw) -> Workload:
        return Workload.of(key, title, namespace, labels, metrics_ports=tuple(Port(p) for p in metrics), **kw)

    def thanos_pods(component: str, title: str) -> Workload:
        return chart_pods(f"thanos-{component}", title, {NAME: THANOS.chart, COMPONENT: component}, thanos.HTTP_PORT)

    return PlatformWorkloads(
        prometheus=chart_pods(
            "prometheus", "Prometheus (+ Thanos sidecar)",
            {NAME: "prometheus", "operator.prometheus.io/name": kps.PROMETHEUS_NAME},
            kps.PROMETHEUS_PORT, kps.CONFIG_RELOADER_PORT, kps.THANOS_SIDECAR_HTTP_PORT,
        ),
        alertmanager=chart_pods(
            "alertmanager", "Alertmanager", {NAME: "alertmanager", "alertmanager": kps.ALERTMANAGER_NAME},
            kps.ALERTMANAGER_PORT, kps.CONFIG_RELOADER_PORT,
        ),
        prometheus_operator=chart_pods(
            "prometheus-operator", "Prometheus Operator",
            {NAME: f"{KUBE_PROMETHEUS_STACK.chart}-prometheus-operator"}, kps.OPERATOR_PORT,
        ),
        kube_state_metrics=chart_pods(
            "kube-state-metrics", "kube-state-metrics", {NAME: "kube-state-metrics"}, kps.KUBE_STATE_METRICS_PORT
        ),
        node_exporter=chart_pods(
            "node-exporter", "node-exporter (agents namespace, host network)", {NAME: "prometheus-node-exporter"},
            kps.NODE_EXPORTER_PORT, namespace=agents, host_network=True,
        ),
        thanos_query=thanos_pods("query", "Thanos query"),
        thanos_query_frontend=thanos_pods("query-frontend", "Thanos query-frontend"),
        thanos_store_gateway=thanos_pods("store-gateway", "Thanos store gateway"),
        thanos_compactor=thanos_pods("compact", "Thanos compactor"),
        grafana=chart_pods("grafana", "Grafana", {NAME: GRAFANA.chart}, grafana.HTTP_PORT),
        influxdb=chart_pods("influxdb", "InfluxDB", args.influxdb_labels, influxdb_facts.PORT),
        influxdb_schema_job=chart_pods("influxdb-schema-job", "InfluxDB schema Job", args.influxdb_schema_job_labels),
        elasticsearch=chart_pods(
            "elasticsearch", "Elasticsearch",
            {"common.k8s.elastic.co/type": "elasticsearch", "elasticsearch.k8s.elastic.co/cluster-name": elasticsearch.CLUSTER},
        ),
        elasticsearch_lifecycle_job=chart_pods(
            "elasticsearch-lifecycle-job", "Elasticsearch lifecycle Job", args.elasticsearch_lifecycle_job_labels
        ),
        eck_operator=chart_pods("eck-operator", "ECK operator", {NAME: "elastic-operator"}),
        jaeger=chart_pods("jaeger", "Jaeger", {NAME: JAEGER.chart, COMPONENT: "all-in-one"}, tracing.METRICS_PORT),
        jaeger_retention_job=chart_pods(
            "jaeger-retention-job", "Jaeger trace-retention CronJob", args.jaeger_retention_job_labels
        ),
        otel_collector=chart_pods(
            "otel-collector", "OpenTelemetry Collector",
            {NAME: OTEL_COLLECTOR.chart, INSTANCE: args.collector_release, "component": "standalone-collector"},
            otel.TELEMETRY_METRICS_PORT, otel.PROMETHEUS_EXPORTER_PORT,
        ),
        otel_servicegraph=(
            chart_pods(
                "otel-servicegraph", "OpenTelemetry Collector, service graph tier",
                {NAME: OTEL_COLLECTOR.chart, INSTANCE: args.servicegraph_release, "component": "standalone-collector"},
                otel.TELEMETRY_METRICS_PORT, otel.PROMETHEUS_EXPORTER_PORT,
            )
            if args.servicegraph_release is not None
            else None
        ),
        # Both Fluent Bit releases label their pods alike; their namespaces tell them apart.
        fluent_bit_node=chart_pods(
            "fluent-bit-node", "Fluent Bit DaemonSet (agents namespace)", {NAME: "fluent-bit"},
            fluentbit.HTTP_PORT, namespace=agents,
        ),
        fluent_bit_events=chart_pods("fluent-bit-events", "Fluent Bit events", {NAME: "fluent-bit"}, fluentbit.HTTP_PORT),
        elasticsearch_exporter=chart_pods(
            "elasticsearch-exporter", "elasticsearch_exporter", {NAME: ELASTICSEARCH_EXPORTER.chart}, exporters.ES_EXPORTER_PORT
        ),
        pushgateway=chart_pods("pushgateway", "Pushgateway", {NAME: PUSHGATEWAY.chart}, exporters.PUSHGATEWAY_PORT),
        blackbox_exporter=(
            chart_pods("blackbox-exporter", "blackbox exporter", {NAME: "prometheus-blackbox-exporter"})
            if args.blackbox_exporter
            else None
        ),
        postgres_exporter=(
            chart_pods("postgres-exporter", "postgres_exporter", {NAME: "prometheus-postgres-exporter"}, exporters.POSTGRES_PORT)
            if args.postgres_exporter
            else None
        ),
        # ThanosRuler pods (prometheus-operator): pkg/thanos/operator.go makeSelectorLabels.
        thanos_ruler=(
            chart_pods(
                "thanos-ruler", "Thanos Ruler", {NAME: "thanos-ruler", "thanos-ruler": kps.THANOS_RULER_NAME},
                kps.THANOS_RULER_HTTP_PORT,
            )
            if args.thanos_ruler
            else None
        ),
        trivy_operator=(
            chart_pods("trivy-operator", "Trivy Operator", {NAME: TRIVY_OPERATOR.chart}, trivy_operator.METRICS_PORT)
            if args.trivy_operator
            else None
        ),
        trivy_scan_jobs=(
            chart_pods("trivy-scan-jobs", "Trivy Operator scan Jobs", trivy_operator.SCAN_JOB_LABELS)
            if args.trivy_operator
            else None
        ),
        opencost=(
            chart_pods("opencost", "OpenCost", args.opencost_labels, opencost_facts.API_PORT)
            if args.opencost_labels is not None
            else None
        ),
        otel_operator=(
            chart_pods("otel-operator", "OpenTelemetry Operator", args.otel_operator_labels)
            if args.otel_operator_labels is not None
            else None
        ),
        report_job=(
            chart_pods("report-job", "weekly report CronJob", args.report_job_labels)
            if args.report_job_labels is not None
            else None
        ),
        jaeger_dependencies_job=(
            chart_pods("jaeger-dependencies-job", "Jaeger dependency-links CronJob", args.jaeger_dependencies_job_labels)
            if args.jaeger_dependencies_job_labels is not None
            else None
        ),
        max_map_count_setter=(
            chart_pods(
                "elasticsearch-max-map-count", "Elasticsearch vm.max_map_count DaemonSet (agents namespace)",
                args.max_map_count_labels, namespace=agents,
            )
            if args.max_map_count_labels is not None
            else None
        ),
    )  # fmt: skip


def flow_table(args: Workloads, settings: NetworkPolicySettings) -> FlowTable:
    exposure = Exposure.of(
        settings.ingress_namespace_selector, settings.api_server_cidrs, ClusterDns.of(settings.dns.namespace, settings.dns.pod_labels)
    )
    return platform_flow_table(platform_workloads(args), platform_ports(), exposure)


def network_policies_plan(
    settings: StackSettings,
    context: PlatformContext,
    *,
    influxdb: InfluxdbPlan,
    elasticsearch_plan: ElasticsearchPlan,
    tracing_plan: TracingPlan,
    exporters_plan: ExportersPlan,
    prometheus: PrometheusPlan,
    trivy: TrivyOperatorPlan | None,
    opencost: OpencostPlan | None = None,
    otel_operator: OtelOperatorPlan | None = None,
    reports: ReportJobPlan | None = None,
) -> NetworkPoliciesPlan:
    workloads = Workloads(
        namespace=context.namespace,
        agents_namespace=context.agents_namespace,
        influxdb_labels=influxdb.pod_labels,
        influxdb_schema_job_labels=influxdb.labels,
        elasticsearch_lifecycle_job_labels=elasticsearch_plan.lifecycle.labels,
        jaeger_retention_job_labels=tracing_plan.retention_labels,
        max_map_count_labels=elasticsearch_plan.max_map_count.labels if elasticsearch_plan.max_map_count else None,
        blackbox_exporter=exporters_plan.blackbox_values is not None,
        postgres_exporter=exporters_plan.postgres_values is not None,
        thanos_ruler=prometheus.ruler,
        trivy_operator=trivy is not None,
        opencost_labels=opencost.pod_labels if opencost is not None else None,
        collector_release=tracing_plan.collector_release,
        servicegraph_release=tracing_plan.servicegraph_release,
        otel_operator_labels=otel_operator.pod_labels if otel_operator is not None else None,
        report_job_labels=reports.labels if reports is not None else None,
        jaeger_dependencies_job_labels=tracing_plan.dependencies.labels if tracing_plan.dependencies is not None else None,
    )
    name = f"{context.name}-network-policies"
    table = flow_table(workloads, settings.network_policy)
    return NetworkPoliciesPlan(
        name=name,
        table=table,
        manifests=tuple(network_policies(table, standard_labels("network-policies", name, "ingress"))),
        namespace_roles={context.agents_namespace: "agents", context.namespace: "platform"},
    )
