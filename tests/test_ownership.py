"""The ownership model (issue 12, item 1): service areas, teams, people, rotations and escalation
chains. Each rejection is one line naming its stack-file key; both stacks load; the on-call table
the render writes is the plan's."""

from __future__ import annotations

import copy
import json

import pytest

from monitoring.ownership import (
    ESCALATION_CHAINS,
    Step,
    escalation_chain,
    escalation_delay_minutes,
    response_minutes,
)
from monitoring.severity import SEVERITIES, Severity
from plan import build_plan
from plan.settings import StackSettings
from stacks.config import PROJECT, ConfigError, parse_settings
from tools import render
from tools.mockrun import _is_secure, read_stack_file

OWN = f"{PROJECT}:ownership"
DOMAIN = "terrafusion.example"


def _raw(stack: str = "prod") -> dict:
    prefix = f"{PROJECT}:"
    raw = copy.deepcopy(read_stack_file(stack))
    return {k.removeprefix(prefix): v for k, v in raw.items() if k.startswith(prefix) and not _is_secure(v)}


def _rejected(raw: dict) -> str:
    with pytest.raises(ConfigError) as raised:
        parse_settings(raw)
    return str(raised.value)


def _email(name: str) -> str:
    return f"{name}@{DOMAIN}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_both_stacks_load_with_every_strategy_area(stack):
    settings = parse_settings(_raw(stack))
    ownership = build_plan(settings).ownership
    assert {a.area for a in ownership.areas} >= {"api", "frontend", "database", "platform"}
    assert ownership.cto.role.value == "cto"
    for service in settings.named_services:
        assert ownership.owner_of(service) is not None, service


def test_prod_names_its_services_and_each_has_its_area():
    settings = parse_settings(_raw("prod"))
    owners = {s: build_plan(settings).ownership.owner_of(s).area for s in settings.named_services}
    assert owners == {"web": "frontend", "api": "api", "checkout": "api", "payments": "api", "terrafusion-db": "database"}


def test_the_platform_area_owns_the_platform_components():
    platform = build_plan(parse_settings(_raw("prod"))).ownership.area("platform")
    assert {"prometheus", "thanos", "alertmanager", "elasticsearch"} <= set(platform.components)


def test_a_service_without_an_owner():
    raw = _raw()
    raw["ownership"]["areas"]["api"]["services"] = ["api", "checkout"]
    assert _rejected(raw) == (
        f"{OWN}.areas.api.services: service 'payments' (jaeger.sampling.overrides[1].service) is in no area's services; "
        "add it to its owner's"
    )


def test_a_service_in_two_areas():
    raw = _raw()
    raw["ownership"]["areas"]["frontend"]["services"] = ["web", "api"]
    assert _rejected(raw) == f"{OWN}.areas.frontend.services[1]: 'api' is owned by area 'api' already"


def test_a_team_without_members():
    raw = _raw()
    raw["ownership"]["teams"]["web-team"]["members"] = []
    assert _rejected(raw) == f"{OWN}.teams.web-team.members: the team has no members"


def test_a_team_without_a_team_lead():
    raw = _raw()
    members = raw["ownership"]["teams"]["data-team"]["members"]
    raw["ownership"]["teams"]["data-team"]["members"] = [m for m in members if m["role"] != "team lead"]
    assert _rejected(raw) == (
        f"{OWN}.teams.data-team.members: nobody holds role 'team lead'; the escalation chains of area 'database' need one"
    )


def test_a_team_without_an_engineering_manager():
    raw = _raw()
    for member in raw["ownership"]["teams"]["web-team"]["members"]:
        if member["role"] == "engineering manager":
            member["role"] = "engineer"
    assert _rejected(raw) == (
        f"{OWN}.teams.web-team.members: nobody holds role 'engineering manager'; "
        "the escalation chains of area 'frontend' need one"
    )


def test_an_organisation_without_a_cto():
    raw = _raw()
    del raw["ownership"]["cto"]
    assert _rejected(raw) == f"{OWN}.cto: nobody holds role cto; the P1 chain ends with the CTO"


def test_the_cto_must_hold_role_cto():
    raw = _raw()
    raw["ownership"]["cto"]["role"] = "engineering manager"
    assert _rejected(raw) == f"{OWN}.cto.role: is 'engineering manager'; the CTO's role is cto"


def test_one_person_primary_on_call_for_two_areas():
    raw = _raw()
    jonas = _email("jonas.weber")
    # The same person (name, phone and app as in the API team) joins the web team.
    entry = next(m for m in raw["ownership"]["teams"]["api-team"]["members"] if m["email"] == jonas)
    raw["ownership"]["teams"]["web-team"]["members"].append(dict(entry))
    raw["ownership"]["areas"]["frontend"]["rotation"]["primary"]["members"].append(jonas)
    assert _rejected(raw) == (
        f"{OWN}.areas.frontend.rotation.primary.members[2]: {jonas} is on the primary layer of area 'api' too; "
        "one person is primary on-call for one area"
    )


def test_one_person_on_both_layers_of_an_area():
    raw = _raw()
    lena = _email("lena.hoffmann")
    raw["ownership"]["areas"]["api"]["rotation"]["primary"]["members"].append(lena)
    assert _rejected(raw) == (
        f"{OWN}.areas.api.rotation.secondary.members[0]: {lena} is on the primary layer too; "
        "one person cannot back themselves up"
    )


def test_a_rotation_member_outside_the_owning_team():
    raw = _raw()
    nora = _email("nora.schulz")
    raw["ownership"]["areas"]["api"]["rotation"]["primary"]["members"].append(nora)
    assert _rejected(raw) == f"{OWN}.areas.api.rotation.primary.members[3]: {nora} is not a member of team 'api-team'"


def test_an_area_of_an_unknown_team():
    raw = _raw()
    raw["ownership"]["areas"]["database"]["team"] = "dba-team"
    assert _rejected(raw) == f"{OWN}.areas.database.team: 'dba-team' is not a key of teams"


def test_a_missing_strategy_area():
    raw = _raw("dev")
    del raw["ownership"]["areas"]["platform"]
    assert _rejected(raw) == (
        f"{OWN}.areas: has no 'platform' area; the strategy's areas are api, frontend, database, platform"
    )


def test_an_unknown_time_zone():
    raw = _raw()
    raw["ownership"]["areas"]["api"]["rotation"]["primary"]["timeZone"] = "Europe/Atlantis"
    assert _rejected(raw) == (
        f"{OWN}.areas.api.rotation.primary.timeZone: 'Europe/Atlantis' is not an IANA time zone (e.g. Europe/Berlin)"
    )


def test_a_chain_that_cannot_escalate_within_the_response_time():
    raw = _raw()
    raw["ownership"]["minimumStepDelay"] = "4m"
    assert _rejected(raw) == (
        f"{OWN}.minimumStepDelay: 4m per step: the P1 chain has 4 steps and P1 must be answered within 15m, "
        "so each step gets 225s"
    )


def test_a_chain_whose_steps_would_get_less_than_pagerdutys_minute(monkeypatch):
    # PagerDuty takes whole minutes, at least one (monitoring/ownership.py PAGERDUTY_MINIMUM_DELAY_MINUTES):
    # a P1 answered within 3 minutes could not run its four steps, whatever minimumStepDelay says.
    from dataclasses import replace

    from monitoring import ownership, severity

    tight = {**severity.SEVERITIES, Severity.P1: replace(severity.SEVERITIES[Severity.P1], respond_within="3m")}
    monkeypatch.setattr(ownership, "SEVERITIES", tight)
    with pytest.raises(Exception) as raised:
        escalation_chain(Severity.P1, "30s")
    assert str(raised.value) == (
        "minimumStepDelay: 30s per step: the P1 chain has 4 steps and P1 must be answered within 3m, so each step gets 45s"
    )


def test_a_rotation_longer_than_pagerduty_takes():
    raw = _raw()
    raw["ownership"]["areas"]["api"]["rotation"]["secondary"]["rotationLength"] = "400d"
    assert _rejected(raw) == f"{OWN}.areas.api.rotation.secondary.rotationLength: '400d' is longer than 365d"


def test_one_person_listed_differently_in_two_teams():
    raw = _raw()
    raw["ownership"]["teams"]["web-team"]["members"][1]["phone"] = "+44 7700900999"
    assert _rejected(raw) == (
        f"{OWN}.teams.web-team.members[1].phone: differs from teams.api-team.members[1].phone; "
        f"{_email('sophie.brandt')} is one person: list them the same everywhere"
    )


def test_a_phone_number_with_a_trunk_prefix():
    raw = _raw()
    raw["ownership"]["cto"]["phone"] = "+49 015123456789"
    message = _rejected(raw)
    assert message.startswith(f"{OWN}.cto.phone: '+49 015123456789' ")


def test_with_pagerduty_on_everybody_a_chain_pages_needs_a_phone():
    raw = _raw()
    del raw["ownership"]["teams"]["data-team"]["members"][0]["phone"]
    assert _rejected(raw) == (
        f"{OWN}.teams.data-team.members[0].phone: required: PagerDuty pages {_email('priya.raman')} "
        "(escalation chains of area database) and high-urgency pages call"
    )


def test_with_pagerduty_off_nobody_needs_a_phone():
    settings = parse_settings(_raw("dev"))
    assert not settings.pagerduty_enabled
    assert all(p.phone is None for team in settings.ownership.teams.values() for p in team.members)


def test_the_ownership_section_is_required():
    raw = _raw("dev")
    del raw["ownership"]
    assert _rejected(raw) == f"{OWN}: is required but not set"


# --- escalation --------------------------------------------------------------------------------


def test_escalation_order_follows_the_strategy():
    assert ESCALATION_CHAINS[Severity.P1] == (Step.PRIMARY, Step.SECONDARY, Step.ENGINEERING_MANAGER, Step.CTO)
    assert ESCALATION_CHAINS[Severity.P2] == (Step.PRIMARY, Step.SECONDARY, Step.TEAM_LEAD)


@pytest.mark.parametrize("severity,notified,delay", [(Severity.P1, [0, 3, 6, 9], 3), (Severity.P2, [0, 10, 20], 10)])
def test_escalation_delays_share_the_response_time(severity, notified, delay):
    chain = escalation_chain(severity)
    assert [s.notified_after_minutes for s in chain] == notified
    assert {s.delay_minutes for s in chain} == {delay}
    # The last step is reached, and has its own delay to acknowledge, within the response time.
    assert chain[-1].notified_after_minutes + chain[-1].delay_minutes <= response_minutes(severity)


@pytest.mark.parametrize("severity", list(ESCALATION_CHAINS))
def test_the_severity_table_states_the_derived_step_delay(severity):
    assert f"a step every {escalation_delay_minutes(severity)} min" in SEVERITIES[severity].escalation


def test_role_steps_page_the_people_holding_the_role():
    api = build_plan(parse_settings(_raw("prod"))).ownership.area("api")
    p1 = {s.step: s for s in api.escalation[Severity.P1]}
    assert p1[Step.PRIMARY].rotation_layer == "primary"
    assert p1[Step.PRIMARY].people == tuple(_email(n) for n in ("jonas.weber", "aylin.demir", "marta.nowak"))
    assert p1[Step.ENGINEERING_MANAGER].people == (_email("sophie.brandt"),)
    assert p1[Step.CTO].people == (_email("anna.becker"),)
    assert api.escalation[Severity.P2][-1].people == (_email("lena.hoffmann"),)


# --- the render --------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_render_writes_the_plans_oncall_table(stack, tmp_path):
    out, _ = render.render(stack, tmp_path, charts=False)
    table = json.loads((out / "oncall" / "oncall.json").read_text())
    plan = build_plan(parse_settings(_raw(stack))).ownership
    assert table == json.loads(json.dumps(plan.oncall_table()))
    api = next(a for a in table["areas"] if a["area"] == "api")
    assert api["team"] == "api-team" and api["slackChannel"] == "#team-api" and api["ticketQueue"] == "API"
    assert [layer["layer"] for layer in api["rotation"]] == ["primary", "secondary"]
    assert [s["step"] for s in api["escalation"]["P1"]] == [s.value for s in ESCALATION_CHAINS[Severity.P1]]
    assert [s["notifiedAfterMinutes"] for s in api["escalation"]["P2"]] == [0, 10, 20]
    assert json.loads((out / "plan.json").read_text())["ownership"]["areas"]


def test_settings_model_carries_the_section():
    assert StackSettings.model_fields["ownership"].is_required()
