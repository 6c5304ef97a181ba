"""Alertmanager configuration (alertmanager.yml as a dict), derived from the severity table.

Routing tree:
  root (receiver "null")
  ├── alertname="Watchdog"         -> watchdog              (never muted, never inhibited)
  ├── severity="P1"                -> pagerduty-p1, slack-p1 (one child route per receiver,
  ├── severity="P2"                -> slack-p2, email-p2      `continue: true` between them)
  ├── severity="P3"                -> slack-p3, ticket-p3     (active in business hours only)
  ├── severity="P4"                -> ticket-p4               (active in business hours only)
  └── anything else                -> the P3 receivers, so an alert with a wrong severity is seen
                                      but never pages
Receivers of kinds that are not enabled are left out; a severity left with none goes to "null".

No secret ever appears in the result: receivers name files under the directory where the Prometheus
Operator mounts `alertmanagerSpec.secrets` (Ref: https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.AlertmanagerSpec).
Alertmanager 0.25 reads `routing_key_file`, `api_url_file`, `auth_password_file` and
`http_config.authorization.credentials_file`; it has no `webhook_configs[].url_file` (0.26+), so the
ticket webhook URL is plain config and only its token is secret.
"""

from __future__ import annotations

from typing import Any

from monitoring.alerting_spec import BUSINESS_HOURS_INTERVAL, AlertingSpec
from monitoring.severity import SEVERITIES, Hours, ReceiverKind, RouteTiming, Severity, receiver_name

ALERTMANAGER_RECEIVER_SECRET = "alertmanager-receivers"
# Kubernetes Secret key per receiver kind (the file name under the secrets directory).
RECEIVER_SECRET_KEYS: dict[str, str] = {
    ReceiverKind.PAGERDUTY.value: "pagerduty-routing-key",
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
# PagerDuty Events v2 severities for the one PagerDuty severity we page with.
# Ref: https://developer.pagerduty.com/docs/events-api-v2/trigger-events/
PAGERDUTY_SEVERITY = {Severity.P1: "critical", Severity.P2: "error", Severity.P3: "warning", Severity.P4: "info"}

# Notification text. Go templates, evaluated by Alertmanager.
_TITLE = '[{{ .Status | toUpper }}] {{ .CommonLabels.severity }} {{ .CommonLabels.alertname }} ({{ .CommonLabels.environment }})'
_TEXT = (
    "{{ range .Alerts }}*{{ .Annotations.summary }}*\n{{ .Annotations.description }}\n"
    "Runbook: {{ .Annotations.runbook_url }}\n{{ end }}"
)


def maintenance_interval_name(window_name: str) -> str:
    return f"maintenance-{window_name}"


def _secret_file(kind: ReceiverKind) -> str:
    return f"{DEFAULT_SECRETS_DIR}/{RECEIVER_SECRET_KEYS[kind.value]}"


def _receiver(spec: AlertingSpec, kind: ReceiverKind, severity: Severity) -> dict:
    name = receiver_name(kind, severity)
    r = spec.receivers
    if kind is ReceiverKind.PAGERDUTY:
        config: dict[str, Any] = {
            "routing_key_file": _secret_file(kind),
            "severity": PAGERDUTY_SEVERITY[severity],
            "description": "{{ .CommonLabels.severity }} {{ .CommonLabels.alertname }}: {{ .CommonAnnotations.summary }}",
            "details": {
                "environment": "{{ .CommonLabels.environment }}",
                "service": "{{ .CommonLabels.service }}{{ .CommonLabels.component }}",
                "runbook_url": "{{ .CommonAnnotations.runbook_url }}",
                "firing": '{{ template "pagerduty.default.instances" .Alerts.Firing }}',
            },
            "send_resolved": True,
        }
        if r.pagerduty.url:
            config["url"] = r.pagerduty.url
        return {"name": name, "pagerduty_configs": [config]}
    if kind is ReceiverKind.SLACK:
        return {
            "name": name,
            "slack_configs": [
                {
                    "api_url_file": _secret_file(kind),
                    "channel": r.slack.channels[severity],
                    "title": _TITLE,
                    "text": _TEXT,
                    "send_resolved": True,
                }
            ],
        }
    if kind is ReceiverKind.EMAIL:
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
            email["auth_password_file"] = _secret_file(kind)
        return {"name": name, "email_configs": [email]}
    if kind is ReceiverKind.TICKET:
        return {
            "name": name,
            "webhook_configs": [
                {
                    "url": r.ticket.url,
                    "http_config": {
                        "authorization": {"type": "Bearer", "credentials_file": _secret_file(kind)}
                    },
                    "send_resolved": True,
                }
            ],
        }
    raise AssertionError(f"unknown receiver kind {kind}")


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


def _severity_route(
    spec: AlertingSpec, severity: Severity, timing: RouteTiming, matchers: list[str] | None
) -> dict:
    """One route per severity; its children fan out to each enabled receiver of the table row."""
    policy = SEVERITIES[severity]
    enabled = spec.receivers.enabled_kinds()
    names = [receiver_name(k, severity) for k in policy.receivers if k in enabled]
    route: dict[str, Any] = {"receiver": NULL_RECEIVER}
    if matchers is not None:
        route["matchers"] = matchers
    route["group_by"] = list(policy.group_by)
    route.update(_timing(timing))
    # Time intervals are not inherited by child routes (Alertmanager evaluates them on the route
    # that matched), so every leaf carries them itself.
    leaf_extras: dict[str, Any] = {}
    if policy.hours is Hours.BUSINESS:
        leaf_extras["active_time_intervals"] = [BUSINESS_HOURS_INTERVAL]
    mutes = _muting_windows(spec, severity)
    if mutes:
        leaf_extras["mute_time_intervals"] = mutes
    if not names:
        names = [NULL_RECEIVER]
    children = []
    for index, name in enumerate(names):
        child: dict[str, Any] = {"receiver": name}
        if index < len(names) - 1:
            child["continue"] = True
        child.update(leaf_extras)
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


def build_alertmanager_config(spec: AlertingSpec) -> dict:
    """alertmanager.yml content for this stack (receiver secrets read from the mounted Secret)."""
    timings = {s: SEVERITIES[s].timing for s in Severity}
    enabled = spec.receivers.enabled_kinds()
    receivers: list[dict] = [{"name": NULL_RECEIVER}, _watchdog_receiver(spec)]
    for severity, policy in SEVERITIES.items():
        receivers += [_receiver(spec, k, severity) for k in policy.receivers if k in enabled]

    routes = [
        {
            "receiver": WATCHDOG_RECEIVER,
            "matchers": [f'alertname="{WATCHDOG_ALERT}"'],
            "group_by": ["alertname", "environment"],
            **_timing(WATCHDOG_TIMING),
        }
    ]
    routes += [_severity_route(spec, s, timings[s], [f'severity="{s.value}"']) for s in Severity]
    # Catch-all: an alert outside the contract (no or unknown severity) is treated like a P3.
    routes.append(_severity_route(spec, Severity.P3, timings[Severity.P3], None))

    return {
        "global": {"resolve_timeout": "5m"},
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": list(SEVERITIES[Severity.P3].group_by),
            **_timing(timings[Severity.P3]),
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
