"""The severity table: the single source for routing, docs and the amtool route tests."""

from __future__ import annotations

from monitoring.severity import SEVERITIES, Hours, ReceiverKind, Severity, receiver_name
from monitoring.durations import parse_duration


def test_table_has_exactly_p1_to_p4():
    assert list(SEVERITIES) == [Severity.P1, Severity.P2, Severity.P3, Severity.P4]


def test_p1_pages_the_owners_pagerduty_and_the_incident_channel_around_the_clock():
    p1 = SEVERITIES[Severity.P1]
    assert p1.receivers == (ReceiverKind.PAGERDUTY, ReceiverKind.SLACK)
    assert p1.owned == (ReceiverKind.PAGERDUTY,)
    assert p1.hours is Hours.ALWAYS


def test_p2_pages_the_owners_pagerduty_and_keeps_slack_and_email_around_the_clock():
    p2 = SEVERITIES[Severity.P2]
    assert p2.receivers == (ReceiverKind.PAGERDUTY, ReceiverKind.SLACK, ReceiverKind.EMAIL)
    assert p2.owned == (ReceiverKind.PAGERDUTY,)
    assert p2.hours is Hours.ALWAYS


def test_p3_reaches_the_owning_teams_slack_and_queue_in_business_hours():
    p3 = SEVERITIES[Severity.P3]
    assert p3.receivers == p3.owned == (ReceiverKind.SLACK, ReceiverKind.TICKET)
    assert p3.hours is Hours.BUSINESS


def test_p4_only_opens_a_ticket_in_the_owning_teams_queue_in_business_hours():
    p4 = SEVERITIES[Severity.P4]
    assert p4.receivers == p4.owned == (ReceiverKind.TICKET,)
    assert p4.hours is Hours.BUSINESS


def test_an_owned_receiver_is_a_receiver_of_its_severity():
    for policy in SEVERITIES.values():
        assert set(policy.owned) <= set(policy.receivers)


def test_p1_must_be_answered_within_15_minutes_and_p2_within_30():
    assert SEVERITIES[Severity.P1].respond_within == "15m"
    assert SEVERITIES[Severity.P2].respond_within == "30m"
    assert "15 minutes" in SEVERITIES[Severity.P1].response_time
    assert "30 minutes" in SEVERITIES[Severity.P2].response_time


def test_only_the_paging_severities_have_a_response_time():
    assert {s for s, p in SEVERITIES.items() if p.respond_within} == {Severity.P1, Severity.P2}


def test_p1_has_the_fastest_grouping():
    waits = {s: parse_duration(p.timing.group_wait) for s, p in SEVERITIES.items()}
    assert waits[Severity.P1] == min(waits.values())
    assert all(waits[a] <= waits[b] for a, b in zip(list(Severity), list(Severity)[1:]))


def test_every_severity_documents_meaning_response_and_escalation():
    for policy in SEVERITIES.values():
        assert policy.meaning and policy.response_time and policy.escalation


def test_receiver_names_say_kind_owner_and_severity():
    assert receiver_name(ReceiverKind.SLACK, Severity.P1) == "slack-p1"
    assert receiver_name(ReceiverKind.PAGERDUTY, Severity.P2, "api") == "pagerduty-api-p2"
    assert receiver_name(ReceiverKind.TICKET, Severity.P4, "data-team") == "ticket-data-team-p4"
