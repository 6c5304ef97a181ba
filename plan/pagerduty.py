"""The PagerDuty slice of the plan: the ownership model as PagerDuty objects, which
components/pagerduty.py declares through the PagerDuty provider (docs/oncall.md).

- a user per person an escalation chain pages (or a lookup by email: pagerduty.existingUsers), with
  their contact methods and notification rules (monitoring/pagerduty.py);
- per service area and rotation layer a schedule. PagerDuty puts one person on call per schedule at
  any time (a higher layer overrides a lower one), so a primary and a secondary who are both on
  call are two schedules, each of one layer, not one schedule of two layers.
  Ref: https://support.pagerduty.com/docs/escalation-policy-vs-schedule ("Why create two separate
  on-call schedules?")
- per area and paging severity an escalation policy from the chain and its delays
  (monitoring/ownership.py), and a service using it, with an Events API v2 integration: a service
  has exactly one escalation policy, so P1's chain and P2's are two services. Their integration keys
  are the routing keys of the area's Alertmanager receivers (monitoring/alertmanager.py).

None of it exists when `alerting.receivers.pagerduty.enabled` is off (dev): the program warns.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from monitoring.alertmanager import pagerduty_routing_key
from monitoring.durations import parse_duration
from monitoring.ownership import Person, RotationLayer, Step, paged_people, phone_parts
from monitoring.pagerduty import CHAIN_REPEATS, URGENCY, ContactKind, NotificationRule, Urgency, notification_rules
from monitoring.severity import Severity
from plan.context import PlatformContext
from plan.ownership import OwnershipPlan
from plan.secrets import PAGERDUTY_TOKEN
from plan.settings import StackSettings

# What the integration is called in each service (PagerDuty shows it on every alert).
INTEGRATION_NAME = "Alertmanager"
# The Events API v2 integration type: Alertmanager's pagerduty_configs speak Events API v2.
# Ref: PagerDuty/terraform-provider-pagerduty website/docs/r/service_integration.html.markdown (`type`)
INTEGRATION_TYPE = "events_api_v2_inbound_integration"
# A responder: may acknowledge and resolve, not administer the account.
# Ref: PagerDuty/terraform-provider-pagerduty website/docs/r/user.html.markdown (`role`)
USER_ROLE = "user"
LAYERS = ("primary", "secondary")
# The contact methods' labels (PagerDuty shows them on the person's profile).
EMAIL_LABEL = "Work email"
PHONE_LABEL = "Work mobile"


@dataclass(frozen=True)
class ContactMethod:
    kind: ContactKind
    label: str
    # None for the mobile app's push contact method: the app registers it, the program looks it up.
    address: str | None = None
    country_code: int | None = None

    @property
    def looked_up(self) -> bool:
        return self.kind is ContactKind.PUSH


@dataclass(frozen=True)
class User:
    # The person's part of every resource name of theirs (unique in the stack).
    slug: str
    name: str
    email: str
    job_title: str
    contact_methods: tuple[ContactMethod, ...]
    notification_rules: tuple[NotificationRule, ...]


@dataclass(frozen=True)
class Schedule:
    """One area's rotation layer as a PagerDuty schedule of one layer."""

    slug: str
    name: str
    description: str
    area: str
    layer: str
    time_zone: str
    # RFC 3339, with the zone's offset on that day: when the first turn of the first member began.
    start: str
    turn_length_seconds: int
    members: tuple[str, ...]  # emails, in turn order


@dataclass(frozen=True)
class Target:
    # schedule_reference (a schedule's slug) or user_reference (an email).
    # Ref: PagerDuty/terraform-provider-pagerduty website/docs/r/escalation_policy.html.markdown (target.type)
    type: str
    ref: str


@dataclass(frozen=True)
class EscalationRule:
    step: Step
    delay_minutes: int
    targets: tuple[Target, ...]


@dataclass(frozen=True)
class EscalationPolicy:
    slug: str
    name: str
    description: str
    area: str
    severity: Severity
    repeats: int
    rules: tuple[EscalationRule, ...]


@dataclass(frozen=True)
class Service:
    slug: str
    name: str
    description: str
    area: str
    team: str
    severity: Severity
    policy: str  # its escalation policy's slug
    urgency: Urgency
    # The key of the Alertmanager receiver Secret its integration key goes to.
    routing_key: str


@dataclass(frozen=True)
class PagerDutyPlan:
    # The secret config key of the provider's API token.
    token_key: str
    existing_users: bool
    users: tuple[User, ...]
    schedules: tuple[Schedule, ...]
    escalation_policies: tuple[EscalationPolicy, ...]
    services: tuple[Service, ...]

    def user(self, email: str) -> User:
        return next(u for u in self.users if u.email == email)

    def objects(self) -> dict[str, Any]:
        """build/<stack>/pagerduty/pagerduty.json: what the stack creates in PagerDuty, by name."""
        names = {s.slug: s.name for s in self.schedules}
        policies = {p.slug: p.name for p in self.escalation_policies}
        return {
            "users": [
                {
                    "name": u.name,
                    "email": u.email,
                    "managed": not self.existing_users,
                    "contactMethods": [
                        {"type": c.kind.value, "label": c.label, "lookedUp": c.looked_up} for c in u.contact_methods
                    ],
                    "notificationRules": [
                        {"urgency": r.urgency.value, "contact": r.contact.value, "startDelayInMinutes": r.start_delay_minutes}
                        for r in u.notification_rules
                    ],
                }
                for u in self.users
            ],
            "schedules": [
                {
                    "name": s.name,
                    "timeZone": s.time_zone,
                    "start": s.start,
                    "turnLengthSeconds": s.turn_length_seconds,
                    "members": list(s.members),
                }
                for s in self.schedules
            ],
            "escalationPolicies": [
                {
                    "name": p.name,
                    "repeats": p.repeats,
                    "rules": [
                        {
                            "step": r.step.value,
                            "escalationDelayInMinutes": r.delay_minutes,
                            "targets": [names.get(t.ref, t.ref) for t in r.targets],
                        }
                        for r in p.rules
                    ],
                }
                for p in self.escalation_policies
            ],
            "services": [
                {
                    "name": s.name,
                    "escalationPolicy": policies[s.policy],
                    "urgency": s.urgency.value,
                    "integration": {"name": INTEGRATION_NAME, "type": INTEGRATION_TYPE},
                    "routingKeySecretKey": s.routing_key,
                }
                for s in self.services
            ],
        }


def contact_slug(kind: ContactKind) -> str:
    """A contact kind's part of a resource name: push-notification, phone, email."""
    return kind.value.removesuffix("_contact_method").replace("_", "-")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def person_slugs(emails: list[str]) -> dict[str, str]:
    """The local part of each email, or the whole address where two people share a local part."""
    local = {email: _slug(email.split("@")[0]) for email in emails}
    counts = list(local.values())
    return {email: slug if counts.count(slug) == 1 else _slug(email) for email, slug in local.items()}


def _user(slug: str, person: Person) -> User:
    methods = [ContactMethod(ContactKind.EMAIL, EMAIL_LABEL, person.email)]
    if person.phone is not None:
        country, number = phone_parts(person.phone)
        methods.append(ContactMethod(ContactKind.PHONE, PHONE_LABEL, number, country))
    if person.mobile_app is not None:
        methods.append(ContactMethod(ContactKind.PUSH, person.mobile_app))
    return User(
        slug=slug,
        name=person.name,
        email=person.email,
        job_title=person.role.value,
        contact_methods=tuple(methods),
        notification_rules=notification_rules(person.mobile_app is not None),
    )


def layer_start(rotation_start: str, layer: RotationLayer) -> str:
    """`rotation_start` at the layer's hand-off time in its zone, RFC 3339 with that day's offset
    (PagerDuty's layer `start` and `rotation_virtual_start`).
    Ref: PagerDuty/terraform-provider-pagerduty website/docs/r/schedule.html.markdown (layer)"""
    day = datetime.date.fromisoformat(rotation_start)
    hours, minutes = map(int, layer.handoff_time.split(":"))
    moment = datetime.datetime(day.year, day.month, day.day, hours, minutes, tzinfo=ZoneInfo(layer.time_zone))
    return moment.isoformat()


def pagerduty_plan(settings: StackSettings, context: PlatformContext, ownership: OwnershipPlan) -> PagerDutyPlan | None:
    if not settings.pagerduty_enabled:
        return None
    spec = settings.ownership
    prefix = f"{context.name} {settings.environment}"
    paged = paged_people(spec)
    slugs = person_slugs(list(paged))
    users = tuple(_user(slugs[email], person) for email, (_, person, _) in paged.items())

    schedules, policies, services = [], [], []
    for area in ownership.areas:
        rotation = spec.areas[area.area].rotation
        layer_slugs = {}
        for name, layer in zip(LAYERS, (rotation.primary, rotation.secondary)):
            slug = layer_slugs[name] = f"{area.area}-{name}"
            schedules.append(
                Schedule(
                    slug=slug,
                    name=f"{prefix} {area.area} {name} on-call",
                    description=f"The {name} on-call of the {area.area} area ({area.team}): one layer, "
                    "one person on call at a time",
                    area=area.area,
                    layer=name,
                    time_zone=layer.time_zone,
                    start=layer_start(settings.pagerduty.rotation_start, layer),
                    turn_length_seconds=int(parse_duration(layer.rotation_length)),
                    members=layer.members,
                )
            )
        for severity, chain in area.escalation.items():
            slug = f"{area.area}-{severity.value.lower()}"
            rules = tuple(
                EscalationRule(
                    step=step.step,
                    delay_minutes=step.delay_minutes,
                    targets=(
                        (Target("schedule_reference", layer_slugs[step.rotation_layer]),)
                        if step.rotation_layer is not None
                        else tuple(Target("user_reference", email) for email in step.people)
                    ),
                )
                for step in chain
            )
            policies.append(
                EscalationPolicy(
                    slug=slug,
                    name=f"{prefix} {area.area} {severity.value}",
                    description=f"{severity.value} chain of the {area.area} area: "
                    + " -> ".join(f"{r.step.value} ({r.delay_minutes} min)" for r in rules),
                    area=area.area,
                    severity=severity,
                    repeats=CHAIN_REPEATS,
                    rules=rules,
                )
            )
            services.append(
                Service(
                    slug=slug,
                    name=f"{prefix} {area.area} {severity.value}",
                    description=f"{severity.value} alerts of the {area.area} area ({area.team}), from Alertmanager "
                    f"({settings.environment}); services: {', '.join(area.services or area.components) or 'none yet'}",
                    area=area.area,
                    team=area.team,
                    severity=severity,
                    policy=slug,
                    urgency=URGENCY[severity],
                    routing_key=pagerduty_routing_key(area.area, severity),
                )
            )
    return PagerDutyPlan(
        token_key=PAGERDUTY_TOKEN.key,
        existing_users=settings.pagerduty.existing_users,
        users=users,
        schedules=tuple(schedules),
        escalation_policies=tuple(policies),
        services=tuple(services),
    )


def pagerduty_warnings(settings: StackSettings) -> list[str]:
    """What the stack's paging will not do: PagerDuty off altogether, or people without the app."""
    if not settings.pagerduty_enabled:
        return [
            f"alerting.receivers.pagerduty.enabled: PagerDuty is off in environment {settings.environment!r}; "
            "nothing is created in PagerDuty and P1/P2 page nobody (they reach only their other receivers)"
        ]
    without_app = [email for email, (_, person, _) in paged_people(settings.ownership).items() if person.mobile_app is None]
    if without_app:
        return [
            f"ownership: {', '.join(without_app)} have no mobileApp: PagerDuty pushes nothing to them; "
            "high-urgency pages call at once, low-urgency ones email"
        ]
    return []
