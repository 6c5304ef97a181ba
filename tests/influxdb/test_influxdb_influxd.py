"""The rendered InfluxQL against the real influxd 1.6: applied as the schema Job applies it.

One influxd per session (auth enabled, admin user); every test works in its own database.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from tests.influxdb.influx_harness import ADMIN_PASSWORD, ADMIN_USER, InfluxServer, go_duration, make_spec

from monitoring.influxdb import (
    CQ_5M_TO_1H,
    CQ_RAW_TO_5M,
    InfluxRetentionSpec,
    build_influxql,
    influx_duration_seconds,
    influxql_statements,
    remote_write_url,
    shard_duration_seconds,
)


@pytest.fixture
def database(request) -> str:
    """A database name of this test's own (influxd is shared by the session)."""
    return "t_" + re.sub(r"\W", "_", request.node.name)[:50]


def _policies(influxd: InfluxServer, db: str) -> dict[str, dict]:
    return {row["name"]: row for row in influxd.rows(f'SHOW RETENTION POLICIES ON "{db}"')}


def _continuous_queries(influxd: InfluxServer, db: str) -> dict[str, str]:
    return {row["name"]: row["query"] for row in influxd.rows("SHOW CONTINUOUS QUERIES") if row["_series"] == db}


def _assert_policies_match(influxd: InfluxServer, spec: InfluxRetentionSpec) -> None:
    policies = _policies(influxd, spec.database)
    for name, seconds in spec.policies():
        assert policies[name]["duration"] == go_duration(seconds), name
        assert policies[name]["shardGroupDuration"] == go_duration(shard_duration_seconds(name, seconds)), name
        assert policies[name]["replicaN"] == 1
        assert policies[name]["default"] is (name == "raw"), name


def _as_shown(statement: str) -> str:
    """influxd prints a stored continuous query with identifier quotes removed."""
    return statement.replace('"', "")


def test_job_creates_the_three_policies_with_their_durations_and_raw_as_default(influxd, database, tmp_path):
    spec = make_spec(database=database)
    run = influxd.run_schema_job(build_influxql(spec), tmp_path)
    assert run.returncode == 0, run.output
    _assert_policies_match(influxd, spec)


def test_job_creates_both_continuous_queries_as_written(influxd, database, tmp_path):
    spec = make_spec(database=database)
    statements = influxql_statements(build_influxql(spec))
    influxd.run_schema_job(build_influxql(spec), tmp_path)
    created = {s.split('"')[1]: s for s in statements if s.startswith("CREATE CONTINUOUS QUERY")}
    shown = _continuous_queries(influxd, database)
    assert shown == {name: _as_shown(text) for name, text in created.items()}
    assert set(shown) == {CQ_RAW_TO_5M, CQ_5M_TO_1H}


def test_first_run_on_a_fresh_server_needs_no_tolerated_failure(influxd, database, tmp_path):
    run = influxd.run_schema_job(build_influxql(make_spec(database=database)), tmp_path)
    assert run.returncode == 0 and "tolerated" not in run.output, run.output


def test_applying_the_same_schema_twice_succeeds_and_changes_nothing(influxd, database, tmp_path):
    spec = make_spec(database=database)
    influxd.run_schema_job(build_influxql(spec), tmp_path)
    before = (_policies(influxd, database), _continuous_queries(influxd, database))
    again = influxd.run_schema_job(build_influxql(spec), tmp_path)
    assert again.returncode == 0 and "tolerated" not in again.output, again.output
    assert (_policies(influxd, database), _continuous_queries(influxd, database)) == before


def test_applying_changed_durations_converges_every_policy(influxd, database, tmp_path):
    influxd.run_schema_job(build_influxql(make_spec(database=database)), tmp_path)
    changed = make_spec(database=database, rawRetention="14d", fiveMinuteRetention="180d", oneHourRetention="INF")
    run = influxd.run_schema_job(build_influxql(changed), tmp_path)
    assert run.returncode == 0, run.output
    assert run.output.count("tolerated") == 3  # each CREATE met the old policy; each ALTER converged it
    _assert_policies_match(influxd, changed)


def test_an_outdated_continuous_query_is_replaced(influxd, database, tmp_path):
    spec = make_spec(database=database)
    influxd.cli(f'CREATE DATABASE "{database}"')
    influxd.cli(
        f'CREATE CONTINUOUS QUERY "{CQ_RAW_TO_5M}" ON "{database}" BEGIN SELECT max("value") AS "value" '
        f'INTO "{database}"."autogen".:MEASUREMENT FROM "{database}"."autogen"./.*/ GROUP BY time(10m), * END'
    )
    run = influxd.run_schema_job(build_influxql(spec), tmp_path)
    assert run.returncode == 0, run.output
    assert "mean(value)" in _continuous_queries(influxd, database)[CQ_RAW_TO_5M]


def test_job_fails_when_a_statement_other_than_create_retention_policy_fails(influxd, database, tmp_path):
    broken = build_influxql(make_spec(database=database)) + f'CREATE CONTINUOUS QUERY "x" ON "{database}" BEGIN nonsense END\n'
    run = influxd.run_schema_job(broken, tmp_path)
    assert run.returncode != 0 and "failed: CREATE CONTINUOUS QUERY \"x\"" in run.output


def _body_with_time_range(create_cq: str, start: int, end: int) -> str:
    """The SELECT of a continuous query, restricted to [start, end) as influxd does on each run."""
    select = create_cq.split(" BEGIN ", 1)[1].removesuffix(" END")
    return select.replace(" GROUP BY ", f" WHERE time >= {start}s AND time < {end}s GROUP BY ", 1)


def test_continuous_queries_write_means_per_series_into_the_coarser_tiers(influxd, database, tmp_path):
    spec = make_spec(database=database)
    influxd.run_schema_job(build_influxql(spec), tmp_path)
    hour = (int(time.time()) // 3600 - 2) * 3600  # a whole hour, two hours ago
    influxd.write_lines(database, "raw", "\n".join([
        f'terrafusion_active_users,window=1d value=40 {hour + 10}',
        f'terrafusion_active_users,window=1d value=44 {hour + 70}',
        f'terrafusion_active_users,window=7d value=10 {hour + 10}',
        f'terrafusion_active_users,window=7d value=20 {hour + 70}',
        f'terrafusion_active_users,window=1d value=50 {hour + 310}',  # next 5m bucket
        f'slo:objective:ratio,slo=api-availability value=0.999 {hour + 10}',
    ]))  # fmt: skip
    creates = {s.split('"')[1]: s for s in influxql_statements(build_influxql(spec)) if s.startswith("CREATE CONTINUOUS")}
    influxd.query(_body_with_time_range(creates[CQ_RAW_TO_5M], hour, hour + 3600), db=database)
    influxd.query(_body_with_time_range(creates[CQ_5M_TO_1H], hour, hour + 3600), db=database)

    five = influxd.rows(f'SELECT "value" FROM "{database}"."downsampled_5m"."terrafusion_active_users" GROUP BY *')
    assert sorted((r["window"], r["value"]) for r in five) == [("1d", 42.0), ("1d", 50.0), ("7d", 15.0)]
    hourly = influxd.rows(f'SELECT "value" FROM "{database}"."downsampled_1h"."terrafusion_active_users" GROUP BY *')
    assert sorted((r["window"], r["value"]) for r in hourly) == [("1d", 46.0), ("7d", 15.0)]
    slo = influxd.rows(f'SELECT "value" FROM "{database}"."downsampled_1h"."slo:objective:ratio" GROUP BY *')
    assert [(r["slo"], r["value"]) for r in slo] == [("api-availability", 0.999)]


# --- influxd 1.6 behaviour the design relies on (pinned, so an upgrade that changes it shows up) ---


def test_influxd_create_retention_policy_with_other_settings_fails(influxd, database):
    influxd.cli(f'CREATE DATABASE "{database}"')
    influxd.cli(f'CREATE RETENTION POLICY "p" ON "{database}" DURATION 2d REPLICATION 1')
    influxd.cli(f'CREATE RETENTION POLICY "p" ON "{database}" DURATION 2d REPLICATION 1')  # same: fine
    with pytest.raises(RuntimeError, match="retention policy already exists"):
        influxd.cli(f'CREATE RETENTION POLICY "p" ON "{database}" DURATION 3d REPLICATION 1')


def test_influxd_rejects_retention_shorter_than_an_hour(influxd, database):
    influxd.cli(f'CREATE DATABASE "{database}"')
    with pytest.raises(RuntimeError, match="must be at least 1h0m0s"):
        influxd.cli(f'CREATE RETENTION POLICY "p" ON "{database}" DURATION 59m REPLICATION 1')
    assert influx_duration_seconds("1h") == 3600  # the spec's minimum is influxd's


def test_influxd_drop_of_a_missing_continuous_query_succeeds(influxd, database):
    influxd.cli(f'CREATE DATABASE "{database}"')
    influxd.cli(f'DROP CONTINUOUS QUERY "never_created" ON "{database}"')


def test_influxd_1_6_has_no_drop_continuous_query_if_exists(influxd, database):
    with pytest.raises(RuntimeError, match="found EXISTS"):
        influxd.cli(f'DROP CONTINUOUS QUERY IF EXISTS "x" ON "{database}"')


def test_prom_write_endpoint_rejects_requests_without_credentials(influxd):
    path = remote_write_url("127.0.0.1", influxd.port, "prometheus").split(str(influxd.port), 1)[1]
    assert influxd.post_status(path, auth=None) == 401
    assert influxd.post_status(path, auth=(ADMIN_USER, "wrong")) == 401


def test_prom_write_endpoint_accepts_basic_auth(influxd, database):
    influxd.cli(f'CREATE DATABASE "{database}"')
    path = remote_write_url("127.0.0.1", influxd.port, database).split(str(influxd.port), 1)[1]
    # Past authentication, an empty body is a 400 (not snappy); the live test writes real samples.
    assert influxd.post_status(path, auth=(ADMIN_USER, ADMIN_PASSWORD)) == 400


def _reader_env(influxd: InfluxServer, database: str, password: str) -> dict[str, str]:
    return {"INFLUX_READER_USER": "grafana", "INFLUX_READER_PASSWORD": password, "INFLUX_DATABASE": database}


def _read_as(influxd: InfluxServer, user: str, password: str, q: str, db: str) -> int:
    import base64
    import urllib.error
    import urllib.parse
    import urllib.request

    request = urllib.request.Request(f"{influxd.url}/query?{urllib.parse.urlencode({'q': q, 'db': db})}")
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (127.0.0.1)
            body = json.loads(response.read())
            return 403 if "error" in body["results"][0] else response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_job_creates_a_reader_that_can_read_but_not_drop(influxd, database, tmp_path):
    spec = make_spec(database=database)
    run = influxd.run_schema_job(build_influxql(spec), tmp_path, extra_env=_reader_env(influxd, database, "first"))
    assert run.returncode == 0, run.output
    assert _read_as(influxd, "grafana", "first", "SHOW MEASUREMENTS", database) == 200
    assert _read_as(influxd, "grafana", "first", f'DROP DATABASE "{database}"', database) == 403


def test_rerunning_the_job_converges_the_reader_password(influxd, database, tmp_path):
    spec = make_spec(database=database)
    influxd.run_schema_job(build_influxql(spec), tmp_path, extra_env=_reader_env(influxd, database, "first"))
    run = influxd.run_schema_job(build_influxql(spec), tmp_path, extra_env=_reader_env(influxd, database, "second"))
    assert run.returncode == 0, run.output
    assert _read_as(influxd, "grafana", "second", "SHOW MEASUREMENTS", database) == 200
    assert _read_as(influxd, "grafana", "first", "SHOW MEASUREMENTS", database) == 401
