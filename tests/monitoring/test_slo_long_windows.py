"""Real Prometheus on 30 days of history: an SLO's 30-day ratio derived from its recorded 5m series
(monitoring/slo.py, "Long windows") equals the raw formulation.

The history is uneven on purpose: busy hours carry 10x the traffic of quiet ones and nearly all the
errors, weekends half the traffic, and one day has a long incident. Weighted by events (the rate
ratio of the raw formulation), that history's error ratio over 30 days is over twice its time
average; a derivation that averaged the 5m ratios (weighting by time) would be far off, and this
test would catch it (the engine computes that time average too, and it must miss by far more than
the tolerance). The time-based SLI (pg_up) is checked the same way, where time weighting is right.

The series are backfilled as blocks (tests/history.py); the SLOs' own record rules are then
backfilled from them at production's evaluation interval (`prometheus.evaluationInterval`, 30s: the
records overlap, as in production), the total records first and the bad records (which read them)
next, the tiles from the records at their 5m, and the rendered 30d
rules (which read the tiles) are evaluated at the end of the history. A promtool unit test cannot do this: it loads at most 10000 samples per query, and a raw
30-day window over 1m samples holds 43200 per series. Both window ends fall in quiet hours: the
derived window's first records reach up to 5m before the raw one's start.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.engines import instant_query, run_prometheus
from tests.helpers import engine_params, require_engine
from tests.history import HISTORY_FLAGS, backfill_records, create_blocks, move_blocks, write_openmetrics
from tests.monitoring.alerting_helpers import make_spec

from monitoring.durations import parse_duration
from monitoring.slo import (
    BAD_RATE_RECORD,
    PERIOD_SUFFIX,
    TILE_INTERVAL,
    TILES_GROUP_SUFFIX,
    TOTAL_RATE_RECORD,
    effective_slos,
    error_ratio_expr,
    period_record,
    ratio_record,
    raw_error_ratio_expr,
    recorded_inputs,
    slo_rule_groups,
    tile_record,
)
from monitoring.slo_catalogue import EventRatioSli, LatencySli, UptimeSli
from plan.settings import PrometheusSettings

pytestmark = pytest.mark.spread

# One SLO of each shape whose window is 30 days in the catalogue.
SLO_IDS = ("api-availability", "db-availability", "db-query-latency")  # catalogue order
WINDOW = "30d"
EVALUATION_INTERVAL = PrometheusSettings.model_fields["evaluation_interval"].default
START = 1_767_225_600  # 2026-01-01T00:00:00Z, a Thursday
DAYS = 30
HOURS = DAYS * 24 + 2  # the window, the records' 5m and a margin
EVAL_AT = START + (DAYS * 24 + 1) * 3600 + 1800  # 01:30, a quiet hour at both ends of the window
BUSY_HOURS = {9, 10, 11, 14, 15, 16, 20}
INCIDENT = (11, range(13, 18))  # day 11, 13:00 to 18:00
OUTAGES = {(7, 3): 10, (19, 15): 25, (26, 20): 5}  # (day, hour): minutes pg_up is 0
TOLERANCE = 0.001  # the 0.1%


def _hour(h: int) -> tuple[float, float]:
    """(requests per minute, errors or slow requests per minute) of hour `h` of the history."""
    day, hour = divmod(h, 24)
    weekend = (day + 3) % 7 in (5, 6)  # START is a Thursday
    if hour in BUSY_HOURS:
        requests, errors = 2400.0, 48.0  # 2%
        if day == INCIDENT[0] and hour in INCIDENT[1]:
            errors = 480.0  # 20%
    else:
        requests, errors = 240.0, 0.24  # 0.1%
    scale = 0.5 if weekend else 1.0
    return requests * scale, errors * scale


def _down(minute: int) -> bool:
    h, m = divmod(minute, 60)
    return m < OUTAGES.get(divmod(h, 24), 0)


def _counter(per_minute) -> list[tuple[int, float]]:
    """(timestamp, value) every minute of a counter growing by per_minute(m) in minute m."""
    samples, value = [], 0.0
    for m in range(HOURS * 60 + 1):
        samples.append((START + 60 * m, value))
        value += per_minute(m)
    return samples


def _series(slo) -> list[tuple[str, list[tuple[int, float]]]]:
    sli, who = slo.sli, f'{slo.label}="bursty"'
    requests = lambda m: _hour(m // 60)[0]  # noqa: E731
    bad = lambda m: _hour(m // 60)[1]  # noqa: E731
    if isinstance(sli, EventRatioSli):
        assert "{" in sli.bad, "status-code series"
        return [
            (f'{sli.total}{{{who},http_response_status_code="200"}}', _counter(lambda m: requests(m) - bad(m))),
            (f'{sli.total}{{{who},http_response_status_code="503"}}', _counter(bad)),
            # A service that never failed has no bad series: its ratio is 0, not absent.
            (f'{sli.total}{{{slo.label}="clean",http_response_status_code="200"}}', _counter(requests)),
        ]
    if isinstance(sli, LatencySli):
        return [
            (f'{sli.metric}_bucket{{{who},le="{sli.threshold_seconds:g}"}}', _counter(lambda m: requests(m) - bad(m))),
            (f'{sli.metric}_count{{{who}}}', _counter(requests)),
        ]
    assert isinstance(sli, UptimeSli)
    return [(f"{sli.metric}{{{who}}}", [(START + 60 * m, 0.0 if _down(m) else 1.0) for m in range(HOURS * 60 + 1)])]


def _expected(slo) -> tuple[float, float]:
    """(event-weighted, time-weighted) error ratio of the minutes in the window, from the history."""
    first = (EVAL_AT - START) // 60 - parse_duration(WINDOW) // 60
    minutes = range(int(first), int((EVAL_AT - START) // 60))
    if isinstance(slo.sli, UptimeSli):
        share = sum(_down(m + 1) for m in minutes) / len(minutes)
        return share, share
    events = [_hour(m // 60) for m in minutes]
    return sum(e for _, e in events) / sum(r for r, _ in events), sum(e / r for r, e in events) / len(events)


def _slos():
    spec = make_spec()
    slos = [s for s in effective_slos(spec) if s.id in SLO_IDS]
    assert [s.id for s in slos] == list(SLO_IDS) and all(s.window == WINDOW for s in slos)
    return spec, slos


def test_the_history_tells_event_from_time_weighting():
    _, slos = _slos()
    for slo in slos:
        events, time = _expected(slo)
        assert events > 0, slo.id
        if not isinstance(slo.sli, UptimeSli):
            assert events / time > 2, slo.id


@pytest.fixture(params=engine_params("promtool"))
def generation(request) -> str:
    return request.param


def _value(url: str, expr: str, label: str, who: str) -> float:
    answer = instant_query(url, expr, at=EVAL_AT, timeout=60)
    assert answer["status"] == "success", answer
    found = {r["metric"].get(label): float(r["value"][1]) for r in answer["data"]["result"]}
    assert who in found, (expr, found)
    return found[who]


@pytest.mark.heavy(10)
def test_the_derived_30d_ratio_equals_the_raw_one_on_uneven_history(generation, tmp_path: Path):
    promtool, prometheus = require_engine("promtool", generation), require_engine("prometheus", generation)
    spec, slos = _slos()
    history = write_openmetrics(tmp_path / "history.om", (s for slo in slos for s in _series(slo)))
    data = tmp_path / "prom" / "data"
    create_blocks(promtool, history, data, block_duration="744h")  # a few large blocks: few passes
    groups = {slo.id: slo_rule_groups(spec, slo) for slo in slos}
    # Two passes (promtool backfills no rule that reads another rule being backfilled): the bad
    # records read the total records of the same evaluation.
    passes = [[r for r in recorded_inputs(slo) if r != BAD_RATE_RECORD] for slo in slos], [
        [r for r in recorded_inputs(slo) if r == BAD_RATE_RECORD] for slo in slos
    ]
    for n, names in enumerate(passes):
        records = [
            {"name": f"records-{slo.id}", "rules": [r for g in groups[slo.id] for r in g["rules"] if r.get("record") in wanted]}
            for slo, wanted in zip(slos, names)
            if wanted
        ]
        assert [len(g["rules"]) for g in records] == [len(w) for w in names if w]
        with run_prometheus(prometheus, tmp_path / "prom", flags=HISTORY_FLAGS) as prom:
            backfill_records(promtool, prom.url, records, START, START + HOURS * 3600, EVALUATION_INTERVAL, tmp_path / f"records-{n}")
        assert move_blocks(tmp_path / f"records-{n}", data)
    # The tiles copy the records every 5m: a second pass (promtool backfills no rule that reads
    # another rule being backfilled), over the records' blocks.
    tiles = [{"name": g["name"], "rules": g["rules"]} for slo in slos for g in groups[slo.id] if g["name"].endswith(TILES_GROUP_SUFFIX)]
    assert [len(g["rules"]) for g in tiles] == [len(recorded_inputs(s)) for s in slos]
    with run_prometheus(prometheus, tmp_path / "prom", flags=HISTORY_FLAGS) as prom:
        backfill_records(promtool, prom.url, tiles, START, START + HOURS * 3600, TILE_INTERVAL, tmp_path / "tiles")
    assert move_blocks(tmp_path / "tiles", data)
    with run_prometheus(prometheus, tmp_path / "prom", flags=HISTORY_FLAGS) as prom:
        for slo in slos:
            # The rule the period group renders (the budget group copies its newest), and its raw
            # formulation.
            (rule,) = [r for g in groups[slo.id] for r in g["rules"] if r.get("record") == period_record(WINDOW)]
            assert rule["expr"] == error_ratio_expr(slo, WINDOW)
            derived = _value(prom.url, rule["expr"], slo.label, "bursty")
            raw = _value(prom.url, raw_error_ratio_expr(slo, WINDOW), slo.label, "bursty")
            events, time = _expected(slo)
            assert abs(derived / raw - 1) < TOLERANCE, (slo.id, derived, raw)
            assert abs(raw / events - 1) < TOLERANCE, (slo.id, raw, events)  # the history is what we think
            if isinstance(slo.sli, UptimeSli):
                continue
            # The control: a time average of the 5m ratios misses by far more than the tolerance.
            five = f'sum by ({slo.label}) ({BAD_RATE_RECORD}{{slo="{slo.id}"}}) / sum by ({slo.label}) ({TOTAL_RATE_RECORD}{{slo="{slo.id}"}})'
            time_average = _value(prom.url, f"avg_over_time(({five})[{WINDOW}:5m])", slo.label, "bursty")
            assert abs(time_average / raw - 1) > 0.5 and abs(time_average / time - 1) < 0.01, (slo.id, time_average, time)
            if isinstance(slo.sli, EventRatioSli):
                assert _value(prom.url, rule["expr"], slo.label, "clean") == 0


def test_the_short_window_records_live_in_prometheus_and_every_reader_finds_them():
    """With prod's retention the 30d budget groups go to the Thanos Ruler; the records and tiles they
    read are recorded by Prometheus (alerting groups never move, the tiles groups read 5m back), which the ruler sees through Thanos Query,
    and each derived rule's lookback is its own window (monitoring/windows.py)."""
    from monitoring import windows
    from monitoring.alert_rules import build_rule_files

    files = {stem: c for stem, c in build_rule_files(make_spec()).items() if stem.startswith("slo-")}
    found = windows.rule_windows(files)
    evaluators = windows.group_evaluators(files, "15d")
    short = {BAD_RATE_RECORD, TOTAL_RATE_RECORD, ratio_record("5m")}
    short |= {tile_record(r) for r in short}  # and their tiles
    producers = {evaluators[(w.stem, w.group)] for w in found if w.record in short}
    assert producers == {windows.PROMETHEUS}
    readers = [w for w in found if w.reads & short and w.record not in short]
    assert {evaluators[(w.stem, w.group)] for w in readers} == {windows.PROMETHEUS, windows.THANOS_RULER}
    checked = 0
    for w in found:
        if w.record and w.record.startswith("slo:sli_error:ratio_rate") and w.lookback >= 3600:
            # Its window, through the records it reads at an offset (the tiles behind the 30m records
            # of a 2h or 6h window: a second short, monitoring/slo.py `_headed_ratio`).
            window = parse_duration(w.record.removeprefix("slo:sli_error:ratio_rate").removesuffix(PERIOD_SUFFIX))
            # (The budget group's copy of a period record reaches as far as the record.)
            assert w.own <= w.lookback and 0 <= window - w.lookback <= 1, (w.group, w.record, w.own, w.lookback)
            checked += 1
    assert checked >= 3 * len(effective_slos(make_spec()))
    assert windows.check_rules(files, _retentions()) == []


def _retentions():
    from monitoring import windows

    return windows.Retentions(
        prometheus="15d", thanos={"raw": "35d", "5m": "180d", "1h": "2y"}, influx={}, influx_default="raw",
        scrape_interval="30s", keys={"prometheus": "p", "raw": "raw", "5m": "5m", "1h": "1h", "influx": "influx"},
    )
