"""Alertmanager configuration (alertmanager.yml as a dict), derived from the severity table and the
ownership model.

Routing tree (an alert's owner is the service area whose `services` hold its `service` label; the
fallback area, `platform`, owns every alert that names a `component` and whatever no area owns):
  root (receiver "null")
  ├── alertname="Watchdog"         -> watchdog              (never muted, never inhibited)
  ├── AlertmanagerNotificationsFailing{integration="pagerduty"}
  │                                -> pagerduty-fallback    (Slack + email; `continue: true`)
  ├── severity="P1"
  │   ├── service=~"<area's services>"  -> pagerduty-<area>-p1, slack-p1     (per area)
  │   └── (the fallback area)           -> pagerduty-platform-p1, slack-p1
  ├── severity="P2"                -> pagerduty-<area>-p2, slack-p2, email-p2  (per area, likewise)
  ├── severity="P3"                -> slack-<team>-p3, ticket-<team>-p3    (business hours only)
  ├── severity="P4"                -> ticket-<team>-p4                     (business hours only)
  └── anything else                -> the owner's P3 receivers, so an alert with a wrong severity
                                      is seen but never pages
Each area route fans out to one leaf per receiver (`continue: true` between them). Which receivers
belong to the owner is the severity table's `owned`: the area's PagerDuty service (one per area and
paging severity, each with its own escalation policy), the team's Slack channel and ticket queue.
Receivers of kinds that are not enabled are left out; a severity left with none goes to "null".

No secret ever appears in the result: receivers name files under the directory where the Prometheus
Operator mounts `alertmanagerSpec.secrets` (Ref: https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.AlertmanagerSpec).
Alertmanager 0.25 reads `routing_key_file`, `api_url_file`, `auth_password_file` and
`http_config.authorization.credentials_file`; it has no `webhook_configs[].url_file` (0.26+), so the
ticket webhook URL is plain config and only its token is secret. Each area's PagerDuty routing keys
are the integration keys of its PagerDuty services (components/pagerduty.py), one file each.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitoring.alerting_spec import BUSINESS_HOURS_INTERVAL, AlertingSpec
from monitoring.ownership import PLATFORM_AREA, OwnershipSpec
from monitoring.severity import SEVERITIES, Hours, ReceiverKind, RouteTiming, Severity, receiver_name

ALERTMANAGER_RECEIVER_SECRET = "alertmanager-receivers"
# Kubernetes Secret key per receiver kind whose credential is one for the whole stack (the file name
# under the secrets directory); PagerDuty's are per area and severity (pagerduty_routing_key).
RECEIVER_SECRET_KEYS: dict[str, str] = {
    ReceiverKind.SLACK.value: "slack-webhook-url",
    ReceiverKind.EMAIL.value: "smtp-password",
    ReceiverKind.TICKET.value: "ticket-webhook-token",
}
OPERATOR_SECRETS_DIR = "/etc/alertmanager/secrets"
DEFAULT_SECRETS_DIR = f"{OPERATOR_SECRETS_DIR}/{ALERTMANAGER_RECEIVER_SECRET}"

NULL_RECEIVER = "null"
WATCHDOG_RECEIVER = "watchdog"
WATCHDOG_ALERT = "Watchdog"
# The dead man's switch expects a call every few minutes; group_wait 0s sends the first at once.
WATCHDOG_TIMING = RouteTiming(group_wait="0s", group_interval="1m", repeat_interval="5m")
# Where Alertmanager reports that it cannot reach PagerDuty: the catalogue's alert on failing
# notifications (monitoring/alert_rules/platform.py), per `integration`.
FALLBACK_RECEIVER = "pagerduty-fallback"
NOTIFICATIONS_FAILING_ALERT = "AlertmanagerNotificationsFailing"
PAGERDUTY_INTEGRATION = "pagerduty"
# PagerDuty Events v2 severities of the P-levels (the event's `payload.severity`).
# Ref: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
PAGERDUTY_SEVERITY = {Severity.P1: "critical", Severity.P2: "error", Severity.P3: "warning", Severity.P4: "info"}
# The ticket system's queue of a ticket: a query parameter of the webhook URL (Alertmanager's webhook
# body is fixed, and 0.25 cannot template a URL).
TICKET_QUEUE_PARAMETER = "queue"

# Notification text. Go templates, evaluated by Alertmanager.
_TITLE = '[{{ .Status | toUpper }}] {{ .CommonLabels.severity }} {{ .CommonLabels.alertname }} ({{ .CommonLabels.environment }})'
_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n"
    "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
)
# A page's summary: the group's common summary, else how many alerts it carries (a group of several
# instances has no common summary).
_PAGE_SUMMARY = (
    "{{ .CommonLabels.severity }} {{ .CommonLabels.alertname }}: "
    "{{ with .CommonAnnotations.summary }}{{ . }}{{ else }}{{ len .Alerts.Firing }} firing{{ end }}"
)
# Every firing alert of a page, one bullet line each. Not the default `pagerduty.default.instances`:
# Alertmanager 0.26+ parses a rendered detail as YAML and sends the object when it is one, and that
# text ("Labels:\n - name = value ...", once per alert) is a mapping whose repeated keys keep only the
# last alert: a page of 20 alerts showed one (found by the HA storm test, tests/ha_scenario.py). A
# line that starts with a bullet is a plain YAML scalar, and `=` in place of `: ` keeps any line from
# becoming a mapping, so the text reaches PagerDuty as text on 0.25 and 0.33 alike.
# Ref: prometheus/alertmanager@v0.33.1 notify/pagerduty/pagerduty.go (renderDetails),
# template/template.go (DeepCopyWithTemplate: yaml.Unmarshal of each rendered string)
_PAGE_ALERTS = (
    "{{ range .Alerts.Firing }}\u2022 {{ .Annotations.summary }} "
    "[{{ range .Labels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}]\n{{ end }}"
)


@dataclass(frozen=True)
class RouteOwner:
    """A service area as routing sees it: the services it owns and its team's channel and queue."""

    area: str
    team: str
    services: tuple[str, ...]
    slack_channel: str
    ticket_queue: str
    # The fallback area (platform): every alert naming a `component`, and every alert no area owns.
    fallback: bool = False


def route_owners(ownership: OwnershipSpec) -> tuple[RouteOwner, ...]:
    """The areas of the ownership model, in stack-file order with the fallback area last."""
    owners = [
        RouteOwner(
            area=name,
            team=area.team,
            services=area.services,
            slack_channel=ownership.teams[area.team].slack_channel,
            ticket_queue=ownership.teams[area.team].ticket_queue,
            fallback=name == PLATFORM_AREA,
        )
        for name, area in ownership.areas.items()
    ]
    return tuple(sorted(owners, key=lambda o: o.fallback))


def pagerduty_routing_key(area: str, severity: Severity) -> str:
    """The receiver Secret's key holding the integration key of an area's PagerDuty service."""
    return f"pagerduty-{area}-{severity.value.lower()}-routing-key"


def owned_receiver(kind: ReceiverKind, severity: Severity, owner: RouteOwner) -> str:
    """The receiver of an owned kind (SeverityPolicy.owned): PagerDuty per area (each area has its
    services and escalation policies), Slack and tickets per team (a team's channel and queue)."""
    return receiver_name(kind, severity, owner.area if kind is ReceiverKind.PAGERDUTY else owner.team)


def owner_receivers(spec: AlertingSpec, severity: Severity, owner: RouteOwner) -> list[str]:
    """The receivers an alert of `owner` at `severity` reaches, in table order (enabled kinds only)."""
    policy = SEVERITIES[severity]
    enabled = spec.receivers.enabled_kinds()
    return [
        owned_receiver(kind, severity, owner) if kind in policy.owned else receiver_name(kind, severity)
        for kind in policy.receivers
        if kind in enabled
    ]


def maintenance_interval_name(window_name: str) -> str:
    return f"maintenance-{window_name}"


def _secret_file(key: str) -> str:
    return f"{DEFAULT_SECRETS_DIR}/{key}"


def _with_query(url: str, **parameters: str) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *parameters.items()])
    return urlunsplit(parts._replace(query=query))


def _pagerduty_config(spec: AlertingSpec, severity: Severity, owner: RouteOwner) -> dict[str, Any]:
    config: dict[str, Any] = {
        "routing_key_file": _secret_file(pagerduty_routing_key(owner.area, severity)),
        "severity": PAGERDUTY_SEVERITY[severity],
        "description": _PAGE_SUMMARY,
        "details": {
            "severity": "{{ .CommonLabels.severity }}",
            "environment": "{{ .CommonLabels.environment }}",
            "service": "{{ .CommonLabels.service }}{{ .CommonLabels.component }}",
            "area": owner.area,
            "team": owner.team,
            "runbook_url": "{{ .CommonAnnotations.runbook_url }}",
            "firing": _PAGE_ALERTS,
        },
        "send_resolved": True,
    }
    if spec.receivers.pagerduty.url:
        config["url"] = spec.receivers.pagerduty.url
    return config


def _slack_config(channel: str) -> dict[str, Any]:
    return {
        "api_url_file": _secret_file(RECEIVER_SECRET_KEYS[ReceiverKind.SLACK.value]),
        "channel": channel,
        "title": _TITLE,
        "text": _TEXT,
        "send_resolved": True,
    }


def _email_config(spec: AlertingSpec) -> dict[str, Any]:
    r = spec.receivers
    email: dict[str, Any] = {
        "to": r.email.to,
        "from": r.email.from_,
        "smarthost": r.email.smarthost,
        "require_tls": r.email.require_tls,
        "headers": {"Subject": _TITLE},
        "send_resolved": True,
    }
    if r.email.auth_username:
        email["auth_username"] = r.email.auth_username
        email["auth_password_file"] = _secret_file(RECEIVER_SECRET_KEYS[ReceiverKind.EMAIL.value])
    return email


def _ticket_config(spec: AlertingSpec, queue: str) -> dict[str, Any]:
    return {
        "url": _with_query(spec.receivers.ticket.url or "", **{TICKET_QUEUE_PARAMETER: queue}),
        "http_config": {
            "authorization": {
                "type": "Bearer",
                "credentials_file": _secret_file(RECEIVER_SECRET_KEYS[ReceiverKind.TICKET.value]),
            }
        },
        "send_resolved": True,
    }


def _receiver(spec: AlertingSpec, kind: ReceiverKind, severity: Severity, owner: RouteOwner | None) -> dict:
    """One receiver: of `owner` for an owned kind (SeverityPolicy.owned), else of everybody."""
    if kind is ReceiverKind.PAGERDUTY and owner is not None:
        return {"name": owned_receiver(kind, severity, owner), "pagerduty_configs": [_pagerduty_config(spec, severity, owner)]}
    if kind is ReceiverKind.SLACK:
        if owner is not None:
            return {"name": owned_receiver(kind, severity, owner), "slack_configs": [_slack_config(owner.slack_channel)]}
        return {"name": receiver_name(kind, severity), "slack_configs": [_slack_config(spec.receivers.slack.channels[severity])]}
    if kind is ReceiverKind.EMAIL and owner is None:
        return {"name": receiver_name(kind, severity), "email_configs": [_email_config(spec)]}
    if kind is ReceiverKind.TICKET and owner is not None:
        return {"name": owned_receiver(kind, severity, owner), "webhook_configs": [_ticket_config(spec, owner.ticket_queue)]}
    raise AssertionError(f"no {kind.value} receiver {'of an owner' if owner else 'of everybody'} at {severity.value}")


def _receivers(spec: AlertingSpec, owners: Sequence[RouteOwner]) -> list[dict]:
    """Every receiver some route reaches, each once (a team owning two areas has one channel)."""
    enabled = spec.receivers.enabled_kinds()
    receivers: dict[str, dict] = {}
    for severity, policy in SEVERITIES.items():
        for kind in policy.receivers:
            if kind not in enabled:
                continue
            for owner in owners if kind in policy.owned else (None,):
                receiver = _receiver(spec, kind, severity, owner)
                receivers.setdefault(receiver["name"], receiver)
    return list(receivers.values())


def _fallback_receiver(spec: AlertingSpec) -> dict | None:
    """Where people hear that PagerDuty does not take Alertmanager's pages: the P1 incident channel
    and the on-call mailbox, neither of which goes through PagerDuty. None without PagerDuty, or
    without either of them."""
    enabled = spec.receivers.enabled_kinds()
    if ReceiverKind.PAGERDUTY not in enabled:
        return None
    receiver: dict[str, Any] = {"name": FALLBACK_RECEIVER}
    if ReceiverKind.SLACK in enabled:
        receiver["slack_configs"] = [_slack_config(spec.receivers.slack.channels[Severity.P1])]
    if ReceiverKind.EMAIL in enabled:
        receiver["email_configs"] = [_email_config(spec)]
    return receiver if len(receiver) > 1 else None


def _watchdog_receiver(spec: AlertingSpec) -> dict:
    watchdog = spec.receivers.watchdog
    if not watchdog.enabled:
        return {"name": WATCHDOG_RECEIVER}
    return {"name": WATCHDOG_RECEIVER, "webhook_configs": [{"url": watchdog.url, "send_resolved": False}]}


def _timing(policy_timing: RouteTiming) -> dict[str, str]:
    return {
        "group_wait": policy_timing.group_wait,
        "group_interval": policy_timing.group_interval,
        "repeat_interval": policy_timing.repeat_interval,
    }


def _muting_windows(spec: AlertingSpec, severity: Severity) -> list[str]:
    return [maintenance_interval_name(w.name) for w in spec.maintenance_windows if severity in w.severities]


def owner_matchers(owner: RouteOwner) -> list[str] | None:
    """The matchers of an area's route; None for the fallback area (the last route: whatever is left)."""
    if owner.fallback:
        return None
    return [f'service=~"{"|".join(owner.services)}"']


def _leaves(names: list[str], extras: dict[str, Any]) -> list[dict]:
    leaves = []
    for index, name in enumerate(names):
        leaf: dict[str, Any] = {"receiver": name}
        if index < len(names) - 1:
            leaf["continue"] = True
        leaf.update(extras)
        leaves.append(leaf)
    return leaves


def _severity_route(
    spec: AlertingSpec, severity: Severity, owners: Sequence[RouteOwner], matchers: list[str] | None
) -> dict:
    """One route per severity, one child per owning area (the fallback area last), and under each a
    leaf per enabled receiver of the table row. A severity with no enabled receiver has one leaf:
    "null"."""
    policy = SEVERITIES[severity]
    route: dict[str, Any] = {"receiver": NULL_RECEIVER}
    if matchers is not None:
        route["matchers"] = matchers
    route["group_by"] = list(policy.group_by)
    route.update(_timing(policy.timing))
    # Time intervals are not inherited by child routes (Alertmanager evaluates them on the route
    # that matched), so every leaf carries them itself.
    leaf_extras: dict[str, Any] = {}
    if policy.hours is Hours.BUSINESS:
        leaf_extras["active_time_intervals"] = [BUSINESS_HOURS_INTERVAL]
    if mutes := _muting_windows(spec, severity):
        leaf_extras["mute_time_intervals"] = mutes
    if not any(kind in spec.receivers.enabled_kinds() for kind in policy.receivers):
        route["routes"] = _leaves([NULL_RECEIVER], leaf_extras)
        return route
    children = []
    for owner in owners:
        if not owner.fallback and not owner.services:
            continue  # an area owning no service yet has nothing to match
        child: dict[str, Any] = {"receiver": NULL_RECEIVER}
        if (owned := owner_matchers(owner)) is not None:
            child["matchers"] = owned
        child["routes"] = _leaves(owner_receivers(spec, severity, owner), leaf_extras)
        children.append(child)
    route["routes"] = children
    return route


def _time_intervals(spec: AlertingSpec) -> list[dict]:
    hours = spec.business_hours
    intervals = [
        {
            "name": BUSINESS_HOURS_INTERVAL,
            "time_intervals": [
                {
                    "weekdays": list(hours.weekdays),
                    "times": [{"start_time": hours.start_time, "end_time": hours.end_time}],
                    "location": hours.location,
                }
            ],
        }
    ]
    for window in spec.maintenance_windows:
        interval: dict[str, Any] = {}
        if window.times:
            interval["times"] = [{"start_time": t.start_time, "end_time": t.end_time} for t in window.times]
        for key, values in (
            ("weekdays", window.weekdays),
            ("days_of_month", window.days_of_month),
            ("months", window.months),
            ("years", window.years),
        ):
            if values:
                interval[key] = list(values)
        if window.location:
            interval["location"] = window.location
        intervals.append({"name": maintenance_interval_name(window.name), "time_intervals": [interval]})
    return intervals


def _inhibit_rules() -> list[dict]:
    """A P1 silences P2-P4 of the same service (or platform component) in the same environment.

    Two rules, because Alertmanager treats a label missing on both sides as equal: a single rule on
    `equal: [service, environment]` would let any P1 platform alert (no `service`) silence every
    lower platform alert. The Watchdog is never a target: silencing it would trip the dead man's
    switch. Ref: https://prometheus.io/docs/alerting/latest/configuration/#inhibit_rule
    """
    lower = 'severity=~"P2|P3|P4"'
    not_watchdog = f'alertname!="{WATCHDOG_ALERT}"'
    return [
        {
            "source_matchers": ['severity="P1"', 'service=~".+"'],
            "target_matchers": [lower, 'service=~".+"', not_watchdog],
            "equal": ["service", "environment"],
        },
        {
            "source_matchers": ['severity="P1"', 'component=~".+"'],
            "target_matchers": [lower, 'component=~".+"', not_watchdog],
            "equal": ["component", "environment"],
        },
    ]


def used_receiver_kinds(spec: AlertingSpec) -> frozenset[ReceiverKind]:
    """Enabled receiver kinds; the program needs a secret key only for these."""
    return spec.receivers.enabled_kinds()


def _check_owners(owners: Sequence[RouteOwner]) -> None:
    if [o.fallback for o in owners].count(True) != 1 or not owners[-1].fallback:
        raise AssertionError("routing needs exactly one fallback area, last (monitoring/ownership.py PLATFORM_AREA)")


def build_alertmanager_config(spec: AlertingSpec, owners: Sequence[RouteOwner]) -> dict:
    """alertmanager.yml content for this stack (receiver secrets read from the mounted Secret);
    `owners`: route_owners() of the stack's ownership model."""
    _check_owners(owners)
    receivers: list[dict] = [{"name": NULL_RECEIVER}, _watchdog_receiver(spec), *_receivers(spec, owners)]

    routes: list[dict] = [
        {
            "receiver": WATCHDOG_RECEIVER,
            "matchers": [f'alertname="{WATCHDOG_ALERT}"'],
            "group_by": ["alertname", "environment"],
            **_timing(WATCHDOG_TIMING),
        }
    ]
    if (fallback := _fallback_receiver(spec)) is not None:
        receivers.append(fallback)
        # PagerDuty down (or refusing a key): the failure alert also reaches people through channels
        # that do not depend on it, then takes its own route (the platform area's P2 receivers).
        routes.append(
            {
                "receiver": FALLBACK_RECEIVER,
                "matchers": [f'alertname="{NOTIFICATIONS_FAILING_ALERT}"', f'integration="{PAGERDUTY_INTEGRATION}"'],
                "group_by": ["alertname", "integration", "environment"],
                **_timing(SEVERITIES[Severity.P1].timing),
                "continue": True,
            }
        )
    routes += [_severity_route(spec, s, owners, [f'severity="{s.value}"']) for s in Severity]
    # Catch-all: an alert outside the contract (no or unknown severity) is treated like a P3.
    routes.append(_severity_route(spec, Severity.P3, owners, None))

    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": list(SEVERITIES[Severity.P3].group_by),
            **_timing(SEVERITIES[Severity.P3].timing),
            "routes": routes,
        },
        "inhibit_rules": _inhibit_rules(),
        "receivers": receivers,
        "time_intervals": _time_intervals(spec),
    }


def missing_receivers_warning(spec: AlertingSpec, key: str) -> str | None:
    """A warning for the program to log when some severity would notify nobody, else None; `key` is
    where the caller's settings hold `spec` (the warning names it)."""
    enabled = spec.receivers.enabled_kinds()
    if not enabled:
        return (
            f"{key}: no receiver is enabled in environment {spec.environment!r}; every alert goes "
            f"to the '{NULL_RECEIVER}' receiver and nobody is notified. Enable receivers under "
            f"{key}.receivers and set the secrets in Secret {ALERTMANAGER_RECEIVER_SECRET!r}."
        )
    silent = [s.value for s, p in SEVERITIES.items() if not any(k in enabled for k in p.receivers)]
    partial = [
        s.value for s, p in SEVERITIES.items()
        if any(k in enabled for k in p.receivers) and not all(k in enabled for k in p.receivers)
    ]  # fmt: skip
    if not silent and not partial:
        return None
    parts = []
    if silent:
        parts.append(f"severities {', '.join(silent)} notify nobody")
    if partial:
        parts.append(f"severities {', '.join(partial)} reach only some of their receivers")
    return f"{key} ({spec.environment}): " + "; ".join(parts) + (
        f" (enabled: {', '.join(sorted(k.value for k in enabled))})."
    )
