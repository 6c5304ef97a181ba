"""Helpers of the InfluxDB tests: the sample retention spec, the schema Job run against a real
influxd (tests/engines.py starts it), and the Operator's remote_write entry as plain Prometheus config.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from monitoring.influxdb import InfluxRetentionSpec, apply_script
from tests import engines
from tests.engines import LOCALHOST, FixedSeries, JobRun, SyntheticExporter  # noqa: F401 (re-exported)
from tests.helpers import wait_until  # noqa: F401 (re-exported)

ADMIN_USER = engines.INFLUX_ADMIN_USER
ADMIN_PASSWORD = "test-admin-password"
SAMPLE = {"rawRetention": "30d", "fiveMinuteRetention": "365d", "oneHourRetention": "1825d"}


def make_spec(**overrides: str) -> InfluxRetentionSpec:
    """The sample spec (30d / 365d / 1825d on database `prometheus`) with camelCase overrides."""
    return InfluxRetentionSpec.model_validate({**SAMPLE, **overrides})


def go_duration(seconds: float) -> str:
    """How influxd prints a policy duration: 30d -> "720h0m0s"; INF (0) -> "0s"."""
    if seconds == float("inf") or seconds == 0:
        return "0s"
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes}m{secs}s"


class InfluxServer(engines.InfluxServer):
    """The real influxd of tests/engines.py, with the schema Job's way of applying InfluxQL."""

    def __init__(self, influxd_bin: str, influx_bin: str, workdir: Path, admin_password: str = ADMIN_PASSWORD) -> None:
        super().__init__(influxd_bin, influx_bin, workdir, admin_password)

    def run_schema_job(self, influxql: str, workdir: Path, extra_env: dict[str, str] | None = None) -> JobRun:
        """Apply InfluxQL exactly as the schema Job does: its script, the influx CLI, credentials from env."""
        schema = workdir / "schema.iql"
        schema.write_text(influxql)
        env = {
            "INFLUX_USERNAME": ADMIN_USER,
            "INFLUX_PASSWORD": self.admin_password,
            "INFLUX_WAIT_SECONDS": "10",
            **(extra_env or {}),
        }
        return self.run_script(apply_script(), [str(schema)], workdir, env)


# A fixed /metrics: one business series of the contract and one unrelated node series.
TINY_METRICS = (
    "# TYPE terrafusion_active_users gauge\n"
    'terrafusion_active_users{window="1d"} 42\n'
    "# TYPE node_cpu_seconds_total counter\n"
    'node_cpu_seconds_total{cpu="0",mode="idle"} 1234.5\n'
)


def tiny_exporter() -> SyntheticExporter:
    return SyntheticExporter(FixedSeries(TINY_METRICS))


def _snake(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", key).lower()


def to_prometheus_remote_write(entry: dict[str, Any], username: str, password: str) -> dict[str, Any]:
    """An Operator RemoteWriteSpec entry as plain Prometheus `remote_write` config (snake_case keys).

    The Operator resolves basicAuth's Secret references into the generated config; here the values are
    given directly. Every other key is translated mechanically, so the test proves that the relabel
    rule and the queue settings mean the same thing to Prometheus itself.
    Ref: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#remote_write
    """

    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return {_snake(k): convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        return value

    out = {k: v for k, v in convert(entry).items() if k != "basic_auth"}
    out["basic_auth"] = {"username": username, "password": password}
    return out
