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
from monitoring.dashboards import BuiltDashboard, build_dashboards
from monitoring.windows import check_windows
from plan.alerting import AlertingPlan, alerting_plan
from plan.context import PlatformContext, platform_context
from plan.influxdb import InfluxdbPlan, influxdb_plan
from plan.object_storage import ObjectStoragePlan, object_storage_plan
from plan.prometheus_stack import PrometheusPlan, prometheus_plan
from plan.secrets import SecretKey, required_secrets
from plan.settings import StackSettings, retentions
from plan.thanos import ThanosPlan, query_endpoint, thanos_plan

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
    dashboards: tuple[BuiltDashboard, ...]
    # What the stack will not measure or notify: logged by the program, before any resource.
    warnings: tuple[str, ...]


def build_plan(settings: StackSettings, name: str = PLATFORM_NAME) -> Plan:
    context = platform_context(settings, name)
    alerting = alerting_plan(settings)
    dashboards = tuple(
        build_dashboards(settings.environment, slos=alerting.slos, without=settings.undeployed_producers)
    )
    # Every rule and panel the stack deploys, against the data its engine keeps (monitoring/windows.py);
    # each problem names its retention key, e.g. "prometheus.retention: 2d is shorter than ...".
    problems = check_windows(alerting.rule_files, [(d.title, d.model) for d in dashboards], retentions(settings))
    if problems:
        # The first problem of each key: one line says what to raise; the rest follow from it.
        first: dict[str, str] = {}
        for problem in problems:
            first.setdefault(problem.split(": ", 1)[0], problem)
        raise PlanError(list(first.values()))
    warnings = []
    if receivers := missing_receivers_warning(alerting.spec, "alerting"):
        warnings.append(receivers)
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
        dashboards=dashboards,
        warnings=tuple(warnings),
    )
