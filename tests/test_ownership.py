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
    response_minutes,
)
from monitoring.severity import Severity
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
    raw["ownership"]["teams"]["web-team"]["members"].append({"name": "Jonas Weber", "email": jonas, "role": "engineer"})
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
    raw["ownership"]["minimumStepDelay"] = "2m"
    assert _rejected(raw) == (
        f"{OWN}.minimumStepDelay: 2m per step: the P1 chain has 4 steps and P1 must be answered within 5m, "
        "so each step gets 75s"
    )


def test_the_ownership_section_is_required():
    raw = _raw("dev")
    del raw["ownership"]
    assert _rejected(raw) == f"{OWN}: is required but not set"


# --- escalation --------------------------------------------------------------------------------


def test_escalation_order_follows_the_strategy():
    assert ESCALATION_CHAINS[Severity.P1] == (Step.PRIMARY, Step.SECONDARY, Step.ENGINEERING_MANAGER, Step.CTO)
    assert ESCALATION_CHAINS[Severity.P2] == (Step.PRIMARY, Step.SECONDARY, Step.TEAM_LEAD)


@pytest.mark.parametrize("severity,notified,delay", [(Severity.P1, [0, 1, 2, 3], 1), (Severity.P2, [0, 10, 20], 10)])
def test_escalation_delays_share_the_response_time(severity, notified, delay):
    chain = escalation_chain(severity)
    assert [s.notified_after_minutes for s in chain] == notified
    assert {s.delay_minutes for s in chain} == {delay}
    # The last step is reached, and has its own delay to acknowledge, within the response time.
    assert chain[-1].notified_after_minutes + chain[-1].delay_minutes <= response_minutes(severity)


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
