"""Synthetic history for the report's live tests (tests/monitoring/test_reports_live.py, the command
line; tests/monitoring/test_report_job_live.py, the weekly job): an SLO's records per label value
and `ALERTS` series with known episodes, every sample on a one-minute grid, backfilled into a real
Prometheus (tests/history.py).

Test-only knob: `--query.lookback-delta=1s`. Backfilled series carry no staleness markers (a real
Prometheus writes one when an alert resolves, so its ALERTS series end at once); with the default
5m lookback every episode would look 5m longer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from monitoring import reports
from monitoring.slo import BUDGET_REMAINING_RECORD, canonical, ratio_record
from monitoring.slo_catalogue import Slo
from tests.engines import Server, run_prometheus
from tests.helpers import require_engine
from tests.history import HISTORY_FLAGS, create_blocks, move_blocks, write_openmetrics

STEP = 60
WEEK = 7 * 86400
Series = tuple[str, list[tuple[int, float]]]


def slo_series(
    slo: Slo,
    who: str,
    grid: Sequence[int],
    *,
    window_ratio: float,
    budget_left: float | None = None,
    burn: Mapping[int, float] | None = None,
    burn_elsewhere: float | None = None,
) -> list[Series]:
    """One label value's records of `slo` on `grid`: its window's error ratio, its budget left
    (None: no budget record) and its fastest tier's ratio (`burn`: timestamp -> burn rate, x the
    error budget, `burn_elsewhere` at every other timestamp; None: no burn record)."""
    labels = f'{{slo="{slo.id}",{slo.label}="{who}"}}'
    series: list[Series] = [(f"{ratio_record(canonical(slo.window))}{labels}", [(t, window_ratio) for t in grid])]
    if budget_left is not None:
        series.append((f"{BUDGET_REMAINING_RECORD}{labels}", [(t, budget_left) for t in grid]))
    if burn_elsewhere is not None:
        rates = burn or {}
        record = ratio_record(reports.burn_window(slo))
        series.append((f"{record}{labels}", [(t, rates.get(t, burn_elsewhere) * slo.error_budget) for t in grid]))
    return series


def alert_series(labels: Mapping[str, str], start: int, runs: Sequence[tuple[int, int]], state: str = "firing") -> Series:
    """An `ALERTS` series firing in `runs`: (start minute after `start`, length in minutes)."""
    text = ",".join(f'{k}="{v}"' for k, v in sorted({**labels, "alertstate": state}.items()))
    minutes = [start + (m + i) * STEP for m, length in runs for i in range(length)]
    return (f"ALERTS{{{text}}}", [(t, 1.0) for t in minutes])


@contextmanager
def history_prometheus(generation: str, work: Path, series: Sequence[Series]) -> Iterator[Server]:
    """A Prometheus of `generation` serving `series` as backfilled blocks."""
    promtool, prometheus = require_engine("promtool", generation), require_engine("prometheus", generation)
    source = write_openmetrics(work / "history.om", series)
    create_blocks(promtool, source, work / "blocks", block_duration="744h")
    move_blocks(work / "blocks", work / "prom" / "data")
    with run_prometheus(prometheus, work / "prom", flags=(*HISTORY_FLAGS, "--query.lookback-delta=1s")) as server:
        yield server
