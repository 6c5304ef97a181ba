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
