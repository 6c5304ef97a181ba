"""Who owns what: service areas, the teams that own them, their on-call rotations, and the escalation
chains the severity table asks for. One model; on-call, routing and access derive from it
(docs/oncall.md).

`OwnershipSpec` is the stack file's `ownership` section. Like every spec here it names its keys
relative to itself (`areas.api.rotation.primary.members[1]`); plan/settings.py adds the prefix and
hands in the services the stack names elsewhere (probes, the database exporter, sampling
overrides), which `check_owners` requires to be owned. The platform's own alerts carry a fixed
`component` instead of a `service` (monitoring/alert_rules/_rule.py): the `platform` area owns them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, field_validator, model_validator

from monitoring.durations import parse_duration
from monitoring.errors import SpecError
from monitoring.models import SpecModel
from monitoring.severity import SEVERITIES, Severity
from monitoring.slo_catalogue import Area

# The strategy's service areas: the SLO catalogue's (API services, frontend, database) and the
# platform itself, which owns the alerts that name a platform `component`.
PLATFORM_AREA = "platform"
REQUIRED_AREAS: tuple[str, ...] = (*(a.value for a in Area), PLATFORM_AREA)


class Role(StrEnum):
    ENGINEER = "engineer"
    TEAM_LEAD = "team lead"
    ENGINEERING_MANAGER = "engineering manager"
    CTO = "cto"


class Step(StrEnum):
    """One step of an escalation chain: a rotation layer of the owning area, or a role."""

    PRIMARY = "primary on-call"
    SECONDARY = "secondary on-call"
    TEAM_LEAD = Role.TEAM_LEAD.value
    ENGINEERING_MANAGER = Role.ENGINEERING_MANAGER.value
    CTO = Role.CTO.value


# The strategy's routing table (docs/alerting.md): whom a page reaches, in order. P3 and P4 are
# tickets in business hours: no chain.
ESCALATION_CHAINS: dict[Severity, tuple[Step, ...]] = {
    Severity.P1: (Step.PRIMARY, Step.SECONDARY, Step.ENGINEERING_MANAGER, Step.CTO),
    Severity.P2: (Step.PRIMARY, Step.SECONDARY, Step.TEAM_LEAD),
}
# The role each role step needs somebody to hold in the owning team (the CTO: in the organisation).
STEP_ROLES: dict[Step, Role] = {
    Step.TEAM_LEAD: Role.TEAM_LEAD,
    Step.ENGINEERING_MANAGER: Role.ENGINEERING_MANAGER,
    Step.CTO: Role.CTO,
}
TEAM_ROLES: tuple[Role, ...] = (Role.TEAM_LEAD, Role.ENGINEERING_MANAGER)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
_NAME = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
Email = Annotated[str, Field(pattern=_EMAIL.pattern, max_length=254)]
Name = Annotated[str, Field(pattern=_NAME)]


def _duration(value: str) -> str:
    parse_duration(value)
    return value


Duration = Annotated[str, AfterValidator(_duration), Field(json_schema_extra={"format": "duration"})]


# A phone number as PagerDuty takes it: country calling code (1 to 3 digits) and the number for
# international dialling, without the trunk prefix (no leading 0), written "+49 15123456789".
# Ref: PagerDuty/terraform-provider-pagerduty pagerduty/resource_pagerduty_user_contact_method.go
# (country_code; address digits only; "Trunk prefixes are not supported")
_PHONE = re.compile(r"^\+[1-9][0-9]{0,2} [1-9][0-9]{3,14}$")
Phone = Annotated[str, Field(pattern=_PHONE.pattern, json_schema_extra={"format": "phone"})]


def phone_parts(phone: str) -> tuple[int, str]:
    """(country calling code, number) of a validated Phone."""
    if _PHONE.match(phone) is None:
        raise AssertionError(f"{phone!r} is not a validated Phone")
    country, number = phone.removeprefix("+").split(" ")
    return int(country), number


class Person(SpecModel):
    name: str = Field(min_length=1, description="Full name, as PagerDuty and Grafana show it.")
    email: Email = Field(description="Work email: the person's identity in PagerDuty, Grafana and the rotations.")
    role: Role = Field(description="engineer, team lead or engineering manager; `cto` only for `ownership.cto`.")
    phone: Phone | None = Field(
        None,
        description="Work mobile for PagerDuty's calls, as \"+<country code> <number without trunk prefix>\" "
        "(e.g. \"+49 15123456789\"). Required for everybody an escalation chain pages when PagerDuty is on.",
    )
    mobile_app: Annotated[str, Field(min_length=1, max_length=100)] | None = Field(
        None,
        description="Label of the push contact method the PagerDuty mobile app registered for this person "
        "(the device name on their PagerDuty profile). Unset: no push notifications for them (a warning).",
    )


class Team(SpecModel):
    slack_channel: Annotated[str, Field(pattern=r"^#[a-z0-9][a-z0-9._-]{0,79}$")] = Field(
        description="The team's Slack channel, e.g. #team-api (P3 notifications of its areas)."
    )
    ticket_queue: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")] = Field(
        description="The team's ticket queue, e.g. a Jira project key (P3 and P4 tickets of its areas)."
    )
    members: tuple[Person, ...] = Field(
        (), description="The team's people; it needs a team lead and an engineering manager."
    )


class RotationLayer(SpecModel):
    members: tuple[Email, ...] = Field(
        (), description="Emails of the team members taking turns, in order; each must be a member of the owning team."
    )
    rotation_length: Duration = Field(description="How long each turn lasts, e.g. 1w (at least 1h).")
    handoff_time: Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = Field(
        "09:00", description="Local time (HH:MM, 24h) at which one turn hands over to the next."
    )
    time_zone: str = Field("Europe/Berlin", description="IANA time zone of the hand-off time.")

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone (e.g. Europe/Berlin)") from None
        return value


class Rotation(SpecModel):
    primary: RotationLayer = Field(description="The first layer: paged first for P1 and P2.")
    secondary: RotationLayer = Field(description="The second layer: paged when the primary does not acknowledge.")


class ServiceArea(SpecModel):
    team: Name = Field(description="The owning team (a key of `ownership.teams`).")
    services: tuple[Name, ...] = Field(
        (),
        description="The `service` (or frontend `app`) label values this area owns. Every service the "
        "stack names (probes, postgres exporter, sampling overrides) must be in exactly one area.",
    )
    rotation: Rotation = Field(description="The area's on-call schedule: a primary and a secondary layer.")


class OwnershipSpec(SpecModel):
    cto: Person | None = Field(None, description="The CTO: the last step of the P1 escalation chain. Required.")
    teams: dict[Name, Team] = Field(default_factory=dict, description="Teams by id (e.g. api-team).")
    areas: dict[Name, ServiceArea] = Field(
        default_factory=dict,
        description="Service areas by name; at least api, frontend, database and platform (the platform's own alerts).",
    )
    minimum_step_delay: Duration = Field(
        "1m",
        description="The least time a step of an escalation chain gets to acknowledge before the chain "
        "moves on; a chain whose steps cannot each get it within the severity's response time is refused.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> OwnershipSpec:
        check_organisation(self)
        return self


# --- validation --------------------------------------------------------------------------------


def check_organisation(spec: OwnershipSpec) -> None:
    """Raise the first problem of the model itself (the services the stack names: check_owners)."""
    if spec.cto is None:
        raise SpecError("cto", "nobody holds role cto; the P1 chain ends with the CTO")
    if spec.cto.role is not Role.CTO:
        raise SpecError("cto.role", f"is {spec.cto.role.value!r}; the CTO's role is cto")
    for team_id, team in spec.teams.items():
        key = f"teams.{team_id}.members"
        if not team.members:
            raise SpecError(key, "the team has no members")
        emails = [p.email for p in team.members]
        for i, person in enumerate(team.members):
            if person.role is Role.CTO:
                raise SpecError(f"{key}[{i}].role", "cto is the organisation's role (key cto), not a team's")
            if emails.index(person.email) != i:
                raise SpecError(f"{key}[{i}].email", f"{person.email} is listed twice in the team")
    _one_person_one_entry(spec)
    for area in REQUIRED_AREAS:
        if area not in spec.areas:
            raise SpecError("areas", f"has no {area!r} area; the strategy's areas are {', '.join(REQUIRED_AREAS)}")
    owner_of: dict[str, str] = {}
    primary_of: dict[str, str] = {}
    for name, area in spec.areas.items():
        key = f"areas.{name}"
        team = spec.teams.get(area.team)
        if team is None:
            raise SpecError(f"{key}.team", f"{area.team!r} is not a key of teams")
        for role in TEAM_ROLES:
            if not any(p.role is role for p in team.members):
                raise SpecError(
                    f"teams.{area.team}.members",
                    f"nobody holds role {role.value!r}; the escalation chains of area {name!r} need one",
                )
        for i, service in enumerate(area.services):
            if service in owner_of:
                raise SpecError(f"{key}.services[{i}]", f"{service!r} is owned by area {owner_of[service]!r} already")
            owner_of[service] = name
        members = {p.email for p in team.members}
        layers = {"primary": area.rotation.primary, "secondary": area.rotation.secondary}
        for layer_name, layer in layers.items():
            layer_key = f"{key}.rotation.{layer_name}"
            if not layer.members:
                raise SpecError(f"{layer_key}.members", "the rotation layer has no members")
            # PagerDuty's turns last from an hour to a year.
            # Ref: PagerDuty/terraform-provider-pagerduty pagerduty/resource_pagerduty_schedule.go
            # (rotation_turn_length_seconds: validation.IntBetween(3600, 365*24*3600))
            if parse_duration(layer.rotation_length) < 3600:
                raise SpecError(f"{layer_key}.rotationLength", f"{layer.rotation_length!r} is shorter than 1h")
            if parse_duration(layer.rotation_length) > 365 * 86400:
                raise SpecError(f"{layer_key}.rotationLength", f"{layer.rotation_length!r} is longer than 365d")
            for i, email in enumerate(layer.members):
                if email not in members:
                    raise SpecError(f"{layer_key}.members[{i}]", f"{email} is not a member of team {area.team!r}")
                if layer.members.index(email) != i:
                    raise SpecError(f"{layer_key}.members[{i}]", f"{email} is in the layer twice")
        for i, email in enumerate(area.rotation.secondary.members):
            if email in area.rotation.primary.members:
                raise SpecError(
                    f"{key}.rotation.secondary.members[{i}]",
                    f"{email} is on the primary layer too; one person cannot back themselves up",
                )
        for i, email in enumerate(area.rotation.primary.members):
            if email in primary_of:
                raise SpecError(
                    f"{key}.rotation.primary.members[{i}]",
                    f"{email} is on the primary layer of area {primary_of[email]!r} too; "
                    "one person is primary on-call for one area",
                )
            primary_of[email] = name
    for severity in ESCALATION_CHAINS:
        escalation_delay_minutes(severity, spec.minimum_step_delay)


def people(spec: OwnershipSpec) -> dict[str, tuple[str, Person]]:
    """Every person of the organisation by email -> (the key of their first entry, the entry): the
    CTO first, then the teams' members in stack-file order."""
    found: dict[str, tuple[str, Person]] = {}
    if spec.cto is not None:
        found[spec.cto.email] = ("cto", spec.cto)
    for team_id, team in spec.teams.items():
        for i, person in enumerate(team.members):
            found.setdefault(person.email, (f"teams.{team_id}.members[{i}]", person))
    return found


def _one_person_one_entry(spec: OwnershipSpec) -> None:
    """A person listed in several teams (or as CTO and a member) is one PagerDuty user: every entry
    says the same name, phone and mobile app."""
    first = people(spec)
    for team_id, team in spec.teams.items():
        for i, person in enumerate(team.members):
            key, entry = first[person.email]
            if key == f"teams.{team_id}.members[{i}]":
                continue
            for field, alias in (("name", "name"), ("phone", "phone"), ("mobile_app", "mobileApp")):
                if getattr(person, field) != getattr(entry, field):
                    raise SpecError(
                        f"teams.{team_id}.members[{i}].{alias}",
                        f"differs from {key}.{alias}; {person.email} is one person: list them the same everywhere",
                    )


def paged_people(spec: OwnershipSpec) -> dict[str, tuple[str, Person, tuple[str, ...]]]:
    """Everybody an escalation chain can page, by email -> (the key of their first entry, the entry,
    the areas whose chains page them): the rotation members, the holders of the chains' roles in the
    owning teams, and the CTO."""
    entries = people(spec)
    areas_of: dict[str, list[str]] = {}
    for name, area in spec.areas.items():
        team = spec.teams[area.team]
        paged = [*area.rotation.primary.members, *area.rotation.secondary.members]
        paged += [p.email for p in team.members if p.role in TEAM_ROLES]
        if spec.cto is not None:
            paged.append(spec.cto.email)
        for email in paged:
            if name not in areas_of.setdefault(email, []):
                areas_of[email].append(name)
    return {email: (*entries[email], tuple(areas)) for email, areas in areas_of.items()}


def check_reachable(spec: OwnershipSpec) -> None:
    """With PagerDuty on, everybody a chain pages can be called: every paging severity is high
    urgency (monitoring/pagerduty.py), whose notification rules call."""
    for email, (key, person, areas) in paged_people(spec).items():
        if person.phone is None:
            raise SpecError(
                f"{key}.phone",
                f"required: PagerDuty pages {email} (escalation chains of area {', '.join(areas)}) "
                "and high-urgency pages call",
            )


def check_owners(spec: OwnershipSpec, services: Mapping[str, tuple[str, str]]) -> None:
    """Every service the stack names is owned by an area. `services`: service -> (the key naming
    it, the area its producer measures); an unowned one is reported at that area's services."""
    owned = {service for area in spec.areas.values() for service in area.services}
    for service, (where, area) in services.items():
        if service not in owned:
            raise SpecError(
                f"areas.{area}.services",
                f"service {service!r} ({where}) is in no area's services; add it to its owner's",
            )


# --- escalation --------------------------------------------------------------------------------


def response_minutes(severity: Severity) -> int:
    """The severity's response time (monitoring/severity.py respond_within) in whole minutes."""
    within = SEVERITIES[severity].respond_within
    if within is None:
        raise AssertionError(f"{severity.value} has no response time: it has no escalation chain")
    return int(parse_duration(within)) // 60


# PagerDuty's shortest escalation delay: a rule's `escalation_delay_in_minutes` is a whole number
# of minutes, at least 1.
# Ref: PagerDuty/terraform-provider-pagerduty@95cf9d8 pagerduty/resource_pagerduty_escalation_policy.go
# (rule.escalation_delay_in_minutes: schema.TypeInt, validation.IntAtLeast(1))
PAGERDUTY_MINIMUM_DELAY_MINUTES = 1


def escalation_delay_minutes(severity: Severity, minimum_step_delay: str = "1m") -> int:
    """Minutes each step of the severity's chain has before the chain moves on.

    The response time is shared equally by the steps, in whole minutes (PagerDuty's unit): the last
    step is reached at (steps - 1) x delay and still has its own delay within the response time, so
    the chain has run its course before the response time is missed (P1: 15 min over four steps is
    3 min each, the CTO paged at 9 min; P2: 30 min over three steps is 10 min each). A share below
    `minimum_step_delay`, or below PagerDuty's one minute, is refused: nobody can acknowledge a page
    in less, and PagerDuty would not take it.
    """
    steps = len(ESCALATION_CHAINS[severity])
    response = response_minutes(severity)
    delay = response // steps
    least = int(parse_duration(minimum_step_delay))
    if delay * 60 < max(least, PAGERDUTY_MINIMUM_DELAY_MINUTES * 60):
        raise SpecError(
            "minimumStepDelay",
            f"{minimum_step_delay} per step: the {severity.value} chain has {steps} steps and "
            f"{severity.value} must be answered within {response}m, so each step gets {response * 60 // steps}s",
        )
    return delay


@dataclass(frozen=True)
class EscalationStep:
    step: Step
    # Minutes after the page when this step is notified, and how long it has before the next one.
    notified_after_minutes: int
    delay_minutes: int


def escalation_chain(severity: Severity, minimum_step_delay: str = "1m") -> tuple[EscalationStep, ...]:
    delay = escalation_delay_minutes(severity, minimum_step_delay)
    return tuple(
        EscalationStep(step=step, notified_after_minutes=i * delay, delay_minutes=delay)
        for i, step in enumerate(ESCALATION_CHAINS[severity])
    )


# --- audiences ---------------------------------------------------------------------------------

# In an audience's `teams`: every team of the model (so a new team's people are in it at once).
EVERY_TEAM = "*"


def audience(
    spec: OwnershipSpec, *, teams: tuple[str, ...] = (), roles: tuple[Role, ...] = (), people_: tuple[str, ...] = ()
) -> tuple[str, ...]:
    """The emails of an audience (a Grafana team, docs/grafana.md), in people() order: the members of
    `teams` (EVERY_TEAM: of all of them), whoever holds one of `roles` (the CTO included), and `people_`.
    Names that are not in the model are check_audience's to report, not found here."""
    everybody = people(spec)
    chosen = set(people_)
    for team_id, team in spec.teams.items():
        if EVERY_TEAM in teams or team_id in teams:
            chosen |= {p.email for p in team.members}
    chosen |= {email for email, (_, person) in everybody.items() if person.role in roles}
    for team in spec.teams.values():
        chosen |= {p.email for p in team.members if p.role in roles}
    return tuple(email for email in everybody if email in chosen)


def check_audience(spec: OwnershipSpec, teams: tuple[str, ...], people_: tuple[str, ...]) -> None:
    """Raise the first name of an audience the model does not have, keyed `teams[i]` / `people[i]`."""
    for i, team_id in enumerate(teams):
        if team_id != EVERY_TEAM and team_id not in spec.teams:
            raise SpecError(f"teams[{i}]", f"{team_id!r} is not a key of ownership.teams (or {EVERY_TEAM!r}: every team)")
    everybody = people(spec)
    for i, email in enumerate(people_):
        if email not in everybody:
            raise SpecError(f"people[{i}]", f"{email} is not a person of ownership (its cto or a team's member)")
