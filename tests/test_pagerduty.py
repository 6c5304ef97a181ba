"""PagerDuty from the ownership model (issue 12, item 2), as the program deploys it under the mocks
(preview=False, so every Output resolves): users and their notification rules, a schedule per area
and rotation layer, the escalation policies in the strategy's order with the delays derived from
each severity's response time, a high-urgency service with an Events API v2 integration per area
and paging severity, and the integration keys flowing as secrets into the Alertmanager receiver
Secret, never in plain text anywhere in the render."""

from __future__ import annotations

import json

import pytest

from monitoring.alertmanager import pagerduty_routing_key
from monitoring.ownership import ESCALATION_CHAINS, Step, paged_people, response_minutes
from monitoring.pagerduty import URGENCY, ContactKind, Urgency, notification_rules
from monitoring.severity import Severity
from plan.pagerduty import layer_start
from stacks.config import ConfigError
from tests.helpers import stack_plan, stack_settings_raw
from tools.mockrun import is_secret, placeholder_secret, run_stack

USER = "pagerduty:index/user:User"
CONTACT = "pagerduty:index/userContactMethod:UserContactMethod"
RULE = "pagerduty:index/userNotificationRule:UserNotificationRule"
SCHEDULE = "pagerduty:index/schedule:Schedule"
POLICY = "pagerduty:index/escalationPolicy:EscalationPolicy"
SERVICE = "pagerduty:index/service:Service"
INTEGRATION = "pagerduty:index/serviceIntegration:ServiceIntegration"
RECEIVERS = ("kubernetes:core/v1:Secret", "terrafusion-alerting-receivers")


def _ids(run, type_: str, key: str) -> dict[str, str]:
    """The id of every resource of a type by one of its inputs (a user's email, a schedule's name)."""
    return {r.plain_inputs[key]: r.id for r in run.of_type(type_)}


def _by_name(run, type_: str) -> dict[str, dict]:
    return {r.plain_inputs["name"]: r.plain_inputs for r in run.of_type(type_)}


@pytest.fixture(scope="module")
def ownership(prod):
    return prod.result.plan.ownership


@pytest.fixture(scope="module")
def existing():
    """prod with pagerduty.existingUsers: the people are looked up by email."""
    return run_stack("prod", {"pagerduty.existingUsers": True})


# --- users ---------------------------------------------------------------------------------------


def test_prod_creates_a_user_for_everybody_a_chain_pages(prod):
    users = {r.plain_inputs["email"]: r.plain_inputs for r in prod.of_type(USER)}
    paged = paged_people(prod.result.plan.settings.ownership)
    assert set(users) == set(paged)
    for email, (_, person, _) in paged.items():
        assert (users[email]["name"], users[email]["role"]) == (person.name, "user")


def test_existing_users_are_looked_up_by_email_not_created(existing):
    assert existing.of_type(USER) == []
    # The mocks answer a lookup with "mock-user-<email>": the chains page the users found.
    cto = existing.result.plan.settings.ownership.cto.email
    p1 = _by_name(existing, POLICY)["terrafusion prod api P1"]
    assert p1["rules"][-1]["targets"] == [{"id": f"mock-user-{cto}", "type": "user_reference"}]
    assert {r.plain_inputs["userId"] for r in existing.of_type(CONTACT)} == {f"mock-user-{e}" for e in paged_people(existing.result.plan.settings.ownership)}


def test_every_user_has_a_work_email_and_mobile(prod):
    person = prod.result.plan.settings.ownership.teams["api-team"].members[2]  # Jonas Weber, +44 7700900104
    user_id = _ids(prod, USER, "email")[person.email]
    methods = {r.plain_inputs["type"]: r.plain_inputs for r in prod.of_type(CONTACT) if r.plain_inputs["userId"] == user_id}
    assert methods["email_contact_method"]["address"] == person.email
    phone = methods["phone_contact_method"]
    assert (phone["countryCode"], phone["address"]) == (44, person.phone.split(" ")[1])


def test_high_urgency_pushes_then_calls_and_low_urgency_pushes_and_emails(prod):
    person = prod.result.plan.settings.ownership.cto
    user_id = _ids(prod, USER, "email")[person.email]
    rules = sorted(
        (r.plain_inputs["urgency"], r.plain_inputs["contactMethod"]["type"], r.plain_inputs["startDelayInMinutes"])
        for r in prod.of_type(RULE)
        if r.plain_inputs["userId"] == user_id
    )
    assert rules == [
        ("high", "phone_contact_method", 1),
        ("high", "push_notification_contact_method", 0),
        ("low", "email_contact_method", 0),
        ("low", "push_notification_contact_method", 0),
    ]


def test_the_push_rules_use_the_contact_method_the_app_registered(prod):
    person = prod.result.plan.settings.ownership.cto
    user_id = _ids(prod, USER, "email")[person.email]
    pushes = {
        r.plain_inputs["contactMethod"]["id"]
        for r in prod.of_type(RULE)
        if r.plain_inputs["userId"] == user_id and r.plain_inputs["contactMethod"]["type"] == ContactKind.PUSH.value
    }
    # The mocks answer the lookup (user, type, label) with an id naming all three.
    assert pushes == {f"mock-{ContactKind.PUSH.value}-{user_id}-{person.mobile_app}"}


def test_without_the_mobile_app_a_page_calls_at_once_and_never_pushes():
    rules = {(r.urgency, r.contact): r.start_delay_minutes for r in notification_rules(has_mobile_app=False)}
    assert rules == {(Urgency.HIGH, ContactKind.PHONE): 0, (Urgency.LOW, ContactKind.EMAIL): 0}


def test_people_without_the_app_are_named_in_a_warning():
    assert not [w for w in stack_plan("prod").warnings if "mobileApp" in w]
    ownership = stack_settings_raw("prod")["ownership"]
    del ownership["cto"]["mobileApp"]
    plan = stack_plan("prod", ownership=ownership)
    assert [w for w in plan.warnings if "mobileApp" in w] == [
        "ownership: anna.becker@terrafusion.example have no mobileApp: PagerDuty pushes nothing to them; "
        "high-urgency pages call at once, low-urgency ones email"
    ]


# --- schedules -----------------------------------------------------------------------------------


def test_each_area_has_a_primary_and_a_secondary_schedule_of_one_layer(prod, ownership):
    schedules = _by_name(prod, SCHEDULE)
    users = _ids(prod, USER, "email")
    settings = prod.result.plan.settings
    assert len(schedules) == 2 * len(ownership.areas)
    for area in ownership.areas:
        for layer in area.layers:
            (pd_layer,) = schedules[f"terrafusion prod {area.area} {layer.name} on-call"]["layers"]
            assert pd_layer["users"] == [users[email] for email in layer.members]
            assert schedules[f"terrafusion prod {area.area} {layer.name} on-call"]["timeZone"] == layer.time_zone
            spec_layer = getattr(settings.ownership.areas[area.area].rotation, layer.name)
            assert pd_layer["start"] == pd_layer["rotationVirtualStart"] == layer_start(settings.pagerduty.rotation_start, spec_layer)


def test_a_weekly_turn_hands_over_at_nine_berlin_time(prod):
    (layer,) = _by_name(prod, SCHEDULE)["terrafusion prod api primary on-call"]["layers"]
    assert layer["rotationTurnLengthSeconds"] == 7 * 86400
    assert layer["start"] == "2026-01-05T09:00:00+01:00"


def test_the_hand_off_follows_summer_time():
    from monitoring.ownership import RotationLayer

    summer = RotationLayer(members=("a@x.example",), rotationLength="1w", handoffTime="09:00", timeZone="Europe/Berlin")
    assert layer_start("2026-07-06", summer) == "2026-07-06T09:00:00+02:00"


# --- escalation policies -------------------------------------------------------------------------


@pytest.mark.parametrize("severity", list(ESCALATION_CHAINS))
def test_every_areas_policy_escalates_in_the_strategys_order(prod, ownership, severity):
    policies = _by_name(prod, POLICY)
    schedules, users = _ids(prod, SCHEDULE, "name"), _ids(prod, USER, "email")
    settings = prod.result.plan.settings
    for area in ownership.areas:
        team = settings.ownership.teams[area.team].members
        holders = {role: [users[p.email] for p in team if p.role.value == role] for role in ("team lead", "engineering manager")}
        expected = {
            Step.PRIMARY: [schedules[f"terrafusion prod {area.area} primary on-call"]],
            Step.SECONDARY: [schedules[f"terrafusion prod {area.area} secondary on-call"]],
            Step.TEAM_LEAD: holders["team lead"],
            Step.ENGINEERING_MANAGER: holders["engineering manager"],
            Step.CTO: [users[settings.ownership.cto.email]],
        }
        rules = policies[f"terrafusion prod {area.area} {severity.value}"]["rules"]
        assert [[t["id"] for t in rule["targets"]] for rule in rules] == [expected[s] for s in ESCALATION_CHAINS[severity]]
        assert [rule["targets"][0]["type"] for rule in rules][:2] == ["schedule_reference", "schedule_reference"]


@pytest.mark.parametrize(("severity", "delays"), [(Severity.P1, [3, 3, 3, 3]), (Severity.P2, [10, 10, 10])])
def test_escalation_delays_come_from_the_response_time(prod, ownership, severity, delays):
    policies = _by_name(prod, POLICY)
    for area in ownership.areas:
        rules = policies[f"terrafusion prod {area.area} {severity.value}"]["rules"]
        assert [rule["escalationDelayInMinutes"] for rule in rules] == delays
        # The last step is paged, and has its own delay, before the response time is missed.
        assert sum(delays) <= response_minutes(severity)


def test_a_chain_nobody_answered_runs_once_more(prod):
    assert {p["numLoops"] for p in _by_name(prod, POLICY).values()} == {1}


# --- services and their integration keys ---------------------------------------------------------


def test_each_area_and_paging_severity_has_a_high_urgency_service_on_its_policy(prod, ownership):
    services, policies = _by_name(prod, SERVICE), _ids(prod, POLICY, "name")
    assert len(services) == len(ownership.areas) * len(ESCALATION_CHAINS)
    for area in ownership.areas:
        for severity in ESCALATION_CHAINS:
            name = f"terrafusion prod {area.area} {severity.value}"
            assert services[name]["escalationPolicy"] == policies[name]
            assert services[name]["incidentUrgencyRule"] == {"type": "constant", "urgency": "high"}


def test_every_paging_severity_is_high_urgency_since_low_urgency_never_escalates():
    assert {s: URGENCY[s] for s in ESCALATION_CHAINS} == {s: Urgency.HIGH for s in ESCALATION_CHAINS}


def test_each_service_has_an_events_api_v2_integration(prod):
    services = {r.id: r.plain_inputs["name"] for r in prod.of_type(SERVICE)}
    integrations = [r.plain_inputs for r in prod.of_type(INTEGRATION)]
    assert sorted(services[i["service"]] for i in integrations) == sorted(services.values())
    assert {i["type"] for i in integrations} == {"events_api_v2_inbound_integration"}


def test_integration_keys_flow_as_secrets_into_the_receiver_secret(prod, ownership):
    secret = prod.one(*RECEIVERS)
    assert is_secret(secret.inputs["stringData"])
    data = secret.plain_inputs["stringData"]
    services = {r.id: r.plain_inputs["name"] for r in prod.of_type(SERVICE)}
    # The mocks make each integration's key "mock-integration-key-<integration resource name>".
    key_of = {services[r.plain_inputs["service"]]: f"mock-integration-key-{r.name}" for r in prod.of_type(INTEGRATION)}
    for area in ownership.areas:
        for severity in ESCALATION_CHAINS:
            assert data[pagerduty_routing_key(area.area, severity)] == key_of[f"terrafusion prod {area.area} {severity.value}"]


def test_the_integration_key_is_a_secret_in_the_state_too(prod):
    assert {tuple(r.additional_secret_outputs) for r in prod.of_type(INTEGRATION)} == {("integrationKey",)}


def test_the_api_token_is_a_secret_input_of_the_provider(prod):
    (provider,) = prod.of_type("pulumi:providers:pagerduty")
    assert is_secret(provider.inputs["token"])
    assert provider.plain_inputs["token"] == placeholder_secret("pagerdutyToken")
    assert {r.provider.rsplit("::", 1)[0] for r in prod.resources if r.type.startswith("pagerduty:")} == {provider.urn}


def test_pagerduty_on_without_its_token_is_a_clear_error():
    with pytest.raises(ConfigError) as raised:
        run_stack("prod", fill_required_secrets=False)
    assert "terrafusion-monitoring:pagerdutyToken: is required (PagerDuty REST API key" in str(raised.value)


def test_no_routing_key_is_typed_by_hand_any_more():
    from plan.secrets import all_secrets

    assert "pagerdutyRoutingKey" not in {s.key for s in all_secrets()}


def test_no_integration_key_or_token_appears_in_plain_text_anywhere_in_the_render(rendered_dirs):
    out = rendered_dirs["prod"]
    leaks = [
        str(path.relative_to(out))
        for path in out.rglob("*")
        if path.is_file() and ("integration-key" in (text := path.read_text(errors="replace")) or placeholder_secret("pagerdutyToken") in text)
    ]
    assert leaks == []
    # ...while the render does hold the receiver Secret and its PagerDuty keys, redacted.
    resources = json.loads((out / "resources.json").read_text())
    (secret,) = [r for r in resources if r["name"] == RECEIVERS[1]]
    assert secret["inputs"]["stringData"] == "[secret]"


# --- the render and a stack without PagerDuty ----------------------------------------------------


def test_the_render_writes_the_pagerduty_objects_of_the_plan(rendered_dirs, prod):
    written = json.loads((rendered_dirs["prod"] / "pagerduty" / "pagerduty.json").read_text())
    assert written == json.loads(json.dumps(prod.result.plan.pagerduty.objects()))
    (p1,) = [p for p in written["escalationPolicies"] if p["name"] == "terrafusion prod api P1"]
    assert [r["targets"] for r in p1["rules"]][:2] == [["terrafusion prod api primary on-call"], ["terrafusion prod api secondary on-call"]]


def test_dev_turns_pagerduty_off_with_a_warning(dev, rendered_dirs):
    assert [r for r in dev.resources if r.type.startswith("pagerduty:") or "pagerduty" in r.type] == []
    assert any(w.startswith("alerting.receivers.pagerduty.enabled: PagerDuty is off in environment 'dev'") for w in dev.warnings)
    assert "pagerdutyToken" not in {s.key for s in dev.result.plan.secrets}
    assert json.loads((rendered_dirs["dev"] / "pagerduty" / "pagerduty.json").read_text()) == {"enabled": False}


def test_prod_protects_every_pagerduty_object_where_it_protects_data(prod):
    # The paging path is kept like the data: a destroy or replacement would leave Alertmanager
    # with integration keys PagerDuty no longer knows.
    created = [r for r in prod.resources if r.type.startswith("pagerduty:")]
    assert created and stack_plan("prod").context.protect
    assert [r.name for r in created if not r.protect] == []
