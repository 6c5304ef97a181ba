"""Frontend (browser OTel SDK through the collector, blackbox probes), per `app`.

The alert contract wants `service`: it is templated from `app` (see AlertRule.extra_labels).
"""

from __future__ import annotations

from monitoring.alert_rules._rule import AlertRule, RuleGroup, rate_record
from monitoring.slo import BAD_RATE_RECORD, TOTAL_RATE_RECORD, sli_rate, stitched_rate
from monitoring.slo_catalogue import BLACKBOX_EXPORTER, FRONTEND_PROBE_JOB, FRONTEND_PROBES, slo_by_id
from monitoring.severity import Severity

_APP_AS_SERVICE = {"service": "{{ $labels.app }}"}
_JS_ERRORS = slo_by_id("frontend-js-errors")
# The page-load histogram per app and bucket, rated over 5m at each evaluation: the p75 alert takes
# its 30m from six of these steps instead of reading 30m of every page's buckets (14 each: the
# collector's bounds, monitoring/otel.py), a sixth of the samples (tools/bench_history.py).
PAGE_LOAD_BUCKETS = rate_record("browser_page_load_duration_seconds_bucket", ("app", "le"))

FRONTEND = RuleGroup(
    "frontend",
    (
        AlertRule(
            name="FrontendProbeFailing",
            requires=BLACKBOX_EXPORTER,
            expr=f"max by (app) ({FRONTEND_PROBES}) == 0",
            for_="5m",
            severity=Severity.P2,
            extra_labels=_APP_AS_SERVICE,
            summary="Every blackbox probe of {{ $labels.app }} fails",
            description="No probe of {{ $labels.app }} has succeeded for 5 minutes: the site is "
            "unreachable from the probes (DNS, TLS, ingress or the app itself).",
        ),
        AlertRule(
            name="FrontendJsErrorSpike",
            # frontend-js-errors' SLI (JS errors per page view): its 5m records, not the raw series again.
            expr=f"{sli_rate(_JS_ERRORS, BAD_RATE_RECORD, '10m')}\n/\n{sli_rate(_JS_ERRORS, TOTAL_RATE_RECORD, '10m')}\n> 0.01",
            for_="15m",
            severity=Severity.P3,
            extra_labels=_APP_AS_SERVICE,
            summary="{{ $labels.app }} raises {{ $value | humanize }} JavaScript errors per page view",
            description="More than 1 JavaScript error per 100 page views of {{ $labels.app }} over the "
            "last 10 minutes, typically after a frontend release.",
        ),
        PAGE_LOAD_BUCKETS,
        AlertRule(
            name="FrontendSlowPageLoad",
            expr=f"histogram_quantile(0.75, {stitched_rate(PAGE_LOAD_BUCKETS.record, '', 'app, le', '30m')})\n> 4",
            for_="30m",
            severity=Severity.P3,
            extra_labels=_APP_AS_SERVICE,
            summary="p75 page load of {{ $labels.app }} is {{ $value | humanizeDuration }}",
            description="The 75th percentile page load time of {{ $labels.app }} has been above 4 s "
            "for 30 minutes (Core Web Vitals judge the 75th percentile).",
        ),
        AlertRule(
            name="FrontendProbeSlow",
            requires=BLACKBOX_EXPORTER,
            expr=f'avg by (app) (avg_over_time(probe_duration_seconds{{job="{FRONTEND_PROBE_JOB}"}}[10m])) > 2',
            for_="30m",
            severity=Severity.P4,
            extra_labels=_APP_AS_SERVICE,
            summary="Blackbox probes of {{ $labels.app }} take {{ $value | humanizeDuration }}",
            description="Probing {{ $labels.app }} has taken more than 2 s on average for 30 minutes.",
        ),
    ),
)

GROUPS = (FRONTEND,)
