"""The SLO catalogue: what each SLO promises, over which window, measured from which series.

This is the spec side of the SLOs: plain data, read by the stack's settings (an override names an
SLO of the catalogue, monitoring/alerting_spec.py), by the rule builder (monitoring/slo.py) and by
the dashboards. It imports neither of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from monitoring.severity import Severity


# --- names -------------------------------------------------------------------------------------
def camel(identifier: str) -> str:
    """"api-availability" -> "ApiAvailability"."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", identifier) if part)


def kebab(alert_name: str) -> str:
    """"ApiAvailabilityBudgetBurn" -> "api-availability-budget-burn" (runbook page names)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", alert_name)
    return text.lower()


# Group label used by frontend SLIs: browser metrics and probes carry `app`, not `service`.
FRONTEND_LABEL = "app"
SERVICE_LABEL = "service"


class Area(StrEnum):
    API = "api"
    FRONTEND = "frontend"
    DATABASE = "database"


class SloKind(StrEnum):
    RATIO = "ratio"  # target is the share of good events/time, 0 < target < 1
    THRESHOLD = "threshold"  # target is a limit a gauge must stay under (same unit as the gauge)


# --- SLI shapes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventRatioSli:
    """Bad events / all events, from two counters (selectors without a range)."""

    bad: str
    total: str


@dataclass(frozen=True)
class LatencySli:
    """Share of observations above a bucket bound of a histogram (`metric` without `_bucket`)."""

    metric: str
    threshold_seconds: float


@dataclass(frozen=True)
class UptimeSli:
    """A 0/1 gauge (probe_success, pg_up): the mean over a window is the good share of time."""

    metric: str


@dataclass(frozen=True)
class GaugeLimitSli:
    """A gauge that must stay under the SLO's target (threshold SLOs)."""

    metric: str
    unit: str


Sli = EventRatioSli | LatencySli | UptimeSli | GaugeLimitSli


@dataclass(frozen=True)
class Slo:
    id: str
    area: Area
    title: str
    objective: str  # what the SLO promises, in words, with the default numbers
    kind: SloKind
    target: float
    window: str
    label: str  # the label an SLO is evaluated per: service, or app for the frontend
    sli: Sli
    # Severity of the threshold alert (24h ratio SLOs and threshold SLOs), and how long the breach
    # must hold before it fires.
    threshold_severity: Severity = Severity.P3
    threshold_for: str = "15m"
    # The optional producer its SLI reads (metrics_contract.py PRODUCERS id), None when the SLI reads
    # the application contract: a stack without it has no such SLO (no rules, no panels).
    requires: str | None = None

    @property
    def burn_alert(self) -> str:
        return f"{camel(self.id)}BudgetBurn"

    @property
    def threshold_alert(self) -> str:
        return f"{camel(self.id)}ObjectiveMissed"

    @property
    def error_budget(self) -> float:
        return round(1.0 - self.target, 12)


_HTTP = "http_server_request_duration_seconds"

# Optional producers (monitoring/metrics_contract.py PRODUCERS ids) that SLOs and rules can require.
POSTGRES_EXPORTER = "postgres-exporter"
BLACKBOX_EXPORTER = "blackbox-exporter"
# The `job` of each kind of blackbox Probe (plan/exporters.py probe_specs: the Probe's jobName
# becomes `job`; Ref: prometheus-operator@v0.93.0 pkg/prometheus/promcfg.go generateProbeConfig).
# Frontend readers match FRONTEND_PROBE_JOB: API probes have no `app`, and a stack with API probes
# but no frontend probes would otherwise feed them into `by (app)` as one app named "".
FRONTEND_PROBE_JOB = "blackbox-frontend"
API_PROBE_JOB = "blackbox-api"
FRONTEND_PROBES = f'probe_success{{job="{FRONTEND_PROBE_JOB}"}}'
# Read by panels only (monitoring/dashboards/security.py): the Trivy Operator, and the cluster's
# Cilium CNI (cluster.cni), whose agent and Hubble metrics the program scrapes but does not deploy.
TRIVY_OPERATOR = "trivy-operator"
# Read by the executive dashboard's cost panels (monitoring/dashboards/executive.py).
OPENCOST = "opencost"
CILIUM_AGENT = "cilium-agent"
HUBBLE = "hubble"
# Read by the node graph panels (monitoring/dashboards/service_graph.py): the collector's service
# graph tier (otelCollector.serviceGraph.enabled).
OTEL_SERVICEGRAPH = "otel-servicegraph"

SLO_CATALOGUE: tuple[Slo, ...] = (
    # --- API: per `service`, from the OTel HTTP server histogram -------------------------------
    Slo(
        id="api-availability",
        area=Area.API,
        title="API availability",
        objective="99.9% of API requests are not answered with a 5xx, over 30 days",
        kind=SloKind.RATIO,
        target=0.999,
        window="30d",
        label=SERVICE_LABEL,
        sli=EventRatioSli(
            bad=f'{_HTTP}_count{{http_response_status_code=~"5.."}}', total=f"{_HTTP}_count"
        ),
    ),
    Slo(
        id="api-latency",
        area=Area.API,
        title="API latency",
        objective="95% of API requests are answered within 300 ms (p95 < 300 ms), over 24 hours",
        kind=SloKind.RATIO,
        target=0.95,
        window="1d",
        label=SERVICE_LABEL,
        sli=LatencySli(metric=_HTTP, threshold_seconds=0.3),
    ),
    Slo(
        id="api-error-rate",
        area=Area.API,
        title="API error rate",
        objective="fewer than 0.1% of API requests fail with a 5xx, over 24 hours",
        kind=SloKind.RATIO,
        target=0.999,
        window="1d",
        label=SERVICE_LABEL,
        sli=EventRatioSli(
            bad=f'{_HTTP}_count{{http_response_status_code=~"5.."}}', total=f"{_HTTP}_count"
        ),
    ),
    Slo(
        id="api-success-rate",
        area=Area.API,
        title="API success rate",
        objective="more than 99.9% of API requests are answered below 400, over 7 days",
        kind=SloKind.RATIO,
        target=0.999,
        window="7d",
        label=SERVICE_LABEL,
        sli=EventRatioSli(
            bad=f'{_HTTP}_count{{http_response_status_code=~"[45].."}}', total=f"{_HTTP}_count"
        ),
    ),
    # --- Frontend: per `app`, from the browser OTel SDK and blackbox probes ---------------------
    Slo(
        id="frontend-availability",
        area=Area.FRONTEND,
        title="Frontend availability",
        objective="the frontend answers its blackbox probes 99.9% of the time, over 30 days",
        kind=SloKind.RATIO,
        target=0.999,
        window="30d",
        label=FRONTEND_LABEL,
        sli=UptimeSli(metric=FRONTEND_PROBES),
        requires=BLACKBOX_EXPORTER,
    ),
    Slo(
        id="frontend-time-to-interactive",
        area=Area.FRONTEND,
        title="Frontend time to interactive",
        objective="95% of page views are interactive within 2 s, over 30 days",
        kind=SloKind.RATIO,
        target=0.95,
        window="30d",
        label=FRONTEND_LABEL,
        sli=LatencySli(metric="browser_time_to_interactive_seconds", threshold_seconds=2.0),
    ),
    Slo(
        id="frontend-js-errors",
        area=Area.FRONTEND,
        title="Frontend JavaScript error rate",
        objective="fewer than 0.01% JavaScript errors per page view, over 30 days",
        kind=SloKind.RATIO,
        target=0.9999,
        window="30d",
        label=FRONTEND_LABEL,
        sli=EventRatioSli(bad="browser_js_errors_total", total="browser_page_views_total"),
    ),
    Slo(
        id="frontend-page-load",
        area=Area.FRONTEND,
        title="Frontend page load",
        objective="95% of pages load within 3 s, over 30 days",
        kind=SloKind.RATIO,
        target=0.95,
        window="30d",
        label=FRONTEND_LABEL,
        sli=LatencySli(metric="browser_page_load_duration_seconds", threshold_seconds=3.0),
    ),
    # --- Database: per `service` (the exporter's or the calling service's) ----------------------
    Slo(
        id="db-availability",
        area=Area.DATABASE,
        title="Database availability",
        objective="postgres_exporter reaches the database (pg_up) 99.99% of the time, over 30 days",
        kind=SloKind.RATIO,
        target=0.9999,
        window="30d",
        label=SERVICE_LABEL,
        sli=UptimeSli(metric="pg_up"),
        requires=POSTGRES_EXPORTER,
    ),
    Slo(
        id="db-query-latency",
        area=Area.DATABASE,
        title="Database query latency",
        objective="95% of database operations complete within 100 ms (p95 < 100 ms), over 30 days",
        kind=SloKind.RATIO,
        target=0.95,
        window="30d",
        label=SERVICE_LABEL,
        sli=LatencySli(metric="db_client_operation_duration_seconds", threshold_seconds=0.1),
    ),
    Slo(
        id="db-connection-success",
        area=Area.DATABASE,
        title="Database connection success",
        objective="more than 99.995% of connection attempts succeed, over 30 days",
        kind=SloKind.RATIO,
        target=0.99995,
        window="30d",
        label=SERVICE_LABEL,
        # No semantic convention counts connection attempts (semconv v1.44.0 docs/db/database-metrics.md
        # has only pool gauges, timeouts and timings), so the application contract names them
        # (README "Application contract"; docs/architecture.md#decisions, "Names from OpenTelemetry").
        sli=EventRatioSli(
            bad="terrafusion_db_connection_failures_total", total="terrafusion_db_connection_attempts_total"
        ),
    ),
    Slo(
        id="db-replication-lag",
        area=Area.DATABASE,
        title="Database replication lag",
        objective="replicas stay less than 10 s behind the primary",
        kind=SloKind.THRESHOLD,
        target=10.0,
        window="30d",
        label=SERVICE_LABEL,
        sli=GaugeLimitSli(metric="pg_replication_lag_seconds", unit="s"),
        requires=POSTGRES_EXPORTER,
        # A replica 10 s behind is a failover that loses 10 s of writes: worth waking someone for
        # within the day, not paging at once.
        threshold_severity=Severity.P2,
        threshold_for="5m",
    ),
)

SLO_IDS: tuple[str, ...] = tuple(s.id for s in SLO_CATALOGUE)


def slo_by_id(slo_id: str) -> Slo:
    for slo in SLO_CATALOGUE:
        if slo.id == slo_id:
            return slo
    raise KeyError(f"unknown SLO id {slo_id!r}; known: {', '.join(SLO_IDS)}")
