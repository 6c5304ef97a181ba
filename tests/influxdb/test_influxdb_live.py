"""Live: Prometheus remote_write, filtered by the generated relabel rule, into the real influxd 1.6.

Prometheus scrapes a tiny exporter (one business series, one node series) and evaluates one `slo:`
recording rule; remote_write authenticates with basic auth, as the write-only user the schema Job
creates (as in the cluster), to `/api/v1/prom/write?db=<db>` after the schema Job's InfluxQL was applied. Bounded: the samples arrive within a few seconds (5 s batch deadline).
Every test runs on Prometheus 3.5.3 (what the charts deploy) and 2.42 (bookworm), tools/engines.py:
one Prometheus per generation, each into its own database, all writing at once so the waits overlap.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from monitoring.influxdb import REMOTE_WRITE_KEEP_REGEX, build_influxql, remote_write_config, remote_write_url
from tests.engines import LOCALHOST, Server, SyntheticExporter, run_prometheus
from tests.helpers import engine_params, require_engine, wait_until
from tests.influxdb.influx_harness import make_spec, tiny_exporter, to_prometheus_remote_write
from tools import engines

SLO_RECORD = "slo:sli_error:ratio_rate5m"
WRITER_USER, WRITER_PASSWORD = "prometheus", "writer0live"
ARRIVAL_TIMEOUT_S = 35
RULES = {"groups": [{"name": "slo", "rules": [
    {"record": SLO_RECORD, "expr": 'label_replace(vector(0.002), "service", "api", "", "")'},
]}]}  # fmt: skip


def _database(generation: str) -> str:
    return f"live_prometheus_{generation}"


def _remote_write(influxd, database: str) -> dict:
    entry = remote_write_config(
        remote_write_url(LOCALHOST, influxd.port, database), ("influxdb-auth", "username"), ("influxdb-auth", "password")
    )
    return to_prometheus_remote_write(entry, WRITER_USER, WRITER_PASSWORD)


def _arrived(influxd, database: str) -> bool:
    return bool(_rows(influxd, database, "terrafusion_active_users") and _rows(influxd, database, SLO_RECORD))


@pytest.fixture(scope="module")
def feeds(influxd, tmp_path_factory) -> Iterator[dict[str, str | None]]:
    """Per generation whose binary is there: None once its samples arrived, else why not (its log).
    The Prometheus servers keep writing until the module ends."""
    outcome: dict[str, str | None] = {}
    servers: dict[str, Server] = {}
    exporter: SyntheticExporter
    with tiny_exporter() as exporter, ExitStack() as stack:
        for generation in engines.GENERATIONS:
            binary = engines.find("prometheus", generation)
            if binary is None:
                continue
            workdir = tmp_path_factory.mktemp(f"live-{generation}")
            writer = {
                "INFLUX_DATABASE": _database(generation),
                "INFLUX_WRITER_USER": WRITER_USER,
                "INFLUX_WRITER_PASSWORD": WRITER_PASSWORD,
            }
            run = influxd.run_schema_job(
                build_influxql(make_spec(database=_database(generation))), workdir, extra_env=writer
            )
            assert run.returncode == 0, run.output
            server = run_prometheus(
                binary, workdir, rule_files={"slo": RULES}, scrape_target=exporter.target, job="tiny",
                remote_write=[_remote_write(influxd, _database(generation))],
            )  # fmt: skip
            try:
                servers[generation] = stack.enter_context(server)
            except (RuntimeError, TimeoutError) as error:
                outcome[generation] = f"prometheus did not start: {error}"
        try:
            wait_until(
                lambda: all(_arrived(influxd, _database(g)) for g in servers),
                timeout=ARRIVAL_TIMEOUT_S, interval=0.5, what="remote-written samples in InfluxDB",
            )  # fmt: skip
        except TimeoutError:
            pass  # reported per generation below
        for generation, server in servers.items():
            arrived = _arrived(influxd, _database(generation))
            outcome[generation] = None if arrived else f"no samples arrived; prometheus log:\n{server.log()[-3000:]}"
        yield outcome


@pytest.fixture(params=engine_params("prometheus"))
def database(request, feeds) -> str:
    """The database one generation's Prometheus writes into; a missing binary fails under CI, skips locally."""
    require_engine("prometheus", request.param)
    if feeds[request.param] is not None:
        pytest.fail(feeds[request.param])
    return _database(request.param)


def _rows(influxd, database: str, measurement: str) -> list[dict]:
    return influxd.rows(f'SELECT * FROM "{database}"."raw"."{measurement}"')


def _measurements(influxd, database: str) -> set[str]:
    return {row["name"] for row in influxd.rows(f'SHOW MEASUREMENTS ON "{database}"')}


def test_business_series_arrives_in_the_raw_policy_with_its_labels_as_tags(influxd, database):
    rows = _rows(influxd, database, "terrafusion_active_users")
    assert rows[-1]["value"] == 42 and rows[-1]["window"] == "1d" and rows[-1]["job"] == "tiny"


def test_slo_recording_series_arrives(influxd, database):
    assert _rows(influxd, database, SLO_RECORD)[-1]["value"] == 0.002


def test_unrelated_series_is_not_written(influxd, database):
    assert "node_cpu_seconds_total" not in _measurements(influxd, database)


def test_only_kept_metric_names_reach_influxdb(influxd, database):
    # `up` and `scrape_*` are scraped with every target; the keep rule must drop them too.
    assert all(re.fullmatch(REMOTE_WRITE_KEEP_REGEX, name) for name in _measurements(influxd, database))
