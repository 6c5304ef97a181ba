"""Every InfluxQL query of the dashboards runs on a real influxd (1.6) against the schema the
stack applies, with Grafana's macros substituted, and finds the remote-written series."""

from __future__ import annotations

import re
import time

import pytest
from tests.influxdb.influx_harness import InfluxServer, make_spec

from monitoring.dashboards import build_dashboards
from monitoring.datasources import INFLUXDB_TRENDS_UID
from monitoring.influxdb import RAW_POLICY, build_influxql
from monitoring.windows import influx_retention_policy


def _influxql_targets(node) -> list[str]:
    found = []
    if isinstance(node, dict):
        ds = node.get("datasource")
        if isinstance(ds, dict) and ds.get("uid") == INFLUXDB_TRENDS_UID and isinstance(node.get("query"), str):
            found.append(node["query"])
        for value in node.values():
            found += _influxql_targets(value)
    elif isinstance(node, list):
        for value in node:
            found += _influxql_targets(value)
    return found


QUERIES = sorted({q for d in build_dashboards("dev") for q in _influxql_targets(d.model)})


def _substitute(query: str) -> str:
    """What Grafana sends: $timeFilter and $__interval expanded, template variables set."""
    query = query.replace("$timeFilter", "time > now() - 90d").replace("$__interval", "1h")
    return re.sub(r"\$\{?(\w+)\}?", lambda m: {"environment": "dev"}.get(m[1], "unknown"), query)


def test_dashboards_have_influxql_panels():
    assert QUERIES


@pytest.mark.parametrize("query", QUERIES)
def test_dashboard_influxql_runs_and_finds_remote_written_series(influxd: InfluxServer, tmp_path, query):
    database = "dashboards"
    run = influxd.run_schema_job(build_influxql(make_spec(database=database)), tmp_path)
    assert run.returncode == 0, run.output
    now = int(time.time())
    # What Prometheus remote_write produces: measurement = metric name, labels as tags, field `value`.
    lines = "\n".join(
        f'terrafusion_active_users,window={window},environment=dev value={value} {now - 3600}'
        for window, value in (("1d", 120), ("7d", 480), ("30d", 1500))
    )
    # Into the policy the query reads: raw by default, or the tier the continuous queries fill
    # (a panel longer than rawRetention names it, monitoring/windows.py).
    influxd.write_lines(database, influx_retention_policy(query) or RAW_POLICY, lines)
    series = influxd.query(_substitute(query), db=database)
    assert series, f"no data for {query}"
