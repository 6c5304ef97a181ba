"""The Grafana content slice of the plan: the teams, the folders (those Grafana's own provisioning
creates apart), each folder's permissions and the dashboards, as components/grafana_content.py
declares them through the Grafana provider. The datasources need the other systems' URLs, which
components/platform.py still passes."""

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
from monitoring.slo_catalogue import Slo
from plan.settings import StackSettings


@dataclass(frozen=True)
class Team:
    """A Grafana team (grafana.teams)."""

    name: str
    # The team's part of its Pulumi resource name (plan/settings.py GrafanaTeam.slug).
    slug: str
    email: str | None
    members: tuple[str, ...]


@dataclass(frozen=True)
class GrafanaContentPlan:
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


def grafana_content_plan(settings: StackSettings, slos: tuple[Slo, ...]) -> GrafanaContentPlan:
    return GrafanaContentPlan(
        teams=tuple(
            Team(name=team.name, slug=team.slug, email=team.email, members=tuple(team.members))
            for team in settings.grafana.teams
        ),
        folders=tuple(f for f in FOLDERS if f not in PROVISIONED_FOLDERS),
        provisioned_folders=PROVISIONED_FOLDERS,
        folder_permissions={uid: dict(grants) for uid, grants in FOLDER_PERMISSIONS.items()},
        dashboards=tuple(build_dashboards(settings.environment, slos=slos, without=settings.undeployed_producers)),
    )
