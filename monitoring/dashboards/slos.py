"""SLO dashboard: one row per SLO of the catalogue with its target, current level, error budget
remaining and burn rate, per service (or frontend app).

Every number comes from the SLO recording rules (monitoring/slo.py), so the dashboard shows exactly
what the burn-rate alerts evaluate, and a stack's target overrides show up without a dashboard change
(`slo:objective:ratio` is recorded from the effective target).
Ref: https://sre.google/workbook/implementing-slos/
"""

from __future__ import annotations

from collections.abc import Sequence

from monitoring.dashboards import _grafana as g
from monitoring.dashboards._grafana import ENV, QUARTER, SIXTH, THIRD, Step
from monitoring.severity import Severity
from monitoring.slo_catalogue import FRONTEND_LABEL, SLO_CATALOGUE, Slo, SloKind
from monitoring.slo import (
    BUDGET_RECORD,
    BUDGET_REMAINING_RECORD,
    BURN_RATE_WINDOWS,
    OBJECTIVE_RECORD,
    THRESHOLD_RECORD,
    burn_windows_for,
    format_number,
    ratio_record,
)

UID = "tf-slo"
TITLE = "Service level objectives"

# Burn rates shown: the fast (P1) and medium (P2) tiers; every ratio SLO records both windows.
_SHOWN_TIERS = BURN_RATE_WINDOWS[:2]


def _selector(slo: Slo) -> str:
    variable = "app" if slo.label == FRONTEND_LABEL else "service"
    return f'slo="{slo.id}", {slo.label}=~"${variable}", {ENV}'


def _ratio_row(slo: Slo) -> list:
    sel = _selector(slo)
    legend = f"{{{{{slo.label}}}}}"
    burn_tiers = [t for t in _SHOWN_TIERS if t in burn_windows_for(slo)]
    return [
        g.row(f"{slo.title} ({slo.id}): {slo.objective}"),
        g.stat_panel(
            "Target",
            f"The objective over {slo.window}, from `{OBJECTIVE_RECORD}` (includes the stack's override).",
            [g.prom(f'max({OBJECTIVE_RECORD}{{slo="{slo.id}", {ENV}}})', instant=True)],
            unit="percentunit",
            decimals=3,
            width=SIXTH,
            height=6,
        ),
        g.stat_panel(
            f"Current ({slo.window})",
            f"Share of good events over the SLO window ({slo.window}), per {slo.label}.",
            [g.prom(f"1 - {ratio_record(slo.window)}{{{sel}}}", legend, instant=True)],
            unit="percentunit",
            decimals=3,
            threshold_config=g.higher_is_better(slo.target - slo.error_budget, slo.target),
            width=QUARTER,
            height=6,
        ),
        g.bar_gauge_panel(
            "Error budget remaining",
            f"Share of the {slo.window} error budget ({format_number(slo.error_budget * 100)}% of events) "
            "not yet spent. Below 0 the SLO is missed.",
            [g.prom(f"{BUDGET_REMAINING_RECORD}{{{sel}}}", legend, instant=True)],
            unit="percentunit",
            threshold_config=g.thresholds(Step(None, g.RED), Step(0, g.ORANGE), Step(0.25, g.GREEN)),
            minimum=0,
            maximum=1,
            width=QUARTER,
            height=6,
        ),
        g.timeseries_panel(
            "Burn rate",
            "How many times faster than sustainable the budget is being spent (1 = gone exactly at the end "
            "of the window). Lines: "
            + ", ".join(f"{format_number(t.factor)}x over {t.long} pages {t.severity.value}" for t in burn_tiers)
            + ".",
            [
                g.prom(
                    f"{ratio_record(t.long)}{{{sel}}}\n/ on (slo) group_left\n"
                    f'max by (slo) ({BUDGET_RECORD}{{slo="{slo.id}", {ENV}}})',
                    f"{legend} over {t.long}",
                )
                for t in burn_tiers
            ],
            unit="x",
            threshold_config=g.thresholds(
                Step(None, g.GREEN),
                *[
                    Step(t.factor, g.RED if t.severity is Severity.P1 else g.ORANGE)
                    for t in sorted(burn_tiers, key=lambda tier: tier.factor)
                ],
            ),
            show_thresholds=True,
            width=THIRD,
            height=6,
            minimum=0,
        ),
    ]


def _threshold_row(slo: Slo) -> list:
    sel = _selector(slo)
    legend = f"{{{{{slo.label}}}}}"
    unit = "s" if getattr(slo.sli, "unit", "") == "s" else "short"
    metric = slo.sli.metric  # type: ignore[union-attr]
    return [
        g.row(f"{slo.title} ({slo.id}): {slo.objective}"),
        g.stat_panel(
            "Limit",
            f"The limit the worst value must stay under, from `{THRESHOLD_RECORD}`.",
            [g.prom(f'max({THRESHOLD_RECORD}{{slo="{slo.id}", {ENV}}})', instant=True)],
            unit=unit,
            width=SIXTH,
            height=6,
        ),
        g.stat_panel(
            "Current (worst)",
            f"The worst current value of `{metric}`, per {slo.label}.",
            [g.prom(f'max by ({slo.label}) ({metric}{{{slo.label}=~"$service", {ENV}}})', legend, instant=True)],
            unit=unit,
            threshold_config=g.lower_is_better(slo.target / 2, slo.target),
            width=QUARTER,
            height=6,
        ),
        g.bar_gauge_panel(
            f"Time over the limit ({slo.window})",
            f"Share of the last {slo.window} the limit was exceeded.",
            [g.prom(f"{ratio_record(slo.window)}{{{sel}}}", legend, instant=True)],
            unit="percentunit",
            threshold_config=g.lower_is_better(0.0001, 0.001),
            minimum=0,
            maximum=1,
            width=QUARTER,
            height=6,
        ),
        g.timeseries_panel(
            "Value against the limit",
            "The worst value over time; the line is the limit.",
            [g.prom(f'max by ({slo.label}) ({metric}{{{slo.label}=~"$service", {ENV}}})', legend)],
            unit=unit,
            threshold_config=g.lower_is_better(slo.target / 2, slo.target),
            show_thresholds=True,
            width=THIRD,
            height=6,
            minimum=0,
        ),
    ]


def build(environment: str, slos: Sequence[Slo] = SLO_CATALOGUE):
    """`slos` defaults to the catalogue; pass `effective_slos(spec)` to follow a stack's overridden
    windows (targets follow the recording rules either way)."""
    builder = g.new_dashboard(
        UID,
        TITLE,
        "One row per SLO: target, current level, error budget remaining and burn rate.",
        ["slo"],
        time_from="now-7d",
    )
    for variable in (
        g.datasource_variable(),
        g.environment_variable(environment),
        # Services and apps that have an SLO at all, from the recording rules themselves.
        g.query_variable(
            "service",
            "Service",
            f'label_values({BUDGET_REMAINING_RECORD}{{service!="", {ENV}}}, service)',
            include_all=True,
            all_value=".*",
        ),
        g.query_variable(
            "app",
            "Frontend app",
            f'label_values({BUDGET_REMAINING_RECORD}{{{FRONTEND_LABEL}!="", {ENV}}}, {FRONTEND_LABEL})',
            include_all=True,
            all_value=".*",
        ),
    ):
        builder = builder.with_variable(variable)
    panels: list = []
    for slo in slos:
        panels += _ratio_row(slo) if slo.kind is SloKind.RATIO else _threshold_row(slo)
    return g.add_panels(builder, panels)
