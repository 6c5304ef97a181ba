"""Live: the weekly SLO report and alert review (tools/report.py, monitoring/reports.py) against a
real Prometheus holding a week of synthetic history, on both engine generations.

The history (tests/monitoring/report_history.py) is the dev stack's first ratio SLO's records for
two label values and the `ALERTS` series of three alerts with known episodes, every sample on the
report's one-minute grid. The expected figures are computed here from the history, not read back
from the tool.
"""

from __future__ import annotations

import time

import pytest

from monitoring import report_job
from monitoring.durations import format_duration, parse_duration
from tests.helpers import engine_params
from tests.monitoring.report_history import STEP, WEEK, alert_series, history_prometheus, slo_series
from tools import report

# alertname, severity -> episodes as (start minute after the week began, length in minutes)
EPISODES = {
    ("ApiHighErrorRate", "P2"): [(100, 10), (3000, 120), (9000, 5)],
    ("KubePodCrashLooping", "P3"): [(500, 600)],
    ("PostgresDown", "P1"): [(7000, 3)],
}


@pytest.fixture(scope="module", params=engine_params("prometheus"))
def history(request, tmp_path_factory):
    generation = request.param
    work = tmp_path_factory.mktemp(f"report-{generation}")
    at = (int(time.time()) // 3600) * 3600 - 7200
    start = at - WEEK
    grid = range(start, at + 1, STEP)
    slo = report.stack_slos("dev")[0]
    # checkout: 0.04% errors over the SLO window, 60% of the budget left, one hour at 14.4x the
    # budget's rate in the week; search: its window ratio only (budget record missing).
    spike = range(at - 2 * 86400, at - 2 * 86400 + 3600, STEP)
    series = [
        *slo_series(slo, "checkout", grid, window_ratio=0.0004, budget_left=0.6, burn={t: 14.4 for t in spike}, burn_elsewhere=0.2),
        *slo_series(slo, "search", grid, window_ratio=0.5 * slo.error_budget),
    ]
    for (name, severity), runs in EPISODES.items():
        series.append(alert_series({"alertname": name, "severity": severity}, start, runs))
    # the pending state of another alert: not in the review
    series.append(alert_series({"alertname": "NeverFired", "severity": "P3"}, start, [(0, 30)], state="pending"))
    with history_prometheus(generation, work, series) as server:
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
    quick = parse_duration(report_job.QUICK_RESOLVE) / 60
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
