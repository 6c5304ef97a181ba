"""Live: the weekly SLO report and alert review (tools/report.py, monitoring/reports.py) against a
real Prometheus holding a week of synthetic history, on both engine generations.

The history (backfilled blocks, tests/history.py) is the dev stack's first ratio SLO's records for
two label values and the `ALERTS` series of three alerts with known episodes, every sample on the
report's one-minute grid. Test-only knob: `--query.lookback-delta=1s`. Backfilled series carry no
staleness markers (a real Prometheus writes one when an alert resolves, so its ALERTS series end
at once); with the default 5m lookback every episode would look 5m longer. The expected figures
are computed here from the history, not read back from the tool.
"""

from __future__ import annotations

import time

import pytest

from monitoring import reports
from monitoring.durations import format_duration, parse_duration
from monitoring.slo import BUDGET_REMAINING_RECORD, canonical, ratio_record
from tests.engines import run_prometheus
from tests.helpers import engine_params, require_engine
from tests.history import HISTORY_FLAGS, create_blocks, move_blocks, write_openmetrics
from tools import report

STEP = 60
WEEK = 7 * 86400
# alertname, severity -> episodes as (start minute after the week began, length in minutes)
EPISODES = {
    ("ApiHighErrorRate", "P2"): [(100, 10), (3000, 120), (9000, 5)],
    ("KubePodCrashLooping", "P3"): [(500, 600)],
    ("PostgresDown", "P1"): [(7000, 3)],
}


@pytest.fixture(scope="module", params=engine_params("prometheus"))
def history(request, tmp_path_factory):
    generation = request.param
    promtool, prometheus = require_engine("promtool", generation), require_engine("prometheus", generation)
    work = tmp_path_factory.mktemp(f"report-{generation}")
    at = (int(time.time()) // 3600) * 3600 - 7200
    start = at - WEEK
    grid = range(start, at + 1, STEP)
    slo = report.stack_slos("dev")[0]
    burn = ratio_record(reports.burn_window(slo))

    def labels(who: str) -> str:
        return f'{{slo="{slo.id}",{slo.label}="{who}"}}'

    # checkout: 0.04% errors over the SLO window, 60% of the budget left, one hour at 14.4x the
    # budget's rate in the week; search: its window ratio only (budget record missing).
    budget = slo.error_budget
    spike = range(at - 2 * 86400, at - 2 * 86400 + 3600, STEP)
    series = [
        (f"{ratio_record(canonical(slo.window))}{labels('checkout')}", [(t, 0.0004) for t in grid]),
        (f"{BUDGET_REMAINING_RECORD}{labels('checkout')}", [(t, 0.6) for t in grid]),
        (f"{burn}{labels('checkout')}", [(t, 14.4 * budget if t in spike else 0.2 * budget) for t in grid]),
        (f"{ratio_record(canonical(slo.window))}{labels('search')}", [(t, 0.5 * budget) for t in grid]),
    ]
    for (name, severity), runs in EPISODES.items():
        minutes = [start + (m + i) * STEP for m, length in runs for i in range(length)]
        series.append((f'ALERTS{{alertname="{name}",alertstate="firing",severity="{severity}"}}', [(t, 1.0) for t in minutes]))
    # the pending state of another alert: not in the review
    series.append(('ALERTS{alertname="NeverFired",alertstate="pending",severity="P3"}', [(start + 60 * i, 1.0) for i in range(30)]))
    source = write_openmetrics(work / "history.om", series)
    create_blocks(promtool, source, work / "blocks", block_duration="744h")
    move_blocks(work / "blocks", work / "prom" / "data")
    with run_prometheus(prometheus, work / "prom", flags=(*HISTORY_FLAGS, "--query.lookback-delta=1s")) as server:
        yield server.url, at, slo


def test_the_slo_rows_read_the_records(history, capsys):
    url, at, slo = history
    assert report.main(["--stack", "dev", "--url", url, "--at", str(at)]) == 0
    text = capsys.readouterr().out
    assert f"| {slo.title} | checkout | {slo.target * 100:.3f}% over {slo.window} | 99.960% | 60.0% | 14.4x |" in text
    assert f"| {slo.title} | search | {slo.target * 100:.3f}% over {slo.window} | {(1 - 0.5 * slo.error_budget) * 100:.3f}% | n/a | n/a |" in text


def test_the_alert_review_counts_episodes_and_quick_resolutions(history, capsys):
    url, at, _ = history
    assert report.main(["--stack", "dev", "--url", url, "--at", str(at)]) == 0
    text = capsys.readouterr().out
    quick = parse_duration(reports.QUICK_RESOLVE) / 60
    for (name, severity), runs in EPISODES.items():
        lengths = [length for _, length in runs]
        row = (f"| {name} | {severity} | {len(runs)} | {format_duration(sum(lengths) * 60)} "
               f"| {format_duration(max(lengths) * 60)} | {sum(n <= quick for n in lengths)} |")  # fmt: skip
        assert row in text
    assert "NeverFired" not in text
    # most episodes first
    assert text.index("ApiHighErrorRate") < text.index("KubePodCrashLooping")


def test_an_unreachable_url_is_one_line(capsys):
    assert report.main(["--stack", "dev", "--url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("report: http://127.0.0.1:9/api/v1/query:")
