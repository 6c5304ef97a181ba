"""The monitoring platform watching itself, and the Watchdog (dead man's switch).

Every alert here names a `component`. Metrics are the components' own: Prometheus, Alertmanager,
Thanos, Fluent Bit, elasticsearch-exporter, the OpenTelemetry Collector (Jaeger v2 is built on the
collector, so its storage exporter reports through the same `otelcol_*` metrics). InfluxDB 1.x only
exposes Go runtime metrics on /metrics, so its write errors are watched where they show: in
Prometheus remote_write, which is InfluxDB's only writer.
Ref: https://docs.influxdata.com/influxdb/v1/supported_protocols/prometheus/
"""

from __future__ import annotations

from monitoring.alert_rules._rule import AlertRule, RuleGroup
from monitoring.severity import Severity

# The collector renamed counters with a `_total` suffix when it moved to the OTel Go SDK's Prometheus
# exporter; match both spellings so the rule survives a collector upgrade.
_OTEL_SEND_FAILED = '{__name__=~"otelcol_exporter_send_failed_spans(_total)?"}'
# processorhelper's otelcol_processor_refused_spans was deprecated in 0.110.0 and is gone at the
# pinned 0.158.0; the memory limiter reports its own refusals (what the alert is about).
# Ref: open-telemetry/opentelemetry-collector@v0.158.0 processor/memorylimiterprocessor/documentation.md
#      (otelcol_processor_memory_limiter_refused_spans, Sum monotonic -> `_total`; attribute `processor`)
_OTEL_REFUSED = '{__name__=~"otelcol_processor_memory_limiter_refused_spans(_total)?"}'

# elasticsearch_exporter's own `cluster` label (the ES cluster name) is renamed by its ServiceMonitor so
# that `cluster` stays the Kubernetes cluster (plan/exporters.py, metrics_contract.py).
ES_CLUSTER_LABEL = "es_cluster"

PROMETHEUS = RuleGroup(
    "platform-prometheus",
    (
        AlertRule(
            name="PrometheusTargetDown",
            expr="up == 0",
            for_="10m",
            severity=Severity.P3,
            component="prometheus",
            summary="Scrape target {{ $labels.job }} / {{ $labels.instance }} is down",
            description="Prometheus has failed to scrape {{ $labels.instance }} of job {{ $labels.job }} "
            "for 10 minutes; alerts based on its metrics are blind.",
        ),
        AlertRule(
            name="PrometheusRuleEvaluationFailures",
            expr="increase(prometheus_rule_evaluation_failures_total[5m]) > 0",
            for_="5m",
            severity=Severity.P2,
            component="prometheus",
            summary="Prometheus fails to evaluate rules of group {{ $labels.rule_group }}",
            description="{{ $value | humanize }} rule evaluations of {{ $labels.rule_group }} failed in "
            "the last 5 minutes; alerts of that group may never fire.",
        ),
        AlertRule(
            # The settings validation places each rule where its window fits in prometheus.retention
            # (monitoring/windows.py); retentionSize can still delete blocks before that age, and only
            # the running Prometheus knows. Ref: prometheus/prometheus@v3.14.0 tsdb/db.go
            # (prometheus_tsdb_size_retentions_total: blocks deleted because the size limit was exceeded).
            name="PrometheusRetentionSizeReached",
            expr="increase(prometheus_tsdb_size_retentions_total[1h]) > 0",
            for_="5m",
            severity=Severity.P3,
            component="prometheus",
            summary="Prometheus {{ $labels.instance }} deletes blocks to stay under retentionSize",
            description="Prometheus deleted blocks younger than prometheus.retention because the TSDB "
            "reached prometheus.retentionSize; rules with long windows now read less than their window.",
        ),
        AlertRule(
            name="PrometheusRuleGroupSlow",
            expr="prometheus_rule_group_last_duration_seconds > prometheus_rule_group_interval_seconds",
            for_="15m",
            severity=Severity.P3,
            component="prometheus",
            summary="Rule group {{ $labels.rule_group }} takes longer than its interval",
            description="Evaluating {{ $labels.rule_group }} took {{ $value | humanizeDuration }}, more "
            "than its interval; evaluations are being skipped.",
        ),
        AlertRule(
            name="PrometheusNotificationsFailing",
            expr=(
                "rate(prometheus_notifications_errors_total[5m])\n"
                "/\n"
                "rate(prometheus_notifications_sent_total[5m])\n"
                "> 0.01"
            ),
            for_="10m",
            severity=Severity.P2,
            component="prometheus",
            summary="Prometheus fails to send alerts to {{ $labels.alertmanager }}",
            description="{{ $value | humanizePercentage }} of alert notifications to "
            "{{ $labels.alertmanager }} fail.",
        ),
        AlertRule(
            name="PrometheusConfigReloadFailed",
            expr="max_over_time(prometheus_config_last_reload_successful[5m]) == 0",
            for_="10m",
            severity=Severity.P3,
            component="prometheus",
            summary="Prometheus {{ $labels.pod }} could not load its latest configuration",
            description="The last configuration reload failed; Prometheus runs on its previous config "
            "and new scrape targets or rules are not active.",
        ),
        AlertRule(
            name="PrometheusTsdbCompactionsFailing",
            expr="increase(prometheus_tsdb_compactions_failed_total[3h]) > 0",
            for_="15m",
            severity=Severity.P3,
            component="prometheus",
            summary="Prometheus {{ $labels.pod }} TSDB compactions fail",
            description="{{ $value | humanize }} compactions failed in the last 3 hours; the Thanos "
            "sidecar uploads only compacted 2h blocks, so long-term storage is falling behind.",
        ),
        AlertRule(
            name="InfluxDbWriteErrors",
            expr="sum by (remote_name, url) (rate(prometheus_remote_storage_samples_failed_total[5m])) > 0",
            for_="15m",
            severity=Severity.P3,
            component="influxdb",
            summary="InfluxDB rejects remote-write samples from Prometheus",
            description="{{ $value | humanize }} samples/s sent to {{ $labels.url }} fail; trend data in "
            "InfluxDB has gaps.",
        ),
    ),
)

THANOS = RuleGroup(
    "platform-thanos",
    (
        AlertRule(
            name="ThanosCompactorHalted",
            expr="max by (job) (thanos_compact_halted) == 1",
            for_="5m",
            severity=Severity.P2,
            component="thanos",
            summary="Thanos compactor ({{ $labels.job }}) has halted",
            description="The compactor stopped on an error (overlapping or corrupt blocks). No "
            "compaction, downsampling or retention is applied until it is fixed and restarted.",
        ),
        AlertRule(
            name="ThanosSidecarUploadFailures",
            expr="sum by (job, pod) (increase(thanos_shipper_upload_failures_total[15m])) > 0",
            for_="15m",
            severity=Severity.P2,
            component="thanos",
            summary="Thanos sidecar {{ $labels.pod }} fails to upload blocks",
            description="{{ $value | humanize }} block uploads failed in the last 15 minutes; blocks "
            "not uploaded before local retention ends are lost from long-term storage.",
        ),
        AlertRule(
            name="ThanosSidecarPrometheusDown",
            expr="thanos_sidecar_prometheus_up == 0",
            for_="5m",
            severity=Severity.P2,
            component="thanos",
            summary="Thanos sidecar {{ $labels.pod }} cannot reach its Prometheus",
            description="The sidecar has not reached Prometheus for 5 minutes: recent data is missing "
            "from Thanos queries and nothing is uploaded.",
        ),
    ),
)

ALERTING = RuleGroup(
    "platform-alertmanager",
    (
        AlertRule(
            name="AlertmanagerNotificationsFailing",
            expr=(
                "sum by (integration) (rate(alertmanager_notifications_failed_total[5m]))\n"
                "/\n"
                "sum by (integration) (rate(alertmanager_notifications_total[5m]))\n"
                "> 0.01"
            ),
            for_="5m",
            severity=Severity.P2,
            component="alertmanager",
            summary="Alertmanager fails to deliver {{ $labels.integration }} notifications",
            description="{{ $value | humanizePercentage }} of {{ $labels.integration }} notifications "
            "fail: people who should be notified are not.",
        ),
        AlertRule(
            name="AlertmanagerConfigReloadFailed",
            expr="max_over_time(alertmanager_config_last_reload_successful[5m]) == 0",
            for_="10m",
            severity=Severity.P2,
            component="alertmanager",
            summary="Alertmanager {{ $labels.pod }} could not load its latest configuration",
            description="Alertmanager keeps routing with its previous configuration; receiver or "
            "routing changes are not active.",
        ),
    ),
)

LOGGING = RuleGroup(
    "platform-logging",
    (
        AlertRule(
            name="FluentBitOutputErrors",
            expr="sum by (pod, name) (rate(fluentbit_output_errors_total[5m])) > 0",
            for_="15m",
            severity=Severity.P3,
            component="fluent-bit",
            summary="Fluent Bit {{ $labels.pod }} output {{ $labels.name }} has errors",
            description="Output {{ $labels.name }} of {{ $labels.pod }} errors at {{ $value | humanize }}/s; "
            "chunks are retried, logs arrive late.",
        ),
        AlertRule(
            name="FluentBitOutputRetriesFailed",
            expr="sum by (pod, name) (increase(fluentbit_output_retries_failed_total[10m])) > 0",
            for_="0m",
            severity=Severity.P2,
            component="fluent-bit",
            summary="Fluent Bit {{ $labels.pod }} is dropping logs",
            description="{{ $value | humanize }} chunks of output {{ $labels.name }} exhausted their "
            "retries in the last 10 minutes and were dropped: those logs are lost.",
        ),
        AlertRule(
            name="ElasticsearchClusterRed",
            expr=f'max by ({ES_CLUSTER_LABEL}) (elasticsearch_cluster_health_status{{color="red"}}) == 1',
            for_="5m",
            severity=Severity.P2,
            component="elasticsearch",
            summary=f"Elasticsearch cluster {{{{ $labels.{ES_CLUSTER_LABEL} }}}} is red",
            description="At least one primary shard is unassigned: writes to its index fail and Fluent "
            "Bit and Jaeger start buffering and retrying.",
        ),
        AlertRule(
            name="ElasticsearchClusterYellow",
            expr=f'max by ({ES_CLUSTER_LABEL}) (elasticsearch_cluster_health_status{{color="yellow"}}) == 1',
            for_="30m",
            severity=Severity.P3,
            component="elasticsearch",
            summary=f"Elasticsearch cluster {{{{ $labels.{ES_CLUSTER_LABEL} }}}} has been yellow for 30 minutes",
            description="Replica shards are unassigned: one more node loss can make the cluster red.",
        ),
        AlertRule(
            name="ElasticsearchDiskAlmostFull",
            expr=(
                f"min by ({ES_CLUSTER_LABEL}, name) (\n"
                "  elasticsearch_filesystem_data_available_bytes / elasticsearch_filesystem_data_size_bytes\n"
                ") < 0.15"
            ),
            for_="15m",
            severity=Severity.P2,
            component="elasticsearch",
            summary="Elasticsearch node {{ $labels.name }} has {{ $value | humanizePercentage }} disk left",
            description="Past the 85% high disk watermark Elasticsearch moves shards away; past 95% it "
            "makes indices read-only and log ingestion stops.",
        ),
    ),
)

TRACING = RuleGroup(
    "platform-tracing",
    (
        AlertRule(
            name="TracingSpansDropped",
            expr=f"sum by (job, exporter) (rate({_OTEL_SEND_FAILED}[5m])) > 0",
            for_="15m",
            severity=Severity.P3,
            component="tracing",
            summary="{{ $labels.job }} fails to export spans through {{ $labels.exporter }}",
            description="{{ $value | humanize }} spans/s fail to export from {{ $labels.job }} "
            "({{ $labels.exporter }}): traces in Jaeger are incomplete.",
        ),
        AlertRule(
            name="TracingSpansRefused",
            expr=f"sum by (job, processor) (rate({_OTEL_REFUSED}[5m])) > 0",
            for_="15m",
            severity=Severity.P3,
            component="tracing",
            summary="{{ $labels.job }} refuses spans in processor {{ $labels.processor }}",
            description="{{ $value | humanize }} spans/s are refused (typically by the memory limiter): "
            "the collector is overloaded and clients drop spans.",
        ),
    ),
)

WATCHDOG = RuleGroup(
    "watchdog",
    (
        AlertRule(
            name="Watchdog",
            expr="vector(1)",
            for_="0m",
            # Routed before any severity route to its own receiver; P4 only to satisfy the contract.
            severity=Severity.P4,
            component="alerting-pipeline",
            summary="Alerting pipeline heartbeat",
            description="Always firing. It proves that Prometheus evaluates rules and Alertmanager "
            "delivers notifications; the external dead man's switch alerts when it stops arriving.",
        ),
    ),
)

GROUPS = (PROMETHEUS, THANOS, ALERTING, LOGGING, TRACING)
