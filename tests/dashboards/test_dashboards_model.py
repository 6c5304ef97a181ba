"""The dashboard set: folders, teams, permissions, uids, schema, variables, annotations."""

from __future__ import annotations

import json

from grafana_foundation_sdk.models.dashboard import Dashboard as SdkDashboard

from monitoring.dashboards import (
    FOLDER_PERMISSIONS,
    FOLDERS,
    PROVISIONED_FOLDERS,
    TEAMS,
    build_dashboards,
)
from monitoring.dashboards._grafana import DEPLOYMENTS_EXPR, INCIDENTS_EXPR
from monitoring.datasources import THANOS_UID

# The schema version the pinned SDK emits for classic dashboards.
SDK_SCHEMA_VERSION = SdkDashboard().schema_version
AUDIENCES = {"executives", "operations", "developers", "security"}


def _variables(model: dict) -> dict[str, dict]:
    return {v["name"]: v for v in model["templating"]["list"]}


def test_there_is_one_folder_per_audience_the_slo_folder_and_the_kubernetes_folder(dashboards):
    assert {f.audience for f in FOLDERS} >= AUDIENCES
    assert len({f.uid for f in FOLDERS}) == len(FOLDERS) == 6


def test_every_dashboard_lives_in_a_declared_folder_and_every_folder_has_one(dashboards):
    folder_uids = {f.uid for f in FOLDERS}
    # The provisioned folders get theirs from Grafana's dashboard sidecar (kube-prometheus-stack's).
    assert {d.folder_uid for d in dashboards} == folder_uids - {f.uid for f in PROVISIONED_FOLDERS}


def test_teams_are_the_team_names_of_the_stack_files():
    assert TEAMS == ("Executives", "Operations", "Developers", "Security")


def test_folder_permissions_grant_only_known_teams_known_levels_on_known_folders():
    assert set(FOLDER_PERMISSIONS) == {f.uid for f in FOLDERS}
    for grants in FOLDER_PERMISSIONS.values():
        assert set(grants) <= set(TEAMS)
        assert set(grants.values()) <= {"View", "Edit", "Admin"}


def test_each_working_team_edits_its_own_folder_and_executives_only_view():
    own = {"Operations": "tf-operations", "Developers": "tf-developers", "Security": "tf-security"}
    for team, folder in own.items():
        assert FOLDER_PERMISSIONS[folder][team] == "Edit", team
    assert {grants.get("Executives") for grants in FOLDER_PERMISSIONS.values()} == {"View", None}


def test_no_team_administers_a_folder():
    assert all(level != "Admin" for grants in FOLDER_PERMISSIONS.values() for level in grants.values())


def test_security_dashboards_are_hidden_from_executives_and_developers():
    assert set(FOLDER_PERMISSIONS["tf-security"]) == {"Security", "Operations"}


def test_dashboard_uids_are_stable_unique_and_valid_grafana_uids(dashboards):
    uids = [d.uid for d in dashboards]
    assert uids == ["tf-executive-overview", "tf-operations", "tf-developer-service", "tf-security", "tf-slo"]
    assert all(d.model["uid"] == d.uid and len(d.uid) <= 40 for d in dashboards)


def test_dashboards_are_json_of_the_schema_version_the_sdk_emits(dashboards):
    for built in dashboards:
        assert built.model["schemaVersion"] == SDK_SCHEMA_VERSION, built.uid
        assert json.loads(json.dumps(built.model)) == built.model
        # The SDK's own model reads it back: every field has the type its schema says.
        assert SdkDashboard.from_json(built.model).uid == built.uid


def test_building_twice_gives_byte_identical_models():
    first = [json.dumps(d.model, sort_keys=True) for d in build_dashboards("prod")]
    second = [json.dumps(d.model, sort_keys=True) for d in build_dashboards("prod")]
    assert first == second


def test_panel_ids_are_unique_and_panels_fit_the_grid(dashboards):
    for built in dashboards:
        panels = built.model["panels"]
        assert [p["id"] for p in panels] == list(range(1, len(panels) + 1))
        for panel in panels:
            pos = panel["gridPos"]
            assert pos["x"] + pos["w"] <= 24, (built.uid, panel["title"])


def test_every_dashboard_has_a_datasource_variable_defaulting_to_thanos(dashboards):
    for built in dashboards:
        variable = _variables(built.model)["datasource"]
        assert variable["type"] == "datasource" and variable["query"] == "prometheus"
        assert variable["current"]["value"] == THANOS_UID


def test_environment_variable_defaults_to_the_stacks_environment():
    for built in build_dashboards("prod"):
        assert _variables(built.model)["environment"]["current"]["value"] == "prod", built.uid


def test_dashboards_with_per_service_panels_have_a_service_variable(dashboards):
    by_uid = {d.uid: d.model for d in dashboards}
    for uid in ("tf-operations", "tf-developer-service", "tf-slo"):
        assert "service" in _variables(by_uid[uid])
    for uid in ("tf-operations", "tf-security"):
        assert "namespace" in _variables(by_uid[uid])


def test_every_dashboard_annotates_deployments_and_incidents_from_thanos(dashboards):
    for built in dashboards:
        annotations = {a["name"]: a for a in built.model["annotations"]["list"]}
        assert annotations["Deployments"]["expr"] == DEPLOYMENTS_EXPR
        assert annotations["Incidents (P1/P2)"]["expr"] == INCIDENTS_EXPR
        assert {a["datasource"]["uid"] for a in annotations.values()} == {THANOS_UID}


def test_every_panel_has_a_unit_title_and_description(dashboards):
    for built in dashboards:
        for panel in built.model["panels"]:
            if panel["type"] in ("row", "logs"):
                continue
            assert panel.get("title") and panel.get("description"), (built.uid, panel)
            assert panel["fieldConfig"]["defaults"].get("unit"), (built.uid, panel["title"])


def test_slo_dashboard_has_one_row_per_slo_of_the_catalogue(dashboards):
    from monitoring.slo_catalogue import SLO_CATALOGUE

    model = next(d.model for d in dashboards if d.uid == "tf-slo")
    rows = [p["title"] for p in model["panels"] if p["type"] == "row"]
    assert len(rows) == len(SLO_CATALOGUE)
    assert all(f"({slo.id})" in title for slo, title in zip(SLO_CATALOGUE, rows))


def test_each_slo_row_shows_target_current_budget_and_burn_rate(dashboards):
    model = next(d.model for d in dashboards if d.uid == "tf-slo")
    panels = model["panels"]
    first_row = [p["title"] for p in panels[1:5]]
    assert first_row == ["Target", "Current (30d)", "Error budget remaining", "Burn rate"]
