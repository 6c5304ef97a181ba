"""Live: the dead man's switch (issue 11, item 3). The part that is ours: the Watchdog reaches its
receiver at the cadence its route says, and stops arriving when Prometheus stops.

Real Prometheus with the dev stack's rendered `watchdog` rule file and real Alertmanager with the
dev stack's rendered config (the Watchdog receiver enabled, pointing at a recorder), 3.5.3 with
0.33.1 and 2.42 with 0.25 at the same time. The test-only knob: the Watchdog route's group_interval
and repeat_interval, and Prometheus' evaluation interval and resend delay, are the production
values divided by SPEED_UP (1m/5m become 1s/5s), and Prometheus evaluates and re-sends every
second (30s and 1m in the cluster), so that the cadence is seen in seconds; every other part of the
config is as rendered.

What the timings are (docs/alerting.md, "The dead man's switch"):
- A firing alert that does not change is notified again when a group flush (every group_interval)
  finds that its last notification is older than repeat_interval; the log entry is written after
  the send, so the first flush to qualify is usually the one after: repeat_interval to
  repeat_interval + group_interval apart.
  Ref: prometheus/alertmanager@v0.33.1 notify/notify.go DedupStage.needsUpdate ("only notify if the
  repeat interval has passed"), dispatch/dispatch.go aggrGroup.run (a flush every group_interval).
- Prometheus re-sends a firing alert every resend delay with endsAt = now + 4 * max(evaluation
  interval, resend delay); when Prometheus stops, Alertmanager resolves the alert at its last
  endsAt, and a resolved Watchdog is not notified (send_resolved: false).
  Ref: prometheus/prometheus@v3.5.3 rules/alerting.go AlertingRule.sendAlerts (ValidUntil), rules/manager.go
  SendAlerts (EndsAt = ValidUntil).
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

from monitoring.alertmanager import WATCHDOG_ALERT, WATCHDOG_RECEIVER
from monitoring.durations import format_duration, parse_duration
from tests.engines import Notification, Server, WebhookRecorder, http_get, run_alertmanager, run_prometheus
from tests.helpers import ROOT, engine_params, require_engine, stack_plan, wait_until
from tools import engines

# The Watchdog's cadence in real time (about 40 s of waiting, hardly any CPU): started early.
pytestmark = pytest.mark.heavy(40)

SPEED_UP = 60
# Prometheus' evaluation interval and resend delay here (the cluster: evaluationInterval 30s, and
# the resend delay the operator leaves at Prometheus' default, 1m).
# Ref: https://prometheus.io/docs/prometheus/latest/command-line/prometheus/ (--rules.alert.resend-delay, default 1m)
FAST_INTERVAL = FAST_RESEND_DELAY = "1s"
HEARTBEATS_BEFORE_STOP = 3
DELIVERY_SLACK_S = 2.5  # scheduling on a busy 2-core machine; not a measurement


def _fast(duration: str) -> str:
    return format_duration(parse_duration(duration) / SPEED_UP)


@dataclass
class Run:
    prometheus: Server | None = None
    alertmanager: Server | None = None
    recorder: WebhookRecorder | None = None
    stopped_at: float | None = None  # time.monotonic() when Prometheus was stopped
    active_after: list = field(default_factory=list)  # Alertmanager's active Watchdogs at the end
    problem: str | None = None

    def heartbeats(self) -> list[Notification]:
        return [n for n in self.recorder.received("/watchdog") if WATCHDOG_ALERT in json.dumps(n.body)]


def _rendered(recorder_url: str):
    """(watchdog rule file, Alertmanager config, Watchdog route) of the dev stack with the Watchdog
    receiver enabled; the route's timings sped up (the only change)."""
    plan = stack_plan("dev", alerting={
        "businessHours": {"location": "Europe/Berlin"},
        "receivers": {"watchdog": {"enabled": True, "url": f"{recorder_url}/watchdog"}},
    }).alerting  # fmt: skip
    config = yaml.safe_load(plan.alertmanager_config_yaml)
    rendered_route = next(r for r in config["route"]["routes"] if r["receiver"] == WATCHDOG_RECEIVER)
    fast = copy.deepcopy(config)
    route = next(r for r in fast["route"]["routes"] if r["receiver"] == WATCHDOG_RECEIVER)
    route["group_interval"] = _fast(route["group_interval"])
    route["repeat_interval"] = _fast(route["repeat_interval"])
    return plan.rule_files["watchdog"], fast, rendered_route, route


def _stop_bound_s(interval: str, resend_delay: str, route: dict) -> float:
    """How long after Prometheus stops the last Watchdog can still arrive: until the alert's
    endsAt (4 x max(evaluation interval, resend delay) after the last send), plus a flush."""
    return 4 * max(parse_duration(interval), parse_duration(resend_delay)) + parse_duration(route["group_interval"])


def _active_watchdogs(alertmanager: Server) -> list:
    alerts = json.loads(http_get(f"{alertmanager.url}/api/v2/alerts?filter=alertname%3D%22{WATCHDOG_ALERT}%22"))
    return [a for a in alerts if a["status"]["state"] == "active"]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Iterator[tuple[dict[str, Run], dict, dict, tuple[str, str]]]:
    """Per generation: the run; the rendered and the sped-up Watchdog route; Prometheus' (evaluation
    interval, resend delay)."""
    runs: dict[str, Run] = {}
    interval, resend_delay = FAST_INTERVAL, FAST_RESEND_DELAY
    with ExitStack() as stack:
        routes: tuple[dict, dict] | None = None
        proms: dict[str, ExitStack] = {}
        for generation in engines.GENERATIONS:
            prometheus_bin = engines.find("prometheus", generation)
            alertmanager_bin = engines.find("prometheus-alertmanager", generation)
            if prometheus_bin is None or alertmanager_bin is None:
                continue
            run = runs[generation] = Run(recorder=stack.enter_context(WebhookRecorder()))
            rules, config, rendered_route, fast_route = _rendered(run.recorder.url)
            routes = (rendered_route, fast_route)
            engine = engines.ENGINES[generation]
            templates = (str(engine.alertmanager_templates),) if engine.alertmanager_templates else ()
            work = tmp_path_factory.mktemp(f"watchdog-{generation}")
            try:
                run.alertmanager = stack.enter_context(run_alertmanager(alertmanager_bin, config, work / "am", templates))
                proms[generation] = stack.enter_context(ExitStack())
                run.prometheus = proms[generation].enter_context(run_prometheus(
                    prometheus_bin, work / "prometheus", rule_files={"watchdog": rules},
                    alertmanager_url=run.alertmanager.url, interval=interval, resend_delay=resend_delay,
                ))  # fmt: skip
            except (RuntimeError, TimeoutError) as error:
                run.problem = f"did not start: {error}"
        live = {g: r for g, r in runs.items() if r.problem is None}
        rendered_route, fast_route = routes if routes else ({}, {})
        cadence = parse_duration(fast_route.get("repeat_interval", "0s")) + parse_duration(fast_route.get("group_interval", "0s"))
        try:
            wait_until(
                lambda: all(len(r.heartbeats()) >= HEARTBEATS_BEFORE_STOP for r in live.values()),
                timeout=15 + HEARTBEATS_BEFORE_STOP * (cadence + DELIVERY_SLACK_S), interval=0.2,
                what="the Watchdog's heartbeats",
            )  # fmt: skip
        except TimeoutError as error:
            for run in live.values():
                run.problem = f"{error}: {len(run.heartbeats())} arrived\n{run.alertmanager.log_tail()}"
        for generation, run in live.items():
            proms[generation].close()
            run.stopped_at = time.monotonic()
        if live:
            bound = _stop_bound_s(interval, resend_delay, fast_route)
            # Watch for two whole cadences after the bound: a Watchdog still repeating would show.
            time.sleep(bound + DELIVERY_SLACK_S + 2 * cadence)
        for run in live.values():
            run.active_after = _active_watchdogs(run.alertmanager)
        yield runs, rendered_route, fast_route, (interval, resend_delay)


@pytest.fixture(params=engine_params("prometheus", "prometheus-alertmanager"))
def run(request, scenario) -> Run:
    require_engine("prometheus", request.param)
    require_engine("prometheus-alertmanager", request.param)
    runs = scenario[0]
    if runs[request.param].problem:
        pytest.fail(runs[request.param].problem)
    return runs[request.param]


def _gaps(notifications: list[Notification]) -> list[float]:
    times = [n.received_at for n in notifications]
    return [b - a for a, b in zip(times, times[1:])]


def test_the_watchdog_repeats_at_the_routes_cadence(run, scenario):
    _, _, route, _ = scenario
    repeat, group = parse_duration(route["repeat_interval"]), parse_duration(route["group_interval"])
    before = [n for n in run.heartbeats() if n.received_at < run.stopped_at]
    gaps = _gaps(before)
    assert len(gaps) >= HEARTBEATS_BEFORE_STOP - 1
    # Never sooner than repeat_interval; at the latest at the flush after the one that could.
    assert all(repeat - 0.5 <= gap <= repeat + group + DELIVERY_SLACK_S for gap in gaps), gaps


def test_the_watchdog_stops_arriving_when_prometheus_stops(run, scenario):
    _, _, route, (interval, resend_delay) = scenario
    bound = _stop_bound_s(interval, resend_delay, route)
    late = [round(n.received_at - run.stopped_at, 1) for n in run.heartbeats() if n.received_at > run.stopped_at + bound + DELIVERY_SLACK_S]
    assert late == [], f"Watchdogs {late} s after Prometheus stopped (bound {bound} s)"


def test_alertmanager_resolved_the_watchdog_after_its_ends_at(run):
    assert run.active_after == []


def test_the_route_sped_up_is_the_rendered_one(scenario):
    # The knob changes two timings and nothing else of the route.
    _, rendered, fast, _ = scenario
    assert {k: v for k, v in fast.items() if not k.endswith("_interval")} == {
        k: v for k, v in rendered.items() if not k.endswith("_interval")
    }
    assert parse_duration(fast["repeat_interval"]) * SPEED_UP == parse_duration(rendered["repeat_interval"])


def test_the_docs_heartbeat_period_matches_the_rendered_route(scenario):
    # The external check the docs tell operators to set up expects a heartbeat at least every
    # repeat_interval + group_interval (the cadence above, at production timings).
    _, rendered, _, _ = scenario
    period = format_duration(parse_duration(rendered["repeat_interval"]) + parse_duration(rendered["group_interval"]))
    doc = " ".join((ROOT / "docs" / "alerting.md").read_text().replace("**", "").split())
    assert f"expects a heartbeat every {period}" in doc
