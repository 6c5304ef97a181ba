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
from plan.grafana import GrafanaPlan, grafana_plan
from plan.grafana_content import GrafanaContentPlan, grafana_content_plan
from plan.influxdb import InfluxdbPlan, influxdb_plan
from plan.object_storage import ObjectStoragePlan, object_storage_plan
from plan.prometheus_stack import PrometheusPlan, prometheus_plan
from plan.secrets import SecretKey, required_secrets
from plan.settings import StackSettings, retentions
from plan.thanos import ThanosPlan, query_endpoint, thanos_plan
from plan.tracing import TracingPlan, tracing_plan
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
    # What the stack will not measure or notify: logged by the program, before any resource.
    warnings: tuple[str, ...]


def build_plan(settings: StackSettings, name: str = PLATFORM_NAME) -> Plan:
    context = platform_context(settings, name)
    alerting = alerting_plan(settings)
    grafana_content = grafana_content_plan(settings, alerting.slos)
    # Every rule and panel the stack deploys, against the data its engine keeps (monitoring/windows.py);
    # each problem names its retention key, e.g. "prometheus.retention: 2d is shorter than ...".
    dashboards = [(d.title, d.model) for d in grafana_content.dashboards]
    problems = check_windows(alerting.rule_files, dashboards, retentions(settings))
    if problems:
        # The first problem of each key: one line says what to raise; the rest follow from it.
        first: dict[str, str] = {}
        for problem in problems:
            first.setdefault(problem.split(": ", 1)[0], problem)
        raise PlanError(list(first.values()))
    warnings = exporter_warnings(settings.exporters.blackbox, settings.exporters.postgres)
    if receivers := missing_receivers_warning(alerting.spec, "alerting"):
        warnings.append(receivers)
    elasticsearch = elasticsearch_plan(settings, context)
    return Plan(
        settings=settings,
        context=context,
        secrets=required_secrets(settings),
        alerting=alerting,
        object_storage=(bucket := object_storage_plan(settings)),
        influxdb=(influxdb := influxdb_plan(settings, context)),
        prometheus=(prometheus := prometheus_plan(
            settings, bucket.secret, (influxdb.remote_write,), query_endpoint(settings.namespace)
        )),
        thanos=thanos_plan(settings, bucket.secret, (prometheus.thanos_sidecar,), (prometheus.thanos_ruler,)),
        elasticsearch=elasticsearch,
        fluent_bit=fluent_bit_plan(settings, context, elasticsearch.http),
        tracing=tracing_plan(settings, elasticsearch.http),
        exporters=exporters_plan(settings),
        elasticsearch_exporter=elasticsearch_exporter_plan(settings, elasticsearch.http),
        pushgateway=pushgateway_plan(settings),
        grafana=grafana_plan(settings),
        grafana_content=grafana_content,
        trivy_operator=trivy_operator_plan(settings),
        cni=cni_plan(settings),
        warnings=tuple(warnings),
    )
