"""Harness of the InfluxDB tests: influxd and Prometheus on 127.0.0.1, the schema Job's script, a tiny exporter.

Everything binds to 127.0.0.1 on free ports, every wait is bounded, and every process is stopped by
the context managers, also when a test fails.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from monitoring.influxdb import InfluxRetentionSpec, apply_script
from tests.helpers import MetricsServer, free_port, wait_until

LOCALHOST = "127.0.0.1"
ADMIN_USER = "admin"
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


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


# --- influxd ---------------------------------------------------------------------------------------


@dataclass
class JobRun:
    returncode: int
    output: str


class InfluxServer:
    """influxd 1.6 with auth enabled; the admin is created first (allowed without auth while no user exists)."""

    def __init__(self, influxd_bin: str, influx_bin: str, workdir: Path, admin_password: str = ADMIN_PASSWORD) -> None:
        # The password the admin is created with, and the harness's own calls use (a rotation test
        # changes it on the server, then here).
        self.admin_password = admin_password
        self.influxd_bin = influxd_bin
        self.influx_bin = influx_bin
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://{LOCALHOST}:{self.port}"
        self._process: subprocess.Popen | None = None
        self._log = None

    def _config(self) -> str:
        # Ref: https://docs.influxdata.com/influxdb/v1/administration/config/
        return f"""
reporting-disabled = true
bind-address = "{LOCALHOST}:{free_port()}"
[meta]
  dir = "{self.workdir / 'meta'}"
[data]
  dir = "{self.workdir / 'data'}"
  wal-dir = "{self.workdir / 'wal'}"
  query-log-enabled = false
[monitor]
  store-enabled = false
[http]
  enabled = true
  bind-address = "{LOCALHOST}:{self.port}"
  auth-enabled = true
  log-enabled = false
"""

    def __enter__(self) -> InfluxServer:
        config = self.workdir / "influxdb.conf"
        config.write_text(self._config())
        self._log = open(self.workdir / "influxd.log", "wb")  # noqa: SIM115 (closed in __exit__)
        self._process = subprocess.Popen(
            [self.influxd_bin, "-config", str(config)], stdout=self._log, stderr=subprocess.STDOUT
        )
        try:
            wait_until(self._pingable, timeout=15, what="influxd to answer /ping")
            # The first user may be created without credentials, and must be an admin.
            # Ref: https://docs.influxdata.com/influxdb/v1/administration/authentication_and_authorization/
            self.cli(f"CREATE USER {ADMIN_USER} WITH PASSWORD '{self.admin_password}' WITH ALL PRIVILEGES", auth=False)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._process is not None:
            _stop(self._process)
        if self._log is not None:
            self._log.close()

    def log(self) -> str:
        return (self.workdir / "influxd.log").read_text(errors="replace")

    def _pingable(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"influxd exited early:\n{self.log()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/ping", timeout=1) as response:  # noqa: S310
                return response.status == 204
        except OSError:
            return False

    def cli(self, statement: str, auth: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "INFLUX_USERNAME": ADMIN_USER, "INFLUX_PASSWORD": self.admin_password} if auth else None
        result = subprocess.run(
            [self.influx_bin, "-host", LOCALHOST, "-port", str(self.port), "-execute", statement],
            capture_output=True, text=True, timeout=15, env=env, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"influx -execute {statement!r} failed: {result.stdout}{result.stderr}")
        return result

    def run_schema_job(self, influxql: str, workdir: Path, extra_env: dict[str, str] | None = None) -> JobRun:
        """Apply InfluxQL exactly as the schema Job does: its script, the influx CLI, credentials from env."""
        script = workdir / "apply-influxql.sh"
        script.write_text(apply_script())
        schema = workdir / "schema.iql"
        schema.write_text(influxql)
        env = {
            **os.environ,
            "INFLUX_HOST": LOCALHOST,
            "INFLUX_PORT": str(self.port),
            "INFLUX_USERNAME": ADMIN_USER,
            "INFLUX_PASSWORD": self.admin_password,
            "INFLUX_WAIT_SECONDS": "10",
            "PATH": f"{Path(self.influx_bin).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **(extra_env or {}),
        }
        result = subprocess.run(
            ["/bin/sh", str(script), str(schema)], capture_output=True, text=True, timeout=60, env=env,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        return JobRun(result.returncode, result.stdout + result.stderr)

    def query(self, q: str, db: str | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL over HTTP (basic auth); the series of the first result as dicts."""
        params = {"q": q, **({"db": db} if db else {})}
        request = urllib.request.Request(f"{self.url}/query?{urllib.parse.urlencode(params)}")
        request.add_header("Authorization", _basic(ADMIN_USER, self.admin_password))
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (127.0.0.1)
            body = json.load(response)
        result = body["results"][0]
        if "error" in result:
            raise RuntimeError(f"{q}: {result['error']}")
        return result.get("series", [])

    def rows(self, q: str, db: str | None = None) -> list[dict[str, Any]]:
        """Rows of every series of a query, each a dict of column -> value (plus the series tags)."""
        out = []
        for series in self.query(q, db):
            for values in series.get("values", []):
                out.append({**series.get("tags", {}), "_series": series.get("name"), **dict(zip(series["columns"], values))})
        return out

    def write_lines(self, db: str, rp: str, lines: str) -> None:
        """Write line protocol (second precision) into db.rp."""
        params = urllib.parse.urlencode({"db": db, "rp": rp, "precision": "s"})
        request = urllib.request.Request(f"{self.url}/write?{params}", data=lines.encode(), method="POST")
        request.add_header("Authorization", _basic(ADMIN_USER, self.admin_password))
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (127.0.0.1)
            assert response.status == 204

    def post_status(self, path: str, auth: tuple[str, str] | None) -> int:
        """HTTP status of an (empty-body) POST, to probe which credentials an endpoint accepts."""
        request = urllib.request.Request(f"{self.url}{path}", data=b"", method="POST")
        if auth:
            request.add_header("Authorization", _basic(*auth))
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (127.0.0.1)
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- Prometheus and a tiny exporter ----------------------------------------------------------------


class TinyExporter(MetricsServer):
    """Serves a fixed /metrics: one business series of the contract and one unrelated node series."""

    BODY = (
        "# TYPE terrafusion_active_users gauge\n"
        'terrafusion_active_users{window="1d"} 42\n'
        "# TYPE node_cpu_seconds_total counter\n"
        'node_cpu_seconds_total{cpu="0",mode="idle"} 1234.5\n'
    )

    def __init__(self) -> None:
        super().__init__(lambda: self.BODY)


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


class PrometheusServer:
    """Prometheus (2.42 or 3.5.3, tools/engines.py) on 127.0.0.1 with the given config and rules."""

    def __init__(self, prometheus_bin: str, workdir: Path, config: dict[str, Any], rules: dict[str, Any]) -> None:
        self.prometheus_bin = prometheus_bin
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://{LOCALHOST}:{self.port}"
        rules_file = workdir / "rules.yml"
        rules_file.write_text(yaml.safe_dump(rules, sort_keys=False))
        self.config_file = workdir / "prometheus.yml"
        self.config_file.write_text(yaml.safe_dump({**config, "rule_files": [str(rules_file)]}, sort_keys=False))
        self._process: subprocess.Popen | None = None
        self._log = None

    def __enter__(self) -> PrometheusServer:
        self._log = open(self.workdir / "prometheus.log", "wb")  # noqa: SIM115 (closed in __exit__)
        # The same flags on 2.42 and 3.5.3.
        # Ref: https://prometheus.io/docs/prometheus/latest/command-line/prometheus/
        self._process = subprocess.Popen(
            [
                self.prometheus_bin,
                f"--config.file={self.config_file}",
                f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                f"--web.listen-address={LOCALHOST}:{self.port}",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(self._ready, timeout=20, what="prometheus to become ready")
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._process is not None:
            _stop(self._process)
        if self._log is not None:
            self._log.close()

    def log(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def _ready(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"prometheus exited early:\n{self.log()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as response:  # noqa: S310
                return response.status == 200
        except OSError:
            return False
