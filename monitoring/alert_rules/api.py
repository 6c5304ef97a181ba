"""API RED alerts (rate, errors, duration) per service, from the OTel HTTP server histogram.

These are symptom alerts next to the SLO burn-rate alerts: they fire on a sharp, short-lived
change that the SLO budget would absorb, or on a loss of traffic that no ratio SLI sees.

The requests and the 5xx are api-availability's SLI (all requests, and those answered with a 5xx),
so the alerts read that SLO's 5m records (`sli_rate`) rather than every raw series of the histogram
once more: at 1M series the raw reads of this group were the costliest rules after the SLOs'
(tools/bench_history.py, docs/alerting.md). Those records come from the SLO's own group, so
they are at most one 30s evaluation older than a raw read, next to `for: 10m`; they also share its
fate (a failing SLO group shows in PrometheusRuleEvaluationFailures). The latency alerts read the
buckets per service from this group's own record, made just before them: one raw read of every
bucket per evaluation where the p99 and the slow share each read them, the share over 10m.
"""

from __future__ import annotations

from monitoring.alert_rules._rule import AlertRule, RuleGroup, rate_record
from monitoring.slo import BAD_RATE_RECORD, TOTAL_RATE_RECORD, le_matcher, sli_rate, stitched_rate
from monitoring.slo_catalogue import slo_by_id
from monitoring.severity import Severity

_M = "http_server_request_duration_seconds"
# All requests and those answered with a 5xx, per service.
REQUESTS = slo_by_id("api-availability")
BUCKETS = rate_record(f"{_M}_bucket", ("service", "le"))

RED = RuleGroup(
    "api-red",
    (
        BUCKETS,
        AlertRule(
            name="ApiHighErrorRate",
            expr=f"{sli_rate(REQUESTS, BAD_RATE_RECORD)}\n/\n{sli_rate(REQUESTS, TOTAL_RATE_RECORD)}\n> 0.05",
            for_="10m",
            severity=Severity.P2,
            service=True,
            summary="{{ $labels.service }} answers {{ $value | humanizePercentage }} of requests with a 5xx",
            description="More than 5% of the requests to {{ $labels.service }} have failed with a 5xx "
            "for 10 minutes.",
        ),
        AlertRule(
            name="ApiHighLatency",
            expr=f"histogram_quantile(0.99, {stitched_rate(BUCKETS.record, '', 'service, le', '5m')}) > 1",
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
                f"  {stitched_rate(BUCKETS.record, '{' + le_matcher(1) + '}', 'service', '10m')}\n"
                "  /\n"
                f"  {sli_rate(REQUESTS, TOTAL_RATE_RECORD, '10m')}\n"
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
            # The hour before: the mean of its 5m records, the rate of that hour.
            expr=(
                f"{sli_rate(REQUESTS, TOTAL_RATE_RECORD, '10m')} == 0\n"
                "and on (service)\n"
                f'sum by (service) (avg_over_time({TOTAL_RATE_RECORD}{{slo="{REQUESTS.id}"}}[1h] offset 1h)) > 0.1'
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
