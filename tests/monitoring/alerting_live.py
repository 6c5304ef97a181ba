"""Live harness: real Prometheus and Alertmanager on 127.0.0.1, a synthetic exporter, a webhook recorder.

Used by the live end-to-end test and by tools/bench_alerting.py. Everything binds to 127.0.0.1 on
free ports, every wait is bounded, and every process is stopped by the context managers, also when
a test fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import yaml
from tests.helpers import MetricsServer, free_port, wait_until

LOCALHOST = "127.0.0.1"


def http_get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (127.0.0.1 only)
        return response.read().decode()


# --- webhook recorder --------------------------------------------------------------------------


@dataclass
class Notification:
    path: str
    headers: dict[str, str]
    body: dict
    received_at: float  # time.monotonic()


class WebhookRecorder:
    """Records every POST (PagerDuty, Slack and webhook payloads are all JSON) and answers 200 with
    the body the real service sends: Alertmanager >= 0.26 reads a Slack answer and counts anything
    but a plain "ok" (incoming webhooks) as a failed notification.
    Ref: https://api.slack.com/messaging/webhooks#handling_errors
    """

    def __init__(self) -> None:
        self.notifications: list[Notification] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server API)
                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    body = {"raw": raw.decode(errors="replace")}
                with recorder._lock:
                    recorder.notifications.append(
                        Notification(self.path, dict(self.headers), body, time.monotonic())
                    )
                self.send_response(200)
                if self.path == "/slack":
                    self.send_header("Content-Type", "text/plain")
                    self.end_headers()
                    self.wfile.write(b"ok")
                    return
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                # PagerDuty's Events API answers 202 with a status; Alertmanager accepts any 2xx.
                self.wfile.write(b'{"status":"success","message":"Event processed"}')

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer((LOCALHOST, 0), Handler)
        self.url = f"http://{LOCALHOST}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self, path: str | None = None) -> list[Notification]:
        with self._lock:
            return [n for n in self.notifications if path is None or n.path == path]


# --- synthetic exporter ------------------------------------------------------------------------

# Cumulative share of requests at or under each bound: 97% within 300 ms meets the 95% latency SLO,
# 99.5% within 1 s keeps p99 clear of the ApiHighLatency threshold.
API_LATENCY_SHARES = ((0.1, 0.50), (0.3, 0.97), (1, 0.995), (2, 0.998), (3, 0.999), (float("inf"), 1.0))


def _le(bound: float) -> str:
    if bound == float("inf"):
        return "+Inf"
    return str(int(bound)) if float(bound).is_integer() else str(bound)


@dataclass
class ApiService:
    """One service's HTTP server histogram: `rps` per route and method, `error_ratio` of them 503."""

    name: str
    rps: float = 10.0
    error_ratio: float = 0.0
    routes: tuple[str, ...] = ("/api/v1/orders",)
    methods: tuple[str, ...] = ("GET",)
    client_error_ratio: float = 0.0  # share answered 404
    requests: dict[tuple[str, str, str], float] = field(default_factory=dict)  # counters


@dataclass
class PostgresDatabase:
    service: str
    datname: str
    hit_per_s: float
    read_per_s: float
    blks_hit: float = 0.0
    blks_read: float = 0.0


class SyntheticExporter(MetricsServer):
    """Serves /metrics from counters that grow at the configured rates (changeable at run time)."""

    def __init__(self, services: list[ApiService], databases: list[PostgresDatabase] | None = None) -> None:
        self.services = {s.name: s for s in services}
        self.databases = databases or []
        self._lock = threading.Lock()
        self._last = time.monotonic()
        super().__init__(self.render)

    def set_error_ratio(self, service: str, ratio: float) -> None:
        with self._lock:
            self._advance()
            self.services[service].error_ratio = ratio

    def _advance(self) -> None:
        now = time.monotonic()
        dt, self._last = now - self._last, now
        for svc in self.services.values():
            ok = 1.0 - svc.error_ratio - svc.client_error_ratio
            for route in svc.routes:
                for method in svc.methods:
                    for code, share in (("200", ok), ("404", svc.client_error_ratio), ("503", svc.error_ratio)):
                        key = (route, method, code)
                        svc.requests[key] = svc.requests.get(key, 0.0) + svc.rps * share * dt
        for db in self.databases:
            db.blks_hit += db.hit_per_s * dt
            db.blks_read += db.read_per_s * dt

    def series_count(self) -> int:
        return sum(1 for line in self.render().splitlines() if line and not line.startswith("#"))

    def render(self) -> str:
        with self._lock:
            self._advance()
            lines = ["# TYPE http_server_request_duration_seconds histogram"]
            for svc in self.services.values():
                for (route, method, code), count in sorted(svc.requests.items()):
                    labels = (
                        f'service="{svc.name}",http_route="{route}",http_request_method="{method}",'
                        f'http_response_status_code="{code}"'
                    )
                    for bound, share in API_LATENCY_SHARES:
                        lines.append(f'http_server_request_duration_seconds_bucket{{{labels},le="{_le(bound)}"}} {count * share:.3f}')
                    lines.append(f"http_server_request_duration_seconds_count{{{labels}}} {count:.3f}")
                    lines.append(f"http_server_request_duration_seconds_sum{{{labels}}} {count * 0.12:.3f}")
            if self.databases:
                lines.append("# TYPE pg_stat_database_blks_hit counter")
                for db in self.databases:
                    lines.append(f'pg_stat_database_blks_hit{{service="{db.service}",datname="{db.datname}"}} {db.blks_hit:.3f}')
                lines.append("# TYPE pg_stat_database_blks_read counter")
                for db in self.databases:
                    lines.append(f'pg_stat_database_blks_read{{service="{db.service}",datname="{db.datname}"}} {db.blks_read:.3f}')
                lines.append("# TYPE pg_up gauge")
                for service in sorted({db.service for db in self.databases}):
                    lines.append(f'pg_up{{service="{service}"}} 1')
            return "\n".join(lines) + "\n"


# --- real servers ------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    url: str
    log: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def run_server(name: str, args: list[str], url: str, workdir: Path, ready_timeout: float = 30) -> Iterator[Server]:
    """Start a server, wait for /-/ready, and always stop it on exit."""
    log = workdir / f"{name}.log"
    with log.open("w") as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    server = Server(name, process, url, log)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{server.log_tail()}")
            try:
                http_get(f"{url}/-/ready", timeout=1)
                return True
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                return False

        wait_until(ready, ready_timeout, what=f"{name} to be ready")
        yield server
    finally:
        _stop(process)


@contextmanager
def run_alertmanager(binary: str, config: dict, workdir: Path, templates: tuple[str, ...] = ()) -> Iterator[Server]:
    """`templates`: extra template files, e.g. an extracted engine's own default.tmpl (tools/engines.py)."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "alertmanager.yml"
    if templates:
        config = {**config, "templates": [*config.get("templates", []), *templates]}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    # The same flags on 0.25 and 0.33.1.
    # Ref: https://github.com/prometheus/alertmanager/blob/v0.33.1/README.md#turn-off-high-availability
    args = [
        binary,
        f"--config.file={config_path}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address={LOCALHOST}:{port}",
        "--cluster.listen-address=",  # empty: no gossip, a single local instance
        "--log.level=info",
    ]
    with run_server("alertmanager", args, f"http://{LOCALHOST}:{port}", workdir) as server:
        yield server


@contextmanager
def run_prometheus(
    binary: str,
    rule_files: dict[str, dict],
    scrape_target: str,
    alertmanager_url: str,
    workdir: Path,
    interval: str = "1s",
    resend_delay: str = "2s",
    external_labels: dict[str, str] | None = None,
) -> Iterator[Server]:
    workdir.mkdir(parents=True, exist_ok=True)
    rules_dir = workdir / "rules"
    rules_dir.mkdir(exist_ok=True)
    for stem, content in rule_files.items():
        (rules_dir / f"{stem}.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    config = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "external_labels": external_labels or {}},
        "rule_files": [str(rules_dir / "*.yaml")],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [alertmanager_url.removeprefix("http://")]}]}]
        },
        "scrape_configs": [
            {"job_name": "synthetic", "honor_labels": True, "static_configs": [{"targets": [scrape_target]}]}
        ],
    }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    # The same flags on 2.42 and 3.5.3.
    # Ref: https://prometheus.io/docs/prometheus/latest/command-line/prometheus/
    args = [
        binary,
        f"--config.file={config_path}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address={LOCALHOST}:{port}",
        # Prometheus finds Alertmanagers through service discovery, which publishes its first result
        # after a few seconds; alerts that fire before are dropped and only re-sent after the resend
        # delay (1m by default). A short delay makes the Watchdog reach Alertmanager within seconds.
        f"--rules.alert.resend-delay={resend_delay}",
        "--log.level=info",
    ]
    with run_server("prometheus", args, f"http://{LOCALHOST}:{port}", workdir) as server:
        yield server


def find_binary(name: str) -> str | None:
    return shutil.which(name)


def prometheus_metric(server_url: str, name: str) -> list[tuple[str, float]]:
    """(labels text, value) of every sample of `name` on a server's own /metrics."""
    samples = []
    for line in http_get(f"{server_url}/metrics").splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, _, value = line.rpartition(" ")
            samples.append((head[len(name):], float(value)))
    return samples


def query(server_url: str, promql: str) -> list[dict]:
    from urllib.parse import quote

    data = json.loads(http_get(f"{server_url}/api/v1/query?query={quote(promql)}"))
    return data["data"]["result"]
