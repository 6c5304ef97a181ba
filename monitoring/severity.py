"""The severity model P1-P4: one table that routing, inhibition, docs and tests all derive from.

It says which receivers each severity reaches (and which of them belong to the alert's owner),
when, how aggressively Alertmanager groups and repeats, and how fast a paging severity must be
answered: the PagerDuty escalation chains of every service area (monitoring/ownership.py) take their
delays from that response time (docs/oncall.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class ReceiverKind(StrEnum):
    """The notification integrations the platform knows; secrets per kind are in alertmanager.py."""

    PAGERDUTY = "pagerduty"
    SLACK = "slack"
    EMAIL = "email"
    TICKET = "ticket"


class Hours(StrEnum):
    ALWAYS = "24/7"
    BUSINESS = "business hours"


@dataclass(frozen=True)
class RouteTiming:
    """Alertmanager grouping timers of one route.

    Ref: https://prometheus.io/docs/alerting/latest/configuration/#route
    group_wait: how long to buffer the first alert of a new group; group_interval: how long before
    sending an update about new alerts in a group; repeat_interval: how long before re-notifying an
    unchanged group.
    """

    group_wait: str
    group_interval: str
    repeat_interval: str


@dataclass(frozen=True)
class SeverityPolicy:
    severity: Severity
    meaning: str
    response_time: str
    receivers: tuple[ReceiverKind, ...]
    escalation: str
    hours: Hours
    timing: RouteTiming
    group_by: tuple[str, ...]
    # The receivers of `receivers` that belong to the alert's owner (monitoring/ownership.py): the
    # owning area's PagerDuty service, the owning team's Slack channel and ticket queue. The others
    # are one per severity for everybody (the incident channels and the on-call mailbox), which do
    # not depend on PagerDuty.
    owned: tuple[ReceiverKind, ...] = ()
    # `response_time` as a duration, for the severities that page someone at any hour: the PagerDuty
    # escalation chain of the owning area must reach its last step within it (monitoring/ownership.py).
    # None: handled in business hours from a ticket, no chain.
    respond_within: str | None = None

    @property
    def pages(self) -> bool:
        """Whether it pages someone at any hour (the others are tickets, in business hours)."""
        return self.respond_within is not None


SEVERITIES: dict[Severity, SeverityPolicy] = {
    Severity.P1: SeverityPolicy(
        severity=Severity.P1,
        meaning="Users are affected now or the error budget burns fast enough to be gone within days.",
        response_time="acknowledge within 15 minutes, any hour",
        receivers=(ReceiverKind.PAGERDUTY, ReceiverKind.SLACK),
        escalation="PagerDuty, the owning area's P1 policy: primary on-call, secondary on-call, "
        "engineering manager, CTO (a step every 3 min)",
        hours=Hours.ALWAYS,
        # Fastest grouping: a page should leave within seconds; a still-burning incident is re-paged
        # hourly so a missed acknowledgement cannot go quiet.
        timing=RouteTiming(group_wait="10s", group_interval="1m", repeat_interval="1h"),
        group_by=("alertname", "service", "component", "environment"),
        owned=(ReceiverKind.PAGERDUTY,),
        # The strategy's "secondary after 15 min" was the whole response time; the chain now runs
        # all four steps within it (docs/oncall.md).
        respond_within="15m",
    ),
    Severity.P2: SeverityPolicy(
        severity=Severity.P2,
        meaning="Degradation or fast-approaching risk; must be handled today, also out of hours.",
        response_time="within 30 minutes, any hour",
        receivers=(ReceiverKind.PAGERDUTY, ReceiverKind.SLACK, ReceiverKind.EMAIL),
        escalation="PagerDuty, the owning area's P2 policy: primary on-call, secondary on-call, "
        "team lead (a step every 10 min)",
        hours=Hours.ALWAYS,
        timing=RouteTiming(group_wait="30s", group_interval="5m", repeat_interval="4h"),
        group_by=("alertname", "service", "component", "environment"),
        owned=(ReceiverKind.PAGERDUTY,),
        respond_within="30m",
    ),
    Severity.P3: SeverityPolicy(
        severity=Severity.P3,
        meaning="Slow budget burn, capacity or hygiene problem; fix within the working week.",
        response_time="next business day",
        receivers=(ReceiverKind.SLACK, ReceiverKind.TICKET),
        escalation="the owning team's Slack channel and a ticket in its queue, reviewed in the weekly ops review",
        hours=Hours.BUSINESS,
        # Coarser grouping: one ticket per service, not one per alert name.
        timing=RouteTiming(group_wait="2m", group_interval="15m", repeat_interval="24h"),
        group_by=("service", "component", "environment"),
        owned=(ReceiverKind.SLACK, ReceiverKind.TICKET),
    ),
    Severity.P4: SeverityPolicy(
        severity=Severity.P4,
        meaning="Informational or optimisation: worth a ticket, never an interruption.",
        response_time="planned work (within the sprint)",
        receivers=(ReceiverKind.TICKET,),
        escalation="a ticket in the owning team's queue only",
        hours=Hours.BUSINESS,
        timing=RouteTiming(group_wait="5m", group_interval="30m", repeat_interval="72h"),
        group_by=("alertname", "service", "component", "environment"),
        owned=(ReceiverKind.TICKET,),
    ),
}


# kube-prometheus-stack's default rules (and the kubernetes-mixin, node-exporter and Prometheus
# mixins they are generated from) use critical / warning / info. They become P-levels in the rendered
# PrometheusRules (monitoring/upstream_rules.py), so ALERTS, the Prometheus UI, dashboards and
# Alertmanager all see the same P-level:
# - critical -> P2: upstream "critical" names a component symptom (API server down, a disk about to
#   fill, Alertmanager cluster down) that must be handled today, also out of hours. P1 pages and is
#   kept for user impact, i.e. our SLO burn-rate alerts.
# - warning -> P3: capacity or hygiene, fix within the working week.
# - info -> P4: ticket only (quota almost full, CPU throttling).
# Upstream's `none` (Watchdog, InfoInhibitor) has no P-level: that group is off (upstream_rules.py).
# Ref: kube-prometheus-stack 88.5.3 templates/prometheus/rules-1.14/*.yaml (`severity:` labels).
UPSTREAM_SEVERITY: dict[str, Severity] = {
    "critical": Severity.P2,
    "warning": Severity.P3,
    "info": Severity.P4,
}


def receiver_name(kind: ReceiverKind, severity: Severity, owner: str | None = None) -> str:
    """Alertmanager receiver name for one integration at one severity: "slack-p1" for a receiver of
    everybody, "pagerduty-api-p1" (the owning area) or "ticket-api-team-p4" (the owning team) for an
    owned one (SeverityPolicy.owned).

    One receiver per (kind, owner, severity) lets each carry its own channel, queue or PagerDuty
    service, and lets `amtool config routes test` name exactly which integrations an alert reaches.
    """
    middle = f"-{owner}" if owner is not None else ""
    return f"{kind.value}{middle}-{severity.value.lower()}"
