"""The builder that turns each SLO of the catalogue (monitoring/slo_catalogue.py) into recording
rules and alerts.

Every ratio SLO gets:
- `slo:sli_error:ratio_rate<window>` recording rules: the share of bad events (or bad time) over
  each window the burn-rate alerts need, per service (or per frontend app). Every window longer
  than 5m is derived from recorded 5m series, never from raw ones (see "Long windows" below);
- multi-window, multi-burn-rate alerts (BURN_RATE_WINDOWS, one alert name per SLO, severity label
  per tier);
- error-budget series for dashboards (`slo:objective:ratio`, `slo:error_budget:ratio`,
  `slo:error_budget_remaining:ratio`) in a slower group, because a 30-day rate is costly and a
  dashboard does not need it every 30 s;
- when its window is a day or shorter (the 24h API SLOs), a threshold alert over that window.

A threshold SLO (replication lag) is a limit a gauge must stay under: it gets a threshold alert and a
"share of time over the limit" series.

Long windows. A raw `rate(x[30d])` reads every raw sample of every matching series over 30 days
at each evaluation; the cost grows with series x window. So each SLO records its SLI once over a
short window (SHORT_WINDOW, 5m) per SLO label, and every longer window (DERIVED_FROM, 30m, and up)
reads only those few recorded series (`recorded_inputs`):
- event-based SLIs (EventRatioSli, LatencySli) record the per-second rates of all and of bad events
  (`slo:sli_total:rate5m`, then `slo:sli_bad:rate5m`, which reads the total record: each raw series
  once per evaluation, `recorded_bad_rate`); a long window is
  `sum_over_time(bad[W]) / sum_over_time(total[W])` (the 30m and 1h ones: see "Lag"). Each record is the event rate of the 5m before
  it, so the sums count every event of the window the same number of times (once at a 5m
  evaluation interval, ten times at production's 30s, where consecutive records overlap), and the
  ratio of the sums weighs every event alike (an hour with 10x the traffic counts 10x), as the raw
  `rate(bad[W]) / rate(total[W])` does; an average of 5m ratios would weigh a quiet night like a
  busy day. The 5m ratio itself is bad / total of the same two records.
- time-based SLIs: UptimeSli's long windows are the time average (avg_over_time) of its recorded
  5m error ratio, which is what the raw avg_over_time measures; GaugeLimitSli already reads only
  its recorded per-evaluation `slo:threshold_exceeded:bool`, so it is unchanged.
- the 30m window (the P2 tier's short one) is derived too: on raw series it read every input
  series' last 30 minutes at each evaluation, a fifth of the whole rule set's cost on real history
  (tools/bench_history.py).
A derived window and the raw one differ only at the window's start: at an evaluation interval
under 5m the first records reach up to 5m before it (counted by fewer records than the rest), and
Prometheus 3's left-open ranges leave out the oldest scrape interval of a raw window (`[1d]` over
1m samples holds 1439 increments; the derived `[1d]` over records every 5m covers 1440 minutes).
Prometheus 2.x selects ranges closed: when record timestamps align with the window's start (rules
of one group, as in promtool) it holds one record more (5m further back), as its raw windows hold
one sample more.
Ref: https://prometheus.io/docs/prometheus/latest/migration/#range-selectors-and-lookback-exclude-samples-coinciding-with-the-left-boundary
Ref: https://prometheus.io/docs/prometheus/latest/querying/functions/#aggregation_over_time
(`sum_over_time`: "the sum of all ... samples in the specified interval", whatever the step).
Lag. A record is the rate of the 5m before it, so in a sum of all the records of a window the
newest events are counted by fewer records than the rest (the last one only by the record at t):
after a sudden burn, such a window lags the raw one by about half the short window. Measured with
promtool at production's 30s (a 1h window read with `sum_over_time`), that delayed the P1 page by
2 minutes at any burn rate (3m -> 5m at 100% errors, 19m -> 21m at 5%, budget 0.1%), against a
floor of `for: 2m` plus an evaluation interval. So windows up to STITCHED_UP_TO (30m and 1h, the
windows of the P1 and P2 tiers that page quickly) add up the records at t, t - 5m, t - 10m, ...
(consecutive, non-overlapping 5m spans, i.e. exactly the window, whatever the evaluation interval:
5m is a multiple of it, so those instants are evaluation instants). The 2h and 6h windows take
their newest 30m from the 30m records the same way (no lag there) and the rest from the tiles
("Cost"). The day-long windows (the P3 tiers with `for: 1h`, the budget) read every tile with
`sum_over_time`/`avg_over_time`, and their lag of about 2.5 minutes is small next to their `for`.
Ref: https://prometheus.io/docs/prometheus/latest/querying/basics/#offset-modifier
Cost. Two more kinds of record keep the derived windows cheap at a 30s evaluation interval
(measured: tools/bench_history.py, docs/alerting.md):
- the 30m records (`slo:sli_bad:rate30m`, `slo:sli_total:rate30m`, the mean of the six 5m records
  back from t; an UptimeSli's is its 30m ratio): the 30m ratio reads them, and the 1h window adds
  the 30m records at t and at t - 30m, the same twelve 5m spans as before (so the same value and no
  lag) from 4 instant selectors instead of 24;
- the tiles (`<5m record>_tile`): the SLO's tiles group copies its 5m records once every
  TILE_INTERVAL (5m), so consecutive tiles are the rates of consecutive 5m spans, and the windows
  from TILED_FROM (1d) up (the P3 and P4 long windows, the budget) read a tenth of the samples of
  the records written at every 30s evaluation, and the 2h and 6h windows (the P2 tier's long one,
  every 30s) read the tiles but for their newest 30m, which is the 30m records at t
  (`_headed_ratio`): 67 samples per series instead of the 720 records of 6h at 30s. Their sums still count every event once; they lag
  by the time since the last tile (under 5m, 2.5m on average), small next to a day-long window and
  `for: 1h`. The tiles group reads the newest record within the 5m lookback, written by the
  alerting group at most one of its intervals earlier; a tiles evaluation that is missed leaves a
  5m hole in both sums alike, so the ratio barely moves. The tiles group reads 5m back only, so it
  always stays in Prometheus (monitoring/windows.py), where the alerting groups read it and the
  Thanos Ruler's budget groups find it through Thanos Query.
- the slow group (`slo-<id>-slow`, every SLOW_GROUP_INTERVAL, 5m): the windows and alerts that page
  nobody (the P3 tiers, 1d/2h and 3d/6h with `for: 1h`, and a P3 threshold alert) are evaluated a
  tenth as often as the paging tiers; they were a third of the rule set's cost at 1M series
  (tools/bench_history.py). The group reads the alerting group's records (at most one of its
  intervals old) and the tiles; its alerts are tickets, for which 5m more is nothing next to
  their `for`. A budget group reading a record of it takes the newest within two of its
  intervals (`last_over_time`): both groups run every 5m in their own phase.
- the period group (`slo-<id>-period`, every PERIOD_GROUP_INTERVAL, 30m): the SLO window's ratio
  where no alert reads it (the 7d and 30d budgets). It reads every tile of every block of its
  window, a cost per series and per block (360 2h blocks for 30d, where Prometheus runs with the
  Thanos sidecar's fixed 2h blocks) that fewer samples do not cut; evaluated a sixth as often as
  every 5m, it was the largest single cost left at 1M series (tools/bench_history.py). The budget
  group copies its newest value under the window's usual name (`slo:sli_error:ratio_rate30d`), so
  every reader reads a series written every 5m, at most 30m behind: 1/1440 of a 30-day window.
Every derived window reads a record of the SLO's alerting group (`slo-<id>`), which always stays in
Prometheus (it has alerts); a budget group that goes to the Thanos Ruler reads those records through
Thanos Query (the sidecar serves them, then the bucket), so every reader finds them. The records
come first in their group, which evaluates its rules in order and commits each rule's samples
before the next runs, so the group's derived windows and alerts read this evaluation's records.
Ref: prometheus/prometheus@v3.5.3 rules/group.go `Group.Eval` ("all rules are evaluated
sequentially"; the appender is committed at the end of each rule's evaluation).
monitoring/windows.py gives a derived rule its own range as lookback (the records are 5m deep).
After a first rollout a derived window only holds the history recorded since then: the 30d budget
is complete 30 days later (the raw formulation had no such ramp), unless the records are backfilled
from the raw history (`promtool tsdb create-blocks-from rules`, docs/alerting.md).

Ref: https://sre.google/workbook/alerting-on-slos/ (multiwindow, multi-burn-rate alerts)
Ref: slok/sloth internal/prometheus/recording_rules.go `optimizedSLIRecordGenerator` (long windows
from the recorded 5m `slo:sli_error:ratio_rate5m`: sum_over_time / count_over_time, i.e. a time
average of ratios; we keep its structure, and for event SLIs record numerator and denominator so
the weighting is by events).
Ref: https://prometheus.io/docs/practices/rules/ ("aggregate up the numerator and denominator
separately and then divide"; averaging ratios is statistically invalid).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from monitoring.alerting_spec import AlertingSpec
from monitoring.durations import canonical, format_duration, parse_duration
from monitoring.severity import SEVERITIES, Severity
from monitoring.slo_catalogue import (
    SERVICE_LABEL,
    SLO_CATALOGUE,
    Area,
    EventRatioSli,
    GaugeLimitSli,
    LatencySli,
    Slo,
    SloKind,
    UptimeSli,
    kebab,
)


# --- PromQL helpers (shared with the rule catalogue) -------------------------------------------
def le_matcher(bound: float) -> str:
    """Label matcher for a histogram bucket bound that works on Prometheus 2.42 and 3.x.

    Prometheus 3 normalises bucket bounds on ingestion, so a whole-number bound scraped as `le="1"`
    is stored as `le="1.0"`; matching both spellings keeps one rule valid on both versions.
    Ref: https://prometheus.io/docs/prometheus/latest/migration/#le-and-quantile-label-values
    """
    if float(bound).is_integer():
        return f'le=~"{int(bound)}(\\\\.0)?"'
    return f'le="{format_number(bound)}"'


def format_number(value: float) -> str:
    """Shortest exact-looking decimal for a float: 0.001 not 0.0010000000000000009."""
    return format(value, ".12g")


# The budget period the burn-rate table was designed for.
BUDGET_PERIOD = "30d"
# How often the error-budget (dashboard) groups are evaluated: long-window rates are expensive.
BUDGET_GROUP_INTERVAL = "5m"
BUDGET_GROUP_SUFFIX = "-budget"
TILES_GROUP_SUFFIX = "-tiles"
# The group of the windows and alerts that page nobody (the P3 tiers: tickets, `for: 1h`): every 5m,
# a tenth of the evaluations of the alerting group (module docstring, "Cost").
# Ref: https://sloth.dev/ (the contrib plugin sloth.dev/contrib/rule_intervals/v1: an interval per
# kind of generated rule, SLI records, metadata and alerts)
SLOW_GROUP_SUFFIX = "-slow"
SLOW_GROUP_INTERVAL = "5m"
# The group of the SLO window's own ratio when no alert reads it (the 7d and 30d budgets), copied by
# the budget group (module docstring, "Cost": the period group). Its blocks stay 2h: with a sidecar
# that uploads, the operator sets min and max block duration to the Thanos block duration (2h).
# Ref: prometheus-operator/prometheus-operator pkg/prometheus/server/statefulset.go
# `makeStatefulSetSpec` (disableCompaction: storage.tsdb.max-block-duration = min = 2h)
PERIOD_GROUP_SUFFIX = "-period"
PERIOD_GROUP_INTERVAL = "30m"
PERIOD_SUFFIX = "_period"
@dataclass(frozen=True)
class BurnRateWindow:
    """One row of the multi-window, multi-burn-rate table.

    Burn rate 1 spends exactly the budget over the budget period; 14.4 over 1h spends 2% of a 30-day
    budget in that hour. The short window makes the alert stop soon after the burn stops.
    """

    severity: Severity
    factor: float
    long: str
    short: str
    for_: str

    def budget_spent(self, period: str = BUDGET_PERIOD) -> float:
        """Share of the period's budget spent when the long window first crosses the factor."""
        return self.factor * parse_duration(self.long) / parse_duration(period)


# Ref: https://sre.google/workbook/alerting-on-slos/#6-multiwindow-multi-burn-rate-alerts
# (table 5-8: 2% / 5% / 10% of a 30-day budget; short window = 1/12 of the long one).
# `for_` is ours: a small confirmation delay against one-scrape blips, longer for slower tiers.
BURN_RATE_WINDOWS: tuple[BurnRateWindow, ...] = (
    BurnRateWindow(Severity.P1, 14.4, "1h", "5m", "2m"),
    BurnRateWindow(Severity.P2, 6.0, "6h", "30m", "15m"),
    BurnRateWindow(Severity.P3, 3.0, "1d", "2h", "1h"),
    BurnRateWindow(Severity.P3, 1.0, "3d", "6h", "1h"),
)

def effective_slos(spec: AlertingSpec, without: frozenset[str] = frozenset()) -> list[Slo]:
    """The catalogue with the stack's target/window overrides applied (catalogue order), less the
    SLOs whose producer is in `without` (optional producers the stack does not deploy)."""
    result = []
    for slo in SLO_CATALOGUE:
        if slo.requires in without:
            continue
        override = spec.slo_overrides.get(slo.id)
        if override is not None:
            if override.target is not None:
                slo = replace(slo, target=override.target)
            if override.window is not None:
                slo = replace(slo, window=canonical(override.window))
        result.append(slo)
    return result


def burn_windows_for(slo: Slo) -> list[BurnRateWindow]:
    """The burn-rate tiers that make sense for this SLO's window.

    Burn rates are normalised (1x = budget gone exactly at the end of the window), so the factors
    and windows of the table stay as they are for any SLO window: they set detection and reset time,
    which are operational choices. A tier whose long window is not shorter than the SLO window is
    dropped: it would no longer warn before the SLO is missed. The 24h SLOs keep the P1 and P2 tiers
    and get a threshold alert over their window instead of the slow tiers.
    """
    if slo.kind is not SloKind.RATIO:
        return []
    window = parse_duration(slo.window)
    return [w for w in BURN_RATE_WINDOWS if parse_duration(w.long) < window]


def has_threshold_alert(slo: Slo) -> bool:
    return slo.kind is SloKind.THRESHOLD or parse_duration(slo.window) <= parse_duration("1d")


# --- PromQL for each SLI shape -----------------------------------------------------------------


# The short window every SLO records, and the shortest window derived from those records.
SHORT_WINDOW = "5m"
DERIVED_FROM = "30m"
# Derived windows up to this one add up the records of their consecutive 5m spans (12 for 1h): no
# lag where it matters most, the P1 and P2 tiers (module docstring, "Lag").
STITCHED_UP_TO = "1h"
BAD_RATE_RECORD = f"slo:sli_bad:rate{SHORT_WINDOW}"
TOTAL_RATE_RECORD = f"slo:sli_total:rate{SHORT_WINDOW}"
# The 30m records (module docstring, "Cost"): a stitched window that is a multiple of 30m adds up
# these (2 for 1h) instead of its 5m records (12 for 1h).
MIDDLE_WINDOW = "30m"
BAD_MIDDLE_RECORD = f"slo:sli_bad:rate{MIDDLE_WINDOW}"
TOTAL_MIDDLE_RECORD = f"slo:sli_total:rate{MIDDLE_WINDOW}"
# Windows from TILED_FROM up read the tiles: the 5m records copied once every 5m by the SLO's tiles
# group (TILE_INTERVAL), a tenth of the samples of the records written at every 30s evaluation.
TILED_FROM = "1d"
TILE_INTERVAL = SHORT_WINDOW
TILE_SUFFIX = "_tile"
BAD_TILE_RECORD = BAD_RATE_RECORD + TILE_SUFFIX
TOTAL_TILE_RECORD = TOTAL_RATE_RECORD + TILE_SUFFIX


def is_event_based(slo: Slo) -> bool:
    return isinstance(slo.sli, (EventRatioSli, LatencySli))


def is_derived(slo: Slo, window: str) -> bool:
    """Whether the rule for `window` reads the SLO's recorded short-window series (not raw ones)."""
    if isinstance(slo.sli, GaugeLimitSli):
        return False  # reads its recorded per-evaluation EXCEEDED_RECORD at every window
    if is_event_based(slo) and canonical(window) == SHORT_WINDOW:
        return True
    return parse_duration(window) >= parse_duration(DERIVED_FROM)


def raw_event_rates(slo: Slo, window: str) -> tuple[str, str]:
    """(bad, total) events per second over `window` from the raw series, per SLO label."""
    by = slo.label
    sli = slo.sli
    if isinstance(sli, EventRatioSli):
        total = f"sum by ({by}) (rate({sli.total}[{window}]))"
        # `or 0 * total`: a service that never failed has no bad series at all; without this its
        # ratio would be absent instead of 0 and its budget would vanish from dashboards.
        return f"(sum by ({by}) (rate({sli.bad}[{window}])) or 0 * {total})", total
    if isinstance(sli, LatencySli):
        good = f"sum by ({by}) (rate({sli.metric}_bucket{{{le_matcher(sli.threshold_seconds)}}}[{window}]))"
        total = f"sum by ({by}) (rate({sli.metric}_count[{window}]))"
        return f"(\n{total}\n-\n{good}\n)", total
    raise AssertionError(f"{type(sli).__name__} is not event-based")


def raw_error_ratio_expr(slo: Slo, window: str) -> str:
    """PromQL for the share of bad events (or bad time) over `window`, per SLO label, from the raw
    series (what the derived rules must equal; the metrics contract checks its inputs)."""
    by = slo.label
    sli = slo.sli
    if isinstance(sli, LatencySli):
        # 1 - good / all: two selectors (the bad rate of raw_event_rates reads the total twice).
        good = f"sum by ({by}) (rate({sli.metric}_bucket{{{le_matcher(sli.threshold_seconds)}}}[{window}]))"
        total = f"sum by ({by}) (rate({sli.metric}_count[{window}]))"
        return f"1 - (\n{good}\n/\n{total}\n)"
    if is_event_based(slo):
        bad, total = raw_event_rates(slo, window)
        return f"{bad}\n/\n{total}"
    if isinstance(sli, UptimeSli):
        return f"1 - avg by ({by}) (avg_over_time({sli.metric}[{window}]))"
    if isinstance(sli, GaugeLimitSli):
        return f'avg_over_time({EXCEEDED_RECORD}{{slo="{slo.id}"}}[{window}])'
    raise AssertionError(f"unknown SLI shape {type(sli).__name__}")


def recorded_inputs(slo: Slo) -> tuple[str, ...]:
    """Names of the records the SLO's derived windows read (recorded from raw series in its
    alerting group), empty when no window is derived."""
    if is_event_based(slo):
        return (BAD_RATE_RECORD, TOTAL_RATE_RECORD)
    if isinstance(slo.sli, UptimeSli):
        return (ratio_record(SHORT_WINDOW),)
    return ()


def recorded_bad_rate(slo: Slo) -> str:
    """The bad-event rate over SHORT_WINDOW, reading the raw series of the bad events only: the
    total's part comes from this evaluation's total record, which the group records just before
    (rules of one group are evaluated in order, each committed before the next), so each raw
    series of the SLI is read once per evaluation instead of the total's twice. `sum by`: the
    record carries the `slo` label, the raw aggregation only the SLO label."""
    by, sli = slo.label, slo.sli
    total = f'sum by ({by}) ({TOTAL_RATE_RECORD}{{slo="{slo.id}"}})'
    if isinstance(sli, EventRatioSli):
        # `or 0 * total`: 0, not absent, for a service that never failed (see raw_event_rates).
        return f"(sum by ({by}) (rate({sli.bad}[{SHORT_WINDOW}])) or 0 * {total})"
    if isinstance(sli, LatencySli):
        good = f"sum by ({by}) (rate({sli.metric}_bucket{{{le_matcher(sli.threshold_seconds)}}}[{SHORT_WINDOW}]))"
        return f"(\n{total}\n-\n{good}\n)"
    raise AssertionError(f"{type(sli).__name__} is not event-based")


def short_window_records(slo: Slo) -> list[dict[str, Any]]:
    """The recorded short-window series the SLO's derived windows read (event-based SLIs; an
    UptimeSli reads its `slo:sli_error:ratio_rate5m`, recorded from raw series), in the order the
    group evaluates them: the total first, which the bad record reads (`recorded_bad_rate`)."""
    if not is_event_based(slo):
        return []
    _, total = raw_event_rates(slo, SHORT_WINDOW)
    return [_record(TOTAL_RATE_RECORD, total, slo), _record(BAD_RATE_RECORD, recorded_bad_rate(slo), slo)]


def is_stitched(slo: Slo, window: str) -> bool:
    """Whether the derived rule for `window` adds up the records of its consecutive spans (see the
    module docstring, "Lag") rather than every record of the window."""
    return is_derived(slo, window) and SHORT_WINDOW != canonical(window) and parse_duration(window) <= parse_duration(STITCHED_UP_TO)


def is_tiled(slo: Slo, window: str) -> bool:
    """Whether the derived rule for `window` reads the SLO's tiles (module docstring, "Cost")."""
    return is_derived(slo, window) and not isinstance(slo.sli, GaugeLimitSli) and parse_duration(window) >= parse_duration(TILED_FROM)


def is_headed(slo: Slo, window: str) -> bool:
    """Whether the derived rule for `window` reads its newest 30m from the 30m records and the rest
    from the tiles (module docstring, "Cost"): the windows between the stitched and the tiled ones
    (2h, 6h), where the SLO keeps 30m records."""
    seconds = parse_duration(window)
    between = parse_duration(STITCHED_UP_TO) < seconds < parse_duration(TILED_FROM)
    return between and is_derived(slo, window) and not isinstance(slo.sli, GaugeLimitSli) and bool(_middle_records(slo))


def _middle_records(slo: Slo) -> tuple[str, ...]:
    """The 30m records an SLO keeps: when one of its stitched windows is a whole number of them.
    (An UptimeSli's is its 30m ratio, one of its alerting windows.)"""
    middle = parse_duration(MIDDLE_WINDOW)
    windows = [w for w in _alerting_windows(slo) if is_stitched(slo, w) and parse_duration(w) % middle == 0]
    if not windows:
        return ()
    if is_event_based(slo):
        return (BAD_MIDDLE_RECORD, TOTAL_MIDDLE_RECORD)
    return (ratio_record(MIDDLE_WINDOW),) if MIDDLE_WINDOW in windows else ()


def _tile_sources(slo: Slo) -> dict[str, str]:
    """tile record -> the 5m record it copies, when a window of the SLO reads tiles."""
    windows = _alerting_windows(slo) + [canonical(slo.window)]
    if not any(is_tiled(slo, w) or is_headed(slo, w) for w in windows):
        return {}
    if is_event_based(slo):
        return {BAD_TILE_RECORD: BAD_RATE_RECORD, TOTAL_TILE_RECORD: TOTAL_RATE_RECORD}
    return {tile_record(ratio_record(SHORT_WINDOW)): ratio_record(SHORT_WINDOW)}


def tile_record(record: str) -> str:
    return record + TILE_SUFFIX


def derived_inputs(slo: Slo) -> tuple[str, ...]:
    """The records derived from the 5m records that other rules read at earlier instants (the 30m
    records, with `offset`) or over a range (the tiles): tests that evaluate at a coarse step feed
    them, as they feed `recorded_inputs`."""
    return _middle_records(slo) + tuple(_tile_sources(slo))


def _stitched(aggregation: str, record: str, selector: str, by: str, window: str, span: str = SHORT_WINDOW) -> str:
    """`aggregation by (by)` of the records at t and at every `span` step back within `window`:
    those of consecutive, non-overlapping spans, i.e. exactly the window. The steps' records are
    told apart by a `step` label (`or` would otherwise keep one of equal label sets); a step without
    a record (the first hour of an SLO or of a service) is simply not in the union."""
    steps = int(parse_duration(window) // parse_duration(span))
    terms = [f"{record}{selector}"] + [
        f'label_replace({record}{selector} offset {format_duration(k * parse_duration(span))}, "step", "{k}", "", "")'
        for k in range(1, steps)
    ]
    return f"{aggregation} by ({by}) (\n  " + "\nor\n  ".join(terms) + "\n)"


def sli_rate(slo: Slo, record: str, window: str = SHORT_WINDOW) -> str:
    """An event SLO's recorded rate (BAD_RATE_RECORD or TOTAL_RATE_RECORD) over `window`, a multiple
    of 5m, per SLO label: the mean of the records of its consecutive 5m spans back from t, so
    exactly the rate over the window. For the catalogue's symptom alerts that read the same events
    as an SLI: from its few records instead of every raw series once more (tools/bench_history.py).
    The records are in the SLO's alerting group, which always exists and stays in Prometheus."""
    assert is_event_based(slo) and record in (BAD_RATE_RECORD, TOTAL_RATE_RECORD), (slo.id, record)
    return stitched_rate(record, f'{{slo="{slo.id}"}}', slo.label, window)


def stitched_rate(record: str, selector: str, by: str, window: str) -> str:
    """A recorded 5m rate over `window`, a multiple of 5m, `sum by (by)`: the mean of the records of
    its consecutive 5m spans back from t, so exactly the rate over the window from a few recorded
    series instead of every raw one (a group that reads it must run at most every 5m)."""
    steps = int(parse_duration(window) // parse_duration(SHORT_WINDOW))
    assert steps * parse_duration(SHORT_WINDOW) == parse_duration(window), window
    if steps == 1:
        return f"sum by ({by}) ({record}{selector})"
    return f"(\n{_stitched('sum', record, selector, by, window)} / {steps}\n)"


def _middle_record_rules(slo: Slo) -> list[dict[str, Any]]:
    """An event SLI's 30m rates: the mean of its six 5m records' rates (bad and total alike, so
    their ratio is the events' ratio). An UptimeSli's 30m record is its 30m ratio, recorded with
    the alerting windows."""
    if not is_event_based(slo) or not _middle_records(slo):
        return []
    selector, steps = f'{{slo="{slo.id}"}}', int(parse_duration(MIDDLE_WINDOW) // parse_duration(SHORT_WINDOW))
    return [
        _record(middle, f"{_stitched('sum', short, selector, slo.label, MIDDLE_WINDOW)} / {steps}", slo)
        for middle, short in ((BAD_MIDDLE_RECORD, BAD_RATE_RECORD), (TOTAL_MIDDLE_RECORD, TOTAL_RATE_RECORD))
    ]


def _stitched_ratio(slo: Slo, window: str) -> str:
    by, selector = slo.label, f'{{slo="{slo.id}"}}'
    middle = bool(_middle_records(slo)) and parse_duration(window) % parse_duration(MIDDLE_WINDOW) == 0
    if is_event_based(slo):
        if middle:
            if canonical(window) == MIDDLE_WINDOW:
                return f"sum by ({by}) ({BAD_MIDDLE_RECORD}{selector})\n/\nsum by ({by}) ({TOTAL_MIDDLE_RECORD}{selector})"
            return (
                f"{_stitched('sum', BAD_MIDDLE_RECORD, selector, by, window, MIDDLE_WINDOW)}\n/\n"
                f"{_stitched('sum', TOTAL_MIDDLE_RECORD, selector, by, window, MIDDLE_WINDOW)}"
            )
        return f"{_stitched('sum', BAD_RATE_RECORD, selector, by, window)}\n/\n{_stitched('sum', TOTAL_RATE_RECORD, selector, by, window)}"
    if middle and canonical(window) != MIDDLE_WINDOW:
        # The mean of the 30m ratios (each the time average of its six 5m spans).
        return _stitched("avg", ratio_record(MIDDLE_WINDOW), selector, by, window, MIDDLE_WINDOW)
    # The time average of the 5m spans that have a record.
    record = ratio_record(SHORT_WINDOW)
    return f"{_stitched('sum', record, selector, by, window)}\n/\n{_stitched('count', record, selector, by, window)}"


def _headed_ratio(slo: Slo, window: str) -> str:
    """The newest MIDDLE_WINDOW of `window` from the 30m records at t (exact, no lag: six 5m spans),
    the rest from the tiles before it: both in 5m rates (a 30m record is the mean of six), so an
    event SLI adds up bad and all events alike and an uptime SLI averages its 5m spans. The tiles'
    range is a second short, so that on Prometheus 2's closed ranges too the oldest tile it holds
    is the one whose 5m end the window starts with. `or 0 *`: a service younger than 30m has no
    older tile yet."""
    by, selector = slo.label, f'{{slo="{slo.id}"}}'
    spans = int(parse_duration(MIDDLE_WINDOW) // parse_duration(SHORT_WINDOW))
    rest = f"[{format_duration(parse_duration(window) - parse_duration(MIDDLE_WINDOW) - 1)}] offset {MIDDLE_WINDOW}"

    def head_and_tail(middle: str, tile: str, over: str = "sum_over_time") -> tuple[str, str]:
        head = f"sum by ({by}) ({middle}{selector})"
        return head, f"(sum by ({by}) ({over}({tile}{selector}{rest})) or 0 * {head})"

    if is_event_based(slo):
        parts = [head_and_tail(m, t) for m, t in ((BAD_MIDDLE_RECORD, BAD_TILE_RECORD), (TOTAL_MIDDLE_RECORD, TOTAL_TILE_RECORD))]
        bad, total = (f"(\n  {spans} * {head}\n  +\n  {tail}\n)" for head, tail in parts)
        return f"{bad}\n/\n{total}"
    middle, tile = ratio_record(MIDDLE_WINDOW), tile_record(ratio_record(SHORT_WINDOW))
    head, tail = head_and_tail(middle, tile)
    _, count = head_and_tail(middle, tile, "count_over_time")
    return f"(\n  {spans} * {head}\n  +\n  {tail}\n)\n/\n(\n  {spans}\n  +\n  {count}\n)"


def error_ratio_expr(slo: Slo, window: str) -> str:
    """PromQL of the `slo:sli_error:ratio_rate<window>` rule: derived from the SLO's recorded
    short-window series for windows of DERIVED_FROM or more (and for the 5m ratio of an event SLI),
    from raw series otherwise. See the module docstring."""
    if not is_derived(slo, window):
        return raw_error_ratio_expr(slo, window)
    by = slo.label
    selector = f'{{slo="{slo.id}"}}'
    window = canonical(window)
    if is_event_based(slo) and window == SHORT_WINDOW:
        return f"sum by ({by}) ({BAD_RATE_RECORD}{selector})\n/\nsum by ({by}) ({TOTAL_RATE_RECORD}{selector})"
    if is_stitched(slo, window):
        return _stitched_ratio(slo, window)
    if is_headed(slo, window):
        return _headed_ratio(slo, window)
    tiled = is_tiled(slo, window)
    if is_event_based(slo):
        bad, total = (BAD_TILE_RECORD, TOTAL_TILE_RECORD) if tiled else (BAD_RATE_RECORD, TOTAL_RATE_RECORD)
        # `sum by`: the labels stay the SLO label's alone wherever the records are read (through
        # Thanos Query they carry the external labels too). The bad record already holds 0 for a
        # service without bad events (`or 0 * total`), so its ratio is 0, not absent.
        return (
            f"sum by ({by}) (sum_over_time({bad}{selector}[{window}]))\n/\n"
            f"sum by ({by}) (sum_over_time({total}{selector}[{window}]))"
        )
    if isinstance(slo.sli, UptimeSli):
        record = ratio_record(SHORT_WINDOW)
        record = tile_record(record) if tiled else record
        return f"avg by ({by}) (avg_over_time({record}{selector}[{window}]))"
    raise AssertionError(f"{type(slo.sli).__name__} has no derived windows")


def ratio_record(window: str) -> str:
    return f"slo:sli_error:ratio_rate{canonical(window)}"


def period_record(window: str) -> str:
    """The SLO window's ratio as its period group records it, every PERIOD_GROUP_INTERVAL."""
    return ratio_record(window) + PERIOD_SUFFIX


def _newest(selector: str, interval: str) -> str:
    """The newest sample of a series another group writes every `interval`, in its own phase: within
    two intervals, since the newest may be exactly one interval old, which Prometheus 3's left-open
    lookback leaves out (and the 5m lookback does not reach a 30m group's at all).
    Ref: https://prometheus.io/docs/prometheus/latest/migration/#range-selectors-and-lookback-exclude-samples-coinciding-with-the-left-boundary"""
    return f"last_over_time({selector}[{format_duration(2 * parse_duration(interval))}])"


EXCEEDED_RECORD = "slo:threshold_exceeded:bool"
OBJECTIVE_RECORD = "slo:objective:ratio"
BUDGET_RECORD = "slo:error_budget:ratio"
BUDGET_REMAINING_RECORD = "slo:error_budget_remaining:ratio"
THRESHOLD_RECORD = "slo:objective:threshold"


# --- rule groups -------------------------------------------------------------------------------


def _runbook_url(spec: AlertingSpec, alert: str) -> str:
    return f"{spec.runbook_base_url.rstrip('/')}/{kebab(alert)}.md"


def _alert_labels(spec: AlertingSpec, slo: Slo, severity: Severity) -> dict[str, str]:
    labels = {"severity": severity.value, "slo": slo.id, "environment": spec.environment}
    if slo.label != SERVICE_LABEL:
        # The alert contract wants `service`; frontend series carry `app`. Alert labels are
        # templated from the series, so the app name becomes the service.
        labels[SERVICE_LABEL] = f"{{{{ $labels.{slo.label} }}}}"
    return labels


def _burn_alert(spec: AlertingSpec, slo: Slo, tier: BurnRateWindow) -> dict:
    limit = f"{format_number(tier.factor)} * {format_number(slo.error_budget)}"
    selector = f'{{slo="{slo.id}"}}'
    expr = (
        f"{ratio_record(tier.long)}{selector} > ({limit})\n"
        f"and\n"
        f"{ratio_record(tier.short)}{selector} > ({limit})"
    )
    spent = tier.budget_spent(slo.window)
    exhaustion = format_duration(parse_duration(slo.window) / tier.factor)
    who = f"{{{{ $labels.{slo.label} }}}}"
    labels = _alert_labels(spec, slo, tier.severity)
    labels.update({"long_window": tier.long, "short_window": tier.short})
    return {
        "alert": slo.burn_alert,
        "expr": expr,
        "for": tier.for_,
        "labels": labels,
        "annotations": {
            "summary": f"{slo.title} of {who} is burning its error budget {format_number(tier.factor)}x too fast",
            "description": (
                f"SLO {slo.id} (target {format_number(slo.target * 100)}% over {slo.window}): "
                f"the error ratio has been above "
                f"{format_number(tier.factor)}x the budget of {format_number(slo.error_budget * 100)}% "
                f"over both the last {tier.long} and the last {tier.short}. This has spent "
                f"{format_number(round(spent * 100, 2))}% of the {slo.window} error budget; "
                f"at this rate the whole budget is gone in {exhaustion}."
            ),
            "runbook_url": _runbook_url(spec, slo.burn_alert),
        },
    }


def _threshold_alert(spec: AlertingSpec, slo: Slo) -> dict:
    who = f"{{{{ $labels.{slo.label} }}}}"
    if slo.kind is SloKind.THRESHOLD:
        sli = slo.sli
        assert isinstance(sli, GaugeLimitSli)
        expr = f"max by ({slo.label}) ({sli.metric}) > {format_number(slo.target)}"
        summary = f"{slo.title} of {who} is above its objective of {format_number(slo.target)}{sli.unit}"
        description = (
            f"SLO {slo.id}: {slo.title.lower()} must stay under {format_number(slo.target)}{sli.unit}. "
            f"The worst value for {who} is {{{{ $value | humanize }}}}{sli.unit} and has been above "
            f"the objective for more than {slo.threshold_for}."
        )
    else:
        expr = f'{ratio_record(slo.window)}{{slo="{slo.id}"}} > {format_number(slo.error_budget)}'
        summary = f"{slo.title} of {who} misses its {slo.window} objective"
        description = (
            f"SLO {slo.id}: over the last {slo.window} the error ratio is "
            f"{{{{ $value | humanizePercentage }}}}, above the budget of "
            f"{format_number(slo.error_budget * 100)}% (target {format_number(slo.target * 100)}%). "
            f"The whole {slo.window} error budget is spent."
        )
    return {
        "alert": slo.threshold_alert,
        "expr": expr,
        "for": slo.threshold_for,
        "labels": _alert_labels(spec, slo, slo.threshold_severity),
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook_url": _runbook_url(spec, slo.threshold_alert),
        },
    }


def _record(name: str, expr: str, slo: Slo) -> dict[str, Any]:
    return {"record": name, "expr": expr, "labels": {"slo": slo.id}}


def _alerting_windows(slo: Slo) -> list[str]:
    """Windows the alert group needs recorded, shortest first, without duplicates."""
    windows = {canonical(w) for tier in burn_windows_for(slo) for w in (tier.long, tier.short)}
    if has_threshold_alert(slo) and slo.kind is SloKind.RATIO:
        windows.add(canonical(slo.window))
    if slo.kind is SloKind.RATIO:
        windows.add(SHORT_WINDOW)  # what an UptimeSli's derived windows read
    return sorted(windows, key=parse_duration)


def _fast_windows(slo: Slo) -> set[str]:
    """The windows a paging alert reads (the P1 and P2 tiers, a paging threshold alert), and the 5m
    window every other one is derived from: recorded in the SLO's alerting group, every evaluation
    interval. The other alerting windows serve only alerts that page nobody (the P3 tiers, a P3
    threshold alert): they are recorded, with those alerts, in the slower group (module docstring,
    "Cost")."""
    windows = {SHORT_WINDOW}
    for tier in burn_windows_for(slo):
        if SEVERITIES[tier.severity].pages:
            windows |= {canonical(tier.long), canonical(tier.short)}
    if has_threshold_alert(slo) and slo.kind is SloKind.RATIO and SEVERITIES[slo.threshold_severity].pages:
        windows.add(canonical(slo.window))
    return windows


def slo_rule_groups(spec: AlertingSpec, slo: Slo) -> list[dict]:
    """The alerting group, the tiles group, the slow tiers' group and the error-budget group of one
    (already overridden) SLO (the groups that would be empty are left out, but the first and the last)."""
    rules: list[dict[str, Any]] = []
    if isinstance(slo.sli, GaugeLimitSli):
        # Record whether the limit is exceeded at each evaluation, so the share of bad time over any
        # window is a plain avg_over_time instead of an expensive subquery.
        rules.append(
            _record(
                EXCEEDED_RECORD,
                f"max by ({slo.label}) ({slo.sli.metric}) > bool {format_number(slo.target)}",
                slo,
            )
        )
    # The short-window records first: a group evaluates its rules in order, so the derived windows
    # of this group read this evaluation's values.
    rules += short_window_records(slo)
    rules += _middle_record_rules(slo)
    alerting_windows = _alerting_windows(slo)
    fast = _fast_windows(slo)
    slow: list[dict[str, Any]] = []
    for w in alerting_windows:
        (rules if w in fast else slow).append(_record(ratio_record(w), error_ratio_expr(slo, w), slo))
    for tier in burn_windows_for(slo):
        (rules if SEVERITIES[tier.severity].pages else slow).append(_burn_alert(spec, slo, tier))
    if has_threshold_alert(slo):
        (rules if SEVERITIES[slo.threshold_severity].pages else slow).append(_threshold_alert(spec, slo))

    budget_rules: list[dict[str, Any]] = []
    period: list[dict[str, Any]] = []
    window = canonical(slo.window)
    if window not in alerting_windows:
        period.append(_record(period_record(window), error_ratio_expr(slo, window), slo))
        # `max by`: one value per SLO label, without the labels Thanos Query adds where this group
        # runs on the Thanos Ruler (an HA pair's copies are one value too).
        newest = _newest(f'{period_record(window)}{{slo="{slo.id}"}}', PERIOD_GROUP_INTERVAL)
        budget_rules.append(_record(ratio_record(window), f"max by ({slo.label}) ({newest})", slo))
    if slo.kind is SloKind.RATIO:
        spent = f'{ratio_record(window)}{{slo="{slo.id}"}}'
        if window in alerting_windows and window not in fast:
            spent = _newest(spent, SLOW_GROUP_INTERVAL)
        budget_rules += [
            _record(OBJECTIVE_RECORD, f"vector({format_number(slo.target)})", slo),
            _record(BUDGET_RECORD, f"vector({format_number(slo.error_budget)})", slo),
            _record(
                BUDGET_REMAINING_RECORD,
                f'1 - {spent} / {format_number(slo.error_budget)}',
                slo,
            ),
        ]
    else:
        budget_rules.append(_record(THRESHOLD_RECORD, f"vector({format_number(slo.target)})", slo))
    # In the order data flows (what each group reads is written by those before it).
    groups = [{"name": f"slo-{slo.id}", "rules": rules}]
    if tiles := _tile_sources(slo):
        groups.append({
            "name": f"slo-{slo.id}{TILES_GROUP_SUFFIX}",
            "interval": TILE_INTERVAL,
            "rules": [_record(tile, f'sum by ({slo.label}) ({source}{{slo="{slo.id}"}})', slo) for tile, source in tiles.items()],
        })
    if slow:
        groups.append({"name": f"slo-{slo.id}{SLOW_GROUP_SUFFIX}", "interval": SLOW_GROUP_INTERVAL, "rules": slow})
    if period:
        groups.append({"name": f"slo-{slo.id}{PERIOD_GROUP_SUFFIX}", "interval": PERIOD_GROUP_INTERVAL, "rules": period})
    return groups + [{"name": f"slo-{slo.id}{BUDGET_GROUP_SUFFIX}", "interval": BUDGET_GROUP_INTERVAL, "rules": budget_rules}]


def group_slo_id(group: str) -> str | None:
    """The id of the SLO a rule group belongs to (any of its groups), None for another group."""
    if not group.startswith("slo-"):
        return None
    name = group.removeprefix("slo-")
    for suffix in (BUDGET_GROUP_SUFFIX, SLOW_GROUP_SUFFIX, TILES_GROUP_SUFFIX, PERIOD_GROUP_SUFFIX):
        name = name.removesuffix(suffix)
    return name


def build_slo_rule_groups(
    spec: AlertingSpec,
    *,
    area: Area | str | None = None,
    without: frozenset[str] = frozenset(),
) -> list[dict]:
    """Rule groups for every SLO (or one area's), with the stack's overrides applied."""
    groups: list[dict] = []
    for slo in effective_slos(spec, without):
        if area is None or slo.area == Area(area):
            groups += slo_rule_groups(spec, slo)
    return groups
