"""The severity table: the single source for routing, docs and the amtool route tests."""

from __future__ import annotations

from monitoring.severity import SEVERITIES, Hours, ReceiverKind, Severity, expected_receivers
from monitoring.durations import parse_duration
from tests.monitoring.alerting_helpers import enabled_receivers


def test_table_has_exactly_p1_to_p4():
    assert list(SEVERITIES) == [Severity.P1, Severity.P2, Severity.P3, Severity.P4]


def test_p1_pages_pagerduty_and_slack_around_the_clock():
    p1 = SEVERITIES[Severity.P1]
    assert p1.receivers == (ReceiverKind.PAGERDUTY, ReceiverKind.SLACK)
    assert p1.hours is Hours.ALWAYS


def test_p2_reaches_slack_and_email_around_the_clock():
    p2 = SEVERITIES[Severity.P2]
    assert p2.receivers == (ReceiverKind.SLACK, ReceiverKind.EMAIL)
    assert p2.hours is Hours.ALWAYS


def test_p3_reaches_slack_and_ticket_in_business_hours():
    p3 = SEVERITIES[Severity.P3]
    assert p3.receivers == (ReceiverKind.SLACK, ReceiverKind.TICKET)
    assert p3.hours is Hours.BUSINESS


def test_p4_only_opens_a_ticket_in_business_hours():
    p4 = SEVERITIES[Severity.P4]
    assert p4.receivers == (ReceiverKind.TICKET,)
    assert p4.hours is Hours.BUSINESS


def test_p1_has_the_fastest_grouping():
    waits = {s: parse_duration(p.timing.group_wait) for s, p in SEVERITIES.items()}
    assert waits[Severity.P1] == min(waits.values())
    assert all(waits[a] <= waits[b] for a, b in zip(list(Severity), list(Severity)[1:]))


def test_every_severity_documents_meaning_response_and_escalation():
    for policy in SEVERITIES.values():
        assert policy.meaning and policy.response_time and policy.escalation


def test_expected_receivers_leave_out_disabled_kinds():
    assert enabled_receivers(Severity.P1, frozenset({ReceiverKind.SLACK})) == ["slack-p1"]
    assert enabled_receivers(Severity.P1, frozenset(ReceiverKind)) == expected_receivers(Severity.P1)
