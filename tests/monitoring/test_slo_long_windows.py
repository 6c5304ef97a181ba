"""Real promtool: an SLO's long windows, derived from its recorded 5m series (monitoring/slo.py, "Long
windows"), equal the raw formulation over real history.

The history is uneven on purpose: busy hours carry 10x the traffic of quiet ones and nearly all the
errors, and one busy hour has an incident. Weighted by events (the rate ratio of the raw
formulation), that history's error ratio over the window is over twice its time average; a derivation that
averaged the 5m ratios (weighting by time) would be far off, and this test would catch it (the
promtool case checks both, and the Python side checks that the two figures are far apart).

The rules are the SLO's own rendered groups (`slo-<id>`, `slo-<id>-budget`), evaluated every 5m:
the records are then contiguous 5m blocks, as at any production interval of 5m or less. The window's
ends fall in quiet hours: a derived window reaches one record (under 5m) further back than the raw
one, which weighs 1e-4 of a 30-day window but up to 0.4% of this 1-day one if a busy hour sat there.
The SLO's window is set to 1d (an override), which keeps every burn tier but the 3d one.
"""

from __future__ import annotations

import subprocess

import pytest
from tests.helpers import engine_params, require_engine
from tests.monitoring.alerting_helpers import make_spec, write_yaml

from monitoring.durations import parse_duration
from monitoring.slo import BAD_RATE_RECORD, TOTAL_RATE_RECORD, effective_slos, ratio_record, raw_error_ratio_expr, slo_rule_groups
from monitoring.slo_catalogue import EventRatioSli

pytestmark = pytest.mark.spread

SLO_ID = "api-availability"  # an EventRatioSli
# Its window, shortened from 30d for run time: promtool evaluates every rule at every step, so 30
# days at 5m steps cost a minute per engine (and the raw 30d query exceeds promtool's sample limit).
WINDOW = "1d"
SCRAPE_MINUTES = 1
EVALUATION_INTERVAL = "5m"
HOURS = 24 + 3  # the window plus the records' 5m and a margin
EVAL_AT = f"{HOURS - 1}h30m"  # mid-hour, in a quiet hour at both ends of the window
BUSY_HOURS = {9, 10, 11, 14, 15, 16, 20}
INCIDENT_HOUR = 15
TOLERANCE = 0.001  # the 0.1%


def _hour(h: int) -> tuple[float, float]:
    """(requests per minute, errors per minute) of hour `h`: binary fractions, exact in floats."""
    if h % 24 in BUSY_HOURS:
        return 2500.0, (250.0 if h == INCIDENT_HOUR else 50.0)  # 10% in the incident, else 2%
    return 250.0, 0.25  # 0.1%


def _counter(per_minute: list[float]) -> str:
    """promtool notation of a counter growing by per_minute[h] each minute of hour h."""
    parts, value = [], 0.0
    for h, step in enumerate(per_minute):
        n = 60 // SCRAPE_MINUTES
        if h == 0:
            parts.append(f"0+{step:g}x{n}")
            value = step * n
        else:
            parts.append(f"{value + step:.17g}+{step:g}x{n - 1}")
            value += step * n
    return " ".join(parts)


def _expected(start_hour: float, end_hour: float) -> tuple[float, float]:
    """(event-weighted, time-weighted) error ratio of the hours in the window."""
    bad = total = ratio_time = 0.0
    h = start_hour
    while h < end_hour:
        span = min(end_hour, int(h) + 1) - h
        requests, errors = _hour(int(h))
        bad, total, ratio_time = bad + errors * span, total + requests * span, ratio_time + errors / requests * span
        h += span
    return bad / total, ratio_time / (end_hour - start_hour)


def _case(slo) -> dict:
    sli = slo.sli
    assert isinstance(sli, EventRatioSli) and "{" in sli.bad, "the case builds status-code series"
    metric = sli.total
    hours = range(HOURS)
    good = [_hour(h)[0] - _hour(h)[1] for h in hours]
    bad = [_hour(h)[1] for h in hours]
    requests = [_hour(h)[0] for h in hours]
    series = [
        {"series": f'{metric}{{service="bursty", http_response_status_code="200"}}', "values": _counter(good)},
        {"series": f'{metric}{{service="bursty", http_response_status_code="503"}}', "values": _counter(bad)},
        # A service that never failed has no bad series: its ratio is 0, not absent.
        {"series": f'{metric}{{service="clean", http_response_status_code="200"}}', "values": _counter(requests)},
    ]
    window = slo.window
    derived = f'{ratio_record(window)}{{slo="{slo.id}", service="bursty"}}'
    raw = raw_error_ratio_expr(slo, window)
    time_average = f'avg_over_time({ratio_record("5m")}{{slo="{slo.id}", service="bursty"}}[{window}])'
    labels = '{service="bursty"}'  # `on (service)` keeps that label only
    return {
        "interval": f"{SCRAPE_MINUTES}m",
        "input_series": series,
        "promql_expr_test": [
            {
                "expr": f"abs({derived} / on (service) (\n{raw}\n) - 1) < bool {TOLERANCE}",
                "eval_time": EVAL_AT,
                "exp_samples": [{"labels": labels, "value": 1}],
            },
            # The control: a time average of the 5m ratios misses by far more than the tolerance.
            {
                "expr": f"abs({time_average} / on (service) (\n{raw}\n) - 1) > bool 0.5",
                "eval_time": EVAL_AT,
                "exp_samples": [{"labels": labels, "value": 1}],
            },
            {
                "expr": f'{ratio_record(window)}{{slo="{slo.id}", service="clean"}}',
                "eval_time": EVAL_AT,
                "exp_samples": [{"labels": f'{ratio_record(window)}{{service="clean", slo="{slo.id}"}}', "value": 0}],
            },
        ],
    }


@pytest.fixture(params=engine_params("promtool"))
def promtool(request) -> str:
    return require_engine("promtool", request.param)


def _slo():
    spec = make_spec(sloOverrides={SLO_ID: {"window": WINDOW}})
    return spec, next(s for s in effective_slos(spec) if s.id == SLO_ID)


def test_the_history_tells_event_from_time_weighting():
    _, slo = _slo()
    end = parse_duration(EVAL_AT) / 3600
    events, time = _expected(end - parse_duration(slo.window) / 3600, end)
    assert events / time > 2 and abs(time / events - 1) > 0.5


def test_the_derived_window_ratio_equals_the_raw_one_on_uneven_traffic(promtool, tmp_path):
    spec, slo = _slo()
    assert slo.window == WINDOW
    groups = slo_rule_groups(spec, slo)
    recorded = {r.get("record") for g in groups for r in g["rules"]}
    assert {BAD_RATE_RECORD, TOTAL_RATE_RECORD, ratio_record(slo.window)} <= recorded
    # The test copy evaluates the budget group (5m in production) at the same step as the rest.
    groups = [{k: v for k, v in g.items() if k != "interval"} for g in groups]
    rules = write_yaml(tmp_path / "rules.yaml", {"groups": groups})
    test = write_yaml(
        tmp_path / "test.yaml",
        {"rule_files": [str(rules)], "evaluation_interval": EVALUATION_INTERVAL, "tests": [_case(slo)]},
    )
    result = subprocess.run([promtool, "test", "rules", str(test)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_short_window_records_live_in_prometheus_and_every_reader_finds_them():
    """With prod's retention the 30d budget groups go to the Thanos Ruler; the records they read are
    recorded by Prometheus (alerting groups never move), which the ruler sees through Thanos Query,
    and each derived rule's lookback is its own window (monitoring/windows.py)."""
    from monitoring import windows
    from monitoring.alert_rules import build_rule_files

    files = {stem: c for stem, c in build_rule_files(make_spec()).items() if stem.startswith("slo-")}
    found = windows.rule_windows(files)
    evaluators = windows.group_evaluators(files, "15d")
    short = {BAD_RATE_RECORD, TOTAL_RATE_RECORD, ratio_record("5m")}
    producers = {evaluators[(w.stem, w.group)] for w in found if w.record in short}
    assert producers == {windows.PROMETHEUS}
    readers = [w for w in found if w.reads & short and w.record not in short]
    assert {evaluators[(w.stem, w.group)] for w in readers} == {windows.PROMETHEUS, windows.THANOS_RULER}
    for w in readers:
        if w.record and w.record.startswith("slo:sli_error:ratio_rate") and w.own >= 3600:
            assert w.lookback == w.own == parse_duration(w.record.removeprefix("slo:sli_error:ratio_rate"))
    assert windows.check_rules(files, _retentions()) == []


def _retentions():
    from monitoring import windows

    return windows.Retentions(
        prometheus="15d", thanos={"raw": "35d", "5m": "180d", "1h": "2y"}, influx={}, influx_default="raw",
        scrape_interval="30s", keys={"prometheus": "p", "raw": "raw", "5m": "5m", "1h": "1h", "influx": "influx"},
    )
