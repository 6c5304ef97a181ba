"""The HA storm (issue 11 items 1 and 5), one function for the live test and `make bench`: three
clustered Alertmanagers with the rendered prod routing (every receiver pointed at a recorder by
name), two Prometheus replicas with distinct `prometheus_replica` labels that the operator's alert
relabelling drops, the prod rules Prometheus evaluates, and a synthetic exporter whose series trip
catalogue alerts of every P-level for services of every area (and services nobody owns, and
platform components). Wave "a" fires with the cluster healthy; wave "b" fires and the Alertmanager
at position 0 is SIGKILLed once it holds wave b's P1 alerts, before their group_wait ends.

Each alert carries a unique token (`tok-<wave>-<n>`) in the label its summary shows, so that every
integration's payload (Slack text included) names the alerts it carries. Expected receivers come
from the ownership model (owner_receivers of the alert's owner at its rule's severity).

Test-only knobs (prod in brackets): 1s scrape/evaluation [30s], `for: 0s` [per rule], group_wait P1
2s, others 3s [10s/30s/2m/5m], group_interval 1m, business hours always and maintenance windows in
the past, peer timeout 3s [15s], gossip 100ms [200ms], push-pull and settle 5s [1m].

STATUS (work in progress, not yet used by a test or `make bench`): run by hand once on 3.5.3/0.33.1,
1140 alerts; every Slack, email, ticket and Watchdog receiver got its alerts, but the PagerDuty
payloads named only some tokens (1 of 20 PostgresDown alerts of area api), so wave a never
counted as delivered: find out what the PagerDuty `details.firing` field carries before relying on
it as the page's alert list (or take the alert set of a page from its dedup_key/group instead).
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from monitoring.alertmanager import RECEIVER_SECRET_KEYS, RouteOwner, owner_receivers, pagerduty_routing_key
from monitoring.pagerduty import paging_severities
from monitoring.severity import SEVERITIES, RouteTiming, Severity
from plan.alerting import alerting_plan
from plan.prometheus_stack import REPLICA_LABEL
from stacks.config import parse_settings
from tests.engines import (
    SmtpRecorder,
    SyntheticExporter,
    WebhookRecorder,
    cluster_position,
    http_get,
    run_alertmanager_cluster,
    run_prometheus,
)
from tests.helpers import stack_settings_raw, wait_until
from tests.monitoring.alerting_helpers import always_active, live_alertmanager_config, recorded_receivers, with_for
from tools import engines

import yaml

INTERVAL_SECONDS = 1.0
P1_WAIT, OTHER_WAIT = "2s", "3s"
PEER_TIMEOUT_SECONDS = 3
PEERS = 3
TIMING = {s: RouteTiming(P1_WAIT if s is Severity.P1 else OTHER_WAIT, "1m", "1h") for s in Severity}
# The operator's alert relabelling of every Prometheus it generates.
# Ref: prometheus-operator@v0.93.0 pkg/prometheus/promcfg.go (labeldrop of the replica label)
ALERT_RELABEL = [{"action": "labeldrop", "regex": re.escape(REPLICA_LABEL)}]
TOKEN = re.compile(r"tok-[a-z]-\d{4}")

# alertname -> (the label its summary shows, which carries the token; series lines of one alert).
# Ref: monitoring/alert_rules/database.py, kubernetes.py (the expressions these series trip).
_SERIES = {
    "PostgresDown": lambda svc, t, age: [f'pg_up{{service="{svc}",instance="{t}"}} 0'],
    "PostgresTooManyConnections": lambda svc, t, age: [
        f'pg_stat_database_numbackends{{service="{svc}",instance="{t}",datname="app"}} 90',
        f'pg_settings_max_connections{{service="{svc}",instance="{t}"}} 100',
    ],
    "NodeNotReady": lambda svc, t, age: [f'kube_node_status_condition{{node="{t}",condition="Ready",status="true"}} 0'],
    "PostgresLockContention": lambda svc, t, age: [
        f'pg_locks_count{{service="{svc}",instance="db-0",datname="{t}",mode="exclusivelock"}} 200'
    ],
    "KubePersistentVolumeClaimPending": lambda svc, t, age: [
        f'kube_persistentvolumeclaim_status_phase{{namespace="shop",persistentvolumeclaim="{t}",phase="Pending"}} 1'
    ],
    "PostgresLowCacheHitRatio": lambda svc, t, age: [
        f'pg_stat_database_blks_hit{{service="{svc}",datname="{t}"}} {900 * age:.1f}',
        f'pg_stat_database_blks_read{{service="{svc}",datname="{t}"}} {100 * age:.1f}',
    ],
    "NodeCpuSaturated": lambda svc, t, age: [f'node_cpu_seconds_total{{instance="{t}",cpu="0",mode="idle"}} {0.05 * age:.3f}'],
}


@dataclass(frozen=True)
class StormAlert:
    token: str
    wave: str
    alertname: str
    service: str | None  # None: a platform component alert (the rule's `component`)


def storm(scale: float = 1.0) -> list[StormAlert]:
    """Waves a and b. P1 services are never P2-P4 services (a P1 inhibits lower alerts of its
    service); component groups (node, storage) only in wave a (a later alert would join the group
    and wait its group_interval)."""
    def n(count: int) -> int:
        return max(1, round(count * scale))

    plan = {
        "a": [("PostgresDown", "checkout", 20), ("PostgresTooManyConnections", "payments", 30), ("NodeNotReady", None, 100),
              ("PostgresLockContention", "api", 60), ("KubePersistentVolumeClaimPending", None, 100),
              ("PostgresLowCacheHitRatio", "payments", 40), ("NodeCpuSaturated", None, 100)],
        "b": [("PostgresDown", "web", 20), ("PostgresDown", "terrafusion-db", 20), ("PostgresTooManyConnections", "api", 30),
              ("PostgresLockContention", "payments", 60), ("PostgresLowCacheHitRatio", "api", 40)],
    }  # fmt: skip
    per_unowned = {"PostgresDown": 4, "PostgresTooManyConnections": 6, "PostgresLockContention": 8, "PostgresLowCacheHitRatio": 8}
    alerts: list[StormAlert] = []
    for wave, rows in plan.items():
        rows = rows + [(name, f"unowned-{wave}-{name.lower()[8:14]}-{i}", k) for name, k in per_unowned.items() for i in range(n(10))]
        for name, service, count in rows:
            for _ in range(n(count)):
                alerts.append(StormAlert(f"tok-{wave}-{len(alerts):04d}", wave, name, service))
    return alerts


class StormSeries:
    """The exporter source: the series of every alert of the waves started so far."""

    def __init__(self, alerts: list[StormAlert]) -> None:
        self.alerts = alerts
        self.started: dict[str, float] = {}

    def start(self, wave: str) -> float:
        self.started[wave] = time.monotonic()
        return self.started[wave]

    def lines(self, now: float) -> list[str]:
        started = dict(self.started)
        return [line for a in self.alerts if a.wave in started
                for line in _SERIES[a.alertname](a.service or "", a.token, 10 + now - started[a.wave])]  # fmt: skip


@dataclass
class StormOutcome:
    alerts: list[StormAlert]
    expected: dict[str, tuple[str, ...]]  # token -> receivers
    groups: dict[str, tuple]  # token -> group key
    notifications: list[tuple[str, float, frozenset[str], bool]]  # receiver, received_at, tokens, resolved
    wave_started: dict[str, float]
    killed_at: float
    pages_before_kill: int
    doubled: int  # alerts listed twice in one webhook body (replicas not deduplicated)
    replica_labelled: int  # alerts in webhook bodies still carrying the replica label
    floor_seconds: float
    per_receiver: Counter = field(default_factory=Counter)

    def lost(self, wave: str | None = None) -> int:
        seen = {(r, t) for r, _, tokens, resolved in self.notifications if not resolved for t in tokens}
        return sum((r, a.token) not in seen for a in self.alerts if wave in (None, a.wave) for r in self.expected[a.token])

    def misrouted(self) -> int:
        return sum(r not in self.expected[t] for r, _, tokens, resolved in self.notifications for t in tokens)

    def split_groups(self) -> int:
        return sum(len({self.groups[t] for t in tokens}) > 1 for _, _, tokens, _ in self.notifications)

    def duplicates(self, receivers_prefix: str = "") -> dict[tuple, int]:
        """(receiver, group) -> notifications beyond the first with the same alert set."""
        sets: Counter = Counter((r, tokens) for r, _, tokens, resolved in self.notifications
                                if tokens and not resolved and r.startswith(receivers_prefix))  # fmt: skip
        out: dict[tuple, int] = defaultdict(int)
        for (r, tokens), count in sets.items():
            if count > 1:
                out[(r, self.groups[next(iter(tokens))])] += count - 1
        return dict(out)

    def p1_latency(self, wave: str) -> float:
        """Seconds from the wave's series to the last P1 group's first page."""
        first: dict[tuple, float] = {}
        for r, at, tokens, resolved in self.notifications:
            if r.startswith("pagerduty-") and r.endswith("-p1") and tokens and not resolved:
                token = next(iter(tokens))
                if token.startswith(f"tok-{wave}-"):
                    key = self.groups[token]
                    first[key] = min(first.get(key, at), at)
        return max(first.values()) - self.wave_started[wave]


def _rule_labels(rule_files: dict) -> dict[str, dict]:
    return {r["alert"]: r.get("labels", {}) for c in rule_files.values() for g in c["groups"] for r in g["rules"] if "alert" in r}


def _owner(owners: tuple[RouteOwner, ...], service: str | None) -> RouteOwner:
    return next((o for o in owners if service in o.services), owners[-1])


def _receiver(path: str) -> str:
    return path.split("?", 1)[0].split("/")[2]


def run_storm(generation: str, work: Path, scale: float = 1.0) -> StormOutcome:
    settings = parse_settings(stack_settings_raw("prod"))
    plan = alerting_plan(settings)
    spec, owners = plan.spec, plan.owners
    rule_files = {p.stem: dict(p.content) for p in plan.rule_parts if p.evaluator == "prometheus"}
    labels = _rule_labels(rule_files)
    alerts = storm(scale)
    expected, groups = {}, {}
    for a in alerts:
        severity = Severity(labels[a.alertname]["severity"])
        owner = _owner(owners, a.service)
        expected[a.token] = tuple(owner_receivers(spec, severity, owner))
        alert_labels = {"alertname": a.alertname, "environment": spec.environment,
                        **({"service": a.service} if a.service else {"component": labels[a.alertname]["component"]})}  # fmt: skip
        groups[a.token] = (severity.value, *(alert_labels.get(k, "") for k in SEVERITIES[severity].group_by))

    engine = engines.ENGINES[generation]
    templates = (str(engine.alertmanager_templates),) if engine.alertmanager_templates else ()
    prometheus_bin, alertmanager_bin = engines.find("prometheus", generation), engines.find("prometheus-alertmanager", generation)
    series = StormSeries(alerts)
    secrets = work / "secrets"
    secrets.mkdir(parents=True)
    for kind, key in RECEIVER_SECRET_KEYS.items():
        (secrets / key).write_text(f"storm-{kind}")
    for owner in owners:
        for severity in paging_severities():
            (secrets / pagerduty_routing_key(owner.area, severity)).write_text(f"key-{owner.area}-{severity.value}")
    with WebhookRecorder() as recorder, SmtpRecorder() as smtp, SyntheticExporter(series) as exporter:
        config = live_alertmanager_config(yaml.safe_load(plan.alertmanager_config_yaml), str(secrets), TIMING)
        config = recorded_receivers(always_active(config), recorder.url, smtp.address, secrets)
        timers = {"peer_timeout": f"{PEER_TIMEOUT_SECONDS}s", "gossip_interval": "100ms", "pushpull_interval": "5s", "settle_timeout": "5s"}
        with run_alertmanager_cluster(alertmanager_bin, config, work / "am", PEERS, templates, named=generation != "2", **timers) as ams:
            rules = with_for(rule_files, "0s")
            proms = []
            from contextlib import ExitStack

            with ExitStack() as stack:
                for i in range(2):
                    proms.append(stack.enter_context(run_prometheus(
                        prometheus_bin, work / f"prom-{i}", rule_files=rules, scrape_target=exporter.target,
                        alertmanager_urls=[am.url for am in ams], alert_relabel_configs=ALERT_RELABEL,
                        external_labels={"cluster": settings.cluster.name, "environment": settings.environment,
                                         REPLICA_LABEL: f"prometheus-{i}"},
                        interval=f"{INTERVAL_SECONDS:g}s",
                    )))  # fmt: skip

                def received():
                    return recorder.received() + smtp.received()

                def outcome(killed_at=0.0, pages_before_kill=0) -> StormOutcome:
                    notes, doubled, labelled = [], 0, 0
                    for n in received():
                        text = n.body if isinstance(n.body, str) else json.dumps(n.body)
                        resolved = "[RESOLVED]" in text or '"event_action": "resolve"' in text or '"status": "resolved"' in text
                        notes.append((_receiver(n.path), n.received_at, frozenset(TOKEN.findall(text)), resolved))
                        if isinstance(n.body, dict) and "alerts" in n.body:
                            listed = Counter(t for a in n.body["alerts"] for t in TOKEN.findall(json.dumps(a["labels"])))
                            doubled += sum(c - 1 for c in listed.values())
                            labelled += sum(REPLICA_LABEL in a["labels"] for a in n.body["alerts"])
                    floor = 0 + float(P1_WAIT.rstrip("s")) + INTERVAL_SECONDS
                    return StormOutcome(alerts, expected, groups, notes, dict(series.started), killed_at, pages_before_kill,
                                        doubled, labelled, floor, Counter(r for r, *_ in notes))  # fmt: skip

                def delivered(wave: str) -> None:
                    try:
                        wait_until(lambda: outcome().lost(wave) == 0, 60, interval=0.5, what=f"every wave-{wave} alert at every receiver")
                    except TimeoutError as exc:
                        o = outcome()
                        seen = {(r, t) for r, _, tokens, res in o.notifications if not res for t in tokens}
                        missing = Counter((r, a.alertname) for a in alerts if a.wave == wave for r in expected[a.token] if (r, a.token) not in seen)
                        raise AssertionError(f"{exc}: missing {dict(missing)}; received {dict(o.per_receiver)}\n"
                                             f"--- am\n{ams[-1].log_tail()}\n--- prometheus\n{proms[0].log_tail()}") from None

                series.start("a")
                delivered("a")
                series.start("b")
                first = ams[[cluster_position(am.url) for am in ams].index(0)]
                p1_b = next(a for a in alerts if a.wave == "b" and a.alertname == "PostgresDown")
                query = f'{first.url}/api/v2/alerts?filter=instance%3D%22{p1_b.token}%22'
                wait_until(lambda: json.loads(http_get(query)), 30, interval=0.1, what="wave b at the first peer")
                pages_before = sum(1 for n in received() if f"tok-b-" in json.dumps(n.body) and n.path.startswith("/pagerduty"))
                first.process.send_signal(signal.SIGKILL)
                first.process.wait(timeout=10)
                killed_at = time.monotonic()
                delivered("b")
                time.sleep(2 * PEER_TIMEOUT_SECONDS + 1)  # the last peer's wait: any duplicate arrives by then
                return outcome(killed_at, pages_before)
