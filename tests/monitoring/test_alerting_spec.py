"""AlertingSpec: the stack's alerting input, validated with messages that name the config key."""

from __future__ import annotations

import pydantic
import pytest
from tests.monitoring.alerting_helpers import ALL_RECEIVERS, make_spec

from monitoring.alerting_spec import AlertingSpec, SloOverride
from monitoring.severity import ReceiverKind


def test_spec_accepts_camel_case_stack_config():
    spec = AlertingSpec.model_validate(
        {"environment": "dev", "sloOverrides": {"api-availability": {"target": 0.995}}}
    )
    assert spec.slo_overrides["api-availability"].target == 0.995


def test_spec_is_frozen():
    spec = make_spec()
    with pytest.raises(pydantic.ValidationError):
        spec.environment = "dev"  # type: ignore[misc]


def test_spec_rejects_unknown_fields():
    with pytest.raises(pydantic.ValidationError, match="extra"):
        make_spec(pagerdutyKey="oops")


def test_unknown_slo_id_is_rejected_naming_the_key():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, sloOverrides\.api-uptime"):
        make_spec(sloOverrides={"api-uptime": {"target": 0.99}})


@pytest.mark.parametrize("target", [0, 1, 1.5, -0.2, 99.9])
def test_ratio_slo_target_outside_zero_one_is_rejected(target):
    with pytest.raises(pydantic.ValidationError, match=r"Value error, sloOverrides\.api-availability\.target"):
        make_spec(sloOverrides={"api-availability": {"target": target}})


def test_negative_threshold_target_is_rejected():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, sloOverrides\.db-replication-lag\.target"):
        make_spec(sloOverrides={"db-replication-lag": {"target": -5}})


def test_threshold_slo_accepts_a_limit_above_one():
    spec = make_spec(sloOverrides={"db-replication-lag": {"target": 30}})
    assert spec.slo_overrides["db-replication-lag"].target == 30


def test_malformed_slo_window_is_rejected_naming_the_key():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, sloOverrides\.api-latency\.window"):
        make_spec(sloOverrides={"api-latency": {"window": "one day"}})


def test_slo_override_alone_is_a_valid_model():
    assert SloOverride(target=0.99).window is None


def test_no_receiver_is_enabled_by_default():
    assert make_spec().receivers.enabled_kinds() == frozenset()


def test_all_receivers_enabled_lists_every_kind():
    assert make_spec(receivers=ALL_RECEIVERS).receivers.enabled_kinds() == frozenset(ReceiverKind)


def test_enabled_email_without_recipient_names_the_key():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, receivers\.email\.to"):
        make_spec(receivers={"email": {"enabled": True, "from": "a@b.c", "smarthost": "smtp:25"}})


def test_enabled_ticket_without_url_names_the_key():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, receivers\.ticket\.url"):
        make_spec(receivers={"ticket": {"enabled": True}})


def test_enabled_slack_needs_a_channel_for_every_severity_posting_for_everybody():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, receivers\.slack\.channels\.P2: required"):
        make_spec(receivers={"slack": {"enabled": True, "channels": {"P1": "#a"}}})


def test_a_p3_channel_is_refused_since_p3_posts_to_the_owning_teams_channel():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, receivers\.slack\.channels\.P3: P3 posts to the owning team's"):
        make_spec(receivers={"slack": {"enabled": True, "channels": {"P1": "#a", "P2": "#b", "P3": "#c"}}})


def test_a_p4_channel_is_refused_since_p4_does_not_notify_slack():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, receivers\.slack\.channels\.P4: P4 does not notify Slack"):
        make_spec(receivers={"slack": {"channels": {"P1": "#a", "P2": "#b", "P4": "#c"}}})


def test_unknown_business_hours_time_zone_names_the_key():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, businessHours\.location"):
        make_spec(businessHours={"location": "Mars/Olympus"})


def test_business_hours_must_start_before_they_end():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, businessHours"):
        make_spec(businessHours={"startTime": "18:00", "endTime": "09:00"})


def test_maintenance_window_with_unknown_weekday_names_the_window():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, maintenanceWindows\.patch\.weekdays"):
        make_spec(maintenanceWindows=[{"name": "patch", "weekdays": ["funday"]}])


def test_maintenance_window_names_must_be_unique():
    window = {"name": "patch", "weekdays": ["sunday"]}
    with pytest.raises(pydantic.ValidationError, match="duplicate names patch"):
        make_spec(maintenanceWindows=[window, window])


def test_runbook_base_url_loses_its_trailing_slash():
    spec = make_spec(runbookBaseUrl="https://example.org/runbooks/")
    assert spec.runbook_base_url == "https://example.org/runbooks"


def test_weekday_range_that_runs_backwards_in_alertmanager_order_is_rejected():
    with pytest.raises(pydantic.ValidationError, match=r"Value error, businessHours\.weekdays: range 'monday:sunday'"):
        make_spec(businessHours={"weekdays": ["monday:sunday"]})


def test_whole_week_is_written_sunday_to_saturday():
    assert make_spec(businessHours={"weekdays": ["sunday:saturday"]}).business_hours.weekdays == ["sunday:saturday"]
