"""The weekly SLO report and alert review (docs/reports.md): what to ask Prometheus (or Thanos
Query) and whose report each answer goes to, as the config monitoring/report_job.py runs. Pure.

The SLO rows read the series the burn-rate alerts, budgets and dashboards read (monitoring/slo.py),
so the report cannot disagree with them; which figure is which, and the alert review, are
described in monitoring/report_job.py, which makes the report from the answers. The teams and the
services each owns are the routing's (monitoring/alertmanager.py route_owners), so a team's report
holds exactly what its channel is paged or notified about.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitoring.alertmanager import RouteOwner
from monitoring.durations import parse_duration
from monitoring.report_job import ReportConfig, SloSpec, TeamSpec
from monitoring.slo import BUDGET_REMAINING_RECORD, burn_windows_for, canonical, ratio_record
from monitoring.slo_catalogue import Slo, SloKind


def burn_window(slo: Slo) -> str | None:
    """The fastest burn tier's long window (its ratio record is the worst-burn input); None: no tier."""
    tiers = burn_windows_for(slo)
    return canonical(min((t.long for t in tiers), key=parse_duration)) if tiers else None


def slo_spec(slo: Slo, period: str) -> SloSpec:
    """The SLO's row as the report job reads it: its promise and its three instant queries."""
    selector = f'{{slo="{slo.id}"}}'
    by = slo.label
    window = burn_window(slo)
    return SloSpec(
        id=slo.id,
        title=slo.title,
        target=slo.target,
        window=slo.window,
        label=slo.label,
        error_budget=slo.error_budget,
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


def report_teams(owners: Sequence[RouteOwner]) -> tuple[TeamSpec, ...]:
    """One entry per team (a team owning several areas gets one report), in routing order: its
    channel and every service of its areas; the fallback area's team is the fallback."""
    teams: dict[str, TeamSpec] = {}
    for o in owners:
        known = teams.get(o.team)
        if known is None:
            teams[o.team] = TeamSpec(o.team, o.slack_channel, tuple(o.services), o.fallback)
        else:
            teams[o.team] = TeamSpec(o.team, o.slack_channel, known.services + tuple(o.services), known.fallback or o.fallback)
    return tuple(teams.values())


def report_config(
    title: str, slos: Iterable[Slo], owners: Sequence[RouteOwner], period: str, step: str, time_zone: str
) -> ReportConfig:
    """The report of a stack: its effective ratio SLOs and its owners (plan/alerting.py owners)."""
    return ReportConfig(
        title=title,
        period=period,
        step=step,
        time_zone=time_zone,
        slos=tuple(slo_spec(s, period) for s in report_slos(slos)),
        teams=report_teams(owners),
    )
