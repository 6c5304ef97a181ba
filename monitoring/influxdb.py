"""Long-term trends in InfluxDB 1.x: retention tiers, downsampling, and the Prometheus remote_write feed.

Pure builders, no Pulumi import. What they produce:

- `InfluxRetentionSpec`: the stack's choice of how long each resolution is kept (camelCase keys,
  validated with SpecErrors naming the key inside the spec; plan/settings.py adds where the spec
  sits in the stack file);
- `build_influxql(spec)`: the schema as InfluxQL, one statement per line, safe to apply again and
  again: it creates what is missing and converges what changed (see "How the Job applies it");
- `influxql_hash(text)`: the short hash the schema Job is named after (`influxdb-schema-<hash>`), so a
  change of the InfluxQL is a new Job and the schema is applied again; the influxdata chart's
  initScripts only ever run on an empty volume;
- `apply_script()`: the POSIX sh script the Job runs (influx CLI, one statement at a time);
- `remote_write_config(...)` / `remote_write_url(...)`: the kube-prometheus-stack
  `prometheus.prometheusSpec.remoteWrite` entry that sends only SLO (`slo:*`) and business
  (`terrafusion_*`) series to InfluxDB's Prometheus endpoint.

Data layout written by InfluxDB's Prometheus endpoint: measurement = metric name, one field `value`,
every label a tag. Ref: https://docs.influxdata.com/influxdb/v1/supported_protocols/prometheus/

Behaviour of influxd 1.6.7 this module relies on (each checked against the real binary by
tests/influxdb/test_influxdb_influxd.py):

- `CREATE DATABASE` on an existing database succeeds and changes nothing.
- `CREATE RETENTION POLICY` with exactly the existing settings succeeds; with different settings it
  fails ("retention policy already exists", or "... conflicts with an existing policy" when only the
  DEFAULT flag differs). `ALTER RETENTION POLICY` fails on a missing policy ("retention policy not
  found"). Hence CREATE then ALTER: the CREATE makes it exist, the ALTER makes it match.
- A duration below 1h is rejected ("retention policy duration must be at least 1h0m0s"); a shard
  group duration longer than the policy's duration is rejected; `INF` is accepted (never expires).
- InfluxQL durations accept lowercase units only (`1D` is a parse error) and have no year unit.
- `CREATE CONTINUOUS QUERY` with the same text succeeds; with a different text it fails ("continuous
  query already exists"). `DROP CONTINUOUS QUERY IF EXISTS` does not parse in 1.6, but a plain `DROP
  CONTINUOUS QUERY` of a missing query succeeds silently; so DROP then CREATE.
- `/api/v1/prom/write` with `auth-enabled = true` accepts HTTP basic auth (and `u`/`p` query
  parameters); without credentials it answers 401.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel
from monitoring.errors import SpecError
from monitoring.models import SpecModel

# Retention policy and continuous query names are part of the contract with Grafana dashboards
# (they select `"<db>"."downsampled_1h"."<measurement>"`), so they are constants, not settings.
RAW_POLICY = "raw"
FIVE_MINUTE_POLICY = "downsampled_5m"
ONE_HOUR_POLICY = "downsampled_1h"
CQ_RAW_TO_5M = "downsample_raw_to_5m"
CQ_5M_TO_1H = "downsample_5m_to_1h"

# The Prometheus endpoint stores every sample in this field.
# Ref: https://docs.influxdata.com/influxdb/v1/supported_protocols/prometheus/
VALUE_FIELD = "value"

# What remote_write keeps: SLO recording rules (monitoring/slo.py, all `slo:`) and the business series
# of the instrumentation contract (`terrafusion_*`). Everything else stays in Prometheus/Thanos only:
# InfluxDB holds a small, long-lived trend set, not a second copy of the cluster's metrics.
# Prometheus anchors relabel regexes at both ends.
REMOTE_WRITE_KEEP_REGEX = "slo:.*|terrafusion_.*"

# When a statement of this kind fails, the Job carries on: the ALTER right after it is the statement
# that must succeed (it fails on a missing policy and leaves the policy exactly as written).
TOLERATED_FAILURE_PREFIX = "CREATE RETENTION POLICY "

_SECOND = 1
_MINUTE = 60
_HOUR = 3600
_DAY = 86400
_WEEK = 7 * _DAY
INFINITE = "INF"

# InfluxQL duration literals. Ref: https://docs.influxdata.com/influxdb/v1/query_language/spec/#durations
# InfluxQL itself also takes ns/u/ms and any unit order; here: w d h m s, each at most once, largest
# first, so a setting reads one way only (anything below a second is meaningless for retention).
_DURATION_RE = re.compile(r"^(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?$")
_UNIT_SECONDS = {"w": _WEEK, "d": _DAY, "h": _HOUR, "m": _MINUTE, "s": _SECOND}
# InfluxDB rejects shorter policies. Ref: https://docs.influxdata.com/influxdb/v1/query_language/manage-database/#retention-policy-management
MIN_RETENTION_SECONDS = _HOUR

# Shard group durations. InfluxDB's guidance: a shard group should hold at least ~1,000 points per
# series and span at least the typical query range, and a shard group cannot outlast its policy
# (influxd rejects SHARD DURATION > DURATION). Target per tier, then the largest of the usual sizes
# (1h, 1d, 7d, 30d) that fits in both the target and half the policy's duration (floor 1h):
#   raw:            1d  (30 s scrape -> 2,880 points per series per shard; InfluxDB's own default
#                        for 2d-6mo policies)
#   downsampled_5m: 7d  (2,016 points per series per shard)
#   downsampled_1h: 30d (720 points per series per shard; 7d would make tiny shards for 5 years)
# Written explicitly (not left to InfluxDB's default) so ALTER converges the shard duration too; an
# ALTER only affects shard groups created after it.
# Ref: https://docs.influxdata.com/influxdb/v1/concepts/schema_and_data_layout/#shard-group-duration-management
_SHARD_SIZES = (_HOUR, _DAY, _WEEK, 30 * _DAY)
_SHARD_TARGET = {RAW_POLICY: _DAY, FIVE_MINUTE_POLICY: _WEEK, ONE_HOUR_POLICY: 30 * _DAY}

# Continuous queries recompute a window longer than their interval (RESAMPLE FOR), because
# remote_write delivers samples late (batching, retries after an InfluxDB restart) and because the
# 1h query reads the 5m tier, whose last interval is written at the same instant the 1h query runs.
# Re-writing a point with the same time and tags overwrites it, so recomputing is harmless.
# Ref: https://docs.influxdata.com/influxdb/v1/query_language/continuous_queries/#advanced-syntax
_CQ_RAW_TO_5M_RESAMPLE_FOR = "15m"
_CQ_5M_TO_1H_RESAMPLE_FOR = "2h"

_DATABASE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# --- durations -------------------------------------------------------------------------------------


def influx_duration_seconds(text: str) -> float:
    """Seconds in an InfluxQL duration such as "30d" or "1d12h"; `INF` is infinity; ValueError otherwise."""
    if text == INFINITE:
        return float("inf")
    match = _DURATION_RE.match(text) if isinstance(text, str) else None
    if not text or match is None:
        hint = ""
        if isinstance(text, str) and re.fullmatch(r"\d+y", text):
            hint = "; InfluxQL has no year unit: write 365d"
        elif isinstance(text, str) and text.lower() == "inf":
            hint = "; write INF in capitals for 'keep forever'"
        raise ValueError(
            f"{text!r} is not an InfluxQL duration (e.g. 30d, 52w, 36h: units w d h m s, lowercase, "
            f"largest first; INF keeps forever){hint}"
        )
    return float(sum(int(value) * _UNIT_SECONDS[unit] for unit, value in match.groupdict().items() if value))


def format_influx_duration(seconds: float) -> str:
    """Canonical InfluxQL spelling: days, hours, minutes, seconds (86400 -> "1d", 52w -> "364d")."""
    if seconds == float("inf"):
        return INFINITE
    remaining = int(seconds)
    parts = []
    for unit in ("d", "h", "m", "s"):
        count, remaining = divmod(remaining, _UNIT_SECONDS[unit])
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def shard_duration_seconds(policy: str, retention_seconds: float) -> int:
    """Shard group duration for a tier (see _SHARD_SIZES): the largest usual size within both limits."""
    # At most half the retention: InfluxDB drops whole shard groups, so data lives up to
    # retention + shard duration; 1h is the floor (and InfluxDB's own choice below 2d).
    limit = min(_SHARD_TARGET[policy], max(_HOUR, retention_seconds / 2))
    return max(size for size in _SHARD_SIZES if size <= limit)


# --- the spec --------------------------------------------------------------------------------------


class InfluxRetentionSpec(SpecModel):
    """How long InfluxDB keeps each resolution of the trend series."""


    database: str = Field(
        default="prometheus",
        description="InfluxDB database that Prometheus remote_write fills and Grafana reads. Letters, "
        "digits and underscores (it is quoted in InfluxQL and used in the write URL).",
    )
    raw_retention: str = Field(
        description="How long raw samples (as scraped, in retention policy 'raw') are kept, as an "
        "InfluxQL duration, e.g. '30d'. At least 1h.",
    )
    five_minute_retention: str = Field(
        description="How long 5-minute means (retention policy 'downsampled_5m') are kept, e.g. "
        "'365d'. Longer than rawRetention.",
    )
    one_hour_retention: str = Field(
        description="How long 1-hour means (retention policy 'downsampled_1h') are kept, e.g. '1825d', "
        "or 'INF' to keep them forever. Longer than fiveMinuteRetention.",
    )

    @field_validator("database")
    @classmethod
    def _database_is_a_plain_identifier(cls, value: str) -> str:
        if not _DATABASE_RE.match(value):
            raise SpecError("database", f"{value!r} must be letters, digits and underscores, not starting with a digit")
        return value

    @field_validator("raw_retention", "five_minute_retention", "one_hour_retention")
    @classmethod
    def _is_a_duration_of_at_least_an_hour(cls, value: str, info: ValidationInfo) -> str:
        key = to_camel(info.field_name)
        try:
            seconds = influx_duration_seconds(value)
        except ValueError as exc:
            raise SpecError(key, str(exc)) from None
        if seconds < MIN_RETENTION_SECONDS:
            raise SpecError(key, f"{value!r} is shorter than 1h (InfluxDB's minimum)")
        return value

    @model_validator(mode="after")
    def _each_tier_outlives_the_one_it_summarises(self) -> InfluxRetentionSpec:
        # A downsampled tier that expires first would leave a gap between the raw data and the
        # coarser tier; strict ordering also means only the 1h tier can be INF.
        tiers = (
            ("rawRetention", self.raw_retention),
            ("fiveMinuteRetention", self.five_minute_retention),
            ("oneHourRetention", self.one_hour_retention),
        )
        for (shorter_key, shorter), (longer_key, longer) in zip(tiers, tiers[1:]):
            if not influx_duration_seconds(longer) > influx_duration_seconds(shorter):
                raise SpecError(
                    longer_key,
                    f"{longer!r} must be longer than {shorter_key} {shorter!r} "
                    "(a downsampled tier must outlive the data it summarises)",
                )
        return self

    def policies(self) -> list[tuple[str, float]]:
        """(retention policy name, retention in seconds), finest resolution first."""
        return [
            (RAW_POLICY, influx_duration_seconds(self.raw_retention)),
            (FIVE_MINUTE_POLICY, influx_duration_seconds(self.five_minute_retention)),
            (ONE_HOUR_POLICY, influx_duration_seconds(self.one_hour_retention)),
        ]


# --- InfluxQL --------------------------------------------------------------------------------------


def _quote(identifier: str) -> str:
    # Identifiers are validated plain names (or our constants); quoting keeps keywords safe.
    return f'"{identifier}"'


def _retention_policy_clause(spec: InfluxRetentionSpec, policy: str, seconds: float) -> str:
    shard = format_influx_duration(shard_duration_seconds(policy, seconds))
    clause = (
        f"{_quote(policy)} ON {_quote(spec.database)} DURATION {format_influx_duration(seconds)} "
        f"REPLICATION 1 SHARD DURATION {shard}"
    )
    # raw is the DEFAULT policy so the Prometheus endpoint (which writes to the default policy when
    # the URL has no `rp`) lands in it. REPLICATION is required syntax; OSS is a single node.
    return clause + " DEFAULT" if policy == RAW_POLICY else clause


def _continuous_query(spec: InfluxRetentionSpec, name: str, source: str, target: str, interval: str,
                      resample_for: str) -> str:
    db = _quote(spec.database)
    # `/.*/` with `INTO ...:MEASUREMENT` downsamples every measurement into one of the same name;
    # `GROUP BY *` keeps every tag (every Prometheus label), so each series is downsampled on its own.
    # Ref: https://docs.influxdata.com/influxdb/v1/query_language/continuous_queries/#examples-of-basic-syntax
    select = (
        f"SELECT mean({_quote(VALUE_FIELD)}) AS {_quote(VALUE_FIELD)} "
        f"INTO {db}.{_quote(target)}.:MEASUREMENT FROM {db}.{_quote(source)}./.*/ "
        f"GROUP BY time({interval}), *"
    )
    return f"CREATE CONTINUOUS QUERY {_quote(name)} ON {db} RESAMPLE FOR {resample_for} BEGIN {select} END"


def build_influxql(spec: InfluxRetentionSpec) -> str:
    """The InfluxDB schema as InfluxQL: one statement per line, `--` comment lines, deterministic.

    Applied by the schema Job with `influx -execute`, one statement at a time, in order (see
    `apply_script`). Running it again changes nothing; running it with new durations converges.
    """
    db = _quote(spec.database)
    lines = [
        "-- TerraFusion trends schema, generated by monitoring/influxdb.py: do not edit.",
        "-- Run one statement per line with `influx -execute`, in order. Only a CREATE RETENTION POLICY",
        "-- may fail (the policy exists with other settings); the ALTER after it must succeed.",
        # Ref: https://docs.influxdata.com/influxdb/v1/query_language/manage-database/#create-database
        f"CREATE DATABASE {db}",
    ]
    for policy, seconds in spec.policies():
        clause = _retention_policy_clause(spec, policy, seconds)
        lines.append(f"CREATE RETENTION POLICY {clause}")
        lines.append(f"ALTER RETENTION POLICY {clause}")
    queries = (
        (CQ_RAW_TO_5M, RAW_POLICY, FIVE_MINUTE_POLICY, "5m", _CQ_RAW_TO_5M_RESAMPLE_FOR),
        (CQ_5M_TO_1H, FIVE_MINUTE_POLICY, ONE_HOUR_POLICY, "1h", _CQ_5M_TO_1H_RESAMPLE_FOR),
    )
    lines.append("-- A continuous query cannot be altered: drop (harmless when missing) and create again.")
    for name, source, target, interval, resample_for in queries:
        lines.append(f"DROP CONTINUOUS QUERY {_quote(name)} ON {db}")
        lines.append(_continuous_query(spec, name, source, target, interval, resample_for))
    return "\n".join(lines) + "\n"


def influxql_statements(text: str) -> list[str]:
    """The statements of `build_influxql` output in order: every line that is not blank or a comment."""
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("--")]


def influxql_hash(text: str) -> str:
    """First 10 hex digits of the SHA-256 of the InfluxQL: the schema Job is `influxdb-schema-<hash>`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def schema_job_name(text: str) -> str:
    """Name of the Job that applies `text` (a new InfluxQL is a new Job, so it runs again)."""
    return f"influxdb-schema-{influxql_hash(text)}"


def apply_script() -> str:
    """POSIX sh run by the schema Job: `apply-influxql <file.iql>`.

    Environment: INFLUX_HOST, INFLUX_PORT, and the influx CLI's own INFLUX_USERNAME / INFLUX_PASSWORD
    (the admin, from its Secret, so no password is in the Pod spec). Every password is alphanumeric
    (it goes into an InfluxQL string literal).

    1. Authenticate. InfluxDB creates its admin from the image's env only on an empty volume
       (influxdata-docker influxdb/1.11/alpine/init-influxdb.sh: only when the meta directory does not
       exist), so after an admin rotation the server still has the old password: when INFLUX_PASSWORD
       is refused and INFLUX_PREVIOUS_PASSWORD is accepted, the script sets the admin's password to
       INFLUX_PASSWORD with the previous one, then carries on with the current one. Waits up to
       INFLUX_WAIT_SECONDS (default 120) for InfluxDB, or for one of the two to be accepted.
    2. Run each statement of the file with `influx -execute`. A failing CREATE RETENTION POLICY is
       reported and tolerated; any other failure fails the Job.
    3. Converge the optional users to the passwords of their Secrets: INFLUX_READER_USER /
       INFLUX_READER_PASSWORD (GRANT READ, for Grafana: a dashboard query must not be able to DROP
       anything) and INFLUX_WRITER_USER / INFLUX_WRITER_PASSWORD (GRANT WRITE, for Prometheus
       remote_write), both on INFLUX_DATABASE. CREATE USER fails when the user exists; SET PASSWORD
       then makes its password the current one, which is what makes a rotation converge.
    Ref: https://docs.influxdata.com/influxdb/v1/tools/influx-cli/#influx-arguments
    Ref: https://docs.influxdata.com/influxdb/v1/administration/authentication_and_authorization/#user-management-commands
    """
    return f"""#!/bin/sh
set -eu
file="$1"
host="${{INFLUX_HOST:?}}"
port="${{INFLUX_PORT:-8086}}"
admin="${{INFLUX_USERNAME:?}}"
current="${{INFLUX_PASSWORD:?}}"
previous="${{INFLUX_PREVIOUS_PASSWORD:-}}"
accepted() {{
  INFLUX_PASSWORD="$1" influx -host "$host" -port "$port" -execute 'SHOW DATABASES' >/dev/null 2>&1 </dev/null
}}
run() {{
  influx -host "$host" -port "$port" -execute "$1" </dev/null
}}
waited=0
until accepted "$current"; do
  if [ -n "$previous" ] && accepted "$previous"; then
    echo "the admin still has its previous password: setting the current one"
    INFLUX_PASSWORD="$previous" run "SET PASSWORD FOR \\"$admin\\" = '$current'"
    continue
  fi
  waited=$((waited + 2))
  if [ "$waited" -gt "${{INFLUX_WAIT_SECONDS:-120}}" ]; then
    echo "InfluxDB at $host:$port not ready, or it accepts neither the current nor the previous admin password" >&2
    exit 1
  fi
  sleep 2
done
while IFS= read -r statement || [ -n "$statement" ]; do
  case "$statement" in ''|--*) continue ;; esac
  echo "> $statement"
  if run "$statement"; then
    continue
  fi
  case "$statement" in
    '{TOLERATED_FAILURE_PREFIX}'*) echo "tolerated: the ALTER that follows converges the policy" ;;
    *) echo "failed: $statement" >&2; exit 1 ;;
  esac
done < "$file"
echo "schema applied"
# A user of the database, converged to the password of its Secret (never from the file).
converge_user() {{
  user="$1" secret="$2" privilege="$3"
  database="${{INFLUX_DATABASE:?INFLUX_DATABASE is required with INFLUX_READER_USER or INFLUX_WRITER_USER}}"
  run "CREATE USER \\"$user\\" WITH PASSWORD '$secret'" || echo "tolerated: user $user exists"
  run "SET PASSWORD FOR \\"$user\\" = '$secret'"
  run "GRANT $privilege ON \\"$database\\" TO \\"$user\\""
  echo "$user can $privilege $database"
}}
if [ -n "${{INFLUX_READER_USER:-}}" ]; then
  converge_user "$INFLUX_READER_USER" "${{INFLUX_READER_PASSWORD:?INFLUX_READER_PASSWORD is required with INFLUX_READER_USER}}" READ
fi
if [ -n "${{INFLUX_WRITER_USER:-}}" ]; then
  converge_user "$INFLUX_WRITER_USER" "${{INFLUX_WRITER_PASSWORD:?INFLUX_WRITER_PASSWORD is required with INFLUX_WRITER_USER}}" WRITE
fi
"""


# --- Prometheus remote_write -----------------------------------------------------------------------


def remote_write_url(service_host: str, port: int, database: str) -> str:
    """InfluxDB 1.x Prometheus write endpoint for `database` (samples land in its DEFAULT policy, raw).

    Ref: https://docs.influxdata.com/influxdb/v1/supported_protocols/prometheus/
    """
    return f"http://{service_host}:{port}/api/v1/prom/write?db={database}"


def remote_write_config(
    url: str,
    username_secret: tuple[str, str],
    password_secret: tuple[str, str],
) -> dict[str, Any]:
    """One kube-prometheus-stack `prometheus.prometheusSpec.remoteWrite` entry (Operator RemoteWriteSpec).

    `username_secret` / `password_secret` are (Secret name, key) in Prometheus' namespace: basic auth
    (which the 1.x endpoint accepts) instead of `u`/`p` in the URL, so no credential is in the spec.
    Ref: https://prometheus-operator.dev/docs/api-reference/api/#monitoring.coreos.com/v1.RemoteWriteSpec
    """
    username_name, username_key = username_secret
    password_name, password_key = password_secret
    return {
        "url": url,
        "basicAuth": {
            "username": {"name": username_name, "key": username_key},
            "password": {"name": password_name, "key": password_key},
        },
        "writeRelabelConfigs": [
            {"sourceLabels": ["__name__"], "regex": REMOTE_WRITE_KEEP_REGEX, "action": "keep"},
        ],
        # The kept subset is small (SLO records and business series), and a single InfluxDB 1.x node
        # should not be hit by many parallel writers: few shards, moderate batches. Metadata is not
        # sent because the InfluxDB endpoint only stores samples.
        # Ref: https://prometheus.io/docs/practices/remote_write/#parameters
        "queueConfig": {
            "capacity": 10000,
            "minShards": 1,
            "maxShards": 4,
            "maxSamplesPerSend": 1000,
            "batchSendDeadline": "5s",
            "minBackoff": "100ms",
            "maxBackoff": "30s",
        },
        "metadataConfig": {"send": False},
    }
