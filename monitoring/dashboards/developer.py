"""Developer dashboard: one service's endpoints (RED: rate, errors, duration), how its API is used,
how its database behaves, and its error logs with links to the traces behind them.

Logs are matched to the service by the pod label `app` (`kubernetes.labels.app`), which by
convention equals the `service` label of its metrics.
"""

from __future__ import annotations

from monitoring.dashboards import _grafana as g
from monitoring.dashboards._grafana import ENV, FULL, THIRD
from monitoring.dashboards.links import trace_by_id_link, trace_search_link
from monitoring import anomaly
from monitoring.slo import format_number
from monitoring.dashboards import service_graph
from monitoring.slo_catalogue import OTEL_SERVICEGRAPH, POSTGRES_EXPORTER

UID = "tf-developer-service"
TITLE = "Service (developers)"

_HTTP = "http_server_request_duration_seconds"
_SEL = f'service=~"$service", http_route=~"$route", {ENV}'
_CLIENT_ERRORS = f'{_SEL}, http_response_status_code=~"4.."'
_SERVER_ERRORS = f'{_SEL}, http_response_status_code=~"5.."'
_DB = "db_client_operation_duration_seconds"
_DB_SEL = f'service=~"$service", {ENV}'
# Error logs of the selected services, from the application log family.
# `${service:lucene}` is Grafana's Lucene formatting: escaped, several values OR-ed.
ERROR_LOGS_QUERY = '_index:logs-app-* AND kubernetes.labels.app:${service:lucene} AND level:(error OR fatal)'


def _rate(selector: str) -> str:
    return f"rate({_HTTP}_count{{{selector}}}[$__rate_interval])"


def _red() -> list:
    quantiles = [
        g.prom(
            f"histogram_quantile({q}, sum by (http_route, le) (rate({_HTTP}_bucket{{{_SEL}}}[$__rate_interval])))",
            f"p{int(q * 100)} {{{{http_route}}}}",
        )
        for q in (0.5, 0.9, 0.99)
    ]
    return [
        g.row("RED by endpoint"),
        g.timeseries_panel(
            "Request rate by endpoint",
            "Requests per second per route and method.",
            [g.prom(f"sum by (http_route, http_request_method) ({_rate(_SEL)})", "{{http_request_method}} {{http_route}}")],
            unit="reqps",
            minimum=0,
        ),
        g.timeseries_panel(
            "Latency p50 / p90 / p99 by endpoint",
            "Request duration percentiles per route. The line is the 300 ms latency SLO threshold.",
            quantiles,
            unit="s",
            threshold_config=g.lower_is_better(0.3, 1),
            show_thresholds=True,
            minimum=0,
        ),
        g.timeseries_panel(
            "Client errors (4xx) by endpoint",
            "4xx responses per second: bad requests, missing auth, not found. Usually a client problem.",
            [
                g.prom(
                    f"sum by (http_route, http_response_status_code) ({_rate(_CLIENT_ERRORS)})",
                    "{{http_response_status_code}} {{http_route}}",
                )
            ],
            unit="reqps",
            minimum=0,
        ),
        g.timeseries_panel(
            "Server errors (5xx) by endpoint",
            "5xx responses per second: failures of this service or what it depends on.",
            [
                g.prom(
                    f"sum by (http_route, http_response_status_code) ({_rate(_SERVER_ERRORS)})",
                    "{{http_response_status_code}} {{http_route}}",
                )
            ],
            unit="reqps",
            minimum=0,
        ),
        g.table_panel(
            "Server error ratio by endpoint (time range), with traces",
            "Share of 5xx per endpoint over the time range. The route links to that endpoint's failing "
            "traces in Jaeger.",
            [
                g.prom(
                    "sum by (service, http_route) (\n"
                    f'  rate({_HTTP}_count{{http_response_status_code=~"5..", {_SEL}}}[$__range])\n)\n'
                    f"/\nsum by (service, http_route) (rate({_HTTP}_count{{{_SEL}}}[$__range]))",
                    instant=True,
                    table_format=True,
                )
            ],
            unit="percentunit",
            threshold_config=g.lower_is_better(0.001, 0.01),
            data_links=[trace_search_link()],
            link_field="http_route",
        ),
        _anomaly_panel(),
    ]


def _anomaly_panel():
    """The seasonal z-scores the anomaly alerts fire on (monitoring/anomaly.py), recorded by the
    Thanos Ruler: what "unusual for this time of the week" means for the service, per signal."""
    threshold = anomaly.Z_THRESHOLD
    return g.timeseries_panel(
        "Anomaly z-score (against the same time of the last 3 weeks)",
        f"Standard deviations between each signal and its seasonal baseline. The anomaly alerts fire "
        f"beyond ±{format_number(threshold)} (upwards only for the 5xx and slow-request shares) held for "
        f"{anomaly.FOR}, with enough traffic; no line during the first two weeks of history.",
        [g.prom(f'{anomaly.ZSCORE_RECORD}{{service=~"$service", {ENV}}}', "{{signal}} {{service}}")],
        unit="short",
        width=FULL,
        threshold_config=g.thresholds(g.Step(None, g.RED), g.Step(-threshold, g.GREEN), g.Step(threshold, g.RED)),
        show_thresholds=True,
    )


def _usage() -> list:
    return [
        g.row("API usage patterns"),
        g.bar_gauge_panel(
            "Busiest endpoints (time range)",
            "Requests per route over the time range.",
            [
                g.prom(
                    f"topk(10, sum by (http_route) (increase({_HTTP}_count{{{_SEL}}}[$__range])))",
                    "{{http_route}}",
                    instant=True,
                )
            ],
            unit="short",
            width=THIRD,
        ),
        g.timeseries_panel(
            "Requests by method",
            "Read/write mix of the API.",
            [g.prom(f"sum by (http_request_method) ({_rate(_SEL)})", "{{http_request_method}}")],
            unit="reqps",
            width=THIRD,
            stacked=True,
        ),
        g.timeseries_panel(
            "Responses by status code",
            "All responses by status code.",
            [g.prom(f"sum by (http_response_status_code) ({_rate(_SEL)})", "{{http_response_status_code}}")],
            unit="reqps",
            width=THIRD,
            stacked=True,
        ),
    ]


def _database(without: frozenset[str]) -> list:
    # postgres_exporter's panels (`pg_*`) only where the stack deploys it.
    return [*_database_client_panels(), *([] if POSTGRES_EXPORTER in without else _postgres_panels())]


def _database_client_panels() -> list:
    return [
        g.row("Database query performance"),
        g.timeseries_panel(
            "Database operation latency p95 / p99",
            "Client-side duration of database operations. The line is the 100 ms latency SLO threshold.",
            [
                g.prom(
                    f"histogram_quantile({q}, sum by (service, le) (rate({_DB}_bucket{{{_DB_SEL}}}[$__rate_interval])))",
                    f"p{int(q * 100)} {{{{service}}}}",
                )
                for q in (0.95, 0.99)
            ],
            unit="s",
            threshold_config=g.lower_is_better(0.1, 0.5),
            show_thresholds=True,
            width=THIRD,
            minimum=0,
        ),
        g.timeseries_panel(
            "Database operations per second",
            "Operations issued by the service.",
            [g.prom(f"sum by (service) (rate({_DB}_count{{{_DB_SEL}}}[$__rate_interval]))", "{{service}}")],
            unit="ops",
            width=THIRD,
            minimum=0,
        ),
        g.timeseries_panel(
            "Connection pool",
            "Connections by state against the pool's maximum, and the share of connection attempts failing.",
            [
                g.prom(
                    f"sum by (db_client_connection_state) (db_client_connection_count{{{_DB_SEL}}})",
                    "{{db_client_connection_state}}",
                ),
                g.prom(f"sum(db_client_connection_max{{{_DB_SEL}}})", "max"),
            ],
            unit="short",
            width=THIRD,
            minimum=0,
        ),
        g.timeseries_panel(
            "Connection failures",
            "Share of connection attempts that fail (SLO: 99.995% succeed).",
            [
                g.prom(
                    f"sum(rate(terrafusion_db_connection_failures_total{{{_DB_SEL}}}[$__rate_interval]))\n"
                    f"/\nsum(rate(terrafusion_db_connection_attempts_total{{{_DB_SEL}}}[$__rate_interval]))",
                    "failed share",
                )
            ],
            unit="percentunit",
            threshold_config=g.lower_is_better(0.00005, 0.001),
            width=THIRD,
            minimum=0,
        ),
    ]


def _postgres_panels() -> list:
    return [
        g.timeseries_panel(
            "PostgreSQL cache hit ratio",
            "Share of block reads served from shared buffers; below ~99% queries go to disk.",
            [
                g.prom(
                    f"sum by (datname) (rate(pg_stat_database_blks_hit{{{ENV}}}[$__rate_interval]))\n"
                    f"/ (\n  sum by (datname) (rate(pg_stat_database_blks_hit{{{ENV}}}[$__rate_interval]))\n"
                    f"  + sum by (datname) (rate(pg_stat_database_blks_read{{{ENV}}}[$__rate_interval]))\n)",
                    "{{datname}}",
                )
            ],
            unit="percentunit",
            threshold_config=g.higher_is_better(0.9, 0.99),
            width=THIRD,
        ),
        g.timeseries_panel(
            "Locks, deadlocks and replication lag",
            "Locks held by mode, deadlocks per 5 minutes, and the worst replica's lag (seconds).",
            [
                g.prom(f"sum by (mode) (pg_locks_count{{{ENV}}})", "locks {{mode}}"),
                g.prom(f"sum(increase(pg_stat_database_deadlocks{{{ENV}}}[5m]))", "deadlocks (5m)"),
                g.prom(f"max(pg_replication_lag_seconds{{{ENV}}})", "replication lag (s)"),
            ],
            unit="short",
            width=THIRD,
            minimum=0,
        ),
    ]


def _dependencies(without: frozenset[str]) -> list:
    """Who the selected services call and who calls them, from the traces (the collector's service
    graph tier), where the stack runs it. Edges are the service's own: as client or as server."""
    if OTEL_SERVICEGRAPH in without:
        return []
    selectors = (f'client=~"$service", {ENV}', f'server=~"$service", {ENV}')
    return [
        g.row("Dependencies (from traces)"),
        service_graph.node_graph_panel(
            "Service dependency map",
            "Calls into and out of the selected services over the time range, paired from client and server "
            "spans of the sampled traces: a node's number is the requests per second it receives on the edges "
            "shown, an edge's the requests per second of that call. `user` is traffic from outside the traced "
            "services; a database or an uninstrumented API appears under its peer name.",
            selectors,
        ),
        service_graph.failing_edges_panel(
            "Failing dependencies (time range)",
            "Share of the calls on each edge of the map that failed (the client or the server span has status "
            "error). Only edges with failures are listed.",
            selectors,
        ),
    ]


def _logs_and_traces() -> list:
    return [
        g.row("Error logs and traces"),
        g.timeseries_panel(
            "Error log lines by app",
            "Log lines at level error or fatal, from Elasticsearch (`logs-app-*`).",
            [g.lucene(ERROR_LOGS_QUERY, split_by="kubernetes.labels.app")],
            unit="short",
            datasource=g.ELASTICSEARCH,
            width=FULL,
            stacked=True,
        ),
        g.table_panel(
            "Recent error logs, with traces",
            "The latest error lines. A `trace_id` opens the trace in Jaeger.",
            [g.lucene(ERROR_LOGS_QUERY, metric="raw_data", size=100)],
            datasource=g.ELASTICSEARCH,
            data_links=[trace_by_id_link()],
            link_field="trace_id",
            height=10,
        ),
        g.logs_panel("Error logs", "The same lines as a log stream, with details.", ERROR_LOGS_QUERY),
    ]


def build(environment: str, without: frozenset[str] = frozenset()):
    """`without`: optional producers the stack does not deploy (their panels are left out)."""
    builder = g.new_dashboard(
        UID,
        TITLE,
        "Per-service RED metrics by endpoint, API usage, database performance, error logs and traces.",
        ["developers"],
        time_from="now-6h",
    )
    for variable in (
        g.datasource_variable(),
        g.environment_variable(environment),
        g.service_variable(),
        g.query_variable(
            "route",
            "Endpoint",
            f'label_values({_HTTP}_count{{service=~"$service", {ENV}}}, http_route)',
            include_all=True,
            all_value=".*",
        ),
    ):
        builder = builder.with_variable(variable)
    return g.add_panels(
        builder, [*_red(), *_usage(), *_database(without), *_dependencies(without), *_logs_and_traces()]
    )
