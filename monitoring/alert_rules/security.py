"""Security: authentication failure spikes and unexpected 401/403 rates, per service.

Both read the API histogram of the instrumentation contract; a 401 is a failed authentication, a
403 an authorisation refusal.
"""

from __future__ import annotations

from monitoring.alert_rules._rule import AlertRule, RuleGroup
from monitoring.severity import Severity

_COUNT = "http_server_request_duration_seconds_count"

SECURITY = RuleGroup(
    "security",
    (
        AlertRule(
            name="AuthenticationFailureSpike",
            expr=(
                f'sum by (service) (rate({_COUNT}{{http_response_status_code="401"}}[5m]))\n'
                f'> 5 * sum by (service) (rate({_COUNT}{{http_response_status_code="401"}}[1d]))\n'
                "and\n"
                f'sum by (service) (rate({_COUNT}{{http_response_status_code="401"}}[5m])) > 1'
            ),
            for_="5m",
            severity=Severity.P2,
            service=True,
            summary="Authentication failures on {{ $labels.service }} spiked to {{ $value | humanize }}/s",
            description="{{ $labels.service }} answers 401 more than 5 times as often as its daily "
            "average (and over 1/s): possible credential stuffing, or a broken identity provider.",
        ),
        AlertRule(
            name="UnexpectedAuthErrorRate",
            expr=(
                f'sum by (service, http_response_status_code) (rate({_COUNT}{{http_response_status_code=~"401|403"}}[10m]))\n'
                "/ on (service) group_left\n"
                f"sum by (service) (rate({_COUNT}[10m]))\n"
                "> 0.05"
            ),
            for_="15m",
            severity=Severity.P3,
            service=True,
            summary="{{ $value | humanizePercentage }} of {{ $labels.service }} requests end in {{ $labels.http_response_status_code }}",
            description="More than 5% of requests to {{ $labels.service }} have been refused with "
            "{{ $labels.http_response_status_code }} for 15 minutes: a client lost its credentials or "
            "permissions, or someone is probing.",
        ),
    ),
)

GROUPS = (SECURITY,)
