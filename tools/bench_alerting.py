#!/usr/bin/env python3
"""Benchmark of the alerting strategy in real Prometheus and Alertmanager (Debian binaries).

Prints, from one run:
1. the rule count of the full rule set (recording and alerting rules);
2. its evaluation time in Prometheus against a synthetic load of 50 services (API histograms with
   5 routes x 2 methods x 3 status codes each, plus PostgreSQL series), read from Prometheus's own
   `prometheus_rule_group_last_duration_seconds`, and that time per 10k head series;
3. the end-to-end alert latency (breach in the exporter -> P1 notification at the PagerDuty
   receiver) against its theoretical floor `for + group_wait + evaluation interval`;
4. the P1 latency at production timings (30s scrape and evaluation, the real `for: 2m`, 3h of
   history before the burn starts), for the old formulation (every window from raw series) and the
   new one (tools/bench_history.py) side by side: promtool evaluates both rule sets over the same
   series, and the first evaluation at which the P1 alert fires, plus P1's group_wait, is compared
   with the same floor. (The live run above starts from a fresh TSDB: there every 5m record is the
   average since Prometheus started, which no production Prometheus sees; this part has history.)

Usage: python tools/bench_alerting.py [--services 50] [--interval 2]
Everything listens on 127.0.0.1 and stops at the end; the run is bounded (about 1-2 minutes).
Caveat: a fresh TSDB holds minutes of data, so long windows (1d, 3d, 30d) scan few samples; the
figure measures the cost of the rule set against series count, not against weeks of history
(tools/bench_history.py measures that).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project root, for its packages and tests/

from tests.engines import (  # noqa: E402  (the harness of the live tests)
    ApiService,
    ApiTraffic,
    PostgresDatabase,
    PostgresStats,
    SyntheticExporter,
    WebhookRecorder,
    find_binary,
    prometheus_metric,
    run_alertmanager,
    run_prometheus,
)
from tests.helpers import wait_until  # noqa: E402
from tests.monitoring.alerting_helpers import live_alertmanager_config, with_for  # noqa: E402

from monitoring.alert_rules import build_rule_files  # noqa: E402
from monitoring.alerting_spec import AlertingSpec  # noqa: E402
from monitoring.alertmanager import RECEIVER_SECRET_KEYS, RouteOwner, build_alertmanager_config, pagerduty_routing_key  # noqa: E402
from monitoring.severity import RouteTiming, Severity  # noqa: E402
from monitoring.durations import format_duration, parse_duration  # noqa: E402

FOR = "5s"  # shortened `for` so the latency run stays short; the floor accounts for it
P1_GROUP_WAIT = "1s"
ROUTES = ("/api/v1/orders", "/api/v1/cart", "/api/v1/users", "/api/v1/search", "/api/v1/checkout")
WARMUP_SECONDS = 25
LATENCY_TIMEOUT = 60
# One owner for every synthetic service: the fallback area pages for all of them.
BENCH_OWNER = RouteOwner("platform", "platform-team", (), "#team-platform", "PLAT", fallback=True)


def _spec(recorder_url: str) -> AlertingSpec:
    return AlertingSpec.model_validate(
        {
            "environment": "bench",
            "receivers": {
                "pagerduty": {"enabled": True, "url": f"{recorder_url}/pagerduty"},
                "slack": {"enabled": True},
                "ticket": {"enabled": True, "url": f"{recorder_url}/ticket"},
                "watchdog": {"enabled": True, "url": f"{recorder_url}/watchdog"},
            },
            "businessHours": {"weekdays": ["sunday:saturday"], "startTime": "00:00", "endTime": "24:00", "location": "UTC"},
        }
    )


def _rule_counts(rule_files: dict[str, dict]) -> tuple[int, int]:
    rules = [r for content in rule_files.values() for g in content["groups"] for r in g["rules"]]
    return sum("record" in r for r in rules), sum("alert" in r for r in rules)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--interval", type=float, default=2.0, help="scrape and evaluation interval, seconds")
    args = parser.parse_args()
    prometheus_bin, alertmanager_bin = find_binary("prometheus"), find_binary("prometheus-alertmanager")
    if not (prometheus_bin and alertmanager_bin):
        print("prometheus and prometheus-alertmanager are required: apt-get install -y prometheus prometheus-alertmanager")
        return 2
    interval = f"{int(args.interval * 1000)}ms"
    services = [
        ApiService(f"svc-{i:03d}", rps=20, routes=ROUTES, methods=("GET", "POST"), client_error_ratio=0.002)
        for i in range(args.services)
    ]
    databases = [PostgresDatabase(f"svc-{i:03d}", "main", hit_per_s=990, read_per_s=10) for i in range(args.services)]
    victim = services[len(services) // 2].name
    started = time.monotonic()

    traffic = ApiTraffic(services)
    with tempfile.TemporaryDirectory(prefix="bench-alerting-") as tmp, WebhookRecorder() as recorder, SyntheticExporter(
        traffic, PostgresStats(databases)
    ) as exporter:
        work = Path(tmp)
        spec = _spec(recorder.url)
        secrets = work / "secrets"
        secrets.mkdir()
        for kind, key in RECEIVER_SECRET_KEYS.items():
            (secrets / key).write_text(f"{recorder.url}/slack" if kind == "slack" else "bench")
        for severity in (Severity.P1, Severity.P2):
            (secrets / pagerduty_routing_key(BENCH_OWNER.area, severity)).write_text("bench")
        fast = RouteTiming(P1_GROUP_WAIT, "1m", "1h")
        timing = {s: fast if s is Severity.P1 else RouteTiming("5s", "1m", "1h") for s in Severity}
        rule_files = with_for(build_rule_files(spec), FOR)
        records, alerts = _rule_counts(rule_files)
        exporter_series = exporter.series_count()

        am_config = live_alertmanager_config(build_alertmanager_config(spec, (BENCH_OWNER,)), str(secrets), timing)
        with run_alertmanager(alertmanager_bin, am_config, work / "am") as am, run_prometheus(
            prometheus_bin, work / "prom", rule_files=rule_files, scrape_target=exporter.target, alertmanager_url=am.url,
            interval=interval,
        ) as prom:
            # --- 1. evaluation cost under load ---------------------------------------------------
            time.sleep(WARMUP_SECONDS)
            durations = prometheus_metric(prom.url, "prometheus_rule_group_last_duration_seconds")
            head_series = prometheus_metric(prom.url, "prometheus_tsdb_head_series")[0][1]
            total_eval = sum(v for _, v in durations)
            slowest = max(durations, key=lambda item: item[1])
            per_10k = total_eval / (head_series / 10_000)

            # --- 2. end-to-end latency: breach -> P1 page ----------------------------------------
            before = len(recorder.received("/pagerduty"))
            breach_at = time.monotonic()
            traffic.set_error_ratio(victim, 0.5)

            def paged():
                return next(
                    (n for n in recorder.received("/pagerduty")[before:] if victim in json.dumps(n.body)),
                    None,
                )

            page = wait_until(paged, LATENCY_TIMEOUT, interval=0.05, what=f"the P1 page for {victim}")
            latency = page.received_at - breach_at

    floor = parse_duration(FOR) + parse_duration(P1_GROUP_WAIT) + args.interval
    result = {
        "services": args.services,
        "rules_recording": records,
        "rules_alerting": alerts,
        "rules_total": records + alerts,
        "exporter_series": exporter_series,
        "head_series": int(head_series),
        "eval_seconds_all_groups": round(total_eval, 4),
        "eval_seconds_per_10k_series": round(per_10k, 4),
        "slowest_group": slowest[0].split(';')[-1].rstrip('"}'),
        "slowest_group_seconds": round(slowest[1], 4),
        "evaluation_interval_seconds": args.interval,
        "eval_share_of_interval": round(total_eval / args.interval, 3),
        "alert_latency_seconds": round(latency, 2),
        "alert_latency_floor_seconds": floor,
        "latency_over_floor": round(latency / floor, 2),
        "run_seconds": round(time.monotonic() - started, 1),
    }
    width = max(map(len, result))
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(result))
    print()
    production_latency()
    return 0


# --- P1 latency at production timings (promtool) ---------------------------------------------------

LATENCY_SLO = "api-availability"
HISTORY_BEFORE = 3 * 3600  # longer than the P1 long window, so every window is full when the burn starts
WATCH = 30 * 60  # how long after the burn starts the alert is looked for
BASE_ERROR_RATIO = 0.0005  # half the budget of 0.1%
BURNS = (1.0, 0.2, 0.05)  # error ratios after the step: 1000x, 200x, 50x the budget
REQUESTS_PER_STEP = 1000.0


def _first_p1(promtool: str, work: Path, name: str, groups: list[dict], error_ratio: float, step: int, alert: str) -> float | None:
    """Seconds from the start of the burn to the first evaluation at which the P1 tier fires."""
    import subprocess

    import yaml

    before, after = HISTORY_BEFORE // step, WATCH // step

    def counter(per_step: list[float]) -> str:
        values, value = [], 0.0
        for increment in per_step:
            values.append(repr(value))
            value += increment
        return " ".join(values)

    good = [REQUESTS_PER_STEP * (1 - BASE_ERROR_RATIO)] * before + [REQUESTS_PER_STEP * (1 - error_ratio)] * after
    bad = [REQUESTS_PER_STEP * BASE_ERROR_RATIO] * before + [REQUESTS_PER_STEP * error_ratio] * after
    metric = "http_server_request_duration_seconds_count"
    rules = work / f"{name}.yaml"
    rules.write_text(yaml.safe_dump({"groups": [{k: v for k, v in g.items() if k != "interval"} for g in groups]}))
    checks = [{"eval_time": f"{(before + k) * step}s", "alertname": alert, "exp_alerts": []} for k in range(after)]
    test = work / f"test-{name}-{error_ratio}.yaml"
    test.write_text(yaml.safe_dump({
        "rule_files": [str(rules)], "evaluation_interval": f"{step}s",
        "tests": [{"interval": f"{step}s", "alert_rule_test": checks, "input_series": [
            {"series": f'{metric}{{service="victim",http_response_status_code="200"}}', "values": counter(good)},
            {"series": f'{metric}{{service="victim",http_response_status_code="503"}}', "values": counter(bad)},
        ]}],
    }))
    result = subprocess.run([promtool, "test", "rules", str(test)], capture_output=True, text=True, check=False)
    # Every check expects silence: the failures are the evaluations at which something fired; the
    # first one naming severity P1 is the page.
    for block in (result.stdout + result.stderr).split("alertname: ")[1:]:
        head = block.split(",", 2)
        if 'severity="P1"' in block.split("got:", 1)[-1]:
            return parse_duration(head[1].strip().removeprefix("time: ")) - HISTORY_BEFORE
    return None


def production_latency() -> None:
    from tools import engines
    from tools.bench_history import PRODUCTION_INTERVAL, old_rule_files

    promtool = engines.find("promtool", "3")
    if not promtool:
        print(engines.missing_message("promtool", "3"))
        return
    spec = AlertingSpec.model_validate({"environment": "bench"})
    old = {g["name"]: g for content in old_rule_files(spec).values() for g in content["groups"]}
    new = {g["name"]: g for content in build_rule_files(spec).values() for g in content["groups"]}
    names = (f"slo-{LATENCY_SLO}",)
    alert = next(r["alert"] for r in new[names[0]]["rules"] if "alert" in r)
    p1 = next(r for r in new[names[0]]["rules"] if r.get("labels", {}).get("severity") == "P1")
    step = int(PRODUCTION_INTERVAL)
    from monitoring.severity import SEVERITIES

    group_wait = parse_duration(SEVERITIES[Severity.P1].timing.group_wait)
    floor = parse_duration(p1["for"]) + group_wait + step
    print(f"P1 latency at production timings ({engines.ENGINES['3'].label('promtool')}; {LATENCY_SLO}, budget 0.1%,"
          f" {step}s scrape and evaluation, for {p1['for']}, group_wait {format_duration(group_wait)};"
          f" floor {format_duration(floor)})")
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        for ratio in BURNS:
            fired = {name: _first_p1(promtool, Path(tmp), name, [sets[n] for n in names], ratio, step, alert)
                     for name, sets in (("old", old), ("new", new))}
            cells = []
            for name in ("old", "new"):
                t = fired[name]
                cells.append(f"{name} {format_duration(t + group_wait) if t is not None else 'never'}"
                             f" ({(t + group_wait) / floor:.2f}x floor)" if t is not None else f"{name} never")
            print(f"  error ratio {ratio:>5.0%} from a {BASE_ERROR_RATIO:.2%} baseline: " + ", ".join(cells))


if __name__ == "__main__":
    sys.exit(main())
