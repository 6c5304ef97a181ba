"""Alertmanager config builder: routing from the severity table, secrets by file only."""

from __future__ import annotations

import json

import pytest
from tests.monitoring.alerting_helpers import ALL_RECEIVERS, live_alertmanager_config, make_spec

from monitoring.alertmanager import (
    ALERTMANAGER_RECEIVER_SECRET,
    DEFAULT_SECRETS_DIR,
    RECEIVER_SECRET_KEYS,
    build_alertmanager_config,
    missing_receivers_warning,
)
from monitoring.severity import ReceiverKind, RouteTiming, Severity


def _severity_route(config, severity):
    return next(r for r in config["route"]["routes"] if r.get("matchers") == [f'severity="{severity}"'])


def _leaf_receivers(route):
    return [child["receiver"] for child in route["routes"]]


def _receiver(config, name):
    return next(r for r in config["receivers"] if r["name"] == name)


def test_secrets_live_under_the_operator_mount_of_the_receiver_secret():
    assert DEFAULT_SECRETS_DIR == f"/etc/alertmanager/secrets/{ALERTMANAGER_RECEIVER_SECRET}"


def test_every_receiver_kind_has_a_secret_key():
    assert set(RECEIVER_SECRET_KEYS) == {k.value for k in ReceiverKind}


def test_no_inline_secret_fields_appear_in_the_config(full_spec):
    text = json.dumps(build_alertmanager_config(full_spec))
    for inline in ('"routing_key"', '"service_key"', '"api_url"', '"auth_password"', '"credentials"'):
        assert inline not in text


def test_secret_files_point_at_the_receiver_secret_keys(full_spec):
    config = build_alertmanager_config(full_spec)
    assert _receiver(config, "pagerduty-p1")["pagerduty_configs"][0]["routing_key_file"] == (
        f"{DEFAULT_SECRETS_DIR}/pagerduty-routing-key"
    )
    assert _receiver(config, "slack-p2")["slack_configs"][0]["api_url_file"].endswith("/slack-webhook-url")
    assert _receiver(config, "email-p2")["email_configs"][0]["auth_password_file"].endswith("/smtp-password")


def test_ticket_url_is_plain_and_its_token_is_a_file(full_spec):
    webhook = _receiver(build_alertmanager_config(full_spec), "ticket-p4")["webhook_configs"][0]
    assert webhook["url"] == ALL_RECEIVERS["ticket"]["url"]
    assert webhook["http_config"]["authorization"]["credentials_file"].endswith("/ticket-webhook-token")


def test_secrets_dir_can_be_moved_for_tests(full_spec):
    config = live_alertmanager_config(build_alertmanager_config(full_spec), secrets_dir="/tmp/x")
    assert _receiver(config, "slack-p1")["slack_configs"][0]["api_url_file"] == "/tmp/x/slack-webhook-url"


def test_p1_fans_out_to_pagerduty_and_slack(full_spec):
    route = _severity_route(build_alertmanager_config(full_spec), "P1")
    assert _leaf_receivers(route) == ["pagerduty-p1", "slack-p1"]
    assert route["routes"][0]["continue"] is True and "continue" not in route["routes"][1]


def test_each_severity_route_uses_the_table_timers(full_spec):
    route = _severity_route(build_alertmanager_config(full_spec), "P1")
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == ("10s", "1m", "1h")


def test_timing_override_replaces_the_table_timers(full_spec):
    fast = RouteTiming("1s", "2s", "1h")
    config = live_alertmanager_config(build_alertmanager_config(full_spec), timing={Severity.P4: fast})
    assert _severity_route(config, "P4")["group_wait"] == "1s"
    assert _severity_route(config, "P3")["group_wait"] == _severity_route(build_alertmanager_config(full_spec), "P3")["group_wait"]


@pytest.mark.parametrize(("severity", "business"), [("P1", False), ("P2", False), ("P3", True), ("P4", True)])
def test_only_p3_and_p4_are_limited_to_business_hours(full_spec, severity, business):
    route = _severity_route(build_alertmanager_config(full_spec), severity)
    has = all(leaf.get("active_time_intervals") == ["business-hours"] for leaf in route["routes"])
    assert has is business


def test_business_hours_interval_uses_the_stack_time_zone():
    config = build_alertmanager_config(make_spec(businessHours={"location": "America/New_York"}))
    (interval,) = [i for i in config["time_intervals"] if i["name"] == "business-hours"]
    assert interval["time_intervals"][0]["location"] == "America/New_York"


def test_maintenance_windows_mute_every_severity_leaf(full_spec):
    config = build_alertmanager_config(full_spec)
    for severity in ("P1", "P2", "P3", "P4"):
        for leaf in _severity_route(config, severity)["routes"]:
            assert leaf["mute_time_intervals"] == ["maintenance-sunday-patching"]


def test_maintenance_window_can_be_limited_to_some_severities():
    spec = make_spec(
        receivers=ALL_RECEIVERS,
        maintenanceWindows=[{"name": "db", "weekdays": ["saturday"], "severities": ["P3", "P4"]}],
    )
    config = build_alertmanager_config(spec)
    assert "mute_time_intervals" not in _severity_route(config, "P1")["routes"][0]
    assert _severity_route(config, "P4")["routes"][0]["mute_time_intervals"] == ["maintenance-db"]


def test_watchdog_is_routed_first_to_its_own_receiver_and_never_muted(full_spec):
    first = build_alertmanager_config(full_spec)["route"]["routes"][0]
    assert first["matchers"] == ['alertname="Watchdog"'] and first["receiver"] == "watchdog"
    assert "mute_time_intervals" not in first


def test_p1_inhibits_lower_severities_of_the_same_service_and_environment(full_spec):
    rules = build_alertmanager_config(full_spec)["inhibit_rules"]
    service_rule = next(r for r in rules if "service" in r["equal"])
    assert service_rule["source_matchers"][0] == 'severity="P1"'
    assert 'severity=~"P2|P3|P4"' in service_rule["target_matchers"]
    assert service_rule["equal"] == ["service", "environment"]


def test_platform_p1_inhibits_only_its_own_component(full_spec):
    rules = build_alertmanager_config(full_spec)["inhibit_rules"]
    component_rule = next(r for r in rules if "component" in r["equal"])
    assert 'component=~".+"' in component_rule["source_matchers"]
    assert component_rule["equal"] == ["component", "environment"]


def test_watchdog_is_never_inhibited(full_spec):
    for rule in build_alertmanager_config(full_spec)["inhibit_rules"]:
        assert 'alertname!="Watchdog"' in rule["target_matchers"]


def test_without_receivers_everything_goes_to_the_null_receiver(spec):
    config = build_alertmanager_config(spec)
    assert {r["name"] for r in config["receivers"]} == {"null", "watchdog"}
    assert _leaf_receivers(_severity_route(config, "P1")) == ["null"]


def test_without_receivers_a_warning_says_nobody_is_notified(spec):
    assert "nobody is notified" in missing_receivers_warning(spec, "alerting")


def test_with_every_receiver_there_is_no_warning(full_spec):
    assert missing_receivers_warning(full_spec, "alerting") is None


def test_partial_receivers_warn_which_severities_are_unrouted():
    spec = make_spec(receivers={"slack": {"enabled": True}})
    warning = missing_receivers_warning(spec, "alerting")
    assert "P4 notify nobody" in warning and "P1, P2, P3 reach only some" in warning


def test_slack_channel_follows_the_severity(full_spec):
    config = build_alertmanager_config(full_spec)
    assert _receiver(config, "slack-p3")["slack_configs"][0]["channel"] == "#alerts-p3"


def test_unknown_severity_falls_back_to_the_p3_receivers(full_spec):
    catch_all = build_alertmanager_config(full_spec)["route"]["routes"][-1]
    assert "matchers" not in catch_all
    assert _leaf_receivers(catch_all) == ["slack-p3", "ticket-p3"]
