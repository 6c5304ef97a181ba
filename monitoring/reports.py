"""The weekly SLO report and alert review (docs/reports.md): what to ask Prometheus (or Thanos
Query) and the report made from its answers. Pure: tools/report.py asks over HTTP.

SLO report, per ratio SLO and per value of its label (service, or app for the frontend), at the
report's time. It reads the series the burn-rate alerts, budgets and dashboards read
(monitoring/slo.py), so the report cannot disagree with them:
- objective: the effective SLO's target over its window (stack overrides applied);
- achieved: 1 - the error ratio over the SLO window (`slo:sli_error:ratio_rate<window>`);
- budget left: `slo:error_budget_remaining:ratio`;
- worst burn: the highest error ratio over the fastest burn tier's long window (1h) during the
  report period, divided by the error budget (1x spends the budget exactly over the window).

Alert review, per alert name and severity over the report period, from Prometheus' own `ALERTS`
series (one per firing alert, written at every evaluation): how many times it fired (episodes: runs
of consecutive evaluations), for how long in total and at the longest, and how many episodes ended
within QUICK_RESOLVE (by themselves, before anyone could act: the candidates for tuning). Episodes
come from a range query at the evaluation interval; a gap of more than one step ends an episode.
Ref: prometheus/prometheus@v3.5.3 rules/alerting.go (the `ALERTS` series and its `alertstate`
label); https://prometheus.io/docs/prometheus/latest/querying/api/#range-queries
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from monitoring.durations import format_duration, parse_duration
from monitoring.slo import BUDGET_REMAINING_RECORD, burn_windows_for, canonical, ratio_record
from monitoring.slo_catalogue import Slo, SloKind

# An episode shorter than this resolved by itself before a person could act on it: a P1 pages
# after 10s of group_wait and is acknowledged within minutes at best.
QUICK_RESOLVE = "15m"
ALERTS_QUERY = 'ALERTS{alertstate="firing"}'


@dataclass(frozen=True)
class SloQueries:
    """The instant queries of one SLO's row (each answers one series per value of the SLO label)."""

    slo: Slo
    achieved: str
    budget_left: str
    worst_error_ratio: str | None  # None: no burn tier (no burn record to read)


def burn_window(slo: Slo) -> str | None:
    """The fastest burn tier's long window (its ratio record is the worst-burn input); None: no tier."""
    tiers = burn_windows_for(slo)
    return canonical(min((t.long for t in tiers), key=parse_duration)) if tiers else None


def slo_queries(slo: Slo, period: str) -> SloQueries:
    selector = f'{{slo="{slo.id}"}}'
    by = slo.label
    window = burn_window(slo)
    return SloQueries(
        slo,
        achieved=f"1 - max by ({by}) ({ratio_record(canonical(slo.window))}{selector})",
        budget_left=f"max by ({by}) ({BUDGET_REMAINING_RECORD}{selector})",
        worst_error_ratio=(
            f"max by ({by}) (max_over_time({ratio_record(window)}{selector}[{canonical(period)}]))"
            if window
            else None
        ),
    )


def report_slos(slos: Iterable[Slo]) -> list[Slo]:
    """The SLOs the report covers: ratio SLOs (a threshold SLO has no budget to report)."""
    return [s for s in slos if s.kind is SloKind.RATIO]


@dataclass(frozen=True)
class SloRow:
    slo: Slo
    who: str  # the SLO label's value
    achieved: float | None
    budget_left: float | None
    worst_burn: float | None


def slo_rows(queries: SloQueries, answers: Mapping[str, Mapping[str, float]]) -> list[SloRow]:
    """Rows from the answers ({query: {label value: number}}), one per label value any answer has."""
    slo = queries.slo
    achieved = answers.get(queries.achieved, {})
    left = answers.get(queries.budget_left, {})
    worst = answers.get(queries.worst_error_ratio, {}) if queries.worst_error_ratio else {}
    return [
        SloRow(slo, who, achieved.get(who), left.get(who), worst[who] / slo.error_budget if who in worst else None)
        for who in sorted({*achieved, *left, *worst})
    ]


@dataclass(frozen=True)
class AlertReview:
    alertname: str
    severity: str
    episodes: int
    firing_seconds: float
    longest_seconds: float
    quick: int  # episodes that ended within QUICK_RESOLVE


def episodes(timestamps: Sequence[float], step: float) -> list[float]:
    """Durations (s) of the runs of consecutive samples; a run of one sample lasted one step."""
    runs: list[float] = []
    start = previous = None
    for ts in timestamps:
        if previous is not None and ts - previous > 1.5 * step:
            runs.append(previous - start + step)
            start = None
        start = ts if start is None else start
        previous = ts
    if start is not None:
        runs.append(previous - start + step)
    return runs


def alert_reviews(series: Iterable[tuple[Mapping[str, str], Sequence[float]]], step: float) -> list[AlertReview]:
    """Per (alertname, severity), from the range answer of ALERTS_QUERY: (labels, sample
    timestamps) per alert series. Sorted by episodes, then firing time, most first."""
    grouped: dict[tuple[str, str], list[float]] = {}
    for labels, timestamps in series:
        key = (labels.get("alertname", ""), labels.get("severity", ""))
        grouped.setdefault(key, []).extend(episodes(sorted(timestamps), step))
    quick = parse_duration(QUICK_RESOLVE)
    reviews = [
        AlertReview(name, severity, len(runs), sum(runs), max(runs), sum(r <= quick for r in runs))
        for (name, severity), runs in grouped.items()
    ]
    return sorted(reviews, key=lambda r: (-r.episodes, -r.firing_seconds, r.alertname))


def _percent(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _duration(seconds: float) -> str:
    return format_duration(round(seconds / 60) * 60) if seconds >= 60 else f"{seconds:.0f}s"


def markdown(title: str, period: str, rows: Sequence[SloRow], reviews: Sequence[AlertReview]) -> str:
    """The report as Markdown (Slack renders the same tables as text)."""
    lines = [f"# {title}", "", f"## SLOs (budget window per SLO; worst burn over the last {period})", ""]
    lines += ["| SLO | for | objective | achieved | budget left | worst burn |", "|---|---|---|---|---|---|"]
    for r in rows:
        burn = "n/a" if r.worst_burn is None else f"{r.worst_burn:.1f}x"
        met = "" if r.achieved is None or r.achieved >= r.slo.target else " (missed)"
        lines.append(
            f"| {r.slo.title} | {r.who} | {_percent(r.slo.target)} over {r.slo.window} | {_percent(r.achieved)}{met} "
            f"| {_percent(r.budget_left, 1)} | {burn} |"
        )
    if not rows:
        lines.append("| (no SLO series found) | | | | | |")
    lines += ["", f"## Alert review (last {period}; quick = resolved within {QUICK_RESOLVE})", ""]
    lines += ["| alert | severity | fired | firing in total | longest | quick |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {r.alertname} | {r.severity} | {r.episodes} | {_duration(r.firing_seconds)} | {_duration(r.longest_seconds)} | {r.quick} |"
        for r in reviews
    ]
    if not reviews:
        lines.append("| (no alert fired) | | | | | |")
    return "\n".join(lines) + "\n"
