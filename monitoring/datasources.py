"""Grafana datasources: stable UIDs that dashboards refer to, and what each one points at.

UIDs are constants, never generated: a dashboard JSON names its datasource by UID, so changing one
breaks every panel that uses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

THANOS_UID = "thanos"
ALERTMANAGER_UID = "alertmanager"
# Provisioned with the logs/traces/trends backends (issue 3); dashboards may already refer to them.
ELASTICSEARCH_LOGS_UID = "elasticsearch-logs"
INFLUXDB_TRENDS_UID = "influxdb-trends"
JAEGER_UID = "jaeger"


@dataclass(frozen=True)
class DatasourceSpec:
    uid: str
    name: str
    type: str
    url: str
    is_default: bool = False
    json_data: dict[str, Any] = field(default_factory=dict)
    # A user whose password the deploying side supplies as secureJsonData (never in this spec).
    username: str | None = None
    # Same, for datasources that authenticate with HTTP basic auth (Elasticsearch).
    basic_auth_user: str | None = None


def metrics_datasources(thanos_url: str, alertmanager_url: str, scrape_interval: str) -> list[DatasourceSpec]:
    """Thanos query (the default Prometheus datasource: deduplicated, long-term) and Alertmanager."""
    return [
        DatasourceSpec(
            uid=THANOS_UID,
            name="Thanos",
            type="prometheus",
            url=thanos_url,
            is_default=True,
            json_data={
                # Ref: https://grafana.com/docs/grafana/latest/datasources/prometheus/configure/
                "httpMethod": "POST",
                "prometheusType": "Thanos",
                # $__rate_interval needs the scrape interval to pick a safe window.
                "timeInterval": scrape_interval,
            },
        ),
        DatasourceSpec(
            uid=ALERTMANAGER_UID,
            name="Alertmanager",
            type="alertmanager",
            url=alertmanager_url,
            # Ref: https://grafana.com/docs/grafana/latest/datasources/alertmanager/
            json_data={"implementation": "prometheus", "handleGrafanaManagedAlerts": False},
        ),
    ]


def trends_datasource(influxdb_url: str, database: str, username: str) -> DatasourceSpec:
    """InfluxDB (InfluxQL) with a read-only user: long-term SLO and business trends."""
    return DatasourceSpec(
        uid=INFLUXDB_TRENDS_UID,
        name="InfluxDB trends",
        type="influxdb",
        url=influxdb_url,
        username=username,
        # Ref: https://grafana.com/docs/grafana/latest/datasources/influxdb/configure-influxdb-data-source/
        json_data={"dbName": database, "httpMode": "POST", "version": "InfluxQL"},
    )


LOG_INDEX_PATTERN = "logs-*"


def logs_datasource(es_url: str, username: str) -> DatasourceSpec:
    """Elasticsearch over TLS (the deploying side supplies basicAuthPassword and tlsCACert)."""
    return DatasourceSpec(
        uid=ELASTICSEARCH_LOGS_UID,
        name="Elasticsearch logs",
        type="elasticsearch",
        url=es_url,
        basic_auth_user=username,
        # Ref: https://grafana.com/docs/grafana/latest/datasources/elasticsearch/configure/
        json_data={
            "index": LOG_INDEX_PATTERN,
            "timeField": "@timestamp",
            "logMessageField": "message",
            "logLevelField": "level",
            "tlsAuthWithCACert": True,
            "maxConcurrentShardRequests": 5,
            # Log lines link to their trace in Jaeger.
            "dataLinks": [{"field": "trace_id", "url": "${__value.raw}", "datasourceUid": JAEGER_UID}],
        },
    )


def traces_datasource(jaeger_query_url: str) -> DatasourceSpec:
    """Jaeger with trace-to-logs (Elasticsearch, by trace id) and trace-to-metrics (span metrics)."""
    return DatasourceSpec(
        uid=JAEGER_UID,
        name="Jaeger",
        type="jaeger",
        url=jaeger_query_url,
        # Ref: https://grafana.com/docs/grafana/latest/datasources/jaeger/configure-jaeger-data-source/
        json_data={
            "tracesToLogsV2": {
                "datasourceUid": ELASTICSEARCH_LOGS_UID,
                "spanStartTimeShift": "-5m",
                "spanEndTimeShift": "5m",
                "customQuery": True,
                "query": 'trace_id:"${__trace.traceId}"',
            },
            "tracesToMetrics": {
                "datasourceUid": THANOS_UID,
                "tags": [{"key": "service.name", "value": "service"}],
                "queries": [
                    {"name": "Request rate", "query": "sum(rate(traces_span_metrics_calls_total{$__tags}[5m]))"},
                    {
                        "name": "p95 latency",
                        "query": "histogram_quantile(0.95, sum by (le) "
                        "(rate(traces_span_metrics_duration_seconds_bucket{$__tags}[5m])))",
                    },
                ],
            },
            "nodeGraph": {"enabled": True},
        },
    )
