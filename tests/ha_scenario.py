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

A third wave, "c", fires after one Prometheus replica is SIGKILLed. `run_restart` is the
Prometheus restart with pending `for:` state (its own single Prometheus).

Test-only knobs (prod in brackets): 1s scrape/evaluation [30s], `for: 0s` [per rule], group_wait P1
2s, others 3s [10s/30s/2m/5m], group_interval 15s [1m/5m/15m/30m], repeat_interval 1h, resend delay 10s [1m], business
hours always and maintenance windows in the past, peer timeout and gossip interval as in
prod (15s, 200ms), push-pull and settle 5s [1m]. The PagerDuty payload names a page's alerts through the rendered
`details.firing` (monitoring/alertmanager.py `_PAGE_ALERTS`), Slack and email through their text,
webhooks through their alert list.
"""

from __future__ import annotations

import json
import re
import signal
import time
from collections import Counter, defaultdict
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import yaml

from monitoring.alertmanager import (
    RECEIVER_SECRET_KEYS,
    RouteOwner,
    owner_receivers,
    pagerduty_routing_key,
)
from monitoring.pagerduty import paging_severities
from monitoring.severity import SEVERITIES, RouteTiming, Severity
from plan.alerting import alerting_plan
from plan.prometheus_stack import REPLICA_LABEL
from stacks.config import parse_settings
from tests.engines import (
    SmtpRecorder,
    SyntheticExporter,
    WebhookRecorder,
    active_alertmanagers,
    cluster_position,
    cluster_status,
    http_get,
    prometheus_alerts,
    run_alertmanager_cluster,
    run_prometheus,
)
from tests.helpers import stack_settings_raw, wait_until
from tests.monitoring.alerting_helpers import (
    always_active,
    live_alertmanager_config,
    recorded_receivers,
    with_for,
)
from tools import engines

INTERVAL_SECONDS = 1.0
P1_WAIT, OTHER_WAIT = "2s", "3s"
PEER_TIMEOUT_SECONDS = 15
PEERS = 3
GOSSIP_TIMERS = {"peer_timeout": f"{PEER_TIMEOUT_SECONDS}s", "gossip_interval": "200ms", "pushpull_interval": "5s", "settle_timeout": "5s"}
# The P1 floor of this scenario: a series change waits for the next scrape and evaluation, then
# `for` (0s here) and the P1 group_wait.
FLOOR_SECONDS = 2 * INTERVAL_SECONDS + float(P1_WAIT.rstrip("s"))
# The restart check: the grace period (prod: the 10m default) and the two alerts' `for`, one at
# least the grace period (restored) and one shorter (reset).
RESTART_GRACE = "6s"
RESTART_FOR = {"PostgresDown": "20s", "PostgresTooManyConnections": "5s"}
RESTART_PENDING_SECONDS = 3
RESTART_DOWN_SECONDS = 3
# group_interval: an alert that reaches its group after the group's first notification (a storm's
# alerts of one group can arrive over more than group_wait on a busy machine) is notified at the
# next flush; 15s keeps that inside the scenario's waits. (Below 10s a flush's notify deadline,
# max(group_interval, 10s), no longer follows it.)
TIMING = {s: RouteTiming(P1_WAIT if s is Severity.P1 else OTHER_WAIT, "15s", "1h") for s in Severity}
# Prometheus re-sends every firing alert each resend delay (a new one is sent at once): 10s [1m]
# instead of the harness's 2s, or two replicas re-sending a storm to three peers every 2s are most
# of the load. Alerts stay valid 4 x max(evaluation interval, resend delay) = 40s.
# Ref: prometheus/prometheus@v3.5.3 rules/alerting.go (needsSending, sendAlerts)
RESEND_DELAY = "10s"
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
    """Waves a, b and c. P1 services are never P2-P4 services (a P1 inhibits lower alerts of its
    service); component groups (node, storage) only in wave a (a later alert would join the group
    and wait its group_interval); wave c (after a Prometheus replica is killed) only new groups of
    services nobody owns (the platform area's)."""
    def n(count: int) -> int:
        return max(1, round(count * scale))

    plan = {
        "a": [("PostgresDown", "checkout", 20), ("PostgresTooManyConnections", "payments", 30), ("NodeNotReady", None, 100),
              ("PostgresLockContention", "api", 60), ("KubePersistentVolumeClaimPending", None, 100),
              ("PostgresLowCacheHitRatio", "payments", 40), ("NodeCpuSaturated", None, 100)],
        "b": [("PostgresDown", "web", 20), ("PostgresDown", "terrafusion-db", 20), ("PostgresTooManyConnections", "api", 30),
              ("PostgresLockContention", "payments", 60), ("PostgresLowCacheHitRatio", "api", 40)],
        "c": [],
    }  # fmt: skip
    per_unowned = {"PostgresDown": 4, "PostgresTooManyConnections": 6, "PostgresLockContention": 8, "PostgresLowCacheHitRatio": 8}
    services = {"a": n(10), "b": n(10), "c": n(3)}
    alerts: list[StormAlert] = []
    for wave, rows in plan.items():
        rows = rows + [(name, f"unowned-{wave}-{name.lower()[8:14]}-{i}", k) for name, k in per_unowned.items() for i in range(services[wave])]
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
    generation: str
    doubled: int  # alerts listed twice in one webhook body (replicas not deduplicated)
    replica_labelled: int  # alerts in webhook bodies still carrying the replica label

    @property
    def per_receiver(self) -> Counter:
        """Notifications per receiver."""
        return Counter(r for r, *_ in self.notifications)

    def lost(self, wave: str | None = None) -> int:
        seen = {(r, t) for r, _, tokens, resolved in self.notifications if not resolved for t in tokens}
        return sum((r, a.token) not in seen for a in self.alerts if wave in (None, a.wave) for r in self.expected[a.token])

    def misrouted(self) -> int:
        return sum(r not in self.expected[t] for r, _, tokens, resolved in self.notifications for t in tokens)

    def split_groups(self) -> int:
        return sum(len({self.groups[t] for t in tokens}) > 1 for _, _, tokens, _ in self.notifications)

    def duplicates(self) -> dict[tuple, int]:
        """(receiver, group) -> notifications beyond the first with the same alert set."""
        sets: Counter = Counter((r, tokens) for r, _, tokens, resolved in self.notifications if tokens and not resolved)
        out: dict[tuple, int] = defaultdict(int)
        for (r, tokens), count in sets.items():
            if count > 1:
                out[(r, self.groups[next(iter(tokens))])] += count - 1
        return dict(out)

    def size(self, waves: str = "abc") -> int:
        return sum(a.wave in waves for a in self.alerts)

    def notified_within(self, waves: str) -> float:
        """Seconds from the first of `waves` starting until every alert of them had been notified
        to every receiver it is owed to."""
        first_seen: dict[tuple[str, str], float] = {}
        for r, at, tokens, resolved in self.notifications:
            for t in tokens:
                if not resolved:
                    first_seen[(r, t)] = min(first_seen.get((r, t), at), at)
        last = max(first_seen[(r, a.token)] for a in self.alerts if a.wave in waves for r in self.expected[a.token])
        return last - min(self.wave_started[w] for w in waves)

    def wave_of(self, group: tuple) -> str:
        return next(a.wave for a in self.alerts if self.groups[a.token] == group)

    def duplicate_times(self, receiver: str, group: tuple) -> list[float]:
        """When each notification of a group arrived at a receiver (seconds after its wave started)."""
        start = self.wave_started[self.wave_of(group)]
        return sorted(at - start for r, at, tokens, resolved in self.notifications
                      if r == receiver and tokens and self.groups[next(iter(tokens))] == group)  # fmt: skip

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
    return next((o for o in owners if service in o.services), next(o for o in owners if o.fallback))


def _receiver(path: str) -> str:
    return path.split("?", 1)[0].split("/")[2]


def _storm_expectations(plan, alerts: list[StormAlert]) -> tuple[dict, dict]:
    """Each alert's receivers (ownership model: its owner's receivers at its rule's severity) and
    group key (its severity's group_by over the labels the rule gives it)."""
    labels = _rule_labels({p.stem: p.content for p in plan.rule_parts})
    expected, groups = {}, {}
    for a in alerts:
        severity = Severity(labels[a.alertname]["severity"])
        expected[a.token] = tuple(owner_receivers(plan.spec, severity, _owner(plan.owners, a.service)))
        alert_labels = {"alertname": a.alertname, "environment": plan.spec.environment,
                        **({"service": a.service} if a.service else {"component": labels[a.alertname]["component"]})}  # fmt: skip
        groups[a.token] = (severity.value, *(alert_labels.get(k, "") for k in SEVERITIES[severity].group_by))
    return expected, groups


def _secret_files(plan, work: Path) -> Path:
    secrets = work / "secrets"
    secrets.mkdir(parents=True)
    for kind, key in RECEIVER_SECRET_KEYS.items():
        (secrets / key).write_text(f"storm-{kind}")
    for owner in plan.owners:
        for severity in paging_severities():
            (secrets / pagerduty_routing_key(owner.area, severity)).write_text(f"key-{owner.area}-{severity.value}")
    return secrets


def _notification(n) -> tuple[str, float, frozenset[str], bool]:
    text = n.body if isinstance(n.body, str) else json.dumps(n.body)
    resolved = "[RESOLVED]" in text or '"event_action": "resolve"' in text or '"status": "resolved"' in text
    return _receiver(n.path), n.received_at, frozenset(TOKEN.findall(text)), resolved


def _replica_leaks(n) -> tuple[int, int]:
    """(alerts listed twice in one webhook body, alerts still carrying the replica label)."""
    if not (isinstance(n.body, dict) and "alerts" in n.body):
        return 0, 0
    listed = Counter(t for a in n.body["alerts"] for t in TOKEN.findall(json.dumps(a["labels"])))
    return sum(c - 1 for c in listed.values()), sum(REPLICA_LABEL in a["labels"] for a in n.body["alerts"])


def _kill(server) -> None:
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)


def _prod_alerting():
    """The prod stack's alerting plan and the rule files its Prometheus evaluates."""
    settings = parse_settings(stack_settings_raw("prod"))
    plan = alerting_plan(settings)
    return settings, plan, {p.stem: dict(p.content) for p in plan.rule_parts if p.evaluator == "prometheus"}


def run_storm(generation: str, work: Path, scale: float = 1.0) -> StormOutcome:
    """The scenario on one engine generation ("3": Prometheus 3.5.3 + Alertmanager 0.33.1, "2":
    2.42 + 0.25); `scale` multiplies every alert count (1.0: 1,000+ alerts in waves a and b)."""
    settings, plan, rule_files = _prod_alerting()
    alerts = storm(scale)
    expected, groups = _storm_expectations(plan, alerts)
    engine = engines.ENGINES[generation]
    templates = (str(engine.alertmanager_templates),) if engine.alertmanager_templates else ()
    prometheus_bin, alertmanager_bin = engines.find("prometheus", generation), engines.find("prometheus-alertmanager", generation)
    series = StormSeries(alerts)
    secrets = _secret_files(plan, work)
    with WebhookRecorder() as recorder, SmtpRecorder() as smtp, SyntheticExporter(series) as exporter, ExitStack() as stack:
        config = live_alertmanager_config(yaml.safe_load(plan.alertmanager_config_yaml), str(secrets), TIMING)
        config = recorded_receivers(always_active(config), recorder.url, smtp.address, secrets)
        ams = stack.enter_context(run_alertmanager_cluster(
            alertmanager_bin, config, work / "am", PEERS, templates, named=generation != "2", **GOSSIP_TIMERS))
        proms = [
            stack.enter_context(run_prometheus(
                prometheus_bin, work / f"prom-{i}", rule_files=with_for(rule_files, "0s"), scrape_target=exporter.target,
                alertmanager_urls=[am.url for am in ams], alert_relabel_configs=ALERT_RELABEL,
                external_labels={"cluster": settings.cluster.name, "environment": settings.environment,
                                 REPLICA_LABEL: f"prometheus-{i}"},
                interval=f"{INTERVAL_SECONDS:g}s", resend_delay=RESEND_DELAY,
            ))
            for i in range(2)
        ]  # fmt: skip
        wait_until(lambda: all(len(active_alertmanagers(p.url)) == PEERS for p in proms), 30, what="both replicas to find 3 Alertmanagers")

        def received():
            return recorder.received() + smtp.received()

        def outcome() -> StormOutcome:
            notes = received()
            leaks = [_replica_leaks(n) for n in notes]
            return StormOutcome(alerts, expected, groups, [_notification(n) for n in notes], dict(series.started), generation,
                                sum(d for d, _ in leaks), sum(l for _, l in leaks))  # fmt: skip

        def delivered(wave: str) -> None:
            try:
                wait_until(lambda: outcome().lost(wave) == 0, 60, interval=0.5, what=f"every wave-{wave} alert at every receiver")
            except TimeoutError as exc:
                o = outcome()
                (work / "notifications.json").write_text(json.dumps([(n.path, n.body) for n in received()], default=str, indent=1))
                seen = {(r, t) for r, _, tokens, res in o.notifications if not res for t in tokens}
                missing = Counter((r, a.alertname) for a in alerts if a.wave == wave for r in expected[a.token] if (r, a.token) not in seen)
                raise AssertionError(f"{exc}: missing {dict(missing)}; received {dict(o.per_receiver)}\n"
                                     f"--- am\n{ams[-1].log_tail()}\n--- prometheus\n{proms[-1].log_tail()}") from None

        # Wave a: the cluster and the pair healthy.
        series.start("a")
        delivered("a")
        # Wave b: the Alertmanager at position 0 (the one that notifies first) is killed once it
        # holds wave b's first P1 alert, before that group's group_wait has ended.
        series.start("b")
        first = ams[[cluster_position(am.url) for am in ams].index(0)]
        p1_b = next(a for a in alerts if a.wave == "b" and a.alertname == "PostgresDown")
        wait_until(lambda: json.loads(http_get(f'{first.url}/api/v2/alerts?filter=instance%3D%22{p1_b.token}%22')), 30,
                   interval=0.1, what="wave b at the first peer")  # fmt: skip
        _kill(first)
        delivered("b")
        # Wave c: one Prometheus replica killed; the other alone must carry the new alerts. First
        # the survivors drop the dead peer from their member list (memberlist's failure detection),
        # so that wave c sees a settled two-peer cluster, not the kill of wave b again.
        survivors = [am for am in ams if am is not first]
        wait_until(lambda: all(len(cluster_status(am.url)["peers"]) == PEERS - 1 for am in survivors), 60,
                   what="the survivors to drop the killed peer")  # fmt: skip
        _kill(proms[0])
        series.start("c")
        delivered("c")
        # A duplicate is sent by a later peer at the end of its wait: of the two survivors the
        # second waits one peer timeout after its group_wait. Wave b's last peer (2 x peer timeout)
        # has sent by then too: wave b was delivered after one peer timeout, wave c after that.
        time.sleep((PEERS - 2) * PEER_TIMEOUT_SECONDS + 1)
        return outcome()


def run_restart(generation: str, work: Path) -> dict[str, dict]:
    """A Prometheus restart with two alerts pending: one whose `for` is at least the grace period
    (restored: its activeAt moves by the downtime) and one whose `for` is shorter (not restored:
    pending from zero again). Returns, per alert name, its activeAt (unix seconds) before the
    restart and after, and when the restart happened (stopped, started). Test-only knobs: 1s
    evaluation, grace period RESTART_GRACE, `for` RESTART_FOR."""
    _, _, rule_files = _prod_alerting()
    alerts = [StormAlert(f"tok-r-{i:04d}", "r", name, "checkout") for i, name in enumerate(RESTART_FOR)]
    series = StormSeries(alerts)
    binary = engines.find("prometheus", generation)
    rules = with_for(rule_files, "0s", RESTART_FOR)
    flags = (f"--rules.alert.for-grace-period={RESTART_GRACE}",)

    def active_at(url: str) -> dict[str, float]:
        return {a["labels"]["alertname"]: _unix(a["activeAt"]) for a in prometheus_alerts(url)
                if a["labels"]["alertname"] in RESTART_FOR and a["state"] == "pending"}  # fmt: skip

    def all_pending(url: str) -> dict[str, float] | None:
        pending = active_at(url)
        return pending if len(pending) == len(RESTART_FOR) else None

    with SyntheticExporter(series) as exporter:
        def start():
            return run_prometheus(binary, work, rule_files=rules, scrape_target=exporter.target, interval="1s", flags=flags)

        with start() as prometheus:
            series.start("r")
            before = wait_until(lambda: all_pending(prometheus.url), 30, what="both alerts pending")
            time.sleep(RESTART_PENDING_SECONDS)
        stopped = time.time()
        time.sleep(RESTART_DOWN_SECONDS)
        started = time.time()  # launched (its first evaluation may come before it answers ready)
        with start() as prometheus:
            # Restored after the second evaluation that follows the start.
            # Ref: prometheus/prometheus@v3.5.3 rules/group.go (Eval: RestoreForState when shouldRestore)
            wait_until(lambda: all_pending(prometheus.url), 30, what="both alerts pending again")
            time.sleep(3 * INTERVAL_SECONDS)
            after = active_at(prometheus.url)
    return {name: {"before": before[name], "after": after.get(name), "stopped": stopped, "started": started} for name in RESTART_FOR}


def _unix(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339).timestamp()
