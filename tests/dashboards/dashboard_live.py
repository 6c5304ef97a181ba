"""Live harness of the dashboard test: a synthetic exporter and a real Prometheus on 127.0.0.1.

The exporter serves every contract and exporter metric the dashboards read, for two services, with
counters that grow with time, so rates, histograms and recording rules all have data. Everything
binds to 127.0.0.1 on free ports, every wait is bounded, and Prometheus is always stopped.
"""

from __future__ import annotations

import json
import urllib.error
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from tests.helpers import MetricsServer, free_port, wait_until

LOCALHOST = "127.0.0.1"
SERVICES = ("checkout", "search")
BUCKETS = ("0.1", "0.3", "1", "2", "3", "+Inf")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def exposition(metric_names: set[str], elapsed: float) -> str:
    """Prometheus text format for `metric_names` (histograms by their `_bucket`/`_count`/`_sum`)."""
    lines: list[str] = []
    for service in SERVICES:
        base = {"environment": "dev", "service": service, "app": service, "namespace": "shop", "pod": f"{service}-0"}
        for name in sorted(metric_names):
            if name.endswith("_bucket"):
                stem = name[: -len("_bucket")]
                for code in ("200", "401", "503"):
                    labels = {**base, "http_route": "/api/v1/orders", "http_request_method": "GET", "http_response_status_code": code}
                    total = elapsed * (10 if code == "200" else 1)
                    for i, bound in enumerate(BUCKETS):
                        lines.append(f"{stem}_bucket{_labels(**labels, le=bound)} {total * (i + 1) / len(BUCKETS)}")
                    lines.append(f"{stem}_count{_labels(**labels)} {total}")
                    lines.append(f"{stem}_sum{_labels(**labels)} {total * 0.2}")
            elif name.endswith(("_count", "_sum")) and f"{name.rsplit('_', 1)[0]}_bucket" in metric_names:
                continue  # written with its histogram
            elif name.endswith("_total"):
                labels = {**base, "result": "success", "feature": "search", "funnel": "signup", "step": "visit", "reason": "Policy denied", "integration": "slack", "status": "firing"}
                lines.append(f"{name}{_labels(**labels)} {elapsed * 2}")
            else:
                labels = {**base, "window": "30d", "resource": "cpu", "severity": "Critical", "status": "Pass", "title": "cis", "state": "used", "color": "green", "datname": "app", "persistentvolumeclaim": "data-0"}
                lines.append(f"{name}{_labels(**labels)} 1")
    return "\n".join(lines) + "\n"


class SyntheticExporter(MetricsServer):
    def __init__(self, metric_names: set[str]) -> None:
        started = time.monotonic()
        super().__init__(lambda: exposition(metric_names, time.monotonic() - started + 60))
        self.address = self.target


@contextmanager
def run_prometheus(binary: str, rule_files: dict[str, dict], target: str, workdir: Path) -> Iterator[str]:
    """Prometheus with the rendered rule files, scraping `target` every second; yields its URL."""
    rules_dir = workdir / "rules"
    rules_dir.mkdir(parents=True, exist_ok=True)
    for stem, content in rule_files.items():
        (rules_dir / f"{stem}.yaml").write_text(yaml.safe_dump(content, sort_keys=False))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules_dir / "*.yaml")],
        # honor_labels: the synthetic series carry `job`/`namespace` like a federated or pushed series would.
        "scrape_configs": [{"job_name": "synthetic", "honor_labels": True, "static_configs": [{"targets": [target]}]}],
    }
    config_path = workdir / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    url = f"http://{LOCALHOST}:{port}"
    log = (workdir / "prometheus.log").open("w")
    # The same flags on 2.42 and 3.5.3; the exporter sends a text-format Content-Type, which 3.x
    # requires (no fallback_scrape_protocol needed).
    # Ref: https://prometheus.io/docs/prometheus/latest/command-line/prometheus/
    # Ref: https://prometheus.io/docs/prometheus/latest/migration/#scrape-protocols
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_path}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address={LOCALHOST}:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=workdir,
    )
    try:
        wait_until(lambda: _ready(url, process), timeout=20, what="Prometheus ready")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()


def _ready(url: str, process: subprocess.Popen) -> bool:
    if process.poll() is not None:
        raise RuntimeError(f"prometheus exited with {process.returncode}")
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:  # noqa: S310 (127.0.0.1)
            return response.status == 200
    except OSError:
        return False


def instant_query(url: str, expr: str) -> dict:
    """The /api/v1/query answer (status and data, or errorType and error), HTTP errors included."""
    request = urllib.request.Request(
        f"{url}/api/v1/query",
        data=urllib.parse.urlencode({"query": expr}).encode(),
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (127.0.0.1)
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        return json.loads(error.read() or b'{"status": "error", "error": "no body"}')
