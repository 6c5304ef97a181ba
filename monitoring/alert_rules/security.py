"""Security: authentication failure spikes and unexpected 401/403 rates, per service, and new
critical vulnerabilities in running images.

The first two read the API histogram of the instrumentation contract (all requests from
api-availability's 5m records, as the API alerts do); a 401 is a failed authentication, a 403 an
authorisation refusal. The last reads the Trivy Operator's vulnerability
reports (security.trivyOperator.enabled).
"""

from __future__ import annotations

from monitoring.alert_rules._rule import AlertRule, RuleGroup
from monitoring.alert_rules.api import REQUESTS
from monitoring.slo import TOTAL_RATE_RECORD, sli_rate
from monitoring.severity import Severity

_COUNT = "http_server_request_duration_seconds_count"

# Critical vulnerabilities of what runs in a container, per image repository. The Trivy Operator
# exports one series per vulnerability report (one per workload's ReplicaSet/StatefulSet/... and
# container) and severity, valued the report's count. `max` over the reports of a repository, not
# `sum`: during a rollout the old and the new ReplicaSet both have a report, and the same image
# twice is not twice the vulnerabilities; the tag is left out so that a new tag with no new critical
# finding is no news.
# Ref: aquasecurity/trivy-operator@v0.32.0 pkg/metrics/collector.go (trivy_image_vulnerabilities and
# its labels), pkg/metrics/types.go (severity label value "Critical")
_IMAGE = "namespace, container_name, image_registry, image_repository"
_CRITICAL = f'max by ({_IMAGE}) (trivy_image_vulnerabilities{{severity="Critical"}})'
_CRITICAL_A_DAY_AGO = f'max by ({_IMAGE}) (trivy_image_vulnerabilities{{severity="Critical"}} offset 1d)'

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
                "/ on (service) group_left ()\n"
                f"{sli_rate(REQUESTS, TOTAL_RATE_RECORD, '10m')}\n"
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
        AlertRule(
            name="NewCriticalVulnerability",
            # More critical findings than a day ago, or any for an image that was not running then
            # (`or ... * 0`: 0 where there is no series a day ago). Reports are rescanned when a
            # workload changes and when the Trivy database learns a new CVE (report TTL), so a
            # rise is a new image or a newly published vulnerability. It fires for a day (until the
            # offset catches up); the ticket stays.
            expr=f"{_CRITICAL}\n> (\n  {_CRITICAL_A_DAY_AGO}\n  or\n  {_CRITICAL} * 0\n)",
            for_="15m",
            severity=Severity.P3,
            component="vulnerabilities",
            requires="trivy-operator",
            summary="{{ $labels.image_repository }} in {{ $labels.namespace }}/{{ $labels.container_name }} "
            "has {{ $value | humanize }} critical vulnerabilities, more than a day ago",
            description="The Trivy Operator's report of the image running in {{ $labels.namespace }} / "
            "{{ $labels.container_name }} ({{ $labels.image_registry }}/{{ $labels.image_repository }}) counts "
            "more critical vulnerabilities than a day ago: a new image, or a newly published CVE.",
        ),
    ),
)

GROUPS = (SECURITY,)
