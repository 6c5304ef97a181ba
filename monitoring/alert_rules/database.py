"""Database (PostgreSQL): availability, connection pool, locks, cache hit ratio, replication.

Server side from postgres_exporter (`pg_*`), client side from the OTel DB client metrics. The
replication-lag limit alert comes from the SLO catalogue (DbReplicationLagObjectiveMissed).
Ref: https://github.com/prometheus-community/postgres_exporter
"""

from __future__ import annotations

from monitoring.alert_rules._rule import AlertRule, RuleGroup
from monitoring.slo_catalogue import POSTGRES_EXPORTER
from monitoring.severity import Severity

POSTGRES = RuleGroup(
    "database-postgres",
    (
        AlertRule(
            name="PostgresDown",
            requires=POSTGRES_EXPORTER,
            expr="pg_up == 0",
            for_="1m",
            severity=Severity.P1,
            service=True,
            summary="PostgreSQL {{ $labels.service }} ({{ $labels.instance }}) is down",
            description="postgres_exporter cannot connect to {{ $labels.instance }} of "
            "{{ $labels.service }}; every service using it fails.",
        ),
        AlertRule(
            name="PostgresConnectionPoolSaturated",
            expr=(
                'sum by (service) (db_client_connection_count{db_client_connection_state="used"})\n'
                "/\n"
                "sum by (service) (db_client_connection_max)\n"
                "> 0.90"
            ),
            for_="10m",
            severity=Severity.P2,
            service=True,
            summary="Connection pool of {{ $labels.service }} is {{ $value | humanizePercentage }} used",
            description="{{ $labels.service }} has used more than 90% of its database connection pool "
            "for 10 minutes; requests will queue for a connection and time out.",
        ),
        AlertRule(
            name="PostgresTooManyConnections",
            requires=POSTGRES_EXPORTER,
            expr=(
                "sum by (service, instance) (pg_stat_database_numbackends)\n"
                "/\n"
                "max by (service, instance) (pg_settings_max_connections)\n"
                "> 0.85"
            ),
            for_="10m",
            severity=Severity.P2,
            service=True,
            summary="PostgreSQL {{ $labels.instance }} uses {{ $value | humanizePercentage }} of max_connections",
            description="Backends on {{ $labels.instance }} ({{ $labels.service }}) are above 85% of "
            "max_connections; new connections will be refused.",
        ),
        AlertRule(
            name="PostgresLockContention",
            requires=POSTGRES_EXPORTER,
            expr=(
                "sum by (service, instance, datname) (\n"
                '  pg_locks_count{mode=~"exclusivelock|accessexclusivelock|rowexclusivelock"}\n'
                ") > 100"
            ),
            for_="10m",
            severity=Severity.P3,
            service=True,
            summary="{{ $value | humanize }} exclusive locks held on {{ $labels.datname }} ({{ $labels.service }})",
            description="More than 100 exclusive locks have been held on database {{ $labels.datname }} "
            "of {{ $labels.instance }} for 10 minutes: transactions are queueing behind each other.",
        ),
        AlertRule(
            name="PostgresDeadlocks",
            requires=POSTGRES_EXPORTER,
            expr="increase(pg_stat_database_deadlocks[10m]) > 0",
            for_="0m",
            severity=Severity.P3,
            service=True,
            summary="Deadlocks on {{ $labels.datname }} ({{ $labels.service }})",
            description="PostgreSQL detected {{ $value | humanize }} deadlocks on {{ $labels.datname }} "
            "in the last 10 minutes; the aborted transactions surface as errors in the application.",
        ),
        AlertRule(
            name="PostgresLowCacheHitRatio",
            requires=POSTGRES_EXPORTER,
            expr=(
                "sum by (service, datname) (rate(pg_stat_database_blks_hit[10m]))\n"
                "/\n"
                "(\n"
                "  sum by (service, datname) (rate(pg_stat_database_blks_hit[10m]))\n"
                "  + sum by (service, datname) (rate(pg_stat_database_blks_read[10m]))\n"
                ") < 0.95"
            ),
            for_="30m",
            severity=Severity.P4,
            service=True,
            summary="Cache hit ratio of {{ $labels.datname }} ({{ $labels.service }}) is {{ $value | humanizePercentage }}",
            description="Less than 95% of block reads of {{ $labels.datname }} are served from shared "
            "buffers; the working set no longer fits in memory.",
        ),
    ),
)

GROUPS = (POSTGRES,)
