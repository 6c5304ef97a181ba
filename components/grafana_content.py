"""What lives inside Grafana, managed through the Grafana provider: datasources and teams.

Every object waits for the Grafana chart (`depends_on`), because the provider can only reach
Grafana once it runs. Folders, permissions and dashboards join here as they are built.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import pulumi
import pulumiverse_grafana as grafana

from monitoring.datasources import DatasourceSpec
from stacks.settings import GrafanaTeam


@dataclass(frozen=True)
class GrafanaContentArgs:
    datasources: Sequence[DatasourceSpec]
    teams: Sequence[GrafanaTeam]
    # Datasource uid -> secret Output of its password (sent as secureJsonData, encrypted by Grafana).
    datasource_passwords: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)


class GrafanaContent(pulumi.ComponentResource):
    """Datasources with stable UIDs, and the teams that folder permissions are granted to."""

    datasource_uids: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: GrafanaContentArgs,
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
                secure_json_data_encoded=_secure_json(args.datasource_passwords.get(spec.uid)),
                opts=child,
            )
            for spec in args.datasources
        }
        self.teams = {
            team.name: grafana.oss.Team(
                f"{name}-team-{_slug(team.name)}",
                name=team.name,
                email=team.email,
                members=list(team.members),
                opts=child,
            )
            for team in args.teams
        }
        self.datasource_uids = pulumi.Output.from_input(sorted(self.datasources))
        self.register_outputs({"datasource_uids": self.datasource_uids})


def _secure_json(password: pulumi.Output[str] | None) -> pulumi.Output[str] | None:
    if password is None:
        return None
    return pulumi.Output.secret(password.apply(lambda p: json.dumps({"password": p})))


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")
