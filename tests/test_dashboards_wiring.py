"""Dashboards as deployed through the Grafana provider: one folder per audience, role-based folder
permissions for the stack's teams, each dashboard in its folder, deterministic models."""

from __future__ import annotations

import json

import pytest

from monitoring.dashboards import (
    FOLDER_PERMISSIONS,
    FOLDERS,
    PROVISIONED_FOLDERS,
    build_dashboards,
)
from stacks.config import ConfigError

FOLDER = "grafana:oss/folder:Folder"
PERMISSION = "grafana:oss/folderPermission:FolderPermission"
DASHBOARD = "grafana:oss/dashboard:Dashboard"


def test_one_folder_per_audience(prod):
    # The Kubernetes folder is created by Grafana's provisioning (tests/test_upstream_dashboards.py).
    expected = sorted(f.uid for f in FOLDERS if f not in PROVISIONED_FOLDERS)
    assert sorted(f.plain_inputs["uid"] for f in prod.of_type(FOLDER)) == expected


def test_every_dashboard_lands_in_its_folder(prod):
    expected = {d.uid: d.folder_uid for d in build_dashboards("prod")}
    deployed = {json.loads(d.plain_inputs["configJson"])["uid"]: d.plain_inputs["folder"] for d in prod.of_type(DASHBOARD)}
    assert deployed == expected


def test_dashboards_default_to_the_stack_environment(prod):
    for dashboard in prod.of_type(DASHBOARD):
        model = json.loads(dashboard.plain_inputs["configJson"])
        (environment,) = [v for v in model["templating"]["list"] if v["name"] == "environment"]
        assert environment["current"]["value"] in ("prod", ["prod"]), model["uid"]


def test_folder_permissions_grant_teams_exactly_the_role_table(prod):
    team_ids = {t.plain_inputs["name"]: f"{t.name}-id" for t in prod.of_type("grafana:oss/team:Team")}
    for permission in prod.of_type(PERMISSION):
        inputs = permission.plain_inputs
        granted = {p["teamId"]: p["permission"] for p in inputs["permissions"]}
        expected = {team_ids[team]: level for team, level in FOLDER_PERMISSIONS[inputs["folderUid"]].items()}
        assert granted == expected, inputs["folderUid"]
    assert len(prod.of_type(PERMISSION)) == len(FOLDER_PERMISSIONS)


def test_no_folder_keeps_the_default_role_grants(prod):
    for permission in prod.of_type(PERMISSION):
        assert all("role" not in p for p in permission.plain_inputs["permissions"])


def test_dashboard_objects_wait_for_grafana(prod):
    chart = prod.chart("grafana")
    for resource in prod.of_type(FOLDER) + prod.of_type(PERMISSION) + prod.of_type(DASHBOARD):
        assert chart.urn in resource.depends_on, resource.name


def test_stack_without_a_dashboard_team_is_rejected(stack):
    teams = [{"name": "Executives"}, {"name": "Operations"}, {"name": "Developers"}]
    with pytest.raises(ConfigError) as raised:
        stack("dev", {"grafana.teams": teams})
    assert str(raised.value).startswith("terrafusion-monitoring:grafana.teams: needs the dashboard teams Security")


def _datasource_uids(node) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        ds = node.get("datasource")
        if isinstance(ds, dict) and isinstance(ds.get("uid"), str):
            found.add(ds["uid"])
        for value in node.values():
            found |= _datasource_uids(value)
    elif isinstance(node, list):
        for value in node:
            found |= _datasource_uids(value)
    return found


def _resolve(uid: str, model: dict) -> str:
    """`${datasource}` -> the default of the dashboard's datasource variable."""
    if not uid.startswith("$"):
        return uid
    name = uid.strip("${}")
    (variable,) = [v for v in model["templating"]["list"] if v["name"] == name]
    current = variable["current"]["value"]
    return current[0] if isinstance(current, list) else current


@pytest.mark.parametrize("stack_name", ["dev", "prod"])
def test_every_datasource_a_dashboard_uses_is_provisioned(stack_name, dev, prod):
    run = {"dev": dev, "prod": prod}[stack_name]
    provisioned = {d.plain_inputs["uid"] for d in run.of_type("grafana:oss/dataSource:DataSource")}
    used: set[str] = set()
    for dashboard in run.of_type(DASHBOARD):
        model = json.loads(dashboard.plain_inputs["configJson"])
        used |= {_resolve(uid, model) for uid in _datasource_uids(model)}
    assert used, "no datasource references found"
    assert used <= provisioned, used - provisioned
