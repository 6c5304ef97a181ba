"""Operational dashboard: what is broken or about to break, what changed, where capacity runs out,
whether the monitoring platform itself works, and which alerts deserve tuning.

The "Alert review" row is the agenda of the weekly alert-tuning review: its panels always look at the
last 7 days, whatever the dashboard's time range.
"""

from __future__ import annotations

from monitoring.dashboards import _grafana as g
from monitoring.dashboards import service_graph
from monitoring.dashboards._grafana import ENV, FULL, HALF, THIRD, Step
from monitoring.slo_catalogue import OTEL_SERVICEGRAPH

UID = "tf-operations"
TITLE = "Operations"

_HTTP = "http_server_request_duration_seconds"
_NS = f'namespace=~"$namespace", {ENV}'
_SVC = f'service=~"$service", {ENV}'
# Platform jobs as named by their charts' ServiceMonitors; a regex so renamed jobs still match.
_PLATFORM_JOBS = (
    ".*(prometheus|alertmanager|thanos|grafana|kube-state-metrics|node-exporter|fluent-bit|"
    "elasticsearch|opentelemetry|otel|jaeger|influxdb|pushgateway).*"
)

# An alert "fired" at a minute when it is firing then and was not a minute before. Counting those
# starts over a 1-minute subquery counts firing episodes, which is what alert fatigue is made of.
_FIRING = f'ALERTS{{alertstate="firing", {ENV}}}'
FIRED = f"sum by (alertname, severity) (\n  sum_over_time(({_FIRING} unless {_FIRING} offset 1m)[$__range:1m])\n)"
FIRING_SECONDS = f"sum by (alertname, severity) (count_over_time({_FIRING}[$__range:1m])) * 60"
REVIEW_WINDOW = "7d"


def _service_health() -> list:
    return [
        g.row("Service health by component"),
        g.bar_gauge_panel(
            "Scrape targets up, by job",
            "Share of each job's targets Prometheus can scrape. Below 100%, metrics and alerts of that job are partial.",
            [g.prom(f"avg by (job) (up{{{ENV}}})", "{{job}}", instant=True)],
            unit="percentunit",
            threshold_config=g.higher_is_better(0.9, 1),
            minimum=0,
            maximum=1,
            width=THIRD,
        ),
        g.table_panel(
            "Firing alerts",
            "Every alert firing now, by severity and owner (service or platform component).",
            [
                g.prom(
                    f"count by (severity, alertname, service, component) ({_FIRING})",
                    instant=True,
                    table_format=True,
                )
            ],
            width=2 * THIRD,
        ),
        g.timeseries_panel(
            "Pods not running, by namespace",
            "Pods pending, failed or unknown. A lasting non-zero value is a scheduling or crash problem.",
            [g.prom(f'sum by (namespace) (kube_pod_status_phase{{phase=~"Pending|Failed|Unknown", {_NS}}})', "{{namespace}}")],
            unit="none",
            width=THIRD,
            minimum=0,
        ),
        g.timeseries_panel(
            "Container restarts (per hour)",
            "Containers that restarted in the last hour: crash loops and OOM kills show up here first.",
            [
                g.prom(
                    f"sum by (namespace, pod) (increase(kube_pod_container_status_restarts_total{{{_NS}}}[1h])) > 0",
                    "{{namespace}}/{{pod}}",
                )
            ],
            unit="none",
            width=THIRD,
            minimum=0,
        ),
        g.table_panel(
            "Deployments missing replicas",
            "Deployments with fewer available replicas than desired.",
            [
                g.prom(
                    f"kube_deployment_spec_replicas{{{_NS}}} - kube_deployment_status_replicas_available{{{_NS}}} > 0",
                    instant=True,
                    table_format=True,
                )
            ],
            width=THIRD,
        ),
    ]


def _deployments() -> list:
    deployments = "terrafusion_deployments_total"
    return [
        g.row("Deployments and releases"),
        g.bar_gauge_panel(
            "Deployments by service (time range)",
            "Deployments pushed by CI over the dashboard's time range.",
            [g.prom(f"sum by (service) (increase({deployments}{{{_SVC}}}[$__range]))", "{{service}}", instant=True)],
            unit="short",
            width=THIRD,
        ),
        g.stat_panel(
            "Failed deployments (time range)",
            "Share of deployments whose result is not `success` (change failure rate).",
            [
                g.prom(
                    f'sum(increase({deployments}{{result!="success", {_SVC}}}[$__range]))\n'
                    f"/\nsum(increase({deployments}{{{_SVC}}}[$__range]))",
                    instant=True,
                )
            ],
            unit="percentunit",
            threshold_config=g.lower_is_better(0.05, 0.15),
            height=8,
        ),
        g.stat_panel(
            "Test coverage",
            "Average test coverage reported by CI.",
            [g.prom(f"avg(terrafusion_test_coverage_ratio{{{ENV}}})", instant=True)],
            unit="percentunit",
            threshold_config=g.higher_is_better(0.6, 0.8),
            height=8,
        ),
        g.timeseries_panel(
            "Pipeline runs by result (per hour)",
            "CI pipeline runs; a growing `failure` band is a broken main branch or flaky tests.",
            [g.prom(f"sum by (result) (increase(terrafusion_pipeline_runs_total{{{ENV}}}[1h]))", "{{result}}")],
            unit="short",
            width=THIRD,
            stacked=True,
        ),
        g.timeseries_panel(
            "Build duration by pipeline",
            "Duration of the latest build per pipeline, as pushed by CI.",
            [g.prom(f"max by (pipeline) (terrafusion_build_duration_seconds{{{ENV}}})", "{{pipeline}}")],
            unit="s",
            width=HALF,
        ),
        g.bar_gauge_panel(
            "Rollouts in progress",
            "Deployments whose updated replicas are below the desired count: a rollout that is running or stuck.",
            [
                g.prom(
                    "bottomk(15, kube_deployment_status_replicas_updated"
                    f"{{{_NS}}} / kube_deployment_spec_replicas{{{_NS}}} < 1)",
                    "{{namespace}}/{{deployment}}",
                    instant=True,
                )
            ],
            unit="percentunit",
            threshold_config=g.higher_is_better(0.5, 1),
            minimum=0,
            maximum=1,
            width=HALF,
        ),
    ]


def _errors_and_bottlenecks() -> list:
    return [
        g.row("Error rates and bottlenecks"),
        g.timeseries_panel(
            "Server error ratio by service",
            "Share of requests answered with a 5xx. The line is the 0.1% error-rate SLO.",
            [
                g.prom(
                    f'sum by (service) (rate({_HTTP}_count{{http_response_status_code=~"5..", {_SVC}}}[$__rate_interval]))\n'
                    f"/\nsum by (service) (rate({_HTTP}_count{{{_SVC}}}[$__rate_interval]))",
                    "{{service}}",
                )
            ],
            unit="percentunit",
            threshold_config=g.lower_is_better(0.001, 0.01),
            show_thresholds=True,
            minimum=0,
        ),
        g.timeseries_panel(
            "p99 latency by service",
            "99th percentile of request duration. The line is 1 s.",
            [
                g.prom(
                    f"histogram_quantile(0.99, sum by (service, le) (rate({_HTTP}_bucket{{{_SVC}}}[$__rate_interval])))",
                    "{{service}}",
                )
            ],
            unit="s",
            threshold_config=g.lower_is_better(0.3, 1),
            show_thresholds=True,
            minimum=0,
        ),
        g.timeseries_panel(
            "CPU throttling (top 10 pods)",
            "Share of CPU periods in which a pod hit its CPU limit: latency from throttling, not from code.",
            [
                g.prom(
                    "topk(10,\n"
                    f"  sum by (namespace, pod) (rate(container_cpu_cfs_throttled_periods_total{{{_NS}}}[$__rate_interval]))\n"
                    f"  / sum by (namespace, pod) (rate(container_cpu_cfs_periods_total{{{_NS}}}[$__rate_interval]))\n)",
                    "{{namespace}}/{{pod}}",
                )
            ],
            unit="percentunit",
            threshold_config=g.lower_is_better(0.25, 0.5),
            minimum=0,
        ),
        g.timeseries_panel(
            "Database connection pool usage by service",
            "Connections in use as a share of the pool size; at 100% requests queue for a connection.",
            [
                g.prom(
                    f'sum by (service) (db_client_connection_count{{db_client_connection_state="used", {_SVC}}})\n'
                    f"/\nsum by (service) (db_client_connection_max{{{_SVC}}})",
                    "{{service}}",
                )
            ],
            unit="percentunit",
            threshold_config=g.lower_is_better(0.8, 0.95),
            show_thresholds=True,
            minimum=0,
            maximum=1,
        ),
    ]


def _capacity() -> list:
    def growth(kind: str, unit: str) -> object:
        requests = f'sum(kube_pod_container_resource_requests{{resource="{kind}", {ENV}}})'
        return g.timeseries_panel(
            f"{kind.capitalize()} requests vs allocatable (30 days)",
            f"{kind.capitalize()} reserved by workloads against what the nodes offer, and where the last "
            "7 days' trend puts requests in 30 days.",
            [
                g.prom(requests, "requested"),
                g.prom(f'sum(kube_node_status_allocatable{{resource="{kind}", {ENV}}})', "allocatable"),
                g.prom(f"predict_linear({requests}[7d:1h], 30 * 86400)", "requested in 30 days (trend)"),
            ],
            unit=unit,
            width=THIRD,
            time_from="30d",
            # 30d plus the trend's 7d is beyond raw retention: a 30m step reads the 5m tier.
            min_interval="30m",
            minimum=0,
        )

    return [
        g.row("Capacity planning"),
        growth("cpu", "none"),
        growth("memory", "bytes"),
        g.timeseries_panel(
            "Persistent volume usage",
            "Used share of each volume (Prometheus, Thanos, Elasticsearch, Grafana, application data).",
            [
                g.prom(
                    "max by (namespace, persistentvolumeclaim) (\n"
                    f"  kubelet_volume_stats_used_bytes{{{_NS}}} / kubelet_volume_stats_capacity_bytes{{{_NS}}}\n)",
                    "{{namespace}}/{{persistentvolumeclaim}}",
                )
            ],
            unit="percentunit",
            threshold_config=g.lower_is_better(0.8, 0.9),
            show_thresholds=True,
            width=THIRD,
            time_from="30d",
            minimum=0,
            maximum=1,
        ),
        g.table_panel(
            "Volumes full within 14 days",
            "Volumes whose last day's trend runs them out of space within two weeks.",
            [
                g.prom(
                    f"predict_linear(kubelet_volume_stats_available_bytes{{{_NS}}}[1d], 14 * 86400) < 0",
                    instant=True,
                    table_format=True,
                )
            ],
            unit="bytes",
            width=THIRD,
        ),
        g.timeseries_panel(
            "Active series (Prometheus head)",
            "Series in Prometheus' head block: memory and Thanos storage grow with it. Sudden jumps are "
            "new high-cardinality labels.",
            [g.prom(f"sum(prometheus_tsdb_head_series{{{ENV}}})", "active series")],
            unit="short",
            width=THIRD,
            time_from="30d",
            minimum=0,
        ),
        g.timeseries_panel(
            "Log volume",
            "Bytes per second Fluent Bit ships, and disk used by Elasticsearch.",
            [
                g.prom(f"sum(rate(fluentbit_output_proc_bytes_total{{{ENV}}}[$__rate_interval]))", "shipped (bytes/s)"),
                g.prom(
                    f"sum(elasticsearch_filesystem_data_size_bytes{{{ENV}}} - elasticsearch_filesystem_data_available_bytes{{{ENV}}})",
                    "Elasticsearch disk used",
                ),
            ],
            unit="bytes",
            width=THIRD,
            time_from="30d",
            minimum=0,
        ),
    ]


def _monitoring_health() -> list:
    return [
        g.row("Monitoring platform health"),
        g.bar_gauge_panel(
            "Platform components up",
            "Share of scrape targets up for each monitoring component.",
            [g.prom(f'avg by (job) (up{{job=~"{_PLATFORM_JOBS}", {ENV}}})', "{{job}}", instant=True)],
            unit="percentunit",
            threshold_config=g.higher_is_better(0.99, 1),
            minimum=0,
            maximum=1,
            width=THIRD,
        ),
        g.timeseries_panel(
            "Rule evaluation failures",
            "Failed rule evaluations per group: alerts of a failing group never fire.",
            [
                g.prom(
                    f"sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total{{{ENV}}}[5m])) > 0",
                    "{{rule_group}}",
                )
            ],
            unit="short",
            width=THIRD,
            minimum=0,
        ),
        g.timeseries_panel(
            "Notification failures by integration",
            "Share of Alertmanager notifications that fail, per integration (PagerDuty, Slack, email, webhook).",
            [
                g.prom(
                    f"sum by (integration) (rate(alertmanager_notifications_failed_total{{{ENV}}}[$__rate_interval]))\n"
                    f"/\nsum by (integration) (rate(alertmanager_notifications_total{{{ENV}}}[$__rate_interval]))",
                    "{{integration}}",
                )
            ],
            unit="percentunit",
            threshold_config=g.lower_is_better(0.001, 0.01),
            width=THIRD,
            minimum=0,
        ),
        g.timeseries_panel(
            "Long-term storage (Thanos)",
            "Compactor halted (1 = stopped: no compaction, downsampling or retention) and failed block uploads.",
            [
                g.prom(f"max(thanos_compact_halted{{{ENV}}})", "compactor halted"),
                g.prom(f"sum(increase(thanos_shipper_upload_failures_total{{{ENV}}}[1h]))", "failed uploads (1h)"),
            ],
            unit="short",
            width=THIRD,
            minimum=0,
        ),
        g.timeseries_panel(
            "Log, trace and trend pipelines",
            "Errors per second in each pipeline: Fluent Bit outputs, span export from the collector, and "
            "Prometheus remote write to InfluxDB.",
            [
                g.prom(f"sum(rate(fluentbit_output_errors_total{{{ENV}}}[$__rate_interval]))", "Fluent Bit output errors"),
                g.prom(
                    f'sum(rate({{__name__=~"otelcol_exporter_send_failed_spans(_total)?", {ENV}}}[$__rate_interval]))',
                    "spans failed to export",
                ),
                g.prom(
                    f"sum(rate(prometheus_remote_storage_samples_failed_total{{{ENV}}}[$__rate_interval]))",
                    "remote-write samples failed",
                ),
            ],
            unit="short",
            width=THIRD,
            minimum=0,
        ),
        g.stat_panel(
            "Elasticsearch cluster health",
            "1 when the cluster is green; 0 means yellow (replicas missing) or red (primaries missing).",
            [g.prom(f'min(elasticsearch_cluster_health_status{{color="green", {ENV}}})', instant=True)],
            unit="none",
            threshold_config=g.thresholds(Step(None, g.RED), Step(1, g.GREEN)),
            width=THIRD,
            height=8,
        ),
    ]


def _alert_review() -> list:
    return [
        g.row(f"Alert review (last {REVIEW_WINDOW}, for the weekly tuning review)"),
        g.table_panel(
            "Alerts fired per rule and severity",
            "Firing episodes per alert rule and severity over the last 7 days.",
            [g.prom(FIRED, instant=True, table_format=True)],
            width=THIRD,
            height=10,
        ).time_from(REVIEW_WINDOW),
        g.table_panel(
            "Mean time to resolve per rule",
            "Average time an alert of each rule stayed firing, over the last 7 days.",
            [g.prom(f"{FIRING_SECONDS}\n/\n{FIRED}", instant=True, table_format=True)],
            unit="s",
            width=THIRD,
            height=10,
        ).time_from(REVIEW_WINDOW),
        g.bar_gauge_panel(
            "Noisiest rules (top 10)",
            "Rules that fired most often in the last 7 days: candidates for a higher threshold, a longer "
            "`for`, or a lower severity.",
            [g.prom(f"topk(10, {FIRED})", "{{alertname}} ({{severity}})", instant=True)],
            unit="short",
            width=THIRD,
            height=10,
        ).time_from(REVIEW_WINDOW),
        g.timeseries_panel(
            "Alerts received and notifications sent (per day)",
            "What Alertmanager received (firing/resolved) and sent per integration, per day.",
            [
                g.prom(f"sum by (status) (increase(alertmanager_alerts_received_total{{{ENV}}}[1d]))", "received {{status}}"),
                g.prom(f"sum by (integration) (increase(alertmanager_notifications_total{{{ENV}}}[1d]))", "sent via {{integration}}"),
            ],
            unit="short",
            width=FULL,
            time_from=REVIEW_WINDOW,
            minimum=0,
        ),
    ]


def _dependencies(without: frozenset[str]) -> list:
    """The whole system's dependency map from the traces (the collector's service graph tier)."""
    if OTEL_SERVICEGRAPH in without:
        return []
    selectors = (ENV,)
    return [
        g.row("Service dependencies (from traces)"),
        service_graph.node_graph_panel(
            "Service dependency map",
            "Every call between services seen in the sampled traces over the time range: a node's number is the "
            "requests per second it receives, an edge's the requests per second of that call. `user` is traffic "
            "from outside the traced services; databases and uninstrumented APIs appear under their peer names. "
            "A missing edge during a collector rollout is normal for a few seconds.",
            selectors,
            height=14,
        ),
        service_graph.failing_edges_panel(
            "Failing dependencies (time range)",
            "Share of the calls on each edge that failed (client or server span with status error); only edges "
            "with failures are listed.",
            selectors,
        ),
    ]


def build(environment: str, without: frozenset[str] = frozenset()):
    """`without`: optional producers the stack does not deploy (their panels are left out)."""
    builder = g.new_dashboard(
        UID,
        TITLE,
        "Service health, deployments, errors and bottlenecks, capacity, the monitoring platform's own "
        "health, and the weekly alert review.",
        ["operations"],
    )
    for variable in (
        g.datasource_variable(),
        g.environment_variable(environment),
        g.namespace_variable(),
        g.service_variable(),
    ):
        builder = builder.with_variable(variable)
    return g.add_panels(
        builder,
        [
            *_service_health(),
            *_deployments(),
            *_errors_and_bottlenecks(),
            *_dependencies(without),
            *_capacity(),
            *_monitoring_health(),
            *_alert_review(),
        ],
    )
