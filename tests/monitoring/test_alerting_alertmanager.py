"""Alertmanager config builder: routing by severity and owner, secrets by file only."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from tests.monitoring.alerting_helpers import (
    ALL_RECEIVERS,
    API,
    DATABASE,
    OWNERS,
    PAYMENTS,
    PLATFORM,
    live_alertmanager_config,
    make_spec,
)

from monitoring.alertmanager import (
    ALERTMANAGER_RECEIVER_SECRET,
    DEFAULT_SECRETS_DIR,
    FALLBACK_RECEIVER,
    RECEIVER_SECRET_KEYS,
    RouteOwner,
    build_alertmanager_config,
    missing_receivers_warning,
    route_owners,
)
from monitoring.ownership import OwnershipSpec
from monitoring.severity import ReceiverKind, RouteTiming, Severity


def _build(spec):
    return build_alertmanager_config(spec, OWNERS)


def _severity_route(config, severity):
    return next(r for r in config["route"]["routes"] if r.get("matchers") == [f'severity="{severity}"'])


def _area_route(config, severity, owner: RouteOwner):
    """The child of a severity route that an alert of `owner` takes."""
    children = _severity_route(config, severity)["routes"]
    if owner.fallback:
        return children[-1]
    return next(c for c in children if c.get("matchers") == [f'service=~"{"|".join(owner.services)}"'])


def _leaf_receivers(route):
    return [child["receiver"] for child in route["routes"]]


def _leaves(config, severity):
    return [leaf for area in _severity_route(config, severity)["routes"] for leaf in area.get("routes", [area])]


def _receiver(config, name):
    return next(r for r in config["receivers"] if r["name"] == name)


def test_secrets_live_under_the_operator_mount_of_the_receiver_secret():
    assert DEFAULT_SECRETS_DIR == f"/etc/alertmanager/secrets/{ALERTMANAGER_RECEIVER_SECRET}"


def test_every_receiver_kind_but_pagerduty_has_one_secret_key():
    # PagerDuty's keys are one per area and paging severity: the integration keys of its services.
    assert set(RECEIVER_SECRET_KEYS) == {k.value for k in ReceiverKind} - {"pagerduty"}


def test_no_inline_secret_fields_appear_in_the_config(full_spec):
    text = json.dumps(_build(full_spec))
    for inline in ('"routing_key"', '"service_key"', '"api_url"', '"auth_password"', '"credentials"'):
        assert inline not in text


def test_each_area_pages_with_the_routing_key_of_its_own_service(full_spec):
    config = _build(full_spec)
    for owner in OWNERS:
        for severity in ("p1", "p2"):
            (page,) = _receiver(config, f"pagerduty-{owner.area}-{severity}")["pagerduty_configs"]
            assert page["routing_key_file"] == f"{DEFAULT_SECRETS_DIR}/pagerduty-{owner.area}-{severity}-routing-key"


def test_the_page_carries_the_severity_and_its_owner(full_spec):
    (page,) = _receiver(_build(full_spec), "pagerduty-payments-p2")["pagerduty_configs"]
    assert page["severity"] == "error"
    assert page["details"]["severity"] == "{{ .CommonLabels.severity }}"
    assert (page["details"]["area"], page["details"]["team"]) == ("payments", "api-team")


def test_p1_pages_as_critical(full_spec):
    (page,) = _receiver(_build(full_spec), "pagerduty-api-p1")["pagerduty_configs"]
    assert page["severity"] == "critical"


def test_secret_files_point_at_the_receiver_secret_keys(full_spec):
    config = _build(full_spec)
    assert _receiver(config, "slack-p2")["slack_configs"][0]["api_url_file"].endswith("/slack-webhook-url")
    assert _receiver(config, "email-p2")["email_configs"][0]["auth_password_file"].endswith("/smtp-password")


def test_ticket_url_carries_the_team_queue_and_its_token_is_a_file(full_spec):
    webhook = _receiver(_build(full_spec), "ticket-data-team-p4")["webhook_configs"][0]
    url = urlsplit(webhook["url"])
    assert url._replace(query="").geturl() == ALL_RECEIVERS["ticket"]["url"]
    assert parse_qs(url.query) == {"queue": ["DATA"]}
    assert webhook["http_config"]["authorization"]["credentials_file"].endswith("/ticket-webhook-token")


def test_a_ticket_url_keeps_its_own_query():
    spec = make_spec(receivers={"ticket": {"enabled": True, "url": "https://tickets.example.org/hook?project=ops"}})
    (webhook,) = _receiver(_build(spec), "ticket-api-team-p3")["webhook_configs"]
    assert parse_qs(urlsplit(webhook["url"]).query) == {"project": ["ops"], "queue": ["API"]}


def test_secrets_dir_can_be_moved_for_tests(full_spec):
    config = live_alertmanager_config(_build(full_spec), secrets_dir="/tmp/x")
    assert _receiver(config, "slack-p1")["slack_configs"][0]["api_url_file"] == "/tmp/x/slack-webhook-url"
    assert _receiver(config, "pagerduty-api-p1")["pagerduty_configs"][0]["routing_key_file"] == "/tmp/x/pagerduty-api-p1-routing-key"


def test_an_area_route_matches_the_services_it_owns(full_spec):
    route = _area_route(_build(full_spec), "P1", API)
    assert route["matchers"] == ['service=~"checkout|search"']


def test_the_fallback_area_is_the_last_route_and_matches_whatever_is_left(full_spec):
    children = _severity_route(_build(full_spec), "P2")["routes"]
    assert "matchers" not in children[-1]
    assert _leaf_receivers(children[-1])[0] == "pagerduty-platform-p2"
    assert all("matchers" in c for c in children[:-1])


def test_p1_fans_out_to_the_areas_pagerduty_and_the_incident_channel(full_spec):
    route = _area_route(_build(full_spec), "P1", DATABASE)
    assert _leaf_receivers(route) == ["pagerduty-database-p1", "slack-p1"]
    assert route["routes"][0]["continue"] is True and "continue" not in route["routes"][1]


def test_p2_pages_the_area_and_keeps_its_channel_and_email(full_spec):
    assert _leaf_receivers(_area_route(_build(full_spec), "P2", PAYMENTS)) == ["pagerduty-payments-p2", "slack-p2", "email-p2"]


def test_p3_goes_to_the_owning_teams_channel_and_queue(full_spec):
    config = _build(full_spec)
    assert _leaf_receivers(_area_route(config, "P3", DATABASE)) == ["slack-data-team-p3", "ticket-data-team-p3"]
    assert _receiver(config, "slack-data-team-p3")["slack_configs"][0]["channel"] == "#team-data"


def test_p4_goes_to_the_owning_teams_queue_only(full_spec):
    assert _leaf_receivers(_area_route(_build(full_spec), "P4", PLATFORM)) == ["ticket-platform-team-p4"]


def test_a_team_owning_two_areas_has_one_channel_and_one_queue(full_spec):
    config = _build(full_spec)
    assert _leaf_receivers(_area_route(config, "P3", API)) == _leaf_receivers(_area_route(config, "P3", PAYMENTS))
    assert [r["name"] for r in config["receivers"]].count("slack-api-team-p3") == 1


def test_an_area_without_services_has_no_route():
    lonely = RouteOwner("frontend", "web-team", (), "#team-web", "WEB")
    config = build_alertmanager_config(make_spec(receivers=ALL_RECEIVERS), (lonely, *OWNERS))
    assert len(_severity_route(config, "P1")["routes"]) == len(OWNERS)


def test_routing_needs_the_fallback_area_last(full_spec):
    with pytest.raises(AssertionError):
        build_alertmanager_config(full_spec, (PLATFORM, API))


def test_route_owners_put_the_platform_area_last():
    ownership = OwnershipSpec.model_validate(
        {
            "cto": {"name": "C", "email": "cto@x.example", "role": "cto"},
            "teams": {
                "t": {"slackChannel": "#t", "ticketQueue": "T", "members": [
                    {"name": "L", "email": "l@x.example", "role": "team lead"},
                    {"name": "M", "email": "m@x.example", "role": "engineering manager"},
                    *({"name": n, "email": f"{n}@x.example", "role": "engineer"} for n in "abcd"),
                ]},
            },
            "areas": {
                area: {"team": "t", "services": [f"{area}-svc"] if area != "platform" else [], "rotation": {
                    "primary": {"members": [f"{member}@x.example"], "rotationLength": "1w"},
                    "secondary": {"members": ["l@x.example"], "rotationLength": "1w"},
                }}
                for area, member in (("platform", "a"), ("api", "b"), ("frontend", "c"), ("database", "d"))
            },
        }
    )  # fmt: skip
    owners = route_owners(ownership)
    assert [o.area for o in owners] == ["api", "frontend", "database", "platform"]
    assert [o.fallback for o in owners] == [False, False, False, True]
    assert owners[0] == RouteOwner("api", "t", ("api-svc",), "#t", "T")


def test_pagerduty_failures_reach_the_fallback_receiver_first(full_spec):
    config = _build(full_spec)
    route = config["route"]["routes"][1]
    assert route["receiver"] == FALLBACK_RECEIVER and route["continue"] is True
    assert route["matchers"] == ['alertname="AlertmanagerNotificationsFailing"', 'integration="pagerduty"']
    fallback = _receiver(config, FALLBACK_RECEIVER)
    assert "pagerduty_configs" not in fallback
    assert fallback["slack_configs"][0]["channel"] == "#alerts-p1" and fallback["email_configs"]


def test_without_pagerduty_there_is_no_fallback_route():
    receivers = {k: v for k, v in ALL_RECEIVERS.items() if k != "pagerduty"}
    config = _build(make_spec(receivers=receivers))
    assert FALLBACK_RECEIVER not in {r["name"] for r in config["receivers"]}
    assert not any(r["name"].startswith("pagerduty") for r in config["receivers"])


def test_each_severity_route_uses_the_table_timers(full_spec):
    route = _severity_route(_build(full_spec), "P1")
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("10s", "1m", "1h")


def test_timing_override_replaces_the_table_timers(full_spec):
    fast = RouteTiming("1s", "2s", "1h")
    config = live_alertmanager_config(_build(full_spec), timing={Severity.P4: fast})
    assert _severity_route(config, "P4")["group_wait"] == "1s"
    assert _severity_route(config, "P3")["group_wait"] == _severity_route(_build(full_spec), "P3")["group_wait"]


@pytest.mark.parametrize(("severity", "business"), [("P1", False), ("P2", False), ("P3", True), ("P4", True)])
def test_only_p3_and_p4_are_limited_to_business_hours(full_spec, severity, business):
    leaves = _leaves(_build(full_spec), severity)
    assert leaves and all((leaf.get("active_time_intervals") == ["business-hours"]) is business for leaf in leaves)


def test_business_hours_interval_uses_the_stack_time_zone():
    config = _build(make_spec(businessHours={"location": "America/New_York"}))
    (interval,) = [i for i in config["time_intervals"] if i["name"] == "business-hours"]
    assert interval["time_intervals"][0]["location"] == "America/New_York"


def test_maintenance_windows_mute_every_severity_leaf(full_spec):
    config = _build(full_spec)
    for severity in ("P1", "P2", "P3", "P4"):
        for leaf in _leaves(config, severity):
            assert leaf["mute_time_intervals"] == ["maintenance-sunday-patching"]


def test_maintenance_window_can_be_limited_to_some_severities():
    spec = make_spec(
        receivers=ALL_RECEIVERS,
        maintenanceWindows=[{"name": "db", "weekdays": ["saturday"], "severities": ["P3", "P4"]}],
    )
    config = _build(spec)
    assert all("mute_time_intervals" not in leaf for leaf in _leaves(config, "P1"))
    assert all(leaf["mute_time_intervals"] == ["maintenance-db"] for leaf in _leaves(config, "P4"))


def test_watchdog_is_routed_first_to_its_own_receiver_and_never_muted(full_spec):
    first = _build(full_spec)["route"]["routes"][0]
    assert first["matchers"] == ['alertname="Watchdog"'] and first["receiver"] == "watchdog"
    assert "mute_time_intervals" not in first


def test_p1_inhibits_lower_severities_of_the_same_service_and_environment(full_spec):
    rules = _build(full_spec)["inhibit_rules"]
    service_rule = next(r for r in rules if "service" in r["equal"])
    assert service_rule["source_matchers"][0] == 'severity="P1"'
    assert 'severity=~"P2|P3|P4"' in service_rule["target_matchers"]
    assert service_rule["equal"] == ["service", "environment"]


def test_platform_p1_inhibits_only_its_own_component(full_spec):
    rules = _build(full_spec)["inhibit_rules"]
    component_rule = next(r for r in rules if "component" in r["equal"])
    assert 'component=~".+"' in component_rule["source_matchers"]
    assert component_rule["equal"] == ["component", "environment"]


def test_watchdog_is_never_inhibited(full_spec):
    for rule in _build(full_spec)["inhibit_rules"]:
        assert 'alertname!="Watchdog"' in rule["target_matchers"]


def test_without_receivers_everything_goes_to_the_null_receiver(spec):
    config = _build(spec)
    assert {r["name"] for r in config["receivers"]} == {"null", "watchdog"}
    for severity in ("P1", "P2", "P3", "P4"):
        assert [leaf["receiver"] for leaf in _severity_route(config, severity)["routes"]] == ["null"]


def test_without_receivers_a_warning_says_nobody_is_notified(spec):
    assert "nobody is notified" in missing_receivers_warning(spec, "alerting")


def test_with_every_receiver_there_is_no_warning(full_spec):
    assert missing_receivers_warning(full_spec, "alerting") is None


def test_partial_receivers_warn_which_severities_are_unrouted():
    spec = make_spec(receivers={"slack": {"enabled": True}})
    warning = missing_receivers_warning(spec, "alerting")
    assert "P4 notify nobody" in warning and "P1, P2, P3 reach only some" in warning


def test_the_incident_channels_follow_the_severity(full_spec):
    config = _build(full_spec)
    assert _receiver(config, "slack-p1")["slack_configs"][0]["channel"] == "#alerts-p1"
    assert _receiver(config, "slack-p2")["slack_configs"][0]["channel"] == "#alerts-p2"


def test_unknown_severity_falls_back_to_the_owners_p3_receivers(full_spec):
    catch_all = _build(full_spec)["route"]["routes"][-1]
    assert "matchers" not in catch_all
    database = next(c for c in catch_all["routes"] if c.get("matchers") == ['service=~"postgres"'])
    assert _leaf_receivers(database) == ["slack-data-team-p3", "ticket-data-team-p3"]
