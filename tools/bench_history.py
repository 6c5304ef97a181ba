#!/usr/bin/env python3
"""Benchmark of the rule set's evaluation cost on real history (`make bench`, after bench_alerting).

A fresh TSDB holds minutes of data, so there `rate(x[3d])` reads a few minutes of samples and any
long-window rule looks cheap. This bench writes days of synthetic history for every series the
SLOs read (at least 1000 series behind each selector of an SLO), turns it into 2h blocks with
`promtool tsdb create-blocks-from openmetrics` (the blocks Prometheus keeps next to a Thanos
sidecar), backfills the SLOs' 5m records from it with `promtool tsdb create-blocks-from rules`,
starts Prometheus on it and evaluates, in the same run and interleaved, two formulations of the
same rule set at the end of the history:
- old: every SLO window read from raw series (`raw_error_ratio_expr`, the rules before issue 14);
- new: the rendered rules (every window longer than 5m from the recorded 5m series, monitoring/slo.py).
It does so twice: on the whole history (`--days`) and on its last `--short-days` (the newest blocks
only), which shows how each formulation's cost grows with the history its windows read.

Each rule is evaluated as the rule manager evaluates it, an instant query of the engine at the
group's timestamp (rules/manager.go `EngineQueryFunc`), through the HTTP API with `stats=all`: the
engine's own time (`evalTotalTime`, without HTTP and JSON) and the samples it read
(`totalQueryableSamples`). One warm-up pass, then the median of `--repeats` passes. Per group the
sum of its rules, reported per 10k raw series.

Extrapolation to production (30 days of history, 1M series, scrape and evaluation every 30s): per
rule, time = fixed + per-sample cost x samples read. The per-sample cost of each formulation is
fitted from how time and samples grew between the two history lengths; the samples a rule reads in
production follow from its window (the history it reads grows until its window is full), from the
resolution (the history is written at one point every `--resolution`, production's 30s is denser),
and from the series count (everything, records included, assumed to grow with it). A group's share
of the production evaluation interval counts it once per its own interval (the 5m budget groups a
tenth as often as the 30s ones).

Usage: python tools/bench_history.py [--days 3] [--short-days 1.5] [--resolution 2m] [--engine 3]
Everything runs on 127.0.0.1 in a temporary directory, about two to three minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project root, for its packages and tests/

from tests.engines import instant_query, run_prometheus  # noqa: E402
from tests.history import HISTORY_FLAGS, backfill_records, move_blocks  # noqa: E402
from tests.monitoring.alerting_helpers import make_spec  # noqa: E402

from monitoring.alert_rules import build_rule_files  # noqa: E402
from monitoring.durations import format_duration, parse_duration  # noqa: E402
from monitoring.slo import (  # noqa: E402
    BAD_RATE_RECORD,
    TOTAL_RATE_RECORD,
    effective_slos,
    ratio_record,
    raw_error_ratio_expr,
    recorded_inputs,
)
from monitoring.windows import lookback_seconds  # noqa: E402
from plan.settings import PrometheusSettings  # noqa: E402
from tools import engines  # noqa: E402

PRODUCTION_INTERVAL = parse_duration(PrometheusSettings.model_fields["evaluation_interval"].default)
PRODUCTION_SCRAPE = parse_duration(PrometheusSettings.model_fields["scrape_interval"].default)
BLOCK = 2 * 3600  # promtool's and Prometheus' block range: one OpenMetrics file per block
END = 1_767_225_600 + 40 * 86400  # a fixed time, so runs are comparable: 2026-02-10T00:00Z
TARGET_RATIO = 1 / 5  # issue 14: the new rule set at most 1/5 of the old one on the same history
TARGET_SHARE = 0.25  # and 1M series with 30 days of history within 25% of the evaluation interval
SERIES_1M = 1_000_000
HISTORY_30D = 30 * 86400


# --- the synthetic history ------------------------------------------------------------------------


@dataclass(frozen=True)
class Family:
    """Label sets of one producer: `groups` values of the SLO label times `per_group` label sets
    under each (routes x methods x codes, pages, instances...)."""

    label: str  # the SLO label: service or app
    groups: int
    per_group: tuple[tuple[str, tuple[str, ...]], ...]  # (label, values) multiplied out

    def label_sets(self) -> list[str]:
        sets = [f'{self.label}="{self.label[:3]}-{g:03d}"' for g in range(self.groups)]
        for name, values in self.per_group:
            sets = [f'{s},{name}="{v}"' for s in sets for v in values]
        return sets


API = Family("service", 40, (("http_route", ("/a", "/b", "/c", "/d", "/e")), ("http_request_method", ("GET", "POST")),
                             ("http_response_status_code", ("200", "404", "503"))))
FRONTEND = Family("app", 20, (("page", tuple(f"p{i}" for i in range(50))),))
DATABASE = Family("service", 20, (("instance", tuple(f"db-{i}" for i in range(50))),))
# Requests (or page views, operations) per second of one label set, and the share that is bad.
RATE, BAD_SHARE = 2.0, 0.002


def _series(resolution: int) -> list[tuple[str, str, float]]:
    """(series text, kind, parameter) of every synthetic series: kind "counter" (parameter: events
    per second), "gauge" (its value) or "up" (1, with a short outage on one label set in 50)."""
    out: list[tuple[str, str, float]] = []

    def add(name: str, family: Family, kind: str, value: float, extra: str = "") -> None:
        out.extend((f"{name}{{{s}{extra}}}", kind, value) for s in family.label_sets())

    http = "http_server_request_duration_seconds"
    for s in API.label_sets():
        bad = s.endswith('"503"')
        rate = RATE * (BAD_SHARE * 10 if bad else 1.0)
        out.append((f"{http}_count{{{s}}}", "counter", rate))
        out.append((f'{http}_bucket{{{s},le="0.3"}}', "counter", rate * 0.97))
        out.append((f'{http}_bucket{{{s},le="1"}}', "counter", rate * 0.995))
    add("browser_page_views_total", FRONTEND, "counter", RATE)
    add("browser_js_errors_total", FRONTEND, "counter", RATE * BAD_SHARE * 0.01)
    for metric, bound in (("browser_time_to_interactive_seconds", "2"), ("browser_page_load_duration_seconds", "3")):
        add(f"{metric}_count", FRONTEND, "counter", RATE)
        add(f"{metric}_bucket", FRONTEND, "counter", RATE * 0.97, f',le="{bound}"')
    add("probe_success", FRONTEND, "up", 1.0, ',job="blackbox-frontend"')
    add("db_client_operation_duration_seconds_count", DATABASE, "counter", RATE)
    add("db_client_operation_duration_seconds_bucket", DATABASE, "counter", RATE * 0.97, ',le="0.1"')
    add("terrafusion_db_connection_attempts_total", DATABASE, "counter", RATE / 10)
    add("terrafusion_db_connection_failures_total", DATABASE, "counter", RATE / 10 * BAD_SHARE * 0.01)
    add("pg_up", DATABASE, "up", 1.0)
    add("pg_replication_lag_seconds", DATABASE, "gauge", 0.5)
    return out


def _write_block(path: Path, series: list[tuple[str, str, float]], start: int, end: int, resolution: int) -> Path:
    """The samples of [start, end) as OpenMetrics. A counter's rate follows a daily wave (x1.5 by
    day, x0.5 by night), its value the integral of it, plus a little jitter (so that chunks compress
    like scraped ones; never enough to read as a reset); gauges follow the wave around their value."""
    stamps = list(range(start, end, resolution))
    omega = 2 * math.pi / 86400
    integral = [t - END + 0.5 * (1 - math.cos(omega * t)) / omega for t in stamps]  # of 1 + 0.5 sin
    wave = [1 + 0.2 * math.sin(omega * t) for t in stamps]
    text = [str(t) for t in stamps]
    with path.open("w") as out:
        for index, (name, kind, value) in enumerate(series):
            if kind == "counter":
                offset = 10**7 * value + index
                values = [str(int(offset + value * i) + (index + k) % 3) for k, i in enumerate(integral)]
            elif kind == "up":
                down = index % 50 == 7
                values = ["0" if down and (t // 3600) % 24 == 3 and t % 3600 < 600 else "1" for t in stamps]
            else:
                values = [repr(round(value * w, 3)) for w in wave]
            prefix = name + " "
            out.write("".join([f"{prefix}{v} {t}\n" for v, t in zip(values, text)]))
        out.write("# EOF\n")
    return path


def build_history(promtool: str, workdir: Path, series, start: int, end: int, resolution: int) -> Path:
    """2h blocks of [start, end) in workdir/raw: one OpenMetrics file per block, written and turned
    into a block two at a time (each promtool run parses only its own block's file)."""
    raw = workdir / "raw"
    raw.mkdir(parents=True)
    spans = list(range(start, end, BLOCK))

    def one(span: int) -> None:
        source = _write_block(workdir / f"history-{span}.om", series, span, min(span + BLOCK, end), resolution)
        result = subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(source), str(raw)],
                                capture_output=True, text=True, check=False)
        source.unlink()
        if result.returncode != 0:
            raise RuntimeError(f"create-blocks-from openmetrics failed: {result.stderr[-2000:]}")

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, spans))
    return raw


# --- the two formulations ---------------------------------------------------------------------------


def new_rule_files(spec) -> dict[str, dict]:
    return build_rule_files(spec)


def old_rule_files(spec) -> dict[str, dict]:
    """The same rule set with every SLO ratio read from raw series and no 5m records: the
    formulation before issue 14 (raw_error_ratio_expr is what the derived rules must equal)."""
    slos = {s.id: s for s in effective_slos(spec)}
    files = build_rule_files(spec)
    for content in files.values():
        for group in content["groups"]:
            slo = slos.get(group["name"].removeprefix("slo-").removesuffix("-budget"))
            if slo is None:
                continue
            rules = []
            for rule in group["rules"]:
                name = rule.get("record", "")
                if name in (BAD_RATE_RECORD, TOTAL_RATE_RECORD):
                    continue
                if name.startswith("slo:sli_error:ratio_rate"):
                    rule = {**rule, "expr": raw_error_ratio_expr(slo, name.removeprefix("slo:sli_error:ratio_rate"))}
                rules.append(rule)
            group["rules"] = rules
    return files


def _groups(files: dict[str, dict]) -> list[dict]:
    return [g for content in files.values() for g in content["groups"]]


def record_groups(spec) -> list[dict]:
    """The rules that record the SLOs' 5m inputs, one group per SLO (what the backfill evaluates)."""
    out = []
    for slo in effective_slos(spec):
        rules = [r for g in _groups(build_rule_files(spec)) if g["name"] == f"slo-{slo.id}" for r in g["rules"]
                 if r.get("record") in recorded_inputs(slo)]
        if rules:
            out.append({"name": f"records-{slo.id}", "rules": rules})
    return out


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class RuleCost:
    group: str
    rule: str
    interval: float
    window: float  # seconds of history the rule reads (monitoring/windows.py lookback)
    seconds: float
    samples: float


def _evaluate(url: str, expr: str, at: int) -> tuple[float, float]:
    answer = instant_query(url, expr, at=at, stats=True, timeout=300)
    if answer.get("status") != "success":
        raise RuntimeError(f"{expr[:120]}: {answer.get('error')}")
    stats = answer["data"]["stats"]
    return stats["timings"]["evalTotalTime"], stats["samples"]["totalQueryableSamples"]


def measure(url: str, rule_sets: dict[str, list[dict]], at: int, repeats: int) -> dict[str, list[RuleCost]]:
    """Per formulation, every rule's median evaluation time and samples read; the formulations
    interleaved group by group, after one warm-up pass (production evaluates every 30s: its data is
    in the page cache)."""
    times: dict[tuple[str, int, int], list[float]] = {}
    samples: dict[tuple[str, int, int], float] = {}
    names = list(rule_sets)
    for attempt in range(repeats + 1):
        for gi in range(max(len(g) for g in rule_sets.values())):
            for name in names:
                groups = rule_sets[name]
                if gi >= len(groups):
                    continue
                for ri, rule in enumerate(groups[gi]["rules"]):
                    seconds, read = _evaluate(url, rule["expr"], at)
                    if attempt:
                        times.setdefault((name, gi, ri), []).append(seconds)
                        samples[(name, gi, ri)] = read
    out: dict[str, list[RuleCost]] = {}
    for name, groups in rule_sets.items():
        out[name] = [
            RuleCost(
                group["name"],
                rule.get("record") or rule.get("alert"),
                parse_duration(group.get("interval", format_duration(PRODUCTION_INTERVAL))),
                lookback_seconds(rule["expr"]),
                statistics.median(times[(name, gi, ri)]),
                samples[(name, gi, ri)],
            )
            for gi, group in enumerate(groups)
            for ri, rule in enumerate(group["rules"])
        ]
    return out


def by_group(costs: list[RuleCost]) -> dict[str, tuple[float, float, float]]:
    """group -> (seconds, samples, interval)."""
    out: dict[str, tuple[float, float, float]] = {}
    for c in costs:
        s, n, _ = out.get(c.group, (0.0, 0.0, c.interval))
        out[c.group] = (s + c.seconds, n + c.samples, c.interval)
    return out


def subset(full: Path, target: Path, since_ms: int) -> int:
    """Hard links of the blocks of `full` that start at or after `since_ms` (the newest history)."""
    target.mkdir(parents=True)
    count = 0
    for block in full.iterdir():
        meta = block / "meta.json"
        if meta.is_file() and json.loads(meta.read_text())["minTime"] >= since_ms:
            shutil.copytree(block, target / block.name, copy_function=os.link)
            count += 1
    return count


# --- extrapolation ----------------------------------------------------------------------------------


def per_sample_cost(short: list[RuleCost], long: list[RuleCost]) -> float:
    """Seconds per sample read, from how time and samples grew between the two histories (over the
    rules whose samples grew)."""
    grown = [(b.seconds - a.seconds, b.samples - a.samples) for a, b in zip(short, long) if b.samples > a.samples * 1.2]
    dt, ds = sum(d for d, _ in grown), sum(s for _, s in grown)
    return max(dt, 0.0) / ds if ds else 0.0


def extrapolate(long: list[RuleCost], per_sample: float, history: float, series_factor: float, resolution_factor: float, bench_history: float) -> list[RuleCost]:
    """The rules' costs with `history` seconds of data, `series_factor` times the series and
    `resolution_factor` times the points per second of history."""
    out = []
    for c in long:
        fixed = max(c.seconds - per_sample * c.samples, 0.0)
        growth = min(c.window, history) / min(c.window, bench_history) if c.window else 1.0
        samples = c.samples * growth * resolution_factor * series_factor
        out.append(RuleCost(c.group, c.rule, c.interval, c.window, fixed * series_factor + per_sample * samples, samples))
    return out


def load(costs: list[RuleCost]) -> float:
    """Evaluation seconds per production evaluation interval: each group counted once per its own
    interval."""
    return sum(c.seconds * PRODUCTION_INTERVAL / c.interval for c in costs)


# --- the run ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=3.0, help="history, days (at least 3: the 3d window)")
    parser.add_argument("--short-days", type=float, default=1.5, help="the second, shorter history")
    parser.add_argument("--resolution", default="2m", help="one point per series every this (scrape and evaluation)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--engine", choices=engines.GENERATIONS, default="3", help="engine generation (3: what the charts deploy)")
    parser.add_argument("--dump", type=Path, help="write every rule's measured cost to this JSON file")
    parser.add_argument("--workdir", type=Path, help="keep the history here (and reuse it if it is there) instead of a temporary directory")
    args = parser.parse_args()
    promtool, prometheus = engines.find("promtool", args.engine), engines.find("prometheus", args.engine)
    if not (promtool and prometheus):
        print(engines.missing_message("prometheus", args.engine))
        return 2
    resolution = int(parse_duration(args.resolution))
    history, short_history = int(args.days * 86400), int(args.short_days * 86400)
    if history < 3 * 86400 or not 0 < short_history < history or history % BLOCK or short_history % BLOCK:
        print("--days must be at least 3 and --short-days shorter, both whole multiples of 2h")
        return 2
    started = time.monotonic()
    spec = make_spec()
    series = _series(resolution)
    rule_sets = {"old": _groups(old_rule_files(spec)), "new": _groups(new_rule_files(spec))}
    start = END - history
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        work = args.workdir or Path(tmp)
        data = work / "prom" / "data"
        reuse = (work / "ready").is_file()
        if not reuse:
            shutil.rmtree(work, ignore_errors=True)
            raw = build_history(promtool, work, series, start, END, resolution)
            move_blocks(raw, data)
        written = time.monotonic() - started
        if not reuse:
            with run_prometheus(prometheus, work / "prom", flags=HISTORY_FLAGS) as prom:
                backfill_records(promtool, prom.url, record_groups(spec), start, END, args.resolution, work / "records",
                                 block_duration="2h", timeout=1800)
            move_blocks(work / "records", data)
            (work / "ready").write_text(f"{args.days} {args.resolution}\n")
        recorded = time.monotonic() - started - written
        results = {}
        short_dir = work / "short" / "data"
        shutil.rmtree(work / "short", ignore_errors=True)
        blocks = subset(data, short_dir, (END - short_history) * 1000)
        for label, directory in (("long", work / "prom"), ("short", work / "short")):
            with run_prometheus(prometheus, directory, flags=HISTORY_FLAGS) as prom:
                results[label] = measure(prom.url, rule_sets, END, args.repeats)
    measured = time.monotonic() - started - written - recorded
    if args.dump:
        args.dump.write_text(json.dumps({label: {name: [c.__dict__ for c in costs] for name, costs in r.items()} for label, r in results.items()}, indent=1))
    raw_series = len(series)
    per_10k = 10_000 / raw_series

    print(f"rule evaluation on backfilled history, {engines.ENGINES[args.engine].label('prometheus')}, one run")
    print(f"  {raw_series} raw series (at least 1000 behind every SLO selector), one point every {args.resolution};"
          f" histories {format_duration(history)} and {format_duration(short_history)} ({blocks} blocks), end {END}")
    print(f"  seconds per 10k raw series (engine time, median of {args.repeats}), by group:")
    old_g, new_g = by_group(results["long"]["old"]), by_group(results["long"]["new"])
    old_s, new_s = by_group(results["short"]["old"]), by_group(results["short"]["new"])
    print(f"  {'group':<32} {'every':>5}  {'old ' + format_duration(short_history):>9} {'old ' + format_duration(history):>9}"
          f" {'new ' + format_duration(short_history):>9} {'new ' + format_duration(history):>9}  {'new/old':>7}")
    for group in old_g:
        o1, o2, n1, n2 = (x[group][0] * per_10k for x in (old_s, old_g, new_s, new_g))
        every = format_duration(old_g[group][2])
        print(f"  {group:<32} {every:>5}  {o1:9.4f} {o2:9.4f} {n1:9.4f} {n2:9.4f}  {n2 / o2 if o2 else float('nan'):7.3f}")
    totals = {}
    for label in ("short", "long"):
        for name in ("old", "new"):
            costs = results[label][name]
            totals[(label, name)] = (sum(c.seconds for c in costs) * per_10k, load(costs) * per_10k,
                                     sum(c.samples for c in costs) * per_10k)
    for label, h in (("short", short_history), ("long", history)):
        (o, ol, osm), (n, nl, nsm) = totals[(label, "old")], totals[(label, "new")]
        print(f"  all groups, {format_duration(h):>4}: old {o:.3f} s, new {n:.3f} s per 10k series per evaluation of"
              f" every group (new/old {n / o:.3f}); per {format_duration(PRODUCTION_INTERVAL)} interval"
              f" (5m groups a tenth): old {ol:.3f} s, new {nl:.3f} s (new/old {nl / ol:.3f});"
              f" samples read: old {osm:,.0f}, new {nsm:,.0f}")
    ratio = totals[("long", "new")][1] / totals[("long", "old")][1]
    grow = {name: totals[("long", name)][1] / totals[("short", name)][1] for name in ("old", "new")}
    print(f"  growth from {format_duration(short_history)} to {format_duration(history)} of history:"
          f" old x{grow['old']:.2f}, new x{grow['new']:.2f}")

    resolution_factor = resolution / PRODUCTION_SCRAPE
    lines = {}
    for name in ("old", "new"):
        b = per_sample_cost(results["short"][name], results["long"][name])
        for scenario, hist, k in (("30d, bench series", HISTORY_30D, 1.0), ("30d, 1M series", HISTORY_30D, SERIES_1M / raw_series)):
            projected = extrapolate(results["long"][name], b, hist, k, resolution_factor, history)
            lines[(name, scenario)] = (load(projected), b)
    print(f"  extrapolated to production ({format_duration(PRODUCTION_SCRAPE)} scrape and evaluation: x{resolution_factor:g}"
          f" the points per second of history) with 30d of history; time = fixed + per-sample cost x samples:")
    o, n = lines[("old", "30d, bench series")][0] * per_10k, lines[("new", "30d, bench series")][0] * per_10k
    print(f"    per 10k series: old {o:.3f} s, new {n:.4f} s per {format_duration(PRODUCTION_INTERVAL)} interval (new/old {n / o:.4f})")
    o, n = lines[("old", "30d, 1M series")][0], lines[("new", "30d, 1M series")][0]
    print(f"    1M series:      old {o:.1f} s, new {n:.2f} s per {format_duration(PRODUCTION_INTERVAL)} interval"
          f" ({o / PRODUCTION_INTERVAL:.0%} and {n / PRODUCTION_INTERVAL:.1%} of it)")
    share = lines[("new", "30d, 1M series")][0] / PRODUCTION_INTERVAL
    print(f"    per-sample cost: old {lines[('old', '30d, 1M series')][1] * 1e9:.1f} ns, new {lines[('new', '30d, 1M series')][1] * 1e9:.1f} ns")
    print(f"  targets: new/old on the same history <= {TARGET_RATIO:.2f}: {ratio:.3f} ({'met' if ratio <= TARGET_RATIO else 'NOT met'});"
          f" 1M series, 30d: new {share:.1%} of the {format_duration(PRODUCTION_INTERVAL)} interval, target <= {TARGET_SHARE:.0%}"
          f" ({'met' if share <= TARGET_SHARE else 'NOT met'})")
    print(f"  run: history {written:.0f} s, records {recorded:.0f} s, evaluation {measured:.0f} s")
    print(json.dumps({
        "raw_series": raw_series, "resolution_seconds": resolution, "histories_seconds": [short_history, history],
        "per_10k_per_interval": {f"{n}_{l}": round(totals[(l, n)][1], 5) for l in ("short", "long") for n in ("old", "new")},
        "new_over_old": round(ratio, 4),
        "extrapolated_1m_30d_seconds_per_interval": {n: round(lines[(n, "30d, 1M series")][0], 3) for n in ("old", "new")},
        "new_share_of_interval_1m_30d": round(share, 4),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
