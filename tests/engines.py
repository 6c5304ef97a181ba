"""The one harness for real engines in tests: Prometheus, Alertmanager and influxd on 127.0.0.1, the
synthetic exporter that feeds them, and the recorder that stands in for notification receivers.

Rules every live test follows (so that the suite can run on several pytest-xdist workers):
- every server binds to 127.0.0.1 on a free port, and is restarted on another port if the one it
  was given was taken meanwhile;
- every server has a private work directory (a tmp_path) for its config, data and log;
- every wait is bounded, and every process is stopped by its context manager, also when a test fails.

Which binary of which generation (2.42/0.25 on PATH, 3.5.3/0.33.1 in .tools) is tools/engines.py's
business; tests get a path with tests.helpers.require_engine.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import free_port, require_engine, wait_until
from tools import engines

LOCALHOST = "127.0.0.1"
_START_ATTEMPTS = 3  # a free port can be taken between free_port() and the server's bind


def http_get(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (127.0.0.1 only)
        return response.read().decode()


# --- processes ---------------------------------------------------------------------------------------


@dataclass
class Server:
    """A running engine: its process, base URL and log file."""

    name: str
    process: subprocess.Popen
    url: str
    port: int
    log_path: Path

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log().splitlines()[-lines:])


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _answers(url: str, status: int) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 (127.0.0.1 only)
            return response.status == status
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _launch(name: str, args: list[str], port: int, workdir: Path, log_mode: str) -> Server:
    log_path = workdir / f"{name}.log"
    with log_path.open(log_mode) as out:
        process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    return Server(name, process, f"http://{LOCALHOST}:{port}", port, log_path)


def _wait_ready(server: Server, ready_path: str, ready_status: int, timeout: float) -> None:
    """Until GET `ready_path` answers `ready_status`; a process that exits first is a RuntimeError."""

    def ready() -> bool:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited with {server.process.returncode}:\n{server.log_tail()}")
        return _answers(server.url + ready_path, ready_status)

    wait_until(ready, timeout, what=f"{server.name} to be ready")


@contextmanager
def run_server(
    name: str,
    args_for_port: Callable[[int], list[str]],
    workdir: Path,
    ready_path: str = "/-/ready",
    ready_status: int = 200,
    ready_timeout: float = 30,
) -> Iterator[Server]:
    """Start `args_for_port(port)` on a free port, wait until GET `ready_path` answers
    `ready_status`, yield it, and always stop it. A server that exits at once because its port was
    taken meanwhile is started again on another one."""
    workdir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, _START_ATTEMPTS + 1):
        port = free_port()
        server = _launch(name, args_for_port(port), port, workdir, "w")
        process = server.process
        try:
            _wait_ready(server, ready_path, ready_status, ready_timeout)
        except RuntimeError:
            _stop(process)
            if attempt < _START_ATTEMPTS and "address already in use" in server.log():
                continue
            raise
        except BaseException:
            _stop(process)
            raise
        try:
            yield server
        finally:
            _stop(process)
        return


# --- Prometheus and Alertmanager ------------------------------------------------------------------------


@contextmanager
def run_prometheus(
    binary: str,
    workdir: Path,
    *,
    rule_files: dict[str, dict] | None = None,
    scrape_target: str | None = None,
    job: str = "synthetic",
    alertmanager_url: str | None = None,
    alertmanager_urls: Sequence[str] = (),
    alert_relabel_configs: Sequence[dict[str, Any]] = (),
    remote_write: Sequence[dict[str, Any]] = (),
    interval: str = "1s",
    resend_delay: str = "2s",
    external_labels: dict[str, str] | None = None,
    flags: Sequence[str] = (),
) -> Iterator[Server]:
    """Prometheus (2.42 or 3.5.3) with `rule_files` (stem -> content), scraping `scrape_target`
    every `interval` as job `job` (honor_labels: synthetic series carry their own `job`/`namespace`,
    like federated or pushed ones), sending alerts to `alertmanager_url` (or to every one of
    `alertmanager_urls`, one HA group, after `alert_relabel_configs`), and `remote_write` entries
    (plain Prometheus config); `flags` are added to its command line (tests/history.py). The data
    directory is `workdir/data`: entering again with the same `workdir` restarts on the same TSDB."""
    rules_dir = workdir / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    for stem, content in (rule_files or {}).items():
        (rules_dir / f"{stem}.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    config: dict[str, Any] = {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "external_labels": external_labels or {}},
        "rule_files": [str(rules_dir / "*.yaml")],
    }
    targets = [url.removeprefix("http://") for url in ([alertmanager_url] if alertmanager_url else []) + list(alertmanager_urls)]
    if targets:
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": targets}]}]}
        if alert_relabel_configs:
            config["alerting"]["alert_relabel_configs"] = list(alert_relabel_configs)
    if scrape_target:
        config["scrape_configs"] = [{"job_name": job, "honor_labels": True, "static_configs": [{"targets": [scrape_target]}]}]
    if remote_write:
        config["remote_write"] = list(remote_write)
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    # The same flags on 2.42 and 3.5.3; the exporter sends a text-format Content-Type, which 3.x
    # requires (no fallback_scrape_protocol needed).
    # Ref: https://prometheus.io/docs/prometheus/latest/command-line/prometheus/
    # Ref: https://prometheus.io/docs/prometheus/latest/migration/#scrape-protocols
    def args(port: int) -> list[str]:
        return [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={LOCALHOST}:{port}",
            # Prometheus finds Alertmanagers through service discovery, which publishes its first
            # result after a few seconds; alerts that fire before are dropped and only re-sent after
            # the resend delay (1m by default). A short delay makes alerts arrive within seconds.
            f"--rules.alert.resend-delay={resend_delay}",
            "--log.level=info",
            *flags,
        ]

    with run_server("prometheus", args, workdir) as server:
        yield server


@contextmanager
def prometheus_per_generation(tmp_path_factory, name: str, rule_files: dict[str, dict], scrape_target: str) -> Iterator[dict[str, str | Exception]]:
    """For a module fixture: one Prometheus per engine generation whose binary is here, each with
    `rule_files` and scraping `scrape_target`; per generation its URL, or the error it failed to start
    with (raised by `generation_url`, so that only that generation's tests fail)."""
    urls: dict[str, str | Exception] = {}
    with ExitStack() as stack:
        for generation in engines.GENERATIONS:
            binary = engines.find("prometheus", generation)
            if binary is None:
                continue
            try:
                workdir = tmp_path_factory.mktemp(f"{name}-{generation}")
                urls[generation] = stack.enter_context(run_prometheus(binary, workdir, rule_files=rule_files, scrape_target=scrape_target)).url
            except (RuntimeError, TimeoutError) as error:
                urls[generation] = error
        yield urls


def generation_url(generation: str, urls: dict[str, str | Exception]) -> str:
    """The URL `prometheus_per_generation` started for `generation` (a missing binary fails under CI,
    skips locally; a failed start is raised)."""
    require_engine("prometheus", generation)
    started = urls[generation]
    if isinstance(started, Exception):
        raise started
    return started


@dataclass(frozen=True)
class Gossip:
    """One peer's place in an Alertmanager cluster on 127.0.0.1: its gossip port, every peer's
    address (its own included, as the operator lists every replica), its name where the engine takes
    one (0.30+; else memberlist picks a random one), and the timers. `peer_timeout` is what a peer
    at position k waits k times before notifying; the others only make a local cluster converge in
    seconds (test-only values: the defaults are 200ms / 1m / 1m).
    Ref: prometheus/alertmanager@v0.33.1 cmd/alertmanager/main.go (cluster.* flags and defaults:
    peer-timeout 15s, gossip-interval 200ms, pushpull-interval 1m, settle-timeout = pushpull
    interval), README.md "High Availability"; the same flags in v0.25.0 but cluster.peer-name."""

    port: int
    peers: tuple[str, ...]
    peer_name: str | None = None
    peer_timeout: str = "15s"
    gossip_interval: str = "200ms"
    pushpull_interval: str = "1m"
    settle_timeout: str = "1m"

    def flags(self) -> list[str]:
        address = f"{LOCALHOST}:{self.port}"
        flags = [
            f"--cluster.listen-address={address}",
            f"--cluster.advertise-address={address}",
            *(f"--cluster.peer={peer}" for peer in self.peers),
            f"--cluster.peer-timeout={self.peer_timeout}",
            f"--cluster.gossip-interval={self.gossip_interval}",
            f"--cluster.pushpull-interval={self.pushpull_interval}",
            f"--cluster.settle-timeout={self.settle_timeout}",
            # As the operator sets it, so that a killed peer leaves the member list within minutes.
            # Ref: prometheus-operator@v0.93.0 pkg/alertmanager/statefulset.go (cluster.reconnect-timeout 5m)
            "--cluster.reconnect-timeout=5m",
        ]
        if self.peer_name:
            flags.append(f"--cluster.peer-name={self.peer_name}")
        return flags


@contextmanager
def run_alertmanager(
    binary: str, config: dict, workdir: Path, templates: tuple[str, ...] = (), gossip: Gossip | None = None
) -> Iterator[Server]:
    """`templates`: extra template files, e.g. an extracted engine's own default.tmpl (tools/engines.py).
    `gossip`: a clustered peer (run_alertmanager_cluster); without it a single instance, gossip off."""
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "alertmanager.yml"
    if templates:
        config = {**config, "templates": [*config.get("templates", []), *templates]}
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))

    # The same flags on 0.25 and 0.33.1.
    # Ref: https://github.com/prometheus/alertmanager/blob/v0.33.1/README.md#turn-off-high-availability
    def args(port: int) -> list[str]:
        return [
            binary,
            f"--config.file={config_path}",
            f"--storage.path={workdir / 'data'}",
            f"--web.listen-address={LOCALHOST}:{port}",
            # empty: no gossip, a single local instance
            *(gossip.flags() if gossip else ["--cluster.listen-address="]),
            "--log.level=info",
        ]

    with run_server("alertmanager", args, workdir) as server:
        yield server


@contextmanager
def run_alertmanager_cluster(
    binary: str, config: dict, workdir: Path, size: int, templates: tuple[str, ...] = (), named: bool = True, **timers: str
) -> Iterator[list[Server]]:
    """`size` Alertmanagers with the same config, clustered over gossip on 127.0.0.1 (each peer
    lists all, as the operator does), started together and ready once the cluster has formed
    (every peer sees `size` members on /api/v2/status). `named`: peers are called am-0, am-1, ...
    (0.30+), so that their positions are their indexes; `timers`: Gossip fields."""
    ports = [free_port() for _ in range(size)]
    peers = tuple(f"{LOCALHOST}:{port}" for port in ports)
    with ExitStack() as stack:
        servers = [
            stack.enter_context(run_alertmanager(
                binary, config, workdir / f"am-{i}", templates,
                Gossip(port, peers, f"am-{i}" if named else None, **timers),
            ))
            for i, port in enumerate(ports)
        ]  # fmt: skip
        # Formed, and settled: until its gossip settles a peer holds back every notification (at
        # most the settle timeout), which would count as latency.
        # Ref: prometheus/alertmanager@v0.33.1 notify/cluster_stages.go (ClusterGossipSettleStage),
        # api/v2/openapi.yaml (clusterStatus.status: ready, settling, disabled)
        def formed() -> bool:
            views = [cluster_status(s.url) for s in servers]
            return all(len(v["peers"]) == size and v["status"] == "ready" for v in views)

        wait_until(formed, 30, what=f"{size} Alertmanagers to form a cluster and settle")
        yield servers


def cluster_status(url: str) -> dict:
    """An Alertmanager's view of its cluster: {"name", "status", "peers": [{"name", "address"}]}.
    Ref: prometheus/alertmanager@v0.33.1 api/v2/openapi.yaml (clusterStatus)"""
    return json.loads(http_get(f"{url}/api/v2/status"))["cluster"]


def cluster_position(url: str) -> int:
    """The peer's position: its name's index among all member names, sorted (what it waits
    `position x peer timeout` for before notifying).
    Ref: prometheus/alertmanager@v0.33.1 cluster/cluster.go (Peer.Position), cmd/alertmanager/main.go (clusterWait)"""
    status = cluster_status(url)
    return sorted(p["name"] for p in status["peers"]).index(status["name"])


def active_alertmanagers(prometheus_url: str) -> list[str]:
    """The Alertmanager URLs a Prometheus has discovered and sends to (empty for the first seconds:
    service discovery publishes its first result after a delay, static configs included).
    Ref: https://prometheus.io/docs/prometheus/latest/querying/api/#alertmanagers"""
    data = json.loads(http_get(f"{prometheus_url}/api/v1/alertmanagers"))["data"]
    return [a["url"] for a in data["activeAlertmanagers"]]


def prometheus_alerts(prometheus_url: str) -> list[dict]:
    """Every pending and firing alert a Prometheus holds: labels, state, activeAt (RFC 3339).
    Ref: https://prometheus.io/docs/prometheus/latest/querying/api/#alerts"""
    return json.loads(http_get(f"{prometheus_url}/api/v1/alerts"))["data"]["alerts"]


def query(server_url: str, promql: str) -> list[dict]:
    """The result of an instant query (which must succeed)."""
    data = json.loads(http_get(f"{server_url}/api/v1/query?query={urllib.parse.quote(promql)}"))
    return data["data"]["result"]


def instant_query(url: str, expr: str, at: float | None = None, stats: bool = False, timeout: float = 10) -> dict:
    """The whole /api/v1/query answer (status and data, or errorType and error), HTTP errors included;
    evaluated at `at` (unix seconds) if given; `stats`: with the engine's timings and sample counts
    (`stats=all`; 2.42 and 3.5.3 alike).
    Ref: https://prometheus.io/docs/prometheus/latest/querying/api/#instant-queries
    Ref: prometheus/prometheus@v3.5.3 web/api/v1/api.go (the `stats` form value),
    util/stats/query_stats.go (`timings`, `samples.totalQueryableSamples`)"""
    form = {"query": expr}
    if at is not None:
        form["time"] = f"{at:.3f}"
    if stats:
        form["stats"] = "all"
    request = urllib.request.Request(f"{url}/api/v1/query", data=urllib.parse.urlencode(form).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (127.0.0.1)
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read() or b'{"status": "error", "error": "no body"}')


def prometheus_metric(server_url: str, name: str) -> list[tuple[str, float]]:
    """(labels text, value) of every sample of `name` on a server's own /metrics."""
    samples = []
    for line in http_get(f"{server_url}/metrics").splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            head, _, value = line.rpartition(" ")
            samples.append((head[len(name):], float(value)))
    return samples


def find_binary(name: str) -> str | None:
    return shutil.which(name)


# --- influxd ----------------------------------------------------------------------------------------


INFLUX_ADMIN_USER = "admin"


@dataclass
class JobRun:
    returncode: int
    output: str


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class InfluxServer:
    """influxd 1.6 with auth enabled; the admin is created first (allowed without auth while no user
    exists). `admin_password`: what the admin is created with and the harness's own calls use (a
    rotation test changes it on the server, then here)."""

    def __init__(self, influxd_bin: str, influx_bin: str, workdir: Path, admin_password: str) -> None:
        self.admin_password = admin_password
        self.influxd_bin = influxd_bin
        self.influx_bin = influx_bin
        self.workdir = workdir
        self._context: Any = None
        self.server: Server | None = None

    @property
    def port(self) -> int:
        assert self.server is not None, "not started"
        return self.server.port

    @property
    def url(self) -> str:
        assert self.server is not None, "not started"
        return self.server.url

    def _args(self, port: int) -> list[str]:
        config = self.workdir / "influxdb.conf"
        # Ref: https://docs.influxdata.com/influxdb/v1/administration/config/
        config.write_text(f"""
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
  bind-address = "{LOCALHOST}:{port}"
  auth-enabled = true
  log-enabled = false
""")
        return [self.influxd_bin, "-config", str(config)]

    def __enter__(self) -> InfluxServer:
        self._context = run_server("influxd", self._args, self.workdir, ready_path="/ping", ready_status=204, ready_timeout=15)
        self.server = self._context.__enter__()
        try:
            # The first user may be created without credentials, and must be an admin.
            # Ref: https://docs.influxdata.com/influxdb/v1/administration/authentication_and_authorization/
            self.cli(f"CREATE USER {INFLUX_ADMIN_USER} WITH PASSWORD '{self.admin_password}' WITH ALL PRIVILEGES", auth=False)
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self._context is not None:
            self._context.__exit__(None, None, None)
            self._context = None

    def log(self) -> str:
        return self.server.log() if self.server else ""

    def cli(self, statement: str, auth: bool = True) -> subprocess.CompletedProcess:
        env = {**os.environ, "INFLUX_USERNAME": INFLUX_ADMIN_USER, "INFLUX_PASSWORD": self.admin_password} if auth else None
        result = subprocess.run(
            [self.influx_bin, "-host", LOCALHOST, "-port", str(self.port), "-execute", statement],
            capture_output=True, text=True, timeout=15, env=env, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"influx -execute {statement!r} failed: {result.stdout}{result.stderr}")
        return result

    def run_script(self, script: str, arguments: Sequence[str], workdir: Path, env: dict[str, str]) -> JobRun:
        """Run a shell script as a Job would, with the influx CLI on PATH and INFLUX_HOST/PORT set."""
        path = workdir / "job.sh"
        path.write_text(script)
        full_env = {
            **os.environ,
            "INFLUX_HOST": LOCALHOST,
            "INFLUX_PORT": str(self.port),
            "PATH": f"{Path(self.influx_bin).parent}{os.pathsep}{os.environ.get('PATH', '')}",
            **env,
        }
        result = subprocess.run(
            ["/bin/sh", str(path), *arguments], capture_output=True, text=True, timeout=60, env=full_env,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip
        return JobRun(result.returncode, result.stdout + result.stderr)

    def query(self, q: str, db: str | None = None) -> list[dict[str, Any]]:
        """Run InfluxQL over HTTP (basic auth); the series of the first result as dicts."""
        params = {"q": q, **({"db": db} if db else {})}
        request = urllib.request.Request(f"{self.url}/query?{urllib.parse.urlencode(params)}")
        request.add_header("Authorization", _basic(INFLUX_ADMIN_USER, self.admin_password))
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
        request.add_header("Authorization", _basic(INFLUX_ADMIN_USER, self.admin_password))
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


# --- local HTTP stand-ins ---------------------------------------------------------------------------------


class _BackloggedHTTPServer(ThreadingHTTPServer):
    # socketserver's listen backlog is 5: three Alertmanagers notifying a storm's groups at once
    # overflow it and see connection resets (failed notifications that are the harness's, not theirs).
    request_queue_size = 128


class _LocalHttpServer:
    """A handler class served on 127.0.0.1, on a free port, in a daemon thread while the context is
    open (`address` is its host:port)."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> str:
        self._server = _BackloggedHTTPServer((LOCALHOST, 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        return f"{LOCALHOST}:{self._server.server_address[1]}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()


class StandInHandler(BaseHTTPRequestHandler):
    """A base for a stand-in's handler: `reply` answers with a body, and nothing is logged."""

    def reply(self, body: bytes, status: int = 200) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


class HandlerServer(_LocalHttpServer):
    """A request handler class of the test's own (a stand-in for an API a script of the program
    calls), over TLS with `tls` (a server-side SSLContext). Use as a context manager; `url` is its
    base URL."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> None:
        address = self._serve(handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        self.url = f"{'https' if tls is not None else 'http'}://{address}"


# --- the synthetic exporter -------------------------------------------------------------------------------


class SyntheticExporter(_LocalHttpServer):
    """The one fake scrape target: /metrics on 127.0.0.1 (`target` is its host:port) in the text
    exposition format, made at each scrape from its sources, each a `lines(now)` giving its series
    (ApiTraffic, PostgresStats, EveryMetric, FixedSeries below). Use as a context manager."""

    def __init__(self, *sources: Any) -> None:
        self.sources = sources
        self._lock = threading.Lock()
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                body = exporter.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.target = self._serve(Handler)

    def render(self) -> str:
        with self._lock:
            now = time.monotonic()
            return "".join(line + "\n" for source in self.sources for line in source.lines(now))

    def series_count(self) -> int:
        return sum(1 for line in self.render().splitlines() if line and not line.startswith("#"))


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


class ApiTraffic:
    """`http_server_request_duration_seconds` of services whose counters grow at their rates; a
    rate can change while Prometheus scrapes (`set_error_ratio`)."""

    def __init__(self, services: Sequence[ApiService]) -> None:
        self.services = {s.name: s for s in services}
        self._lock = threading.Lock()
        self._last = time.monotonic()

    def set_error_ratio(self, service: str, ratio: float) -> None:
        with self._lock:
            self._advance(time.monotonic())
            self.services[service].error_ratio = ratio

    def _advance(self, now: float) -> None:
        dt, self._last = now - self._last, now
        for svc in self.services.values():
            ok = 1.0 - svc.error_ratio - svc.client_error_ratio
            for route in svc.routes:
                for method in svc.methods:
                    for code, share in (("200", ok), ("404", svc.client_error_ratio), ("503", svc.error_ratio)):
                        key = (route, method, code)
                        svc.requests[key] = svc.requests.get(key, 0.0) + svc.rps * share * dt

    def lines(self, now: float) -> list[str]:
        with self._lock:
            self._advance(max(now, self._last))
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
            return lines


@dataclass
class PostgresDatabase:
    service: str
    datname: str
    hit_per_s: float
    read_per_s: float
    blks_hit: float = 0.0
    blks_read: float = 0.0


class PostgresStats:
    """postgres_exporter's block counters (growing at their rates) and `pg_up` per service."""

    def __init__(self, databases: Sequence[PostgresDatabase]) -> None:
        self.databases = list(databases)
        self._last = time.monotonic()

    def lines(self, now: float) -> list[str]:
        dt, self._last = max(0.0, now - self._last), max(now, self._last)
        for db in self.databases:
            db.blks_hit += db.hit_per_s * dt
            db.blks_read += db.read_per_s * dt
        lines = ["# TYPE pg_stat_database_blks_hit counter"]
        lines += [f'pg_stat_database_blks_hit{{service="{db.service}",datname="{db.datname}"}} {db.blks_hit:.3f}' for db in self.databases]
        lines.append("# TYPE pg_stat_database_blks_read counter")
        lines += [f'pg_stat_database_blks_read{{service="{db.service}",datname="{db.datname}"}} {db.blks_read:.3f}' for db in self.databases]
        lines.append("# TYPE pg_up gauge")
        lines += [f'pg_up{{service="{service}"}} 1' for service in sorted({db.service for db in self.databases})]
        return lines


class EveryMetric:
    """A series (a histogram's `_bucket`/`_count`/`_sum` together) for each name, for two services,
    with counters that grow with time, so rates, histograms and recording rules all have data.
    Labels cover what dashboards and rules select on (environment, service, app, namespace, ...)."""

    SERVICES = ("checkout", "search")
    BUCKETS = ("0.1", "0.3", "1", "2", "3", "+Inf")

    def __init__(self, metric_names: set[str], head_start: float = 60) -> None:
        self.metric_names = metric_names
        self._started = time.monotonic() - head_start

    @staticmethod
    def _labels(**labels: str) -> str:
        return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"

    def lines(self, now: float) -> list[str]:
        elapsed, names, out = now - self._started, self.metric_names, []
        for service in self.SERVICES:
            base = {"environment": "dev", "service": service, "app": service, "namespace": "shop", "pod": f"{service}-0"}
            for name in sorted(names):
                if name.endswith("_bucket"):
                    stem = name[: -len("_bucket")]
                    for code in ("200", "401", "503"):
                        labels = {**base, "http_route": "/api/v1/orders", "http_request_method": "GET", "http_response_status_code": code}
                        total = elapsed * (10 if code == "200" else 1)
                        for i, bound in enumerate(self.BUCKETS):
                            out.append(f"{stem}_bucket{self._labels(**labels, le=bound)} {total * (i + 1) / len(self.BUCKETS)}")
                        out.append(f"{stem}_count{self._labels(**labels)} {total}")
                        out.append(f"{stem}_sum{self._labels(**labels)} {total * 0.2}")
                elif name.endswith(("_count", "_sum")) and f"{name.rsplit('_', 1)[0]}_bucket" in names:
                    continue  # written with its histogram
                elif name.endswith("_total"):
                    labels = {**base, "result": "success", "feature": "search", "funnel": "signup", "step": "visit", "reason": "Policy denied", "integration": "slack", "status": "firing"}
                    out.append(f"{name}{self._labels(**labels)} {elapsed * 2}")
                else:
                    labels = {**base, "window": "30d", "resource": "cpu", "severity": "Critical", "status": "Pass", "title": "cis", "state": "used", "color": "green", "datname": "app", "persistentvolumeclaim": "data-0"}
                    out.append(f"{name}{self._labels(**labels)} 1")
        return out


class FixedSeries:
    """The same exposition text at every scrape."""

    def __init__(self, text: str) -> None:
        self._lines = text.rstrip("\n").splitlines()

    def lines(self, now: float) -> list[str]:
        return self._lines


# --- a notification receiver ------------------------------------------------------------------------------


@dataclass
class Notification:
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float  # time.monotonic()


class WebhookRecorder(_LocalHttpServer):
    """Records every POST (PagerDuty, Slack and webhook payloads, and Prometheus' alerts when it
    stands in for Alertmanager, are all JSON) and answers 200 with the body the real service sends:
    Alertmanager >= 0.26 reads a Slack answer and counts anything but a plain "ok" (incoming
    webhooks) as a failed notification.
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
                    recorder.notifications.append(Notification(self.path, dict(self.headers), body, time.monotonic()))
                self.send_response(200)
                if self.path.startswith("/slack"):
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

        self.url = f"http://{self._serve(Handler)}"

    def received(self, path: str | None = None) -> list[Notification]:
        with self._lock:
            return [n for n in self.notifications if path is None or n.path == path]


class SmtpRecorder:
    """A mail server on 127.0.0.1 that records every message (Alertmanager's email receiver): it
    speaks just enough SMTP for Go's net/smtp client (EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) and
    offers neither STARTTLS nor AUTH, so a config pointed here needs `require_tls: false`; without
    an AUTH extension Alertmanager sends no credentials.
    Ref: prometheus/alertmanager@v0.33.1 notify/email/email.go (Notify: STARTTLS only when
    require_tls, AUTH only when the server offers it). Each message is recorded as a Notification at
    path `/email/<local part of the first recipient>` with its decoded text as `body`. Use as a
    context manager; `address` is its host:port."""

    def __init__(self) -> None:
        import socketserver

        self.notifications: list[Notification] = []
        self._lock = threading.Lock()
        recorder = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")

            def handle(self) -> None:
                self.reply("220 127.0.0.1 recorder")
                recipients: list[str] = []
                for _ in range(10_000):  # commands of one connection, bounded
                    raw = self.rfile.readline(65536)
                    if not raw:
                        return
                    verb = raw.decode(errors="replace").strip().split(" ", 1)[0].upper()
                    if verb in ("EHLO", "HELO"):
                        self.reply("250 127.0.0.1")
                    elif verb == "RCPT":
                        recipients.append(raw.decode().split(":", 1)[1].strip().strip("<>"))
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 end with <CRLF>.<CRLF>")
                        lines = []
                        for _ in range(1_000_000):
                            line = self.rfile.readline(1 << 20)
                            if not line or line in (b".\r\n", b".\n"):
                                break
                            lines.append(line[1:] if line.startswith(b"..") else line)
                        recorder._record(recipients, b"".join(lines))
                        recipients = []
                        self.reply("250 OK")
                    elif verb == "QUIT":
                        self.reply("221 bye")
                        return
                    else:  # MAIL, RSET, NOOP
                        self.reply("250 OK")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = _BackloggedHTTPServer.request_queue_size

        self._server = Server((LOCALHOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.address = f"{LOCALHOST}:{self._server.server_address[1]}"

    def _record(self, recipients: list[str], raw: bytes) -> None:
        import email
        from email import policy

        message = email.message_from_bytes(raw, policy=policy.default)
        parts = [p.get_content() for p in message.walk() if p.get_content_maintype() == "text"]
        text = f"Subject: {message['Subject']}\n" + "\n".join(parts)
        local = recipients[0].split("@", 1)[0] if recipients else "nobody"
        with self._lock:
            self.notifications.append(Notification(f"/email/{local}", {"To": ", ".join(recipients)}, text, time.monotonic()))

    def __enter__(self) -> SmtpRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def received(self) -> list[Notification]:
        with self._lock:
            return list(self.notifications)


# --- an influxd outage (tests/influxdb/test_influxdb_outage.py) --------------------------------------------


@contextmanager
def _on_port(name: str, args: list[str], port: int, workdir: Path, ready_path: str, ready_status: int,
             ready_timeout: float) -> Iterator[Server]:
    """`run_server` on a given port (a restart must come back where its clients write to); no retry."""
    server = _launch(name, args, port, workdir, "a")
    try:
        _wait_ready(server, ready_path, ready_status, ready_timeout)
        yield server
    finally:
        _stop(server.process)


@contextmanager
def influx_outage(influx: InfluxServer) -> Iterator[None]:
    """influxd stopped (SIGTERM, as Kubernetes stops a pod) while the block runs, then started again
    on the same port with the same data, meta (users) and WAL directories; the server's own context
    stops the new process at the end, as it would have the first."""
    port = influx.port
    influx.__exit__(None, None, None)
    try:
        yield
    finally:
        influx._context = _on_port("influxd", influx._args(port), port, influx.workdir, "/ping", 204, 30)
        influx.server = influx._context.__enter__()
