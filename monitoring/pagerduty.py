"""How PagerDuty pages, as strategy: the urgency of each paging severity, the notification rules
every paged person gets (the strategy's "mobile notifications"), and how often a chain nobody
answered runs again. plan/pagerduty.py turns the ownership model into PagerDuty objects with these.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from monitoring.ownership import ESCALATION_CHAINS
from monitoring.severity import Severity


class Urgency(StrEnum):
    HIGH = "high"
    LOW = "low"


class ContactKind(StrEnum):
    """PagerDuty contact method types.
    Ref: PagerDuty/terraform-provider-pagerduty website/docs/r/user_contact_method.html.markdown (`type`)"""

    PUSH = "push_notification_contact_method"
    PHONE = "phone_contact_method"
    EMAIL = "email_contact_method"


# The urgency of the incidents each paging severity opens (the service's constant urgency). Both are
# high: PagerDuty escalates only high-urgency incidents ("low: uses low-urgency notification rules
# and cannot be escalated"), and both severities have a chain that must run within the response time
# (monitoring/ownership.py). What sets P2 apart is its chain and its longer steps, not the urgency.
# Ref: https://support.pagerduty.com/main/docs/dynamic-notifications ("Severity and Urgency Mapping")
# Ref: PagerDuty/terraform-provider-pagerduty website/docs/r/service.html.markdown (incident_urgency_rule)
URGENCY: dict[Severity, Urgency] = {Severity.P1: Urgency.HIGH, Severity.P2: Urgency.HIGH}


@dataclass(frozen=True)
class NotificationRule:
    urgency: Urgency
    contact: ContactKind
    # Minutes after the person is paged (PagerDuty's `start_delay_in_minutes`).
    start_delay_minutes: int


# The mobile notifications: a high-urgency page pushes to the phone app at once and calls a minute
# later (an acknowledgement from the push saves the call, and the call still comes well within a P1
# step of 3 min); a low-urgency one pushes and emails, never calls.
# Ref: PagerDuty/terraform-provider-pagerduty website/docs/r/user_notification_rule.html.markdown
NOTIFICATION_RULES: tuple[NotificationRule, ...] = (
    NotificationRule(Urgency.HIGH, ContactKind.PUSH, 0),
    NotificationRule(Urgency.HIGH, ContactKind.PHONE, 1),
    NotificationRule(Urgency.LOW, ContactKind.PUSH, 0),
    NotificationRule(Urgency.LOW, ContactKind.EMAIL, 0),
)

# How often a policy runs again from its first step when its last step did not acknowledge either
# (PagerDuty's `num_loops`, 0-9): once, so that a chain never ends in silence while Alertmanager
# waits for its next repeat (P1: 1h).
# Ref: PagerDuty/terraform-provider-pagerduty pagerduty/resource_pagerduty_escalation_policy.go
# (num_loops: validation.IntBetween(0, 9))
CHAIN_REPEATS = 1


def notification_rules(has_mobile_app: bool) -> tuple[NotificationRule, ...]:
    """The rules of one person. Without the mobile app there is no push to wait for: the other rules
    of each urgency start at once."""
    if has_mobile_app:
        return NOTIFICATION_RULES
    rules = []
    for urgency in Urgency:
        rest = [r for r in NOTIFICATION_RULES if r.urgency is urgency and r.contact is not ContactKind.PUSH]
        first = min((r.start_delay_minutes for r in rest), default=0)
        rules += [NotificationRule(urgency, r.contact, r.start_delay_minutes - first) for r in rest]
    return tuple(rules)


def paging_severities() -> tuple[Severity, ...]:
    """The severities with an escalation chain: each has a PagerDuty service per area."""
    return tuple(ESCALATION_CHAINS)
