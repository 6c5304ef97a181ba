"""The plan: everything one stack deploys, computed from its validated settings before the first
resource exists.

`build_plan(settings)` is pure (no Pulumi import; tests/test_architecture.py holds the layer) and
runs once per program run. Whatever it finds wrong it raises as a PlanError: one line per problem,
each starting with the stack-file key, which stacks/config.py reports like a settings error.
Components then deploy their slice of the plan; the render (tools/render.py) writes it out beside
the resources, so a reviewer reads the same values, configs and rules the cluster gets.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitoring.alertmanager import missing_receivers_warning
from monitoring.windows import check_windows
from plan.alerting import AlertingPlan, alerting_plan
from plan.cni import CniPlan, cni_plan
from plan.context import PlatformContext, platform_context
from plan.elasticsearch import ElasticsearchPlan, elasticsearch_plan
from plan.exporters import (
    ElasticsearchExporterPlan,
    ExportersPlan,
    PushgatewayPlan,
    elasticsearch_exporter_plan,
    exporter_warnings,
    exporters_plan,
    pushgateway_plan,
)
from plan.fluent_bit import FluentBitPlan, fluent_bit_plan
from plan.grafana import GrafanaPlan, grafana_plan, grafana_warnings
from plan.grafana_content import GrafanaContentPlan, grafana_content_plan, platform_datasources
from plan.influxdb import InfluxdbPlan, influxdb_plan
from plan.network_policies import NetworkPoliciesPlan, network_policies_plan
from plan.opencost import OpencostPlan, opencost_plan
from plan.otel_operator import OtelOperatorPlan, otel_operator_plan
from plan.object_storage import ObjectStoragePlan, object_storage_plan
from plan.ownership import OwnershipPlan, ownership_plan
from plan.pagerduty import PagerDutyPlan, pagerduty_plan, pagerduty_warnings
from plan.prometheus_stack import PrometheusPlan, prometheus_plan
from plan.reports import ReportJobPlan, report_job_plan
from plan.secrets import SecretKey, required_secrets
from plan.settings import StackSettings, retentions
from plan.thanos import ThanosPlan, query_endpoint, thanos_plan
from plan.tracing import COLLECTOR_OTLP_GRPC_PORT_NAME, COLLECTOR_OTLP_HTTP_PORT_NAME, TracingPlan, tracing_plan
from plan.trivy_operator import TrivyOperatorPlan, trivy_operator_plan

PLATFORM_NAME = "terrafusion"


class PlanError(ValueError):
    """What the plan cannot be built from: one problem per line, each `<stack-file key>: <message>`."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Plan:
    settings: StackSettings
    context: PlatformContext
    # The secret config keys the stack reads (their values never enter the plan).
    secrets: tuple[SecretKey, ...]
    alerting: AlertingPlan
    object_storage: ObjectStoragePlan
    influxdb: InfluxdbPlan
    prometheus: PrometheusPlan
    thanos: ThanosPlan
    elasticsearch: ElasticsearchPlan
    fluent_bit: FluentBitPlan
    tracing: TracingPlan
    exporters: ExportersPlan
    elasticsearch_exporter: ElasticsearchExporterPlan
    pushgateway: PushgatewayPlan
    grafana: GrafanaPlan
    # Teams, folders, permissions and every dashboard the stack deploys.
    grafana_content: GrafanaContentPlan
    # None where the stack does not deploy them (security.trivyOperator.enabled, cluster.cni).
    trivy_operator: TrivyOperatorPlan | None
    cni: CniPlan | None
    # None where the stack does not deploy it (costs.enabled).
    opencost: OpencostPlan | None
    # Auto-instrumentation by pod annotation; None where the stack does not deploy it (otelOperator.enabled).
    otel_operator: OtelOperatorPlan | None
    # The weekly SLO report and alert review CronJob; None where the stack does not run it (reports.enabled).
    reports: ReportJobPlan | None
    # Ingress into every platform pod: the flow table and its policies.
    network_policies: NetworkPoliciesPlan
    # Service areas, their teams, rotations and escalation chains (the on-call table).
    ownership: OwnershipPlan
    # The ownership model as PagerDuty objects; None where PagerDuty is off (alerting.receivers.pagerduty).
    pagerduty: PagerDutyPlan | None
    # What the stack will not measure or notify: logged by the program, before any resource.
    warnings: tuple[str, ...]

    def endpoints(self) -> dict[str, str]:
        """The in-cluster addresses the stack exports (`pulumi stack output endpoints`)."""
        tracing = self.tracing
        return {
            "prometheus": self.prometheus.prometheus.url("http-web"),
            "alertmanager": self.prometheus.alertmanager.url("http-web"),
            "thanos_query": self.thanos.query.url("http"),
            "thanos_query_frontend": self.thanos.query_frontend.url("http"),
            "grafana_in_cluster": self.grafana.endpoint.url(),
            "influxdb": self.influxdb.endpoint.url(),
            "elasticsearch": self.elasticsearch.http.url(),
            "jaeger_query": tracing.jaeger_query.url(),
            "otlp_grpc": tracing.collector_otlp.address(COLLECTOR_OTLP_GRPC_PORT_NAME),
            "otlp_http": tracing.collector_otlp.url(COLLECTOR_OTLP_HTTP_PORT_NAME),
            # Browsers' OTLP/HTTP endpoint (otelCollector.ingress), when the stack has one.
            **({"otlp_http_public": url} if (url := tracing.otlp_http_public_url) else {}),
            "pushgateway": self.pushgateway.endpoint.url(),
        }


def _first_per_key(problems: list[str]) -> list[str]:
    """The first problem of each key: one line says what to raise; the rest follow from it."""
    first: dict[str, str] = {}
    for problem in problems:
        first.setdefault(problem.split(": ", 1)[0], problem)
    return list(first.values())


def build_plan(settings: StackSettings, name: str = PLATFORM_NAME) -> Plan:
    context = platform_context(settings, name)
    alerting = alerting_plan(settings)
    bucket = object_storage_plan(settings)
    influxdb = influxdb_plan(settings, context)
    prometheus = prometheus_plan(settings, bucket.secret, (influxdb.remote_write,), query_endpoint(settings.namespace))
    thanos = thanos_plan(settings, bucket.secret, (prometheus.thanos_sidecar,), (prometheus.thanos_ruler,))
    elasticsearch = elasticsearch_plan(settings, context)
    tracing = tracing_plan(settings, context, elasticsearch.http, thanos.query)
    exporters = exporters_plan(settings)
    trivy = trivy_operator_plan(settings)
    opencost = opencost_plan(settings, thanos.query)
    otel_operator = otel_operator_plan(
        settings, context.labels("otel-operator", "instrumentation"), tracing.collector_otlp, tracing.sampling
    )
    datasources = platform_datasources(
        settings, thanos=thanos, prometheus=prometheus, influxdb=influxdb, elasticsearch=elasticsearch, tracing=tracing
    )
    grafana_content = grafana_content_plan(settings, alerting.slos, datasources)
    # Every rule and panel the stack deploys, against the data its engine keeps (monitoring/windows.py);
    # each problem names its retention key, e.g. "prometheus.retention: 2d is shorter than ...".
    dashboards = [(d.title, d.model) for d in grafana_content.dashboards]
    if problems := check_windows(alerting.rule_files, dashboards, retentions(settings)):
        raise PlanError(_first_per_key(problems))
    warnings = exporter_warnings(settings.exporters.blackbox, settings.exporters.postgres)
    if receivers := missing_receivers_warning(alerting.spec, "alerting"):
        warnings.append(receivers)
    warnings += pagerduty_warnings(settings)
    warnings += grafana_warnings(settings)
    ownership = ownership_plan(settings)
    reports = report_job_plan(settings, context, alerting, thanos.query)
    return Plan(
        settings=settings,
        context=context,
        secrets=required_secrets(settings),
        alerting=alerting,
        object_storage=bucket,
        influxdb=influxdb,
        prometheus=prometheus,
        thanos=thanos,
        elasticsearch=elasticsearch,
        fluent_bit=fluent_bit_plan(settings, context, elasticsearch.http),
        tracing=tracing,
        exporters=exporters,
        elasticsearch_exporter=elasticsearch_exporter_plan(settings, elasticsearch.http),
        pushgateway=pushgateway_plan(settings),
        grafana=grafana_plan(settings),
        grafana_content=grafana_content,
        trivy_operator=trivy,
        cni=cni_plan(settings),
        opencost=opencost,
        otel_operator=otel_operator,
        reports=reports,
        network_policies=network_policies_plan(
            settings, context, influxdb=influxdb, elasticsearch_plan=elasticsearch, tracing_plan=tracing,
            exporters_plan=exporters, prometheus=prometheus, trivy=trivy, opencost=opencost,
            otel_operator=otel_operator, reports=reports,
        ),
        ownership=ownership,
        pagerduty=pagerduty_plan(settings, context, ownership),
        warnings=tuple(warnings),
    )
