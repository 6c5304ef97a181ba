"""The severity model P1-P4: one table that routing, inhibition, docs and tests all derive from.

Escalation chains themselves live in PagerDuty (docs/architecture.md#alert-contract); this table says which
receivers each severity reaches, when, and how aggressively Alertmanager groups and repeats.
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
    # `response_time` as a duration, for the severities that page someone at any hour: the PagerDuty
    # escalation chain of the owning area must reach its last step within it (monitoring/ownership.py).
    # None: handled in business hours from a ticket, no chain.
    respond_within: str | None = None


SEVERITIES: dict[Severity, SeverityPolicy] = {
    Severity.P1: SeverityPolicy(
        severity=Severity.P1,
        meaning="Users are affected now or the error budget burns fast enough to be gone within days.",
        response_time="acknowledge within 5 minutes, any hour",
        receivers=(ReceiverKind.PAGERDUTY, ReceiverKind.SLACK),
        escalation="PagerDuty: primary on-call, then secondary after 15 min, then engineering manager",
        hours=Hours.ALWAYS,
        # Fastest grouping: a page should leave within seconds; a still-burning incident is re-paged
        # hourly so a missed acknowledgement cannot go quiet.
        timing=RouteTiming(group_wait="10s", group_interval="1m", repeat_interval="1h"),
        group_by=("alertname", "service", "component", "environment"),
        respond_within="5m",
    ),
    Severity.P2: SeverityPolicy(
        severity=Severity.P2,
        meaning="Degradation or fast-approaching risk; must be handled today, also out of hours.",
        response_time="within 30 minutes, any hour",
        receivers=(ReceiverKind.SLACK, ReceiverKind.EMAIL),
        escalation="owning team's Slack channel, then the on-call engineer if unacknowledged for 1 h",
        hours=Hours.ALWAYS,
        timing=RouteTiming(group_wait="30s", group_interval="5m", repeat_interval="4h"),
        group_by=("alertname", "service", "component", "environment"),
        respond_within="30m",
    ),
    Severity.P3: SeverityPolicy(
        severity=Severity.P3,
        meaning="Slow budget burn, capacity or hygiene problem; fix within the working week.",
        response_time="next business day",
        receivers=(ReceiverKind.SLACK, ReceiverKind.TICKET),
        escalation="ticket in the owning team's backlog, reviewed in the weekly ops review",
        hours=Hours.BUSINESS,
        # Coarser grouping: one ticket per service, not one per alert name.
        timing=RouteTiming(group_wait="2m", group_interval="15m", repeat_interval="24h"),
        group_by=("service", "component", "environment"),
    ),
    Severity.P4: SeverityPolicy(
        severity=Severity.P4,
        meaning="Informational or optimisation: worth a ticket, never an interruption.",
        response_time="planned work (within the sprint)",
        receivers=(ReceiverKind.TICKET,),
        escalation="ticket only",
        hours=Hours.BUSINESS,
        timing=RouteTiming(group_wait="5m", group_interval="30m", repeat_interval="72h"),
        group_by=("alertname", "service", "component", "environment"),
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


def receiver_name(kind: ReceiverKind, severity: Severity) -> str:
    """Alertmanager receiver name for one integration at one severity, e.g. "slack-p1".

    One receiver per (kind, severity) lets each severity carry its own channel and payload fields,
    and lets `amtool config routes test` name exactly which integrations a severity reaches.
    """
    return f"{kind.value}-{severity.value.lower()}"


def expected_receivers(severity: Severity) -> list[str]:
    """Receiver names a severity routes to, in table order."""
    return [receiver_name(k, severity) for k in SEVERITIES[severity].receivers]
