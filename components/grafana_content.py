"""What lives inside Grafana, managed through the Grafana provider: datasources, teams, one
folder per audience with role-based permissions, and the dashboards.

Every object waits for the Grafana chart (`depends_on`), because the provider can only reach
Grafana once it runs. Teams, folders, permissions and dashboards are the plan's
(plan/grafana_content.py); dashboards are built by monitoring/dashboards and refer to datasources
only by their stable UIDs.
"""

from __future__ import annotations

import json
from typing import Mapping, Sequence

import pulumi
import pulumi_random as random
import pulumiverse_grafana as grafana

from plan.grafana_content import GrafanaContentPlan


class GrafanaContent(pulumi.ComponentResource):
    """Datasources with stable UIDs, and the teams that folder permissions are granted to."""

    datasource_uids: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        plan: GrafanaContentPlan,
        # Datasource uid -> secureJsonData (passwords, CA): Outputs, kept secret, encrypted by Grafana.
        datasource_secure_json: Mapping[str, Mapping[str, pulumi.Input[str]]],
        provider: grafana.Provider,
        grafana_ready: Sequence[pulumi.Resource],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("terrafusion:monitoring:GrafanaContent", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=list(grafana_ready))
        self.datasources = {
            spec.uid: grafana.oss.DataSource(
                f"{name}-datasource-{spec.uid}",
                uid=spec.uid,
                name=spec.name,
                type=spec.type,
                url=spec.url,
                is_default=spec.is_default,
                access_mode="proxy",
                json_data_encoded=json.dumps(spec.json_data, sort_keys=True),
                username=spec.username,
                basic_auth_enabled=spec.basic_auth_user is not None or None,
                basic_auth_username=spec.basic_auth_user,
                secure_json_data_encoded=_secure_json(datasource_secure_json.get(spec.uid)),
                opts=child,
            )
            for spec in plan.datasources
        }
        # Every person of the ownership model as a user, so the teams can name them (plan/grafana_content.py
        # User); nobody knows the generated password: people sign in through the identity provider.
        self.users = {}
        for user in plan.users:
            password = random.RandomPassword(
                f"{name}-user-{user.slug}-password", length=32, special=False, opts=pulumi.ResourceOptions(parent=self)
            )
            self.users[user.email] = grafana.oss.User(
                f"{name}-user-{user.slug}", email=user.email, login=user.email, name=user.name,
                password=password.result, opts=child,
            )
        self.teams = {
            team.name: grafana.oss.Team(
                f"{name}-team-{team.slug}",
                name=team.name,
                email=team.email,
                # The users' outputs: each team waits for the users it names.
                members=[self.users[email].email for email in team.members],
                opts=child,
            )
            for team in plan.teams
        }
        self.folders = {
            folder.uid: grafana.oss.Folder(f"{name}-folder-{folder.uid}", uid=folder.uid, title=folder.title, opts=child)
            for folder in plan.folders
        }
        # A provisioned folder exists once Grafana runs (its provisioning creates it at start-up,
        # before the first rescan), which is what `grafana_ready` waits for.
        folder_uids: dict[str, pulumi.Input[str]] = {f.uid: f.uid for f in plan.provisioned_folders}
        folder_uids |= {uid: folder.uid for uid, folder in self.folders.items()}
        for folder_uid, grants in sorted(plan.folder_permissions.items()):
            # Replaces the folder's whole permission list, which drops Grafana's default
            # Viewer/Editor role grants: only the listed teams (and Grafana admins) get in.
            grafana.oss.FolderPermission(
                f"{name}-permissions-{folder_uid}",
                folder_uid=folder_uids[folder_uid],
                permissions=[
                    grafana.oss.FolderPermissionPermissionArgs(team_id=self.teams[team].id, permission=level)
                    for team, level in sorted(grants.items())
                ],
                opts=child,
            )
        self.dashboards = {
            dashboard.uid: grafana.oss.Dashboard(
                f"{name}-dashboard-{dashboard.uid}",
                config_json=json.dumps(dashboard.model, sort_keys=True),
                folder=self.folders[dashboard.folder_uid].uid,
                overwrite=True,
                opts=child,
            )
            for dashboard in plan.dashboards
        }
        self.datasource_uids = pulumi.Output.from_input(sorted(self.datasources))
        self.register_outputs({"datasource_uids": self.datasource_uids})


def _secure_json(values: Mapping[str, pulumi.Input[str]] | None) -> pulumi.Output[str] | None:
    if not values:
        return None
    return pulumi.Output.secret(pulumi.Output.all(**values).apply(lambda v: json.dumps(v, sort_keys=True)))

