"""Executive dashboard: is the platform healthy, are we keeping our promises, what does it cost, and
how is the product used.

Everything here is an aggregate over the whole environment; drill-down lives in the operational,
developer and SLO dashboards.
"""

from __future__ import annotations

from dataclasses import dataclass

from monitoring import costs
from monitoring.dashboards import _grafana as g
from monitoring.dashboards._grafana import ENV, FULL, QUARTER, THIRD, Step
from monitoring.influxdb import ONE_HOUR_POLICY
from monitoring.slo_catalogue import BLACKBOX_EXPORTER, FRONTEND_PROBE_JOB, OPENCOST, slo_by_id
from monitoring.slo import BUDGET_REMAINING_RECORD, ratio_record

UID = "tf-executive-overview"
TITLE = "Executive overview"

_HTTP_COUNT = "http_server_request_duration_seconds_count"


@dataclass(frozen=True)
class CostView:
    """How the cost panels read: the currency of the stack's prices (costs.currency) and the
    namespaces of the platform itself (its own systems' share of the bill)."""

    currency: str = "USD"
    platform_namespaces: tuple[str, ...] = ("monitoring",)

    @property
    def unit(self) -> str:
        # Ref: grafana/grafana packages/grafana-data/src/valueFormats/categories.ts (`currency<CODE>`).
        return f"currency{self.currency}"

    @property
    def platform_selector(self) -> str:
        return f'namespace=~"{"|".join(self.platform_namespaces)}", {ENV}'


def _monthly(hourly: str) -> str:
    return f"({hourly}) * {costs.HOURS_PER_MONTH}"


def _allocated_hourly(selector: str = ENV) -> str:
    return f"sum({costs.NAMESPACE_COST_RECORD}{{{selector}}})"


def _platform_health(without: frozenset[str]) -> list:
    # The probe panel only where the stack deploys the blackbox exporter.
    return [*_service_health_panels(), *([] if BLACKBOX_EXPORTER in without else _probe_panels())]


def _service_health_panels() -> list:
    availability = slo_by_id("api-availability")
    return [
        g.row("Platform health"),
        g.stat_panel(
            "API availability (worst service)",
            f"Share of API requests not answered with a 5xx over the SLO window ({availability.window}), "
            f"for the worst service. Target {availability.target:.1%}.",
            [g.prom(f'1 - max({ratio_record(availability.window)}{{slo="{availability.id}", {ENV}}})', instant=True)],
            unit="percentunit",
            decimals=3,
            threshold_config=g.higher_is_better(0.995, availability.target),
        ),
        g.stat_panel(
            "SLOs within budget",
            "Share of SLOs whose worst service or app still has error budget left.",
            [
                g.prom(
                    f"count(min by (slo) ({BUDGET_REMAINING_RECORD}{{{ENV}}}) > 0)\n"
                    f"/\ncount(min by (slo) ({BUDGET_REMAINING_RECORD}{{{ENV}}}))",
                    instant=True,
                )
            ],
            unit="percentunit",
            threshold_config=g.higher_is_better(0.8, 1),
        ),
        g.stat_panel(
            "Open incidents (P1/P2)",
            "P1 and P2 alerts firing now. Zero is the goal.",
            [g.prom(f'count(ALERTS{{alertstate="firing", severity=~"P1|P2", {ENV}}}) or vector(0)', instant=True)],
            unit="none",
            threshold_config=g.thresholds(Step(None, g.GREEN), Step(1, g.RED)),
        ),
        g.stat_panel(
            "API traffic",
            "Requests per second across all services.",
            [g.prom(f"sum(rate({_HTTP_COUNT}{{{ENV}}}[$__rate_interval]))")],
            unit="reqps",
            sparkline=True,
        ),
        g.stat_panel(
            "API server errors",
            "Share of requests answered with a 5xx, all services.",
            [
                g.prom(
                    f'sum(rate({_HTTP_COUNT}{{http_response_status_code=~"5..", {ENV}}}[$__rate_interval]))\n'
                    f"/\nsum(rate({_HTTP_COUNT}{{{ENV}}}[$__rate_interval]))"
                )
            ],
            unit="percentunit",
            decimals=2,
            sparkline=True,
            threshold_config=g.lower_is_better(0.001, 0.01),
        ),
    ]


def _probe_panels() -> list:
    return [
        g.stat_panel(
            "Frontend availability (24h)",
            "Share of successful blackbox probes of the frontends over the last day.",
            [g.prom(f'avg(avg_over_time(probe_success{{job="{FRONTEND_PROBE_JOB}", {ENV}}}[1d]))', instant=True)],
            unit="percentunit",
            decimals=2,
            threshold_config=g.higher_is_better(0.99, 0.999),
        ),
    ]


def _slo_compliance() -> list:
    remaining = f"min by (slo) ({BUDGET_REMAINING_RECORD}{{{ENV}}})"
    budget_colours = g.thresholds(Step(None, g.RED), Step(0, g.ORANGE), Step(0.25, g.GREEN))
    return [
        g.row("SLO compliance and error budgets"),
        g.bar_gauge_panel(
            "Error budget remaining by SLO",
            "Budget left over each SLO's window for its worst service or app. Below 0 the SLO is missed; "
            "details per service in the SLO dashboard.",
            [g.prom(remaining, "{{slo}}", instant=True)],
            unit="percentunit",
            threshold_config=budget_colours,
            minimum=0,
            maximum=1,
        ),
        g.timeseries_panel(
            "Error budget remaining over time",
            "How fast each SLO's budget is being spent.",
            [g.prom(remaining, "{{slo}}")],
            unit="percentunit",
            threshold_config=budget_colours,
            show_thresholds=True,
        ),
    ]


def _resources() -> list:
    def resource(kind: str, used: str, unit: str, title: str) -> object:
        return g.timeseries_panel(
            title,
            f"{kind.upper()} in use, requested by workloads, and allocatable on the nodes. Requests are what "
            "the scheduler reserves, so requests close to allocatable means new nodes soon.",
            [
                g.prom(used, "used"),
                g.prom(f'sum(kube_pod_container_resource_requests{{resource="{kind}", {ENV}}})', "requested"),
                g.prom(f'sum(kube_node_status_allocatable{{resource="{kind}", {ENV}}})', "allocatable"),
            ],
            unit=unit,
            width=THIRD,
            minimum=0,
        )

    return [
        g.row("Resource utilisation"),
        resource(
            "cpu",
            f'sum(rate(container_cpu_usage_seconds_total{{container!="", {ENV}}}[$__rate_interval]))',
            "none",
            "CPU cores",
        ),
        resource("memory", f'sum(container_memory_working_set_bytes{{container!="", {ENV}}})', "bytes", "Memory"),
        g.stat_panel(
            "CPU reserved by workloads",
            "CPU requests as a share of allocatable: low means paying for idle nodes, high means no headroom.",
            [
                g.prom(
                    f'sum(kube_pod_container_resource_requests{{resource="cpu", {ENV}}})\n'
                    f'/\nsum(kube_node_status_allocatable{{resource="cpu", {ENV}}})',
                    instant=True,
                )
            ],
            unit="percentunit",
            width=THIRD,
            height=8,
            threshold_config=g.thresholds(Step(None, g.ORANGE), Step(0.4, g.GREEN), Step(0.85, g.RED)),
        ),
    ]


def _monthly_over_range(record: str, selector: str) -> str:
    """A cost record's average monthly run rate over the dashboard's selected range."""
    return _monthly(f"avg_over_time({record}{{{selector}}}[$__range])")


def _cost_bars(view: CostView, title: str, description: str, expr: str, legend: str):
    return g.bar_gauge_panel(title, description, [g.prom(expr, legend, instant=True)], unit=view.unit, width=THIRD, minimum=0)


def _cost(view: CostView) -> list:
    """OpenCost's cost by component (monitoring/costs.py), as monthly run rates: hourly cost x 730."""
    cluster = costs.cluster_cost_expr(ENV)
    platform = _allocated_hourly(view.platform_selector)
    platform_names = ", ".join(f"`{n}`" for n in view.platform_namespaces)
    return [
        g.row("Cost"),
        g.stat_panel(
            "Monthly cost (run rate)",
            "What the cluster costs per month at today's size: every node's CPU, memory and GPUs and every "
            "persistent volume at the stack's on-premises prices (costs.*), times 730 hours. From OpenCost.",
            [g.prom(_monthly(cluster), instant=True)],
            unit=view.unit,
            width=QUARTER,
            height=8,
        ),
        g.stat_panel(
            "Share allocated to workloads",
            "The part of that cost workloads reserve or use (OpenCost's allocation: the larger of request and "
            "usage). The rest is idle capacity: paid for, used by nobody.",
            [g.prom(f"{_allocated_hourly()}\n/\n({cluster})", instant=True)],
            unit="percentunit",
            width=QUARTER,
            height=8,
            threshold_config=g.thresholds(Step(None, g.ORANGE), Step(0.5, g.GREEN)),
        ),
        g.stat_panel(
            "Monitoring platform (run rate)",
            f"What the platform's own systems cost per month (namespaces {platform_names}): the price of "
            "watching everything else.",
            [g.prom(_monthly(platform), instant=True)],
            unit=view.unit,
            width=QUARTER,
            height=8,
        ),
        g.stat_panel(
            "Monitoring platform's share",
            "The platform's own systems as a share of everything allocated to workloads.",
            [g.prom(f"{platform}\n/\n{_allocated_hourly()}", instant=True)],
            unit="percentunit",
            width=QUARTER,
            height=8,
        ),
        g.timeseries_panel(
            "Monthly cost trend (last 90 days)",
            "The run rates over time: the whole cluster, what workloads are allocated, and the monitoring "
            "platform. Growth here is growth of the bill.",
            [
                g.prom(_monthly(cluster), "cluster"),
                g.prom(_monthly(_allocated_hourly()), "allocated to workloads"),
                g.prom(_monthly(platform), "monitoring platform"),
            ],
            unit=view.unit,
            width=FULL,
            time_from="90d",
            # Beyond raw retention: a 1h step lets Thanos read the 5m tier (step / 5 >= 5m).
            min_interval="1h",
            minimum=0,
        ),
        _cost_bars(
            view,
            "Cost by namespace (top 10, per month)",
            "Average monthly run rate of each namespace over the selected range (its pods' CPU, memory, GPUs "
            "and claimed volumes).",
            f"topk(10, {_monthly_over_range(costs.NAMESPACE_COST_RECORD, ENV)})",
            "{{namespace}}",
        ),
        _cost_bars(
            view,
            "Cost by workload (top 10, per month)",
            "Average monthly run rate of each Deployment, StatefulSet, DaemonSet or Job over the selected range.",
            f"topk(10, {_monthly_over_range(costs.WORKLOAD_COST_RECORD, ENV)})",
            "{{namespace}}/{{workload}}",
        ),
        _cost_bars(
            view,
            "Monitoring platform by component (per month)",
            "The platform's own systems (Prometheus, Thanos, Grafana, Elasticsearch, ...): average monthly "
            "run rate of each over the selected range.",
            f"sort_desc(sum by (workload) ({_monthly_over_range(costs.WORKLOAD_COST_RECORD, view.platform_selector)}))",
            "{{workload}}",
        ),
    ]


def _business() -> list:
    users = "terrafusion_active_users"
    return [
        g.row("Product usage"),
        *[
            g.stat_panel(
                title,
                f"Distinct users active in the last {window} (`{users}{{window=\"{window}\"}}`).",
                [g.prom(f'max({users}{{window="{window}", {ENV}}})', instant=True)],
                unit="short",
                sparkline=True,
            )
            for title, window in (("Daily active users", "1d"), ("Weekly active users", "7d"), ("Monthly active users", "30d"))
        ],
        g.stat_panel(
            "Stickiness (DAU / MAU)",
            "Share of the month's users who come back daily: the retention signal the contract's gauges give.",
            [g.prom(f'max({users}{{window="1d", {ENV}}}) / max({users}{{window="30d", {ENV}}})', instant=True)],
            unit="percentunit",
            threshold_config=g.higher_is_better(0.1, 0.2),
        ),
        g.stat_panel(
            "Sessions (24h)",
            "Sessions started in the last day.",
            [g.prom(f"sum(increase(terrafusion_sessions_total{{{ENV}}}[1d]))", instant=True)],
            unit="short",
        ),
        g.stat_panel(
            "Median session duration",
            "Half of the sessions last longer than this.",
            [
                g.prom(
                    "histogram_quantile(0.5, sum by (le) "
                    f"(rate(terrafusion_session_duration_seconds_bucket{{{ENV}}}[1h])))",
                    instant=True,
                )
            ],
            unit="s",
        ),
        g.timeseries_panel(
            "Active users and retention",
            "Daily, weekly and monthly active users over time.",
            [
                g.prom(f"max by (window) ({users}{{{ENV}}})", "active users ({{window}})"),
            ],
            unit="short",
            width=THIRD,
        ),
        g.timeseries_panel(
            "Retention ratios",
            "DAU/MAU and WAU/MAU: how many of the month's users come back within a day and a week.",
            [
                g.prom(f'max({users}{{window="1d", {ENV}}}) / max({users}{{window="30d", {ENV}}})', "DAU / MAU"),
                g.prom(f'max({users}{{window="7d", {ENV}}}) / max({users}{{window="30d", {ENV}}})', "WAU / MAU"),
            ],
            unit="percentunit",
            width=THIRD,
            minimum=0,
        ),
        g.bar_gauge_panel(
            "Feature usage (top 10, selected range)",
            "Uses per feature over the dashboard's time range.",
            [
                g.prom(
                    f"topk(10, sum by (feature) (increase(terrafusion_feature_usage_total{{{ENV}}}[$__range])))",
                    "{{feature}}",
                    instant=True,
                )
            ],
            unit="short",
            width=THIRD,
        ),
        g.bar_gauge_panel(
            "Conversion funnel ($funnel)",
            "Events per funnel step over the time range, as a share of the busiest step (the entry step): "
            "the drop between bars is where users leave.",
            [
                g.prom(
                    f'sum by (step) (increase(terrafusion_funnel_step_total{{funnel=~"$funnel", {ENV}}}[$__range]))\n'
                    f'/ scalar(max(sum by (step) (increase(terrafusion_funnel_step_total{{funnel=~"$funnel", {ENV}}}[$__range]))))',
                    "{{step}}",
                    instant=True,
                )
            ],
            unit="percentunit",
            minimum=0,
            maximum=1,
        ),
        g.timeseries_panel(
            "Monthly active users, last 12 months (InfluxDB trends)",
            "Long-term trend from InfluxDB, which keeps business series longer than Thanos keeps raw data.",
            [
                g.influxql(
                    # A year is beyond the DEFAULT (raw) policy: read the 1h tier by name.
                    f'SELECT max("value") FROM "{ONE_HOUR_POLICY}"."terrafusion_active_users" '
                    "WHERE (\"window\" = '30d' AND \"environment\" = '$environment') AND $timeFilter "
                    "GROUP BY time(1d) fill(none)",
                    "MAU",
                )
            ],
            unit="short",
            datasource=g.INFLUXDB,
            time_from="1y",
        ),
    ]


def build(environment: str, without: frozenset[str] = frozenset(), costs_view: CostView = CostView()):
    """The executive dashboard builder for a stack's environment; `without`: optional producers the
    stack does not deploy (their panels are left out: the cost row without OpenCost)."""
    builder = g.new_dashboard(
        UID,
        TITLE,
        "Platform health, SLO compliance and error budgets, resources and cost, and product usage.",
        ["executive"],
        time_from="now-7d",
    )
    builder = builder.with_variable(g.datasource_variable()).with_variable(g.environment_variable(environment))
    builder = builder.with_variable(
        g.query_variable(
            "funnel",
            "Funnel",
            f"label_values(terrafusion_funnel_step_total{{{ENV}}}, funnel)",
            include_all=True,
            all_value=".*",
        )
    )
    cost = [] if OPENCOST in without else _cost(costs_view)
    return g.add_panels(builder, [*_platform_health(without), *_slo_compliance(), *_resources(), *cost, *_business()])
