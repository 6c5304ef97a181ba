"""The ownership slice of the plan: per service area its team, people, rotation layers and the
escalation chain of each paging severity, with delays (monitoring/ownership.py).

The render writes it as build/<stack>/oncall/oncall.json, the on-call table a reviewer reads
(docs/oncall.md); the PagerDuty slice (plan/pagerduty.py) deploys its areas, layers and chains, and
the Alertmanager routes (plan/alerting.py) follow its areas, Grafana's users and team members its people (plan/grafana_content.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitoring.alert_rules import catalogue_alerts
from monitoring.ownership import (
    ESCALATION_CHAINS,
    PLATFORM_AREA,
    STEP_ROLES,
    OwnershipSpec,
    Person,
    RotationLayer,
    Step,
    escalation_chain,
)
from monitoring.severity import Severity
from plan.settings import StackSettings


@dataclass(frozen=True)
class Layer:
    name: str  # primary, secondary
    members: tuple[str, ...]  # emails, in turn order
    rotation_length: str
    handoff_time: str
    time_zone: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "layer": self.name,
            "members": list(self.members),
            "rotationLength": self.rotation_length,
            "handoffTime": self.handoff_time,
            "timeZone": self.time_zone,
        }


@dataclass(frozen=True)
class ChainStep:
    step: Step
    # The rotation layer paged (primary, secondary), None for a role step.
    rotation_layer: str | None
    # Who may be paged: the layer's members (one of them is on call) or the people holding the role.
    people: tuple[str, ...]
    notified_after_minutes: int
    delay_minutes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step.value,
            "rotationLayer": self.rotation_layer,
            "people": list(self.people),
            "notifiedAfterMinutes": self.notified_after_minutes,
            "escalatesAfterMinutes": self.delay_minutes,
        }


@dataclass(frozen=True)
class AreaOwnership:
    area: str
    team: str
    slack_channel: str
    ticket_queue: str
    services: tuple[str, ...]
    # The platform `component` labels of the rule catalogue (platform area only).
    components: tuple[str, ...]
    members: tuple[Person, ...]
    layers: tuple[Layer, ...]
    escalation: dict[Severity, tuple[ChainStep, ...]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "area": self.area,
            "team": self.team,
            "slackChannel": self.slack_channel,
            "ticketQueue": self.ticket_queue,
            "services": list(self.services),
            "components": list(self.components),
            "members": [{"name": p.name, "email": p.email, "role": p.role.value} for p in self.members],
            "rotation": [layer.to_dict() for layer in self.layers],
            "escalation": {s.value: [step.to_dict() for step in chain] for s, chain in self.escalation.items()},
        }


@dataclass(frozen=True)
class OwnershipPlan:
    cto: Person
    areas: tuple[AreaOwnership, ...]

    def area(self, name: str) -> AreaOwnership:
        return next(a for a in self.areas if a.area == name)

    def owner_of(self, service: str) -> AreaOwnership | None:
        return next((a for a in self.areas if service in a.services), None)

    def oncall_table(self) -> dict[str, Any]:
        """build/<stack>/oncall/oncall.json."""
        return {
            "cto": {"name": self.cto.name, "email": self.cto.email},
            "areas": [a.to_dict() for a in self.areas],
        }


def platform_components() -> tuple[str, ...]:
    """The `component` labels the catalogue's platform alerts carry: owned by the platform area."""
    return tuple(sorted({r.component for r in catalogue_alerts() if r.component}))


def _layer(name: str, layer: RotationLayer) -> Layer:
    return Layer(name, layer.members, layer.rotation_length, layer.handoff_time, layer.time_zone)


def ownership_plan(settings: StackSettings) -> OwnershipPlan:
    spec: OwnershipSpec = settings.ownership
    assert spec.cto is not None  # OwnershipSpec refuses a model without one
    areas = []
    for name, area in spec.areas.items():
        team = spec.teams[area.team]
        layers = (_layer("primary", area.rotation.primary), _layer("secondary", area.rotation.secondary))
        targets: dict[Step, tuple[str | None, tuple[str, ...]]] = {
            Step.PRIMARY: ("primary", area.rotation.primary.members),
            Step.SECONDARY: ("secondary", area.rotation.secondary.members),
            Step.CTO: (None, (spec.cto.email,)),
        }
        for step, role in STEP_ROLES.items():
            targets.setdefault(step, (None, tuple(p.email for p in team.members if p.role is role)))
        escalation = {
            severity: tuple(
                ChainStep(s.step, *targets[s.step], s.notified_after_minutes, s.delay_minutes)
                for s in escalation_chain(severity, spec.minimum_step_delay)
            )
            for severity in ESCALATION_CHAINS
        }
        areas.append(
            AreaOwnership(
                area=name,
                team=area.team,
                slack_channel=team.slack_channel,
                ticket_queue=team.ticket_queue,
                services=area.services,
                components=platform_components() if name == PLATFORM_AREA else (),
                members=team.members,
                layers=layers,
                escalation=escalation,
            )
        )
    return OwnershipPlan(cto=spec.cto, areas=tuple(areas))
