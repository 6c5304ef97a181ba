"""The Grafana content slice of the plan: the teams, the folders (those Grafana's own provisioning
creates apart), each folder's permissions and the dashboards, as components/grafana_content.py
declares them through the Grafana provider, and the datasources, each addressing its system by that
system's endpoint (the passwords and the CA are Outputs: the component adds them under the UIDs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from monitoring.dashboards import (
    FOLDER_PERMISSIONS,
    FOLDERS,
    PROVISIONED_FOLDERS,
    BuiltDashboard,
    FolderSpec,
    build_dashboards,
)
from monitoring.dashboards.executive import CostView
from monitoring.datasources import (
    DatasourceSpec,
    logs_datasource,
    metrics_datasources,
    traces_datasource,
    trends_datasource,
)
from monitoring.ownership import people
from monitoring.slo_catalogue import Slo
from plan.pagerduty import person_slugs
from plan.elasticsearch import GRAFANA_USER as ES_GRAFANA_USER
from plan.elasticsearch import ElasticsearchPlan
from plan.influxdb import READER_USER as INFLUX_READER_USER
from plan.influxdb import InfluxdbPlan
from plan.prometheus_stack import PrometheusPlan
from plan.settings import StackSettings
from plan.thanos import ThanosPlan
from plan.tracing import TracingPlan


@dataclass(frozen=True)
class Team:
    """A Grafana team (grafana.teams)."""

    name: str
    # The team's part of its Pulumi resource name (plan/settings.py GrafanaTeam.slug).
    slug: str
    email: str | None
    members: tuple[str, ...]


@dataclass(frozen=True)
class User:
    """A person of the ownership model as a Grafana user (login = email): team members must exist
    as users before a team names them (pulumiverse-grafana 2.44.0 oss.Team `members`: "users
    specified here must already exist in Grafana"), so the program creates them; their first
    sign-in through the identity provider finds them by email (plan/grafana.py oidc_ini)."""

    email: str
    name: str
    slug: str


@dataclass(frozen=True)
class GrafanaContentPlan:
    users: tuple[User, ...]
    teams: tuple[Team, ...]
    # Folders the Grafana provider creates.
    folders: tuple[FolderSpec, ...]
    # Folders Grafana's own dashboard provisioning creates (the sidecar provider's folderUid,
    # plan/grafana.py): not created here, only their permissions set.
    provisioned_folders: tuple[FolderSpec, ...]
    # Folder uid -> team name -> View | Edit | Admin: each folder's only permissions.
    folder_permissions: Mapping[str, Mapping[str, str]]
    # Every dashboard the stack deploys (monitoring/dashboards), built with the SLOs in effect.
    dashboards: tuple[BuiltDashboard, ...]
    datasources: tuple[DatasourceSpec, ...]


def platform_datasources(
    settings: StackSettings,
    *,
    thanos: ThanosPlan,
    prometheus: PrometheusPlan,
    influxdb: InfluxdbPlan,
    elasticsearch: ElasticsearchPlan,
    tracing: TracingPlan,
) -> tuple[DatasourceSpec, ...]:
    """Grafana's datasources: metrics through the Thanos query-frontend, alerts from Alertmanager,
    trends from InfluxDB (its read-only user), logs from Elasticsearch (its reader), traces from Jaeger."""
    return (
        *metrics_datasources(
            thanos_url=thanos.query_frontend.url("http"),
            alertmanager_url=prometheus.alertmanager.url("http-web"),
            scrape_interval=settings.prometheus.scrape_interval,
        ),
        trends_datasource(influxdb.endpoint.url(), influxdb.database, influxdb.endpoint.user(INFLUX_READER_USER).username),
        logs_datasource(elasticsearch.http.url(), elasticsearch.http.user(ES_GRAFANA_USER.username).username),
        traces_datasource(tracing.jaeger_query.url()),
    )


def costs_view(settings: StackSettings) -> CostView:
    """The executive cost panels' currency and the platform's own namespaces (both of them)."""
    return CostView(currency=settings.costs.currency, platform_namespaces=(settings.namespace, settings.agents_namespace))


def grafana_content_plan(
    settings: StackSettings, slos: tuple[Slo, ...], datasources: tuple[DatasourceSpec, ...]
) -> GrafanaContentPlan:
    everybody = people(settings.ownership)
    slugs = person_slugs(list(everybody))
    return GrafanaContentPlan(
        users=tuple(User(email=email, name=person.name, slug=slugs[email]) for email, (_, person) in everybody.items()),
        teams=tuple(
            Team(name=team.name, slug=team.slug, email=team.email, members=settings.grafana_team_members(team))
            for team in settings.grafana.teams
        ),
        folders=tuple(f for f in FOLDERS if f not in PROVISIONED_FOLDERS),
        provisioned_folders=PROVISIONED_FOLDERS,
        folder_permissions={uid: dict(grants) for uid, grants in FOLDER_PERMISSIONS.items()},
        dashboards=tuple(
            build_dashboards(
                settings.environment, slos=slos, without=settings.undeployed_producers, costs_view=costs_view(settings)
            )
        ),
        datasources=datasources,
    )
