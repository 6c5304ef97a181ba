"""Live end-to-end: the rendered rules in a real Prometheus, the built routing in a real Alertmanager.

A synthetic exporter makes service "checkout" answer 10% of its requests with a 503 (a fast burn of
the 99.9% availability budget: P1, plus the P2/P3 tiers and the RED alert, all for the same service)
and gives database "postgres" a poor cache hit ratio on two databases (P4). The services have owners
(alerting_helpers.OWNERS): checkout is the API team's (area api), postgres the data team's (area
database), so the page must carry the routing key of area api's P1 service only, and the ticket go
to the data team's queue only. Every receiver points at a local recorder: PagerDuty through its
`url`, Slack through the `api_url_file` secret, the ticket and Watchdog webhooks through their URLs.
Email stays disabled here (its config is covered by amtool).

The scenario runs once per module and engine generation (tools/engines.py: Prometheus 3.5.3 with
Alertmanager 0.33.1, as the charts deploy, and bookworm's 2.42 with 0.25), both generations at the
same time: the run is mostly waiting, so the second costs almost nothing. Each test asserts one
behaviour on what the recorder of its generation received. Rules use `for: 0s` and Alertmanager
short group waits (P1 1s, others 5s), the only test-only knobs.
"""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitoring.alert_rules import build_rule_files
from monitoring.alertmanager import (
    RECEIVER_SECRET_KEYS,
    TICKET_QUEUE_PARAMETER,
    build_alertmanager_config,
    pagerduty_routing_key,
)
from monitoring.pagerduty import paging_severities
from monitoring.severity import RouteTiming, Severity
from tests.engines import (
    ApiService,
    ApiTraffic,
    Notification,
    PostgresDatabase,
    PostgresStats,
    SyntheticExporter,
    WebhookRecorder,
    run_alertmanager,
    run_prometheus,
)
from tests.helpers import engine_params, require_engine, wait_until
from tests.monitoring.alerting_helpers import API, DATABASE, OWNERS, live_alertmanager_config, make_spec, with_for
from tools import engines

# Waits for real notifications (about 20 s): started early.
pytestmark = pytest.mark.heavy(20)

# Each area's PagerDuty services have their own integration key; the page must use its owner's.
ROUTING_KEYS = {pagerduty_routing_key(o.area, s): f"e2e-key-{o.area}-{s.value.lower()}" for o in OWNERS for s in paging_severities()}
TICKET_TOKEN = "e2e-ticket-token"
P4_TICKETS = f"ticket-{DATABASE.team}-p4"
P1_WAIT, OTHER_WAIT = "1s", "5s"
TIMING = {
    Severity.P1: RouteTiming(P1_WAIT, "1m", "1h"),
    Severity.P2: RouteTiming(OTHER_WAIT, "1m", "1h"),
    Severity.P3: RouteTiming(OTHER_WAIT, "1m", "1h"),
    Severity.P4: RouteTiming(OTHER_WAIT, "1m", "1h"),
}


@dataclass(frozen=True)
class Outcome:
    notifications: list[Notification]

    def at(self, path: str) -> list[Notification]:
        return [n for n in self.notifications if urlsplit(n.path).path == path]

    def slack(self, channel: str) -> list[Notification]:
        return [n for n in self.at("/slack") if n.body.get("channel") == channel]

    def tickets(self, receiver: str) -> list[Notification]:
        return [n for n in self.at("/ticket") if n.body.get("receiver") == receiver]

    def queues(self, alertname: str) -> set[str]:
        """The ticket queues the tickets mentioning `alertname` were opened in."""
        return {q for n in self.at("/ticket") if alertname in str(n.body) for q in parse_qs(urlsplit(n.path).query)[TICKET_QUEUE_PARAMETER]}

    def mentions(self, alertname: str) -> list[Notification]:
        return [n for n in self.notifications if alertname in str(n.body)]


def _live_spec(recorder_url: str):
    return make_spec(
        environment="e2e",
        receivers={
            "pagerduty": {"enabled": True, "url": f"{recorder_url}/pagerduty"},
            "slack": {"enabled": True},
            "ticket": {"enabled": True, "url": f"{recorder_url}/ticket"},
            "watchdog": {"enabled": True, "url": f"{recorder_url}/watchdog"},
        },
        # Always "business hours", so the P4 route is active whenever the test runs.
        businessHours={"weekdays": ["sunday:saturday"], "startTime": "00:00", "endTime": "24:00", "location": "UTC"},
    )


def _write_secrets(directory: Path, recorder_url: str) -> None:
    directory.mkdir(parents=True)
    values = {"slack": f"{recorder_url}/slack", "email": "unused", "ticket": TICKET_TOKEN}
    for kind, key in RECEIVER_SECRET_KEYS.items():
        (directory / key).write_text(values[kind])
    for key, value in ROUTING_KEYS.items():
        (directory / key).write_text(value)


def _run_scenario(generation: str, work: Path) -> Outcome:
    engine = engines.ENGINES[generation]
    templates = (str(engine.alertmanager_templates),) if engine.alertmanager_templates else ()
    prometheus_bin, alertmanager_bin = engines.find("prometheus", generation), engines.find("prometheus-alertmanager", generation)
    services = [ApiService("checkout", rps=50, error_ratio=0.10), ApiService("search", rps=50)]
    databases = [
        PostgresDatabase("postgres", "orders", hit_per_s=900, read_per_s=100),
        PostgresDatabase("postgres", "billing", hit_per_s=800, read_per_s=200),
    ]
    with WebhookRecorder() as recorder, SyntheticExporter(ApiTraffic(services), PostgresStats(databases)) as exporter:
        spec = _live_spec(recorder.url)
        _write_secrets(work / "secrets", recorder.url)
        am_config = live_alertmanager_config(build_alertmanager_config(spec, OWNERS), str(work / "secrets"), TIMING)
        with run_alertmanager(alertmanager_bin, am_config, work / "alertmanager", templates) as am:
            rules = with_for(build_rule_files(spec), "0s")
            with run_prometheus(
                prometheus_bin, work / "prometheus", rule_files=rules, scrape_target=exporter.target, alertmanager_url=am.url
            ) as prom:

                def arrived() -> bool:
                    return bool(recorder.received("/pagerduty")) and any(
                        n.body.get("receiver") == P4_TICKETS for n in recorder.received() if n.path.startswith("/ticket")
                    )

                try:
                    wait_until(arrived, timeout=45, what="the P1 page and the P4 ticket")
                except TimeoutError as exc:
                    raise AssertionError(
                        f"{exc}; received {[(n.path, n.body.get('receiver')) for n in recorder.received()]}\n"
                        f"--- prometheus\n{prom.log_tail()}\n--- alertmanager\n{am.log_tail()}"
                    ) from None
                # Long enough for any P2/P3 notification to leave if inhibition did not hold.
                time.sleep(8)
        return Outcome(recorder.received())


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory) -> dict[str, Future]:
    """The scenario of every generation whose binaries are there, run in parallel (one thread each:
    every server and recorder is its own, on its own ports); a failure stays in its Future."""
    work = tmp_path_factory.mktemp("live")
    available = [g for g in engines.GENERATIONS if all(engines.find(t, g) for t in ("prometheus", "prometheus-alertmanager"))]
    with ThreadPoolExecutor(max_workers=max(1, len(available))) as pool:
        return {g: pool.submit(_run_scenario, g, work / f"generation-{g}") for g in available}


@pytest.fixture(params=engine_params("prometheus", "prometheus-alertmanager"))
def outcome(request, scenarios) -> Outcome:
    """What one generation's recorder received; a missing binary fails under CI and skips locally."""
    require_engine("prometheus", request.param)
    require_engine("prometheus-alertmanager", request.param)
    return scenarios[request.param].result()


def test_p1_burn_pages_the_owning_areas_service_with_its_routing_key_from_its_secret_file(outcome):
    pages = outcome.at("/pagerduty")
    assert pages and {p.body["routing_key"] for p in pages} == {ROUTING_KEYS[pagerduty_routing_key(API.area, Severity.P1)]}
    assert any("ApiAvailabilityBudgetBurn" in p.body["payload"]["summary"] for p in pages)
    assert {p.body["payload"]["severity"] for p in pages} == {"critical"}


def test_an_alert_of_one_teams_service_reaches_that_teams_receivers_and_no_other_teams(outcome):
    # checkout (the API team's) paged area api's service only; postgres (the data team's) opened
    # tickets in the data team's queue only, and paged nobody.
    checkout, postgres = outcome.mentions("ApiAvailabilityBudgetBurn"), outcome.mentions("PostgresLowCacheHitRatio")
    assert {n.body["payload"]["custom_details"]["team"] for n in checkout if "payload" in n.body} == {API.team}
    assert outcome.queues("ApiAvailabilityBudgetBurn") == set()
    assert postgres and {urlsplit(n.path).path for n in postgres} == {"/ticket"}
    assert outcome.queues("PostgresLowCacheHitRatio") == {DATABASE.ticket_queue}


def test_p1_burn_posts_to_the_p1_slack_channel(outcome):
    assert any("ApiAvailabilityBudgetBurn" in str(n.body) for n in outcome.slack("#alerts-p1"))


def test_p1_inhibits_p2_and_p3_of_the_same_service(outcome):
    assert outcome.slack("#alerts-p2") == []
    assert outcome.slack(API.slack_channel) == []
    assert outcome.tickets(f"ticket-{API.team}-p3") == []
    assert {p.body["routing_key"] for p in outcome.at("/pagerduty")} <= {ROUTING_KEYS[pagerduty_routing_key(API.area, Severity.P1)]}


def test_p4_condition_reaches_only_the_owning_teams_ticket_receiver(outcome):
    assert {n.body["receiver"] for n in outcome.mentions("PostgresLowCacheHitRatio")} == {P4_TICKETS}


def test_ticket_webhook_authenticates_with_the_token_from_its_secret_file(outcome):
    (ticket, *_) = outcome.tickets(P4_TICKETS)
    assert ticket.headers.get("Authorization") == f"Bearer {TICKET_TOKEN}"


def test_p4_alerts_of_one_service_are_grouped_into_one_ticket(outcome):
    tickets = outcome.tickets(P4_TICKETS)
    assert len(tickets) == 1
    assert sorted(a["labels"]["datname"] for a in tickets[0].body["alerts"]) == ["billing", "orders"]


def test_alerts_carry_the_stack_environment(outcome):
    (ticket, *_) = outcome.tickets(P4_TICKETS)
    assert ticket.body["commonLabels"]["environment"] == "e2e"


def test_watchdog_reaches_its_own_receiver(outcome):
    assert outcome.at("/watchdog")
    assert all("Watchdog" not in str(n.body) for n in outcome.at("/slack") + outcome.at("/pagerduty"))
