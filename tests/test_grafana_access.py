"""Grafana access by team: users and team members from the ownership model, sign-in through the
identity provider with its client secret kept secret end to end (docs/grafana.md)."""

from __future__ import annotations

import pytest

from monitoring.ownership import audience, people
from plan.grafana import role_attribute_path
from plan.settings import GrafanaOidc
from stacks.config import ConfigError, parse_settings
from tools.mockrun import is_secret, placeholder_secret, read_stack_file, run_stack, set_path


def _settings(stack: str, overrides: dict):
    raw = read_stack_file(stack)
    for path, value in overrides.items():
        set_path(raw, path, value)
    return parse_settings({k.split(":", 1)[1]: v for k, v in raw.items()})


def _error(stack: str, overrides: dict) -> str:
    with pytest.raises(ConfigError) as raised:
        _settings(stack, overrides)
    return str(raised.value)


PROD_OIDC = read_stack_file("prod")["terrafusion-monitoring:grafana"]["oidc"]


# --- plan (pure) -------------------------------------------------------------------------------


def test_developers_are_every_teams_people_and_executives_the_leads():
    spec = _settings("prod", {}).ownership
    everybody = set(people(spec)) - {spec.cto.email}
    assert set(audience(spec, teams=("*",))) == everybody
    leads = set(audience(spec, roles=("team lead", "engineering manager", "cto")))
    assert spec.cto.email in leads and "jonas.weber@terrafusion.example" not in leads
    assert "lena.hoffmann@terrafusion.example" in leads


def test_role_path_gives_the_highest_mapped_role_and_nothing_when_unmapped_is_denied():
    oidc = GrafanaOidc(**{**PROD_OIDC, "groupRoles": {"ops": "Editor", "boss": "Admin"}})
    path = role_attribute_path(oidc)
    assert path.index("'Admin'") < path.index("'Editor'")
    assert not path.endswith("'Viewer'")
    assert role_attribute_path(oidc.model_copy(update={"deny_unmapped": False})).endswith("|| 'Viewer'")


# --- validation: one line naming the key -------------------------------------------------------


def test_a_team_mapping_to_an_unknown_ownership_team_names_the_key():
    teams = read_stack_file("prod")["terrafusion-monitoring:grafana"]["teams"]
    teams[1] = {**teams[1], "members": {"teams": ["sre-team"]}}
    message = _error("prod", {"grafana.teams": teams})
    assert message.startswith("terrafusion-monitoring:grafana.teams[1].members.teams[0]: 'sre-team' is not a key")
    assert "\n" not in message


def test_a_group_mapped_to_an_unknown_role_names_the_key():
    message = _error("prod", {"grafana.oidc": {**PROD_OIDC, "groupRoles": {"grafana-admins": "Owner"}}})
    assert message.startswith("terrafusion-monitoring:grafana.oidc.groupRoles.grafana-admins: 'Owner'")


def test_prod_refuses_an_identity_provider_without_https():
    message = _error("prod", {"grafana.oidc": {**PROD_OIDC, "tokenUrl": "http://sso.terrafusion.example/token"}})
    assert message.startswith("terrafusion-monitoring:grafana.oidc.tokenUrl: 'http://sso.terrafusion.example/token' is not https")


def test_dev_accepts_an_http_identity_provider():
    oidc = {**PROD_OIDC, "authUrl": "http://sso.localtest.me/auth"}
    assert _settings("dev", {"grafana.oidc": oidc}).grafana.oidc.enabled


def test_oidc_without_its_client_secret_names_the_key():
    with pytest.raises(ConfigError) as raised:
        run_stack("prod", fill_required_secrets=False)
    assert "terrafusion-monitoring:grafanaOidcClientSecret: is required (client secret of grafana.oidc.clientId" in str(raised.value)


def test_a_client_secret_in_plain_text_is_refused():
    with pytest.raises(ConfigError) as raised:
        run_stack("prod", {"grafanaOidcClientSecret": "s3cret"})
    assert str(raised.value) == (
        "terrafusion-monitoring:grafanaOidcClientSecret: is set in plain text but is a secret; "
        "set it with `pulumi config set --secret grafanaOidcClientSecret <value>`"
    )


# --- mocks (preview=False) ---------------------------------------------------------------------


def test_teams_carry_their_members_from_the_model(prod):
    spec = prod.result.plan.settings.ownership
    users = {r.plain_inputs["email"] for r in prod.of_type("grafana:oss/user:User")}
    assert users == set(people(spec))
    developers = prod.one("grafana:oss/team:Team", "terrafusion-grafana-content-team-developers").plain_inputs
    assert set(developers["members"]) == set(audience(spec, teams=("*",)))
    security = prod.one("grafana:oss/team:Team", "terrafusion-grafana-content-team-security").plain_inputs
    assert security["members"] == ["anna.becker@terrafusion.example", "katrin.wolf@terrafusion.example"]


def test_user_passwords_are_secret(prod):
    for user in prod.of_type("grafana:oss/user:User"):
        assert is_secret(user.inputs["password"])


def test_the_oidc_client_secret_is_a_secret_in_its_secret_and_wired_by_env(prod):
    secret = prod.one("kubernetes:core/v1:Secret", "terrafusion-grafana-oidc")
    assert is_secret(secret.inputs["stringData"])
    assert secret.plain_inputs["stringData"]["client-secret"] == placeholder_secret("grafanaOidcClientSecret")
    ref = prod.chart("grafana").plain_inputs["values"]["envValueFrom"]["GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET"]
    assert ref == {"secretKeyRef": {"name": secret.plain_inputs["metadata"]["name"], "key": "client-secret"}}


def test_dev_warns_that_only_the_admin_can_sign_in(dev):
    assert any(w.startswith("grafana.oidc.enabled: sign-in through the identity provider is off") for w in dev.result.plan.warnings)
    assert "envValueFrom" not in dev.chart("grafana").plain_inputs["values"]


# --- render (the real chart) -------------------------------------------------------------------


def test_rendered_grafana_ini_signs_in_through_the_provider_without_the_secret(rendered_dirs):
    objects = rendered_dirs["prod"] / "objects" / "grafana"
    ini = (objects / "configmap-monitoring-grafana.yaml").read_text()
    assert "[auth.generic_oauth]" in ini and "role_attribute_strict = true" in ini
    assert "oauth_allow_insecure_email_lookup = true" in ini
    assert "client_secret" not in ini
    leaked = placeholder_secret("grafanaOidcClientSecret")
    assert not [p.name for p in objects.iterdir() if leaked in p.read_text()]
    deployment = (objects / "deployment-monitoring-grafana.yaml").read_text()
    assert "name: GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET" in deployment and "name: grafana-oidc" in deployment
