"""build_influxql: the statements, their order, and the hash the schema Job is named after."""

from __future__ import annotations

from tests.influxdb.influx_harness import make_spec

from monitoring.influxdb import (
    TOLERATED_FAILURE_PREFIX,
    apply_script,
    build_influxql,
    influxql_hash,
    influxql_statements,
    schema_job_name,
    shard_duration_seconds,
)

EXPECTED_SAMPLE = [
    'CREATE DATABASE "prometheus"',
    'CREATE RETENTION POLICY "raw" ON "prometheus" DURATION 30d REPLICATION 1 SHARD DURATION 1d DEFAULT',
    'ALTER RETENTION POLICY "raw" ON "prometheus" DURATION 30d REPLICATION 1 SHARD DURATION 1d DEFAULT',
    'CREATE RETENTION POLICY "downsampled_5m" ON "prometheus" DURATION 365d REPLICATION 1 SHARD DURATION 7d',
    'ALTER RETENTION POLICY "downsampled_5m" ON "prometheus" DURATION 365d REPLICATION 1 SHARD DURATION 7d',
    'CREATE RETENTION POLICY "downsampled_1h" ON "prometheus" DURATION 1825d REPLICATION 1 SHARD DURATION 30d',
    'ALTER RETENTION POLICY "downsampled_1h" ON "prometheus" DURATION 1825d REPLICATION 1 SHARD DURATION 30d',
    'DROP CONTINUOUS QUERY "downsample_raw_to_5m" ON "prometheus"',
    'CREATE CONTINUOUS QUERY "downsample_raw_to_5m" ON "prometheus" RESAMPLE FOR 15m BEGIN '
    'SELECT mean("value") AS "value" INTO "prometheus"."downsampled_5m".:MEASUREMENT '
    'FROM "prometheus"."raw"./.*/ GROUP BY time(5m), * END',
    'DROP CONTINUOUS QUERY "downsample_5m_to_1h" ON "prometheus"',
    'CREATE CONTINUOUS QUERY "downsample_5m_to_1h" ON "prometheus" RESAMPLE FOR 2h BEGIN '
    'SELECT mean("value") AS "value" INTO "prometheus"."downsampled_1h".:MEASUREMENT '
    'FROM "prometheus"."downsampled_5m"./.*/ GROUP BY time(1h), * END',
]


def test_sample_spec_renders_exactly_these_statements_in_order(spec):
    assert influxql_statements(build_influxql(spec)) == EXPECTED_SAMPLE


def test_rendering_is_deterministic(spec):
    assert build_influxql(spec) == build_influxql(make_spec())


def test_every_line_is_a_comment_or_one_statement(spec):
    for line in build_influxql(spec).splitlines():
        assert line.startswith("-- ") or line.split(" ", 1)[0] in {"CREATE", "ALTER", "DROP"}


def test_every_create_retention_policy_is_followed_by_the_same_alter(spec):
    statements = influxql_statements(build_influxql(spec))
    creates = [i for i, s in enumerate(statements) if s.startswith(TOLERATED_FAILURE_PREFIX)]
    assert len(creates) == 3
    for i in creates:
        assert statements[i + 1] == "ALTER" + statements[i][len("CREATE"):]


def test_retention_policies_come_before_the_continuous_queries_that_write_into_them(spec):
    statements = influxql_statements(build_influxql(spec))
    last_policy = max(i for i, s in enumerate(statements) if "RETENTION POLICY" in s)
    first_query = min(i for i, s in enumerate(statements) if "CONTINUOUS QUERY" in s)
    assert last_policy < first_query


def test_each_continuous_query_is_dropped_right_before_it_is_created(spec):
    statements = influxql_statements(build_influxql(spec))
    for i, statement in enumerate(statements):
        if statement.startswith("CREATE CONTINUOUS QUERY"):
            name_on_db = statement.split(" RESAMPLE ")[0].removeprefix("CREATE CONTINUOUS QUERY ")
            assert statements[i - 1] == f"DROP CONTINUOUS QUERY {name_on_db}"


def test_only_raw_is_the_default_policy(spec):
    defaults = [s for s in influxql_statements(build_influxql(spec)) if s.endswith(" DEFAULT")]
    assert defaults and all('"raw"' in s for s in defaults)


def test_database_setting_is_used_everywhere(spec):
    text = build_influxql(make_spec(database="trends"))
    assert '"prometheus"' not in text
    assert text.count('"trends"') == build_influxql(spec).count('"prometheus"')


def test_infinite_one_hour_tier_renders_inf_with_a_30d_shard():
    statements = influxql_statements(build_influxql(make_spec(oneHourRetention="INF")))
    assert 'ALTER RETENTION POLICY "downsampled_1h" ON "prometheus" DURATION INF REPLICATION 1 SHARD DURATION 30d' in statements


def test_shard_duration_is_at_most_half_the_policy_duration_with_a_one_hour_floor():
    assert shard_duration_seconds("raw", 3600) == 3600
    assert shard_duration_seconds("raw", 36 * 3600) == 3600
    assert shard_duration_seconds("downsampled_5m", 3 * 86400) == 86400
    assert shard_duration_seconds("downsampled_1h", 20 * 86400) == 7 * 86400


def test_shard_duration_follows_the_tier_target_for_long_policies():
    assert shard_duration_seconds("raw", 400 * 86400) == 86400
    assert shard_duration_seconds("downsampled_5m", 400 * 86400) == 7 * 86400
    assert shard_duration_seconds("downsampled_1h", float("inf")) == 30 * 86400


def test_equivalent_spellings_render_the_same_schema():
    assert build_influxql(make_spec(rawRetention="4w")) == build_influxql(make_spec(rawRetention="28d"))


def test_hash_is_ten_hex_digits_and_stable(spec):
    text = build_influxql(spec)
    assert influxql_hash(text) == influxql_hash(build_influxql(make_spec()))
    assert len(influxql_hash(text)) == 10 and int(influxql_hash(text), 16) >= 0


def test_hash_changes_when_a_duration_changes(spec):
    changed = make_spec(rawRetention="14d")
    assert influxql_hash(build_influxql(changed)) != influxql_hash(build_influxql(spec))


def test_job_name_carries_the_hash_and_is_a_valid_kubernetes_name(spec):
    text = build_influxql(spec)
    name = schema_job_name(text)
    assert name == f"influxdb-schema-{influxql_hash(text)}"
    assert len(name) <= 63 and name == name.lower()


def test_apply_script_tolerates_only_create_retention_policy_failures():
    script = apply_script()
    assert f"'{TOLERATED_FAILURE_PREFIX}'*) echo \"tolerated" in script
    assert "*) echo \"failed: $statement\" >&2; exit 1 ;;" in script
    assert "-password" not in script  # credentials come from INFLUX_USERNAME / INFLUX_PASSWORD
