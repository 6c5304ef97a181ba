"""The input of the alerting builders: what a stack decides about alerting (no secrets here).

Field names are snake_case in Python and camelCase in stack config (`sloOverrides`), both
accepted. Secrets (PagerDuty routing key, Slack webhook URL, SMTP password, ticket token) are not
part of this model: the program keeps them as Pulumi secrets in the Kubernetes Secret named
`monitoring.alertmanager.ALERTMANAGER_RECEIVER_SECRET`, and the Alertmanager config refers to them
by file. Validation errors (SpecError) name the key inside the spec (`receivers.email.to`);
plan/settings.py adds where the spec sits in the stack file.
"""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from monitoring.durations import parse_duration
from monitoring.errors import SpecError
from monitoring.models import SpecModel
from monitoring.severity import SEVERITIES, ReceiverKind, Severity
from monitoring.slo_catalogue import SLO_IDS, SloKind, slo_by_id

DEFAULT_RUNBOOK_BASE_URL = "https://github.com/terrafusion/terrafusion-monitoring/blob/main/docs/runbooks"
# Reserved time-interval name used for P3/P4 routing; maintenance windows must not reuse it.
BUSINESS_HOURS_INTERVAL = "business-hours"

# Alertmanager's order: a range must go forward in it, so "monday:sunday" is invalid (use
# "sunday:saturday"). Ref: https://prometheus.io/docs/alerting/latest/configuration/#time_interval
_WEEKDAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")




# --- SLO overrides -----------------------------------------------------------------------------


class SloOverride(SpecModel):
    target: float | None = Field(
        default=None,
        description="New target: a ratio in (0, 1) for ratio SLOs (0.999 = 99.9%); for threshold "
        "SLOs (db-replication-lag) the limit in the gauge's unit (seconds), > 0.",
    )
    window: str | None = Field(
        default=None, description="New SLO window as a Prometheus duration, e.g. '30d', '7d', '24h'."
    )


def validate_slo_overrides(overrides: dict[str, SloOverride]) -> dict[str, SloOverride]:
    """Reject unknown SLO ids and impossible targets/windows, naming the key."""
    for slo_id, override in overrides.items():
        key = f"sloOverrides.{slo_id}"
        if slo_id not in SLO_IDS:
            raise SpecError(key, f"unknown SLO id; known ids: {', '.join(SLO_IDS)}")
        slo = slo_by_id(slo_id)
        target = override.target
        if target is not None:
            if slo.kind is SloKind.RATIO and not 0 < target < 1:
                raise SpecError(f"{key}.target", f"{target} is not a ratio strictly between 0 and 1 (write 99.9% as 0.999)")
            if slo.kind is SloKind.THRESHOLD and not target > 0:
                raise SpecError(f"{key}.target", f"{target} must be a positive limit for threshold SLO {slo_id}")
        if override.window is not None:
            try:
                seconds = parse_duration(override.window)
            except ValueError as exc:
                raise SpecError(f"{key}.window", str(exc)) from None
            # burn_windows_for keeps only the tiers shorter than the window: at 1h none is left.
            if seconds <= parse_duration("1h"):
                raise SpecError(f"{key}.window", f"{override.window} is not longer than 1h; an SLO window "
                                                 "must be longer than the 1h/5m burn-rate window")
    return overrides


# --- receivers (non-secret settings) -----------------------------------------------------------


class PagerDutyReceiver(SpecModel):
    enabled: bool = Field(
        default=False,
        description="Page P1 and P2 through PagerDuty (Events API v2): the program deploys the ownership "
        "model into PagerDuty (users, schedules, escalation policies, a service per area and paging "
        "severity) and gives Alertmanager each service's integration key. Needs the secret pagerdutyToken.",
    )
    url: str | None = Field(
        default=None,
        description="Events API URL; leave unset for PagerDuty's default. Tests point it at a recorder.",
    )


def _default_slack_channels() -> dict[Severity, str]:
    return {Severity.P1: "#alerts-p1", Severity.P2: "#alerts-p2"}


class SlackReceiver(SpecModel):
    enabled: bool = Field(default=False, description="Post to Slack through an incoming webhook.")
    channels: dict[Severity, str] = Field(
        default_factory=_default_slack_channels,
        description="Slack channel per severity whose row posts to one channel for everybody (P1, P2); "
        "P3 goes to the owning team's channel (ownership.teams.<id>.slackChannel).",
    )


class EmailReceiver(SpecModel):
    enabled: bool = Field(default=False, description="Send P2 alerts by email.")
    to: str | None = Field(default=None, description="Recipient address (a team list).")
    from_: str | None = Field(default=None, alias="from", description="Sender address.")
    smarthost: str | None = Field(default=None, description="SMTP server as host:port.")
    auth_username: str | None = Field(
        default=None, description="SMTP user; the password is the secret 'smtp-password'."
    )
    require_tls: bool = Field(default=True, description="Require STARTTLS (turn off only for tests).")

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> EmailReceiver:
        if self.enabled:
            for name, value in (("to", self.to), ("from", self.from_), ("smarthost", self.smarthost)):
                if not value:
                    raise SpecError(f"receivers.email.{name}", "required when email is enabled")
            if ":" not in (self.smarthost or ""):
                raise SpecError("receivers.email.smarthost", "expected host:port")
        return self


class TicketReceiver(SpecModel):
    enabled: bool = Field(default=False, description="Open tickets through a webhook (P3, P4).")
    url: str | None = Field(
        default=None,
        description="Ticket webhook URL (not secret: Alertmanager 0.25 cannot read a URL from a file); "
        "the bearer token is the secret 'ticket-webhook-token'.",
    )

    @model_validator(mode="after")
    def _url_when_enabled(self) -> TicketReceiver:
        if self.enabled and not (self.url or "").startswith(("http://", "https://")):
            raise SpecError("receivers.ticket.url", "an http(s) URL is required when enabled")
        return self


class WatchdogReceiver(SpecModel):
    enabled: bool = Field(
        default=False,
        description="Forward the always-firing Watchdog to an external dead man's switch.",
    )
    url: str | None = Field(
        default=None, description="Dead man's switch webhook URL (expects a call every few minutes)."
    )

    @model_validator(mode="after")
    def _url_when_enabled(self) -> WatchdogReceiver:
        if self.enabled and not (self.url or "").startswith(("http://", "https://")):
            raise SpecError("receivers.watchdog.url", "an http(s) URL is required when enabled")
        return self


class ReceiversSpec(SpecModel):
    pagerduty: PagerDutyReceiver = Field(default_factory=PagerDutyReceiver, description="PagerDuty.")
    slack: SlackReceiver = Field(default_factory=SlackReceiver, description="Slack.")
    email: EmailReceiver = Field(default_factory=EmailReceiver, description="Email (SMTP).")
    ticket: TicketReceiver = Field(default_factory=TicketReceiver, description="Ticket webhook.")
    watchdog: WatchdogReceiver = Field(default_factory=WatchdogReceiver, description="Dead man's switch.")

    def enabled_kinds(self) -> frozenset[ReceiverKind]:
        return frozenset(kind for kind in ReceiverKind if getattr(self, kind.value).enabled)

    @model_validator(mode="after")
    def _slack_channel_per_severity(self) -> ReceiversSpec:
        for severity in self.slack.channels:
            policy, key = SEVERITIES[severity], f"receivers.slack.channels.{severity.value}"
            if ReceiverKind.SLACK in policy.owned:
                raise SpecError(key, f"{severity.value} posts to the owning team's channel (ownership.teams.<id>.slackChannel)")
            if ReceiverKind.SLACK not in policy.receivers:
                raise SpecError(key, f"{severity.value} does not notify Slack")
        if self.slack.enabled:
            for severity, policy in SEVERITIES.items():
                everybody = ReceiverKind.SLACK in policy.receivers and ReceiverKind.SLACK not in policy.owned
                if everybody and not self.slack.channels.get(severity):
                    raise SpecError(f"receivers.slack.channels.{severity.value}", f"required, {severity.value} notifies Slack")
        return self


# --- time intervals ----------------------------------------------------------------------------


def _check_location(value: str | None, key: str) -> str | None:
    if value is None:
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise SpecError(key, f"unknown IANA time zone {value!r} (e.g. 'Europe/Berlin')") from None
    return value


def _check_ranges(values: list[str], allowed: tuple[str, ...], key: str, cycle: int | None = None) -> list[str]:
    """Names or `start:end` ranges of `allowed`; a range must not run backwards (Alertmanager
    refuses e.g. "monday:sunday"). `cycle` folds aliases (month numbers) onto names."""
    cycle = cycle or len(allowed)
    for item in values:
        parts = item.lower().split(":")
        if len(parts) > 2 or any(p not in allowed for p in parts):
            raise SpecError(key, f"{item!r} is not a name or range of {', '.join(allowed[:cycle])}")
        if len(parts) == 2 and allowed.index(parts[0]) % cycle > allowed.index(parts[1]) % cycle:
            raise SpecError(key, f"range {item!r} runs backwards; order is {', '.join(allowed[:cycle])}")
    return values


def _check_times(start_time: str, end_time: str, key: str) -> None:
    """HH:MM times of day, start before end; `key` is where startTime/endTime sit."""
    for name, value in (("startTime", start_time), ("endTime", end_time)):
        if not _HHMM.match(value):
            raise SpecError(f"{key}.{name}", f"{value!r} is not HH:MM")
    if start_time >= end_time:
        raise SpecError(f"{key}.startTime", f"startTime {start_time} must be before endTime {end_time}")


class TimeRange(SpecModel):
    """Checked where it is used (_check_times), which knows its key."""

    start_time: str = Field(description="Start, HH:MM (inclusive).")
    end_time: str = Field(description="End, HH:MM (exclusive); 24:00 for end of day.")


class BusinessHours(SpecModel):
    location: str = Field(default="Europe/Berlin", description="IANA time zone of the business hours.")
    weekdays: list[str] = Field(default_factory=lambda: ["monday:friday"], description="Weekday ranges.")
    start_time: str = Field(default="09:00", description="Start of the working day, HH:MM.")
    end_time: str = Field(default="18:00", description="End of the working day, HH:MM (24:00 allowed).")

    @field_validator("location")
    @classmethod
    def _location(cls, value: str) -> str:
        return _check_location(value, "businessHours.location") or value

    @field_validator("weekdays")
    @classmethod
    def _weekdays(cls, value: list[str]) -> list[str]:
        return _check_ranges(value, _WEEKDAYS, "businessHours.weekdays")

    @model_validator(mode="after")
    def _times(self) -> BusinessHours:
        _check_times(self.start_time, self.end_time, "businessHours")
        return self


class MaintenanceWindow(SpecModel):
    """A mute window, in Alertmanager time_interval terms (all given fields must match)."""

    name: str = Field(description="Lower-case name, unique; becomes the time interval 'maintenance-<name>'.")
    times: list[TimeRange] = Field(default_factory=list, description="Times of day; empty = all day.")
    weekdays: list[str] = Field(default_factory=list, description="Weekday names or ranges.")
    days_of_month: list[str] = Field(
        default_factory=list, description="Days or ranges, e.g. '1', '1:7', '-1' (last day)."
    )
    months: list[str] = Field(default_factory=list, description="Month names or numbers, or ranges.")
    years: list[str] = Field(default_factory=list, description="Years or ranges, e.g. '2026'.")
    location: str | None = Field(default=None, description="IANA time zone; UTC when unset.")
    severities: list[Severity] = Field(
        default_factory=lambda: list(Severity), description="Severities muted during the window."
    )

    @model_validator(mode="after")
    def _valid(self) -> MaintenanceWindow:
        key = f"maintenanceWindows.{self.name}"
        if not _NAME.match(self.name):
            raise SpecError("maintenanceWindows", f"name {self.name!r} must be lower-case kebab")
        for i, times in enumerate(self.times):
            _check_times(times.start_time, times.end_time, f"{key}.times[{i}]")
        _check_ranges(self.weekdays, _WEEKDAYS, f"{key}.weekdays")
        months = _MONTHS + tuple(str(i) for i in range(1, 13))
        _check_ranges(self.months, months, f"{key}.months", cycle=12)
        for day in self.days_of_month:
            if not re.fullmatch(r"-?\d{1,2}(:-?\d{1,2})?", day):
                raise SpecError(f"{key}.daysOfMonth", f"{day!r} is not a day or day range")
        for year in self.years:
            if not re.fullmatch(r"\d{4}(:\d{4})?", year):
                raise SpecError(f"{key}.years", f"{year!r} is not a year or year range")
        _check_location(self.location, f"{key}.location")
        if not (self.times or self.weekdays or self.days_of_month or self.months or self.years):
            raise SpecError(key, "a window needs at least one of times, weekdays, daysOfMonth, months, years")
        return self


# --- the whole spec ----------------------------------------------------------------------------


class AlertingSpec(SpecModel):
    environment: Annotated[str, Field(min_length=1)] = Field(
        description="Environment name; the static `environment` label on every alert."
    )
    slo_overrides: dict[str, SloOverride] = Field(
        default_factory=dict, description="Per-SLO target/window overrides keyed by SLO id.",
        json_schema_extra={"propertyNames": {"enum": list(SLO_IDS)}},
    )
    receivers: ReceiversSpec = Field(default_factory=ReceiversSpec, description="Notification receivers.")
    business_hours: BusinessHours = Field(
        default_factory=BusinessHours, description="When P3/P4 notifications are sent."
    )
    maintenance_windows: list[MaintenanceWindow] = Field(
        default_factory=list, description="Mute windows for planned maintenance."
    )
    runbook_base_url: str = Field(
        default=DEFAULT_RUNBOOK_BASE_URL, description="Base URL of docs/runbooks; runbook_url = <base>/<alert>.md."
    )

    @field_validator("slo_overrides")
    @classmethod
    def _slo_overrides(cls, value: dict[str, SloOverride]) -> dict[str, SloOverride]:
        return validate_slo_overrides(value)

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: str) -> str:
        if not _NAME.match(value):
            raise SpecError("environment", f"{value!r} must be lower-case kebab (e.g. 'prod')")
        return value

    @field_validator("runbook_base_url")
    @classmethod
    def _runbook_base(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise SpecError("runbookBaseUrl", f"{value!r} must be an http(s) URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _unique_windows(self) -> AlertingSpec:
        names = [w.name for w in self.maintenance_windows]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise SpecError("maintenanceWindows", f"duplicate names {', '.join(duplicates)}")
        return self
