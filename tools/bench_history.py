#!/usr/bin/env python3
"""Benchmark of the rule set's evaluation cost on real history (`make bench`, after bench_alerting).

A fresh TSDB holds minutes of data, so there `rate(x[3d])` reads a few minutes of samples and any
long-window rule looks cheap. This bench writes days of synthetic history for every series the
SLOs read (at least 1000 series of every metric an SLO reads; a histogram with every bucket its
producer emits, `_count` and `_sum`) and, beside them in the same blocks, the SLOs' 5m records as
their record rules would have written them (and their 30m records and tiles, the tiles every 5m as
the tiles groups write them) (the rate of each SLO label value's events, or its share of probes
down) and the catalogue's 5m rate records (`rate_record`), as OpenMetrics turned into 2h blocks by
`promtool tsdb create-blocks-from openmetrics` (the blocks Prometheus keeps next to a Thanos
sidecar). It starts Prometheus on them and evaluates, in the same run and interleaved, two
formulations of the same rule set at the end of the history:
- old: every SLO window read from raw series (`raw_error_ratio_expr`, the rules before issue 14);
- new: the rendered rules (every window longer than 5m from the recorded 5m series, monitoring/slo.py).
Both must compute the same ratios (checked: the largest relative difference is printed). It does
so twice: on the whole history (`--days`) and on its last `--short-days` (the newest blocks only),
which shows how each formulation's cost grows with the history its windows read. (That records
written with the history are what Prometheus records from it is tests/monitoring/
test_slo_long_windows.py's business, with `promtool tsdb create-blocks-from rules`: too slow here.)

Each rule is evaluated as the rule manager evaluates it, an instant query of the engine at the
group's timestamp (rules/manager.go `EngineQueryFunc`), through the HTTP API with `stats=all`: the
engine's own time (`evalTotalTime`, without HTTP and JSON) and the samples it read
(`totalQueryableSamples`). One warm-up pass, then the median of `--repeats` passes. Per group the
sum of its rules, reported per 10k raw series.
Ref: prometheus/prometheus@v3.5.3 rules/manager.go (`EngineQueryFunc`: engine.NewInstantQuery)

Extrapolation to production (30 days of history, 1M series, scrape and evaluation every 30s): per
rule, time = cost per sample x samples read + the rest (per series and per block). The cost per
sample is measured on calibration series stored at both resolutions (the same series and blocks,
4x the samples and 2 chunks per block instead of 1, as production's 30s has); the samples a rule
reads in production follow from its window (a window longer than the history reads proportionally
more samples and blocks), from the resolution and from the series count (everything, records
included, assumed to grow with it). A group's share of the production evaluation interval counts
it once per its own interval (the 5m budget groups a tenth as often as the 30s ones).

Usage: python tools/bench_history.py [--days 3] [--short-days 1.5] [--resolution 2m] [--engine 3]
Everything runs on 127.0.0.1 in a temporary directory; about five minutes on an idle 2-core machine,
of which writing the history is three (`--workdir` keeps it for the next run: then two).
"""

from __future__ import annotations

import argparse
import hashlib
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
from tests.history import HISTORY_FLAGS, REMOTE_WRITE_RECEIVER, move_blocks, push_head  # noqa: E402
from tests.monitoring.alerting_helpers import make_spec  # noqa: E402

from monitoring.alert_rules import build_rule_files, catalogue_records  # noqa: E402
from monitoring.durations import format_duration, parse_duration  # noqa: E402
from monitoring.slo import (  # noqa: E402
    BAD_RATE_RECORD,
    MIDDLE_WINDOW,
    PERIOD_SUFFIX,
    SHORT_WINDOW,
    SLOW_GROUP_SUFFIX,
    TILE_INTERVAL,
    TILE_SUFFIX,
    TOTAL_RATE_RECORD,
    derived_inputs,
    effective_slos,
    format_number,
    group_slo_id,
    le_matcher,
    ratio_record,
    raw_error_ratio_expr,
    recorded_inputs,
    tile_record,
)
from monitoring.slo_catalogue import SLO_CATALOGUE, EventRatioSli, LatencySli, UptimeSli  # noqa: E402
from monitoring.otel import BROWSER_BUCKETS_SECONDS, CONTRACT_BUCKET_BOUNDS_SECONDS  # noqa: E402
from monitoring.windows import PROMETHEUS, group_evaluators, lookback_seconds  # noqa: E402
from plan.settings import PrometheusSettings  # noqa: E402
from tools import engines  # noqa: E402

PRODUCTION_INTERVAL = parse_duration(PrometheusSettings.model_fields["evaluation_interval"].default)
PRODUCTION_SCRAPE = parse_duration(PrometheusSettings.model_fields["scrape_interval"].default)
BLOCK = 2 * 3600  # promtool's and Prometheus' block range: one OpenMetrics file per block
# The newest history is in Prometheus' head, not in a block, as in production: the head holds
# between 2h and 3h (it is compacted into a 2h block when it spans 3h), so the bench keeps the
# shortest, 2h, there. Ref: prometheus/prometheus@v3.5.3 tsdb/head.go (`compactable`: 1.5x the
# chunk range), tsdb/db.go (the head's chunk range is the minimum block duration).
HEAD_SPAN = BLOCK
HEAD_SLICE = 600  # seconds per remote-write request: the head takes nothing an hour older than its newest
END = 1_767_225_600 + 40 * 86400  # a fixed time, so runs are comparable: 2026-02-10T00:00Z
AGREEMENT: list[float] = []  # per measured history: the largest relative difference of old and new ratios
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
OMEGA = 2 * math.pi / 86400  # the daily wave: rates x1.5 by day, x0.5 by night


@dataclass(frozen=True)
class Series:
    """One synthetic series: a counter (`value`: events per second at the wave's mean), a gauge
    (its level), an up/down gauge, or one of the SLOs' 5m records: a rate (`value` per second at the
    wave's mean) or the share of `members` (up/down series) that are down."""

    name: str
    labels: tuple[tuple[str, str], ...]
    kind: str  # counter, gauge, up, rate, down-share
    value: float = 0.0
    members: tuple[int, ...] = ()
    step: int | None = None  # seconds between samples; None: the bench's resolution (tiles: 5m)

    @property
    def text(self) -> str:
        return self.name + "{" + ",".join(f'{k}="{v}"' for k, v in self.labels) + "}"


# The histograms' bucket bounds as their producers emit them, so that the series count holds every
# bucket a quantile reads: the API's and the database client's the least the application contract
# asks for (README "Application contract": the bounds the SLIs and panels read), the browsers' the
# collector's (monitoring/otel.py builds them). Each histogram also has `+Inf` and `_sum`.
# Each latency SLI's threshold by its histogram (the SLO catalogue's).
THRESHOLDS = {slo.sli.metric: slo.sli.threshold_seconds for slo in SLO_CATALOGUE if isinstance(slo.sli, LatencySli)}
HTTP_BOUNDS = CONTRACT_BUCKET_BOUNDS_SECONDS
DB_BOUNDS = (THRESHOLDS["db_client_operation_duration_seconds"],)
# Share of observations at or under a bound: 97% at each latency SLI's threshold (an exponential tail).
GOOD_AT_THRESHOLD = 0.97


def _histogram(name: str, labels: tuple[tuple[str, str], ...], rate: float, bounds: tuple[float, ...]) -> list[Series]:
    """`name`'s `_count`, `_sum` and one `_bucket` per bound and `+Inf`, for `rate` observations
    per second of which GOOD_AT_THRESHOLD are at or under its latency SLI's threshold."""
    scale = THRESHOLDS[name] / -math.log(1 - GOOD_AT_THRESHOLD)
    out = [Series(f"{name}_count", labels, "counter", rate), Series(f"{name}_sum", labels, "counter", rate * scale)]
    out += [Series(f"{name}_bucket", labels + (("le", format_number(b)),), "counter", rate * (1 - math.exp(-b / scale)))
            for b in bounds]
    return out + [Series(f"{name}_bucket", labels + (("le", "+Inf"),), "counter", rate)]


def _raw_series() -> list[Series]:
    out: list[Series] = []

    def label_tuples(family: Family) -> list[tuple[tuple[str, str], ...]]:
        return [tuple((k, v.strip('"')) for k, v in (pair.split("=", 1) for pair in text.split(",")))
                for text in family.label_sets()]

    def add(name: str, family: Family, kind: str, value: float, extra: tuple[tuple[str, str], ...] = ()) -> None:
        out.extend(Series(name, labels + extra, kind, value) for labels in label_tuples(family))

    for labels in label_tuples(API):
        rate = RATE * (BAD_SHARE * 10 if dict(labels)["http_response_status_code"] == "503" else 1.0)
        out += _histogram("http_server_request_duration_seconds", labels, rate, HTTP_BOUNDS)
    add("browser_page_views_total", FRONTEND, "counter", RATE)
    add("browser_js_errors_total", FRONTEND, "counter", RATE * BAD_SHARE)
    for metric in ("browser_time_to_interactive_seconds", "browser_page_load_duration_seconds"):
        for labels in label_tuples(FRONTEND):
            out += _histogram(metric, labels, RATE, BROWSER_BUCKETS_SECONDS)
    add("probe_success", FRONTEND, "up", 1.0, (("job", "blackbox-frontend"),))
    for labels in label_tuples(DATABASE):
        out += _histogram("db_client_operation_duration_seconds", labels, RATE, DB_BOUNDS)
    add("terrafusion_db_connection_attempts_total", DATABASE, "counter", RATE / 10)
    add("terrafusion_db_connection_failures_total", DATABASE, "counter", RATE / 10 * BAD_SHARE)
    add("pg_up", DATABASE, "up", 1.0)
    add("pg_replication_lag_seconds", DATABASE, "gauge", 0.5)
    return out


def _matcher(selector: str):
    """A predicate on Series for a PromQL selector (name and label matchers)."""
    import promql_parser as pp

    node = pp.parse(selector)
    tests = []
    for m in node.matchers.matchers:
        op = str(m.op).rsplit(".", 1)[-1]
        pattern = re.compile(m.value)
        tests.append((m.name, op, m.value, pattern))

    def match(s: Series) -> bool:
        if s.name != node.name:
            return False
        labels = dict(s.labels)
        for name, op, value, pattern in tests:
            got = labels.get(name, "")
            ok = {"Equal": got == value, "NotEqual": got != value, "Re": bool(pattern.fullmatch(got)),
                  "NotRe": not pattern.fullmatch(got)}[op]
            if not ok:
                return False
        return True

    return match


def _record_series(spec, raw: list[Series]) -> list[Series]:
    """The SLOs' 5m records as the record rules would write them over this history: per SLO label
    value, the rate of the bad and of all events the SLI selects, or the share of its probes that
    are down (rate() of a counter that grows at its rate is that rate)."""
    out = []
    for slo in effective_slos(spec):
        sli, label = slo.sli, slo.label
        if isinstance(sli, EventRatioSli):
            selectors = {BAD_RATE_RECORD: [(sli.bad, 1.0)], TOTAL_RATE_RECORD: [(sli.total, 1.0)]}
        elif isinstance(sli, LatencySli):
            good = f"{sli.metric}_bucket{{{le_matcher(sli.threshold_seconds)}}}"
            selectors = {BAD_RATE_RECORD: [(f"{sli.metric}_count", 1.0), (good, -1.0)], TOTAL_RATE_RECORD: [(f"{sli.metric}_count", 1.0)]}
        elif isinstance(sli, UptimeSli):
            match = _matcher(sli.metric)
            groups: dict[str, list[int]] = {}
            for i, s in enumerate(raw):
                if match(s):
                    groups.setdefault(dict(s.labels)[label], []).append(i)
            for name in (ratio_record("5m"), *derived_inputs(slo)):
                out += [Series(name, ((label, g), ("slo", slo.id)), "down-share", members=tuple(m), step=_step(name))
                        for g, m in groups.items()]
            continue
        else:
            continue
        assert set(selectors) == set(recorded_inputs(slo)), slo.id
        for name, parts in selectors.items():
            rates = _summed_rates(raw, parts, (label,))
            # The 30m records and the tiles of this record carry its rate too (the wave is slow).
            derived = [d for d in derived_inputs(slo) if d in (tile_record(name), name.replace(SHORT_WINDOW, MIDDLE_WINDOW))]
            for record in (name, *derived):
                out += [Series(record, (*key, ("slo", slo.id)), "rate", v, step=_step(record)) for key, v in rates.items()]
    return out


def _summed_rates(raw: list[Series], parts: list[tuple[str, float]], by: tuple[str, ...]) -> dict[tuple, float]:
    """`sum by (by)` of the rates of the series each (selector, sign) of `parts` selects, signed."""
    rates: dict[tuple, float] = {}
    for selector, sign in parts:
        match = _matcher(selector)
        for s in raw:
            if match(s):
                key = tuple((name, dict(s.labels)[name]) for name in by)
                rates[key] = rates.get(key, 0.0) + sign * s.value
    return rates


def _catalogue_record_series(raw: list[Series]) -> list[Series]:
    """The catalogue's 5m rate records (monitoring/alert_rules `rate_record`), which its alerts read
    at earlier instants too: per label set of the record, the summed rates of the series it selects."""
    out = []
    for rule in catalogue_records():
        if rule.rate_of is None:
            continue
        selector, by = rule.rate_of
        out += [Series(rule.record, key, "rate", v) for key, v in _summed_rates(raw, [(selector, 1.0)], by).items()]
    return out


def _step(record: str) -> int | None:
    return int(parse_duration(TILE_INTERVAL)) if record.endswith(TILE_SUFFIX) else None


def _down(index: int, t: int) -> bool:
    """One up/down series in 50 is down for 10 minutes at 03:00 every day."""
    return index % 50 == 7 and (t // 3600) % 24 == 3 and t % 3600 < 600


def _columns(series: list[Series], start: int, end: int, resolution: int):
    """(series text, labels with __name__, timestamps, their text, values as text) of every series
    (and of the calibration series, when [start, end) is within their span) over [start, end). A
    counter's rate follows the daily wave, its value the integral of it (so increments differ from
    one sample to the next, as scraped ones do, and chunks compress alike); gauges and records
    follow the wave too."""
    grids: dict[int, tuple] = {}

    def grid(step: int) -> tuple:
        if step not in grids:
            first = -(-start // step) * step
            stamps = list(range(first, end, step))
            integral = [t - END + 0.5 * (1 - math.cos(OMEGA * t)) / OMEGA for t in stamps]  # of 1 + 0.5 sin
            wave = [1 + 0.5 * math.sin(OMEGA * t) for t in stamps]
            grids[step] = (stamps, integral, wave, [str(t) for t in stamps])
        return grids[step]

    for index, s in enumerate(series):
        stamps, integral, wave, text = grid(s.step or resolution)
        if s.kind == "counter":
            offset = 10**6 * s.value + index
            values = [f"{offset + s.value * i:.3f}" for i in integral]
        elif s.kind == "up":
            values = ["0" if _down(index, t) else "1" for t in stamps]
        elif s.kind == "down-share":
            values = [repr(sum(_down(m, t) for m in s.members) / len(s.members)) for t in stamps]
        elif s.kind == "rate":
            values = [repr(round(s.value * w, 9)) for w in wave]
        else:
            values = [repr(round(s.value * (0.8 + 0.4 * (w - 0.5)), 3)) for w in wave]
        yield s.text, {"__name__": s.name, **dict(s.labels)}, stamps, text, values
    if start >= END - CALIBRATION_SPAN:
        # The calibration series (see `calibrate`): the same counters at the production scrape
        # interval and at the bench's resolution.
        for name, step in (("fine", int(PRODUCTION_SCRAPE)), ("coarse", resolution)):
            stamps = list(range(start, end, step))
            for i in range(CALIBRATION_SERIES):
                labels = {"resolution": name, "i": str(i)}
                yield (f'bench_calibration_total{{resolution="{name}",i="{i}"}}', {"__name__": "bench_calibration_total", **labels},
                       stamps, [str(t) for t in stamps], [f"{(t - END) * RATE + 10**7:.3f}" for t in stamps])


def _write_block(path: Path, series: list[Series], start: int, end: int, resolution: int) -> Path:
    """The samples of [start, end) as OpenMetrics."""
    with path.open("w") as out:
        for series_text, _, _, stamps, values in _columns(series, start, end, resolution):
            prefix = series_text + " "
            out.write("".join([f"{prefix}{v} {t}\n" for v, t in zip(values, stamps)]))
        out.write("# EOF\n")
    return path


def push_head_history(url: str, series: list[Series], resolution: int) -> None:
    """The newest HEAD_SPAN of the history into the head of the Prometheus at `url`, through its
    remote-write receiver, in consecutive slices of HEAD_SLICE (tests/history.py `push_head`)."""
    for at in range(END - HEAD_SPAN, END, HEAD_SLICE):
        push_head(url, [(labels, [(t * 1000, float(v)) for t, v in zip(stamps, values)])
                        for _, labels, stamps, _, values in _columns(series, at, at + HEAD_SLICE, resolution) if stamps])


def build_history(promtool: str, workdir: Path, series: list[Series], start: int, end: int, resolution: int) -> Path:
    """2h blocks of [start, end) in workdir/raw, every series (records included) in the same blocks
    as a Prometheus that recorded them keeps them: one OpenMetrics file per block, written and turned
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
    formulation before issue 14 (raw_error_ratio_expr is what the derived rules must equal), every
    window and alert of an SLO in its alerting group (no slow group, no tiles), the SLO window's ratio
    in the budget group (no period group)."""
    slos = {s.id: s for s in effective_slos(spec)}
    files = build_rule_files(spec)
    for content in files.values():
        alerting: dict[str, dict] = {}
        for group in content["groups"]:
            slo = slos.get(group_slo_id(group["name"]) or "")
            if slo is None:
                continue
            rules = []
            for rule in group["rules"]:
                name = rule.get("record", "")
                if name.startswith("slo:sli_error:ratio_rate") and not name.endswith((TILE_SUFFIX, PERIOD_SUFFIX)):  # an UptimeSli's 5m, 30m too
                    rule = {**rule, "expr": raw_error_ratio_expr(slo, name.removeprefix("slo:sli_error:ratio_rate"))}
                elif name in (BAD_RATE_RECORD, TOTAL_RATE_RECORD) or name in derived_inputs(slo) or name.endswith(PERIOD_SUFFIX):
                    continue  # (the budget group's copy of the period record is the raw window above)
                rules.append(rule)
            if group["name"] == f"slo-{slo.id}":
                alerting[slo.id] = group
            elif group["name"].endswith(SLOW_GROUP_SUFFIX):
                alerting[slo.id]["rules"] += rules
                rules = []
            group["rules"] = rules
        content["groups"] = [g for g in content["groups"] if g["rules"]]  # the slow and tiles groups go
    return files


def _groups(files: dict[str, dict]) -> list[dict]:
    return [g for content in files.values() for g in content["groups"]]


# --- measuring -----------------------------------------------------------------------------------


@dataclass
class RuleCost:
    group: str
    rule: str
    kind: str  # "tile" when it reads the SLOs' tiles, "record" the 5m or 30m records, else "raw"
    interval: float
    window: float  # seconds of history the rule reads (monitoring/windows.py lookback)
    seconds: float
    samples: float


def _evaluate(url: str, expr: str, at: int) -> tuple[float, float, list[dict]]:
    """(engine seconds, samples read, result) of an instant query."""
    answer = instant_query(url, expr, at=at, stats=True, timeout=300)
    if answer.get("status") != "success":
        raise RuntimeError(f"{expr[:120]}: {answer.get('error')}")
    stats = answer["data"]["stats"]
    return stats["timings"]["evalTotalTime"], stats["samples"]["totalQueryableSamples"], answer["data"]["result"]


def measure(url: str, rule_sets: dict[str, list[dict]], at: int, repeats: int, warm_up: bool) -> dict[str, list[RuleCost]]:
    """Per formulation, every rule's median evaluation time and samples read; the formulations
    interleaved group by group, after a warm-up pass if asked (production evaluates every 30s: its
    data is in the page cache; the short history's blocks are the long one's, already read)."""
    times: dict[tuple[str, int, int], list[float]] = {}
    samples: dict[tuple[str, int, int], float] = {}
    values: dict[tuple[str, str, str], dict[str, float]] = {}
    names = list(rule_sets)
    first = 0 if warm_up else 1
    for attempt in range(first, repeats + 1):
        for gi in range(max(len(g) for g in rule_sets.values())):
            for name in names:
                groups = rule_sets[name]
                if gi >= len(groups):
                    continue
                for ri, rule in enumerate(groups[gi]["rules"]):
                    seconds, read, result = _evaluate(url, rule["expr"], at)
                    if attempt == first and rule.get("record", "").startswith("slo:sli_error:ratio_rate"):
                        values[(name, groups[gi]["name"], rule["record"])] = {
                            json.dumps(r["metric"], sort_keys=True): float(r["value"][1]) for r in result}
                    if attempt:
                        times.setdefault((name, gi, ri), []).append(seconds)
                        samples[(name, gi, ri)] = read
    # Both formulations must compute the same ratios from this history (the records are right).
    differences = [
        abs(v / old[series] - 1)
        for (name, group, record), got in values.items() if name == "new"
        for old in [values.get(("old", group, record), {})]
        for series, v in got.items() if old.get(series)
    ]
    assert differences, "no ratio to compare"
    AGREEMENT.append(max(differences))
    out: dict[str, list[RuleCost]] = {}
    for name, groups in rule_sets.items():
        out[name] = [
            RuleCost(
                group["name"],
                rule.get("record") or rule.get("alert"),
                _kind(rule["expr"]),
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


# Per-sample cost: the same number of series and blocks, read at two resolutions.
CALIBRATION_SPAN = 2 * BLOCK
CALIBRATION_SERIES = 1000


def calibrate(url: str, at: int, repeats: int) -> float:
    """Seconds per sample read: `count_over_time` over the last two blocks of the calibration
    series at production's scrape interval and at the bench's resolution (the same series and
    blocks, more samples and chunks), median of `repeats` pairs after a warm-up."""
    costs = []
    window = format_duration(CALIBRATION_SPAN)
    for _ in range(repeats + 2):
        (t1, s1), (t2, s2) = (
            _evaluate(url, f'count(count_over_time(bench_calibration_total{{resolution="{r}"}}[{window}]))', at)[:2]
            for r in ("coarse", "fine")
        )
        costs.append(max(t2 - t1, 0.0) / (s2 - s1))
    return statistics.median(costs[1:])


def _kind(expr: str) -> str:
    if TILE_SUFFIX in expr:
        return "tile"
    return "record" if re.search(r"\bslo:sli_(bad|total|error):rate", expr) else "raw"


def extrapolate(costs: list[RuleCost], per_sample: float, history: float, bench_history: float,
                series_factor: float, resolution_factor: float) -> list[RuleCost]:
    """The rules' costs with `history` seconds of data, `series_factor` times the series and
    `resolution_factor` times the points per second of history. A rule's time is its per-sample
    cost times the samples it read plus the rest (per series, per block: what reading no sample
    costs); a window longer than the bench history reads `history / bench_history` times both."""
    out = []
    for c in costs:
        b = per_sample
        rest = max(c.seconds - b * c.samples, 0.0)
        growth = min(c.window, history) / min(c.window, bench_history) if c.window else 1.0
        # Tiles are written every 5m whatever the scrape and evaluation interval.
        samples = c.samples * growth * (1.0 if c.kind == "tile" else resolution_factor) * series_factor
        out.append(RuleCost(c.group, c.rule, c.kind, c.interval, c.window, rest * growth * series_factor + b * samples, samples))
    return out


def by_rule(costs: list[RuleCost]) -> list[tuple[str, float]]:
    """Seconds per production evaluation interval of each rule name (a record or alert, summed over
    the SLOs and groups that have it), costliest first."""
    out: dict[str, float] = {}
    for c in costs:
        out[c.rule] = out.get(c.rule, 0.0) + c.seconds * PRODUCTION_INTERVAL / c.interval
    return sorted(out.items(), key=lambda item: -item[1])


BREAKDOWN_RULES = 12  # how many of the costliest rule names the report lists


def load(costs: list[RuleCost], groups: set[str] | None = None) -> float:
    """Evaluation seconds per production evaluation interval: each group counted once per its own
    interval (only `groups`, if given)."""
    return sum(c.seconds * PRODUCTION_INTERVAL / c.interval for c in costs if groups is None or c.group in groups)


def prometheus_groups(spec) -> set[str]:
    """The groups prod's Prometheus evaluates (the others go to the Thanos Ruler: monitoring/windows.py,
    with Pulumi.prod.yaml's prometheus.retention)."""
    from tools.mockrun import read_stack_file

    retention = read_stack_file("prod")["terrafusion-monitoring:prometheus"]["retention"]
    files = new_rule_files(spec)
    return {group for (_, group), engine in group_evaluators(files, retention).items() if engine == PROMETHEUS}


# --- the run ---------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=3.0, help="history, days (at least 3: the 3d window)")
    parser.add_argument("--short-days", type=float, default=1.5, help="the second, shorter history")
    parser.add_argument("--resolution", default="2m", help="one point per series every this (scrape and evaluation)")
    parser.add_argument("--repeats", type=int, default=2)
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
    raw_series = _raw_series()
    series = raw_series + _record_series(spec, raw_series) + _catalogue_record_series(raw_series)
    rule_sets = {"old": _groups(old_rule_files(spec)), "new": _groups(new_rule_files(spec))}
    start = END - history
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        work = args.workdir or Path(tmp)
        data = work / "prom" / "data"
        # A reused history must hold the series this version writes (a new record is written with it).
        digest = hashlib.sha256("\n".join(f"{s.text} {s.kind} {s.value} {s.step}" for s in series).encode()).hexdigest()[:16]
        marker = f"{args.days} {args.resolution} head {HEAD_SPAN} series {digest}\n"
        if not (work / "ready").is_file() or (work / "ready").read_text() != marker:
            shutil.rmtree(work, ignore_errors=True)
            move_blocks(build_history(promtool, work, series, start, END - HEAD_SPAN, resolution), data)
            (work / "ready").write_text(marker)
        written = time.monotonic() - started
        results = {}
        short_dir = work / "short" / "data"
        shutil.rmtree(work / "short", ignore_errors=True)
        blocks = subset(data, short_dir, (END - short_history) * 1000)
        for label, directory in (("long", work / "prom"), ("short", work / "short")):
            for head in ("wal", "chunks_head"):  # a reused --workdir: its head is pushed again
                shutil.rmtree(directory / "data" / head, ignore_errors=True)
            with run_prometheus(prometheus, directory, flags=(*HISTORY_FLAGS, REMOTE_WRITE_RECEIVER)) as prom:
                push_head_history(prom.url, series, resolution)
                results[label] = measure(prom.url, rule_sets, END, args.repeats, warm_up=label == "long")
                if label == "long":
                    per_sample = calibrate(prom.url, END, args.repeats)
    measured = time.monotonic() - started - written
    if args.dump:
        args.dump.write_text(json.dumps({label: {name: [c.__dict__ for c in costs] for name, costs in r.items()}
                                         for label, r in results.items()}, indent=1))
    report(args, engines.ENGINES[args.engine].label("prometheus"), len(raw_series), len(series) - len(raw_series), history,
           short_history, blocks, resolution, results, per_sample, prometheus_groups(spec), (written, measured))
    return 0


def report(args, engine: str, raw_series: int, records: int, history: int, short_history: int, blocks: int, resolution: int,
           results: dict, per_sample: float, in_prometheus: set[str], phases: tuple[float, float]) -> None:
    per_10k = 10_000 / raw_series
    h1, h2 = format_duration(short_history), format_duration(history)
    every = format_duration(PRODUCTION_INTERVAL)
    print(f"rule evaluation on backfilled history ({engine}; old and new formulations in one run, interleaved)")
    print(f"  {raw_series} raw series (at least 1000 of every metric an SLO reads) and {records} records (the SLOs' 5m and 30m records and tiles, the catalogue's 5m records),"
          f" one point every {args.resolution}, in 2h blocks and the newest {format_duration(HEAD_SPAN)} in the head; histories {h2} and its last {h1} ({blocks} blocks)")
    print(f"  engine seconds per evaluation, per 10k raw series (median of {args.repeats}):")
    print(f"  {'group':<40} {'every':>5}  {'old ' + h1:>9} {'old ' + h2:>9}  {'new ' + h1:>9} {'new ' + h2:>9}  {'new/old':>7}")
    groups = {name: {label: by_group(results[label][name]) for label in results} for name in ("old", "new")}
    for group, (_, _, interval) in groups["old"]["long"].items():
        o1, o2, n1, n2 = (groups[n][l][group][0] * per_10k for n, l in (("old", "short"), ("old", "long"), ("new", "short"), ("new", "long")))
        ratio = f"{n2 / o2:7.3f}" if o2 > 1e-4 * per_10k else "      -"
        print(f"  {group:<40} {format_duration(interval):>5}  {o1:9.4f} {o2:9.4f}  {n1:9.4f} {n2:9.4f}  {ratio}")
    totals = {(n, l): load(results[l][n]) * per_10k for n in ("old", "new") for l in ("short", "long")}
    samples = {(n, l): sum(c.samples * PRODUCTION_INTERVAL / c.interval for c in results[l][n]) * per_10k
               for n in ("old", "new") for l in ("short", "long")}
    print(f"  per {every} interval (each group once per its interval: the 5m groups count a tenth), per 10k raw series:")
    for label, h in (("short", h1), ("long", h2)):
        o, n = totals[("old", label)], totals[("new", label)]
        print(f"    {h:>5} of history: old {o:7.3f} s, new {n:6.3f} s, new/old {n / o:.3f}"
              f"  (samples read: old {samples[('old', label)]:,.0f}, new {samples[('new', label)]:,.0f})")
    print(f"    growth with the history, {h1} -> {h2}: old x{totals[('old', 'long')] / totals[('old', 'short')]:.2f},"
          f" new x{totals[('new', 'long')] / totals[('new', 'short')]:.2f}")
    ratio = totals[("new", "long")] / totals[("old", "long")]

    resolution_factor = resolution / PRODUCTION_SCRAPE
    projected, prom_only, at_scale = {}, {}, []
    for name in ("old", "new"):
        for label, hist, k in (("30d", HISTORY_30D, 1.0), ("30d-1M", HISTORY_30D, SERIES_1M / raw_series)):
            costs = extrapolate(results["long"][name], per_sample, hist, history, k, resolution_factor)
            projected[(name, label)], prom_only[(name, label)] = load(costs), load(costs, in_prometheus)
            if (name, label) == ("new", "30d-1M"):
                at_scale = by_rule(costs)
    # The model checked on the measurement it did not use: the short history from the long one.
    check = {name: load(extrapolate(results["long"][name], per_sample, short_history, history, 1.0, 1.0)) * per_10k
             / totals[(name, "short")] for name in ("old", "new")}
    print(f"  old and new give the same ratios: largest relative difference {max(AGREEMENT):.1e}")
    print(f"  extrapolated (time = cost per sample read x samples + the rest; per sample {per_sample * 1e9:.0f} ns,"
          f" measured; a window"
          f" longer than the history reads proportionally more of both; model on {h1} from {h2}:"
          f" old x{check['old']:.2f}, new x{check['new']:.2f} of measured)")
    print(f"    production ({format_duration(PRODUCTION_SCRAPE)} scrape and evaluation: x{resolution_factor:g} the points),"
          f" 30d of history, per 10k series: old {projected[('old', '30d')] * per_10k:7.2f} s,"
          f" new {projected[('new', '30d')] * per_10k:6.3f} s per {every} (new/old"
          f" {projected[('new', '30d')] / projected[('old', '30d')]:.4f})")
    share = projected[("new", "30d-1M")] / PRODUCTION_INTERVAL
    print(f"    1M series, 30d of history: old {projected[('old', '30d-1M')]:8.1f} s, new {projected[('new', '30d-1M')]:6.1f} s"
          f" per {every} ({projected[('old', '30d-1M')] / PRODUCTION_INTERVAL:.0%} and {share:.0%} of it; records and"
          f" derived windows assumed to grow with the series)")
    print(f"      of which prod's Prometheus (without the groups prod gives the Thanos Ruler): old"
          f" {prom_only[('old', '30d-1M')]:.1f} s, new {prom_only[('new', '30d-1M')]:.1f} s"
          f" ({prom_only[('new', '30d-1M')] / PRODUCTION_INTERVAL:.0%})")
    print(f"      where the new cost goes (share of the {every} interval by rule name, all SLOs and groups): "
          + ", ".join(f"{rule} {seconds / PRODUCTION_INTERVAL:.1%}" for rule, seconds in at_scale[:BREAKDOWN_RULES]))
    print(f"  targets: new/old on the same history <= {TARGET_RATIO:.2f}: {ratio:.3f} ({'met' if ratio <= TARGET_RATIO else 'NOT met'});"
          f" 1M series and 30d within {TARGET_SHARE:.0%} of the {every} interval: {share:.0%}"
          f" ({'met' if share <= TARGET_SHARE else 'NOT met'})")
    written, measured = phases
    print(f"  run: history {written:.0f} s, evaluation {measured:.0f} s")
    print(json.dumps({
        "raw_series": raw_series, "resolution_seconds": resolution, "histories_seconds": [short_history, history],
        "per_10k_per_interval_seconds": {f"{n}_{l}": round(v, 5) for (n, l), v in totals.items()},
        "new_over_old": round(ratio, 4),
        "per_sample_ns": round(per_sample * 1e9, 1),
        "largest_ratio_difference": max(AGREEMENT),
        "production_30d_per_10k_seconds": {n: round(projected[(n, "30d")] * per_10k, 4) for n in ("old", "new")},
        "production_30d_1m_seconds": {n: round(projected[(n, "30d-1M")], 2) for n in ("old", "new")},
        "new_share_of_interval_1m_30d": round(share, 4),
        "new_prometheus_share_of_interval_1m_30d": round(prom_only[("new", "30d-1M")] / PRODUCTION_INTERVAL, 4),
        "new_share_1m_30d_by_rule": {rule: round(seconds / PRODUCTION_INTERVAL, 4) for rule, seconds in at_scale[:BREAKDOWN_RULES]},
    }))


if __name__ == "__main__":
    sys.exit(main())
