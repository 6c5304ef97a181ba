"""Live: trends survive an InfluxDB outage (issue 11, item 2).

Prometheus (3.5.3 and 2.42, at once) remote-writes into a private influxd 1.6 with the dev stack's
rendered remote_write entry (its URL path and database, queue config, write relabelling, metadata
off), only the host:port swapped for the local influxd's; influxd is stopped for OUTAGE_S (the
issue's minute), then started again on the same port with the same data. Afterwards every sample
Prometheus scraped over the whole run is in InfluxDB, counted per series on both sides
(`count_over_time` against `SELECT count(...)`), including those scraped while influxd was down.

Why no sample is lost: a write that fails with a connection error or a 5xx is a recoverable error
that remote_write retries with a doubling backoff from minBackoff up to maxBackoff (30s here), and
the queue keeps reading the WAL instead of dropping (the shards block when full).
Ref: prometheus/prometheus@v3.5.3 storage/remote/queue_manager.go `sendWriteRequestWithBackoff`
(returns only on success or a non-recoverable error), storage/remote/client.go `Store` (5xx and
transport errors are RecoverableError; 4xx are not).
Ref: https://docs.influxdata.com/influxdb/v1/supported_protocols/prometheus/ (`/api/v1/prom/write`)
How long an outage the WAL covers is in docs/trends.md ("InfluxDB outages").

One influxd outage serves both generations (one wait of OUTAGE_S wall time, hardly any CPU): each
Prometheus carries its generation as an external label, so both write the rendered database.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import pytest

from plan.influxdb import WRITER_USER
from tests.engines import LOCALHOST, Server, influx_outage, instant_query, run_prometheus
from tests.helpers import engine_params, require_engine, require_tool, stack_plan, wait_until
from tests.influxdb.influx_harness import InfluxServer, tiny_exporter, to_prometheus_remote_write
from tools import engines

# Mostly wall time (the outage and the catch-up), little CPU: the longest group of the suite, so it
# starts first and overlaps the rest.
pytestmark = pytest.mark.heavy(105)

OUTAGE_S = 60
SCRAPE_INTERVAL = "1s"
WRITER_PASSWORD = "writer0outage"
SLO_RECORD = "slo:sli_error:ratio_rate5m"
BUSINESS = "terrafusion_active_users"  # TINY_METRICS' business series
SERIES = (BUSINESS, SLO_RECORD)
RULES = {"groups": [{"name": "slo", "rules": [
    {"record": SLO_RECORD, "expr": 'label_replace(vector(0.002), "service", "api", "", "")'},
]}]}  # fmt: skip
ARRIVAL_TIMEOUT_S = 40
# After influxd is back: at most one maxBackoff (30s) until the next retry, then the backlog.
CATCH_UP_TIMEOUT_S = 90


@dataclass
class Outage:
    database: str
    started: float  # unix seconds: influxd stopped
    ended: float  # unix seconds: influxd answering again
    settled: float  # unix seconds: the end of the span compared (after `ended`)
    first: dict[str, float] = field(default_factory=dict)  # generation -> its Prometheus' start
    servers: dict[str, Server] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # generation -> why it could not run


def rendered_remote_write(port: int) -> tuple[str, dict]:
    """(database, Prometheus remote_write entry): the dev plan's entry pointed at 127.0.0.1:`port`."""
    plan = stack_plan("dev").influxdb
    entry = dict(plan.remote_write)
    entry["url"] = urlunsplit(urlsplit(entry["url"])._replace(netloc=f"{LOCALHOST}:{port}"))
    return plan.database, to_prometheus_remote_write(entry, WRITER_USER, WRITER_PASSWORD)


def influx_count(influxd: InfluxServer, database: str, series: str, generation: str, until: float) -> int:
    rows = influxd.rows(
        f'SELECT count("value") FROM "{database}"."raw"."{series}" '
        f"WHERE \"generation\" = '{generation}' AND time <= {int(until * 1e9)}"
    )
    return int(rows[0]["count"]) if rows else 0


def influx_count_between(influxd: InfluxServer, database: str, series: str, generation: str, start: float, end: float) -> int:
    rows = influxd.rows(
        f'SELECT count("value") FROM "{database}"."raw"."{series}" '
        f"WHERE \"generation\" = '{generation}' AND time > {int(start * 1e9)} AND time < {int(end * 1e9)}"
    )
    return int(rows[0]["count"]) if rows else 0


def prometheus_count(server: Server, series: str, since: float, until: float) -> int:
    """Samples Prometheus holds of `series` from before `since` up to `until` (count_over_time)."""
    window = int(until - since) + 10
    answer = instant_query(server.url, f'count_over_time({{__name__="{series}"}}[{window}s])', at=until)
    result = answer["data"]["result"]
    return int(float(result[0]["value"][1])) if result else 0


def _counts(outage: Outage, influxd: InfluxServer, generation: str) -> dict[str, tuple[int, int]]:
    """series -> (Prometheus' count, InfluxDB's count) over the run, up to `settled`."""
    server = outage.servers[generation]
    return {
        series: (
            prometheus_count(server, series, outage.first[generation], outage.settled),
            influx_count(influxd, outage.database, series, generation, outage.settled),
        )
        for series in SERIES
    }


@pytest.fixture(scope="module")
def influxd(tmp_path_factory) -> Iterator[InfluxServer]:
    """A private influxd (the session's is shared with other modules: this one is stopped)."""
    influxd_bin = require_tool("influxd", "apt-get install influxdb")
    influx_bin = require_tool("influx", "apt-get install influxdb-client")
    with InfluxServer(influxd_bin, influx_bin, tmp_path_factory.mktemp("influxd-outage")) as server:
        yield server


@pytest.fixture(scope="module")
def outage(influxd, tmp_path_factory) -> Iterator[Outage]:
    database, entry = rendered_remote_write(influxd.port)
    writer = {"INFLUX_DATABASE": database, "INFLUX_WRITER_USER": WRITER_USER, "INFLUX_WRITER_PASSWORD": WRITER_PASSWORD}
    schema = stack_plan("dev").influxdb.influxql
    job = influxd.run_schema_job(schema, tmp_path_factory.mktemp("outage-schema"), extra_env=writer)
    assert job.returncode == 0, job.output
    with tiny_exporter() as exporter, ExitStack() as stack:
        servers: dict[str, Server] = {}
        first: dict[str, float] = {}
        problems: dict[str, str] = {}
        for generation in engines.GENERATIONS:
            binary = engines.find("prometheus", generation)
            if binary is None:
                continue
            first[generation] = time.time()
            try:
                servers[generation] = stack.enter_context(run_prometheus(
                    binary, tmp_path_factory.mktemp(f"outage-{generation}"), rule_files={"slo": RULES},
                    scrape_target=exporter.target, job="tiny", remote_write=[entry], interval=SCRAPE_INTERVAL,
                    external_labels={"generation": generation},
                ))  # fmt: skip
            except (RuntimeError, TimeoutError) as error:
                problems[generation] = f"prometheus did not start: {error}"

        def arrived() -> bool:
            now = time.time()
            return all(influx_count(influxd, database, s, g, now) > 0 for g in servers for s in SERIES)

        wait_until(arrived, ARRIVAL_TIMEOUT_S, interval=0.5, what="the first remote-written samples in InfluxDB")
        started = time.time()
        with influx_outage(influxd):
            time.sleep(OUTAGE_S)  # the one wall-clock wait: the outage itself
        ended = time.time()
        # Compare up to a little after influxd came back: Prometheus has scraped that span in full.
        result = Outage(database, started, ended, ended + 5, first, servers, problems)
        time.sleep(max(0.0, result.settled - time.time()))

        def caught_up() -> bool:
            return all(p == i for g in servers for p, i in _counts(result, influxd, g).values())

        try:
            wait_until(caught_up, CATCH_UP_TIMEOUT_S, interval=1, what="InfluxDB to catch up after the outage")
        except TimeoutError:
            pass  # the tests report the counts
        yield result


@pytest.fixture(params=engine_params("prometheus"))
def generation(request, outage) -> str:
    require_engine("prometheus", request.param)
    if request.param in outage.problems:
        pytest.fail(outage.problems[request.param])
    return request.param


def test_influxd_was_down_for_at_least_a_minute(outage):
    assert outage.ended - outage.started >= OUTAGE_S


@pytest.mark.parametrize("series", SERIES)
def test_no_remote_written_sample_is_missing_after_the_outage(outage, influxd, generation, series):
    scraped, stored = _counts(outage, influxd, generation)[series]
    # A minute and more of 1s scrapes: the comparison covers the outage, not an empty span.
    assert scraped > OUTAGE_S
    assert stored == scraped, f"{series}: Prometheus has {scraped} samples, InfluxDB {stored}"


def test_samples_scraped_while_influxd_was_down_arrived_afterwards(outage, influxd, generation):
    # Written only after the restart: the retries, not a lucky gap in the scrapes, filled the outage.
    during = influx_count_between(influxd, outage.database, BUSINESS, generation, outage.started + 2, outage.ended - 2)
    assert during >= OUTAGE_S - 10
