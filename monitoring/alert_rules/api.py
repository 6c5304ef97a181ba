"""API RED alerts (rate, errors, duration) per service, from the OTel HTTP server histogram.

These are symptom alerts next to the SLO burn-rate alerts: they fire on a sharp, short-lived
change that the SLO budget would absorb, or on a loss of traffic that no ratio SLI sees.
"""

from __future__ import annotations

from monitoring.alert_rules._rule import AlertRule, RuleGroup
from monitoring.slo import le_matcher
from monitoring.severity import Severity

_M = "http_server_request_duration_seconds"

RED = RuleGroup(
    "api-red",
    (
        AlertRule(
            name="ApiHighErrorRate",
            expr=(
                f'sum by (service) (rate({_M}_count{{http_response_status_code=~"5.."}}[5m]))\n'
                "/\n"
                f"sum by (service) (rate({_M}_count[5m]))\n"
                "> 0.05"
            ),
            for_="10m",
            severity=Severity.P2,
            service=True,
            summary="{{ $labels.service }} answers {{ $value | humanizePercentage }} of requests with a 5xx",
            description="More than 5% of the requests to {{ $labels.service }} have failed with a 5xx "
            "for 10 minutes.",
        ),
        AlertRule(
            name="ApiHighLatency",
            expr=(
                f"histogram_quantile(0.99, sum by (service, le) (rate({_M}_bucket[5m]))) > 1"
            ),
            for_="15m",
            severity=Severity.P3,
            service=True,
            summary="p99 latency of {{ $labels.service }} is {{ $value | humanizeDuration }}",
            description="The 99th percentile of request duration of {{ $labels.service }} has been "
            "above 1 s for 15 minutes.",
        ),
        AlertRule(
            name="ApiSlowRequestsShare",
            expr=(
                "1 - (\n"
                f"  sum by (service) (rate({_M}_bucket{{{le_matcher(1)}}}[10m]))\n"
                "  /\n"
                f"  sum by (service) (rate({_M}_count[10m]))\n"
                ") > 0.10"
            ),
            for_="15m",
            severity=Severity.P3,
            service=True,
            summary="{{ $value | humanizePercentage }} of {{ $labels.service }} requests take longer than 1 s",
            description="More than 10% of the requests to {{ $labels.service }} took longer than 1 s "
            "over the last 10 minutes.",
        ),
        AlertRule(
            name="ApiTrafficDropped",
            expr=(
                f"sum by (service) (rate({_M}_count[10m])) == 0\n"
                "and on (service)\n"
                f"sum by (service) (rate({_M}_count[1h] offset 1h)) > 0.1"
            ),
            for_="10m",
            severity=Severity.P2,
            service=True,
            summary="{{ $labels.service }} receives no requests any more",
            description="{{ $labels.service }} served traffic an hour ago but has received no request "
            "for 10 minutes: routing, ingress or a client is broken.",
        ),
    ),
)

GROUPS = (RED,)
