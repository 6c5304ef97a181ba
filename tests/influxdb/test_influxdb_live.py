"""Live: Prometheus 2.42 remote_write, filtered by the generated relabel rule, into the real influxd 1.6.

Prometheus scrapes a tiny exporter (one business series, one node series) and evaluates one `slo:`
recording rule; remote_write authenticates with basic auth to `/api/v1/prom/write?db=<db>` after the
schema Job's InfluxQL was applied. Bounded: the samples arrive within a few seconds (5 s batch deadline).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from influx_harness import (
    ADMIN_PASSWORD,
    ADMIN_USER,
    LOCALHOST,
    PrometheusServer,
    TinyExporter,
    make_spec,
    to_prometheus_remote_write,
    wait_until,
)

from helpers import require_tool
from monitoring.influxdb import REMOTE_WRITE_KEEP_REGEX, build_influxql, remote_write_config, remote_write_url

DATABASE = "live_prometheus"
SLO_RECORD = "slo:sli_error:ratio_rate5m"
ARRIVAL_TIMEOUT_S = 35


@pytest.fixture(scope="module")
def fed_influxd(influxd, tmp_path_factory) -> Iterator:
    """influxd with the schema applied and Prometheus writing into it until the module ends."""
    prometheus_bin = require_tool("prometheus", "apt-get install prometheus")
    workdir = tmp_path_factory.mktemp("live")
    run = influxd.run_schema_job(build_influxql(make_spec(database=DATABASE)), workdir)
    assert run.returncode == 0, run.output
    entry = remote_write_config(
        remote_write_url(LOCALHOST, influxd.port, DATABASE), ("influxdb-auth", "username"), ("influxdb-auth", "password")
    )
    rules = {"groups": [{"name": "slo", "rules": [
        {"record": SLO_RECORD, "expr": 'label_replace(vector(0.002), "service", "api", "", "")'},
    ]}]}  # fmt: skip
    with TinyExporter() as exporter:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [{"job_name": "tiny", "static_configs": [{"targets": [exporter.target]}]}],
            "remote_write": [to_prometheus_remote_write(entry, ADMIN_USER, ADMIN_PASSWORD)],
        }
        with PrometheusServer(prometheus_bin, workdir, config, rules) as prometheus:
            try:
                wait_until(
                    lambda: _rows(influxd, "terrafusion_active_users") and _rows(influxd, SLO_RECORD),
                    timeout=ARRIVAL_TIMEOUT_S, interval=0.5, what="remote-written samples in InfluxDB",
                )  # fmt: skip
            except TimeoutError:
                pytest.fail(f"no samples arrived; prometheus log:\n{prometheus.log()[-3000:]}")
            yield influxd


def _rows(influxd, measurement: str) -> list[dict]:
    return influxd.rows(f'SELECT * FROM "{DATABASE}"."raw"."{measurement}"')


def _measurements(influxd) -> set[str]:
    return {row["name"] for row in influxd.rows(f'SHOW MEASUREMENTS ON "{DATABASE}"')}


def test_business_series_arrives_in_the_raw_policy_with_its_labels_as_tags(fed_influxd):
    rows = _rows(fed_influxd, "terrafusion_active_users")
    assert rows[-1]["value"] == 42 and rows[-1]["window"] == "1d" and rows[-1]["job"] == "tiny"


def test_slo_recording_series_arrives(fed_influxd):
    assert _rows(fed_influxd, SLO_RECORD)[-1]["value"] == 0.002


def test_unrelated_series_is_not_written(fed_influxd):
    assert "node_cpu_seconds_total" not in _measurements(fed_influxd)


def test_only_kept_metric_names_reach_influxdb(fed_influxd):
    # `up` and `scrape_*` are scraped with every target; the keep rule must drop them too.
    assert all(re.fullmatch(REMOTE_WRITE_KEEP_REGEX, name) for name in _measurements(fed_influxd))
