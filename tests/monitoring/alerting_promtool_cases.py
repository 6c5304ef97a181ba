"""`promtool test rules` cases generated from the SLO catalogue and the burn-rate table.

For each SLO, one test case holds synthetic services per burn tier: one whose error ratio is exactly
`factor * (1 + 5%) * budget` over every window (the tier must fire), one at `factor * (1 - 5%)` (it
must stay silent), and one that burned at 1.5x the factor and stopped just longer than the short
window ago (the long window is still above: the tier must have resolved, which only the AND of both
windows gives). What is expected is computed here from the phases and the table's factors and
windows (`rule_ratio`: what each rule's window measures, raw or derived from the 5m records, as
each engine generation selects ranges), never read back from the rule expressions.

The windows longer than 5m read the SLO's 5m records (monitoring/slo.py, "Long windows"). The
case feeds those records as input series, one every 5m as a 5m evaluation interval writes them, and
checks at every one of those 5m steps that the SLO's own record rules, evaluated over the raw input
series, give exactly those values (`record_checks`). The rules under test are the SLO's groups less
those record rules (`without_recorded_inputs`), so promtool can evaluate them at a coarse step: a
range selector reads every sample in its range whatever the evaluation step, so the derived windows
still sum every 5m record. At EVAL_AT each window the rules record is also checked against
`rule_ratio` for every probe (`window_checks`): its value, so that an edge of a window shows that
the alerts' verdicts would absorb.

promtool compares annotations too, after template expansion, so `expand()` renders the few template
forms the rules use, with the same formatting as Prometheus (Go's %.4g); an expected value on a
rounding tie of that format is refused (float noise would decide it).
Ref: https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/
Ref: https://prometheus.io/docs/prometheus/latest/configuration/template_reference/
Ref: https://prometheus.io/docs/prometheus/latest/querying/functions/#aggregation_over_time
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass

from monitoring.slo_catalogue import EventRatioSli, GaugeLimitSli, LatencySli, Slo, SloKind, UptimeSli
from monitoring.slo import (
    BAD_MIDDLE_RECORD,
    BAD_RATE_RECORD,
    DERIVED_FROM,
    MIDDLE_WINDOW,
    PERIOD_SUFFIX,
    SHORT_WINDOW,
    TOTAL_MIDDLE_RECORD,
    TOTAL_RATE_RECORD,
    derived_inputs,
    burn_windows_for,
    has_threshold_alert,
    is_derived,
    is_headed,
    is_stitched,
    ratio_record,
    recorded_inputs,
    tile_record,
)
from monitoring.durations import parse_duration

SCRAPE = "1m"
# Long enough for the 3d window to be full and the slowest tier's `for: 1h` to have elapsed.
EVAL_AT = "74h"
SAMPLES = int(parse_duration(EVAL_AT) / parse_duration(SCRAPE))
REQUESTS_PER_MINUTE = 1000.0
ABOVE, BELOW = 1.05, 0.95


# --- template expansion (the subset the rules use) ---------------------------------------------


def _go_g4(value: float) -> str:
    # On a rounding tie of the 4-digit format the engine's last bits, not the rule, would decide an
    # expected annotation: such a value is the case's mistake.
    assert "%.4g" % (value * (1 - 1e-9)) == "%.4g" % (value * (1 + 1e-9)), (
        f"{value!r} renders on a rounding tie of %.4g: change the case"
    )
    return "%.4g" % value


def humanize(value: float) -> str:
    if value == 0 or math.isnan(value) or math.isinf(value):
        return _go_g4(value)
    if abs(value) >= 1:
        prefixes = ["", "k", "M", "G", "T", "P", "E", "Z", "Y"]
        i = 0
        while abs(value) >= 1000 and i < len(prefixes) - 1:
            value /= 1000
            i += 1
        return f"{_go_g4(value)}{prefixes[i]}"
    prefixes = ["", "m", "u", "n", "p", "f", "a", "z", "y"]
    i = 0
    while abs(value) < 1 and i < len(prefixes) - 1:
        value *= 1000
        i += 1
    return f"{_go_g4(value)}{prefixes[i]}"


def humanize_percentage(value: float) -> str:
    return f"{_go_g4(value * 100)}%"


def humanize_duration(value: float) -> str:
    if abs(value) >= 1:
        sign = "-" if value < 0 else ""
        v = int(abs(value))
        days, hours, minutes, seconds = v // 86400, (v // 3600) % 24, (v // 60) % 60, v % 60
        if days:
            return f"{sign}{days}d {hours}h {minutes}m {seconds}s"
        if hours:
            return f"{sign}{hours}h {minutes}m {seconds}s"
        if minutes:
            return f"{sign}{minutes}m {seconds}s"
        return f"{sign}{_go_g4(abs(value))}s"
    if value == 0:
        return "0s"
    for prefix in ("m", "u", "n", "p", "f", "a", "z", "y"):
        value *= 1000
        if abs(value) >= 1:
            return f"{_go_g4(value)}{prefix}s"
    return f"{_go_g4(value)}ys"


_FILTERS = {"humanize": humanize, "humanizePercentage": humanize_percentage, "humanizeDuration": humanize_duration}
_ACTION = re.compile(r"{{\s*(.*?)\s*}}")


def expand(template: str, labels: dict[str, str], value: float | None = None) -> str:
    def action(match: re.Match) -> str:
        text = match.group(1)
        if text.startswith("$labels."):
            return labels.get(text.removeprefix("$labels."), "")
        m = re.fullmatch(r"\$value \| (\w+)", text)
        if m and m.group(1) in _FILTERS and value is not None:
            return _FILTERS[m.group(1)](value)
        raise ValueError(f"template action {text!r} is not supported by the test expander")

    return _ACTION.sub(action, template)


def expected_alert(rule: dict, series_labels: dict[str, str], value: float | None = None) -> dict:
    """exp_alerts entry: the rule's labels (templated) on top of the series' labels."""
    labels = dict(series_labels)
    labels.update({k: expand(v, series_labels, value) for k, v in rule["labels"].items()})
    annotations = {k: expand(v, series_labels, value) for k, v in rule["annotations"].items()}
    return {"exp_labels": labels, "exp_annotations": annotations}


# --- series for one SLI at a given error ratio -------------------------------------------------


Phases = list[tuple[float, int]]  # (error ratio, number of 1m samples) in time order


def _counter(phases: list[tuple[float, int]]) -> str:
    """promtool notation of a counter growing by `per_sample` for `count` samples, phase by phase.

    promtool expands `a+bxn` by adding b to a n times in float64, which can end off the exact
    product: each phase starts from the value promtool reached (the same additions here), so a
    phase never reads as a reset and every increment is its phase's `per_sample` to float precision.
    Numbers are written as repr(), which float64 parses back exactly.
    Ref: prometheus/prometheus@v3.5.3 promql/parser/generated_parser.y (`series_item`)
    """
    parts, value = [], None
    for per_sample, count in phases:
        if value is None:
            start, steps = 0.0, count
        else:
            start, steps = value + per_sample, count - 1
        parts.append(f"{start!r}+{per_sample!r}x{steps}")
        value = start
        for _ in range(steps):
            value += per_sample
    return " ".join(parts)


def _gauge(phases: list[tuple[float, int]]) -> str:
    parts, first = [], True
    for level, count in phases:
        parts.append(f"{level!r}x{count if first else count - 1}")
        first = False
    return " ".join(parts)


def _selector(metric: str, labels: dict[str, str]) -> str:
    """`metric{labels}`; `metric` may be a selector with matchers already (probe_success{job="..."})."""
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    if metric.endswith("}"):
        return f"{metric[:-1]}, {inner}}}"
    return f"{metric}{{{inner}}}"


def sli_series(slo: Slo, group_value: str, phases: Phases, *, alt_le: bool = False) -> list[dict]:
    """Input series with the given error ratio (bad events or bad time) phase by phase."""
    who = {slo.label: group_value}
    sli = slo.sli
    n = REQUESTS_PER_MINUTE
    bad = [(n * ratio, count) for ratio, count in phases]
    good = [(n * (1 - ratio), count) for ratio, count in phases]
    total = [(n, count) for _, count in phases]
    if isinstance(sli, EventRatioSli):
        if "{" in sli.bad:  # same counter, bad events told apart by status code (503 is 5xx and >=400)
            return [
                {"series": _selector(sli.total, {**who, "http_response_status_code": "200"}), "values": _counter(good)},
                {"series": _selector(sli.total, {**who, "http_response_status_code": "503"}), "values": _counter(bad)},
            ]
        return [
            {"series": _selector(sli.bad, who), "values": _counter(bad)},
            {"series": _selector(sli.total, who), "values": _counter(total)},
        ]
    if isinstance(sli, LatencySli):
        bound = sli.threshold_seconds
        le = f"{bound:g}"
        if alt_le and float(bound).is_integer():
            le = f"{bound:.1f}"  # Prometheus 3 spelling, "2.0"
        return [
            {"series": _selector(f"{sli.metric}_bucket", {**who, "le": le}), "values": _counter(good)},
            {"series": _selector(f"{sli.metric}_bucket", {**who, "le": "+Inf"}), "values": _counter(total)},
            {"series": _selector(f"{sli.metric}_count", who), "values": _counter(total)},
        ]
    if isinstance(sli, UptimeSli):
        # A real probe is 0 or 1 per scrape; a constant fractional value has the same mean over every
        # window, which is what makes "exactly b times the budget in both windows" expressible.
        return [{"series": _selector(sli.metric, who), "values": _gauge([(1 - r, c) for r, c in phases])}]
    raise TypeError(f"no ratio series for {type(sli).__name__}")


# --- what each rule's window measures ----------------------------------------------------------

# Prometheus 3 range selectors are left-open: evaluated on a sample's timestamp, `[1d]` over 1m
# samples holds 1440 samples (1439 increments) where 2.x held 1441 (1440 increments), and `[1d]`
# over records every 5m holds 288 records where 2.x held 289.
# Ref: https://prometheus.io/docs/prometheus/latest/migration/#range-selectors-and-lookback-exclude-samples-coinciding-with-the-left-boundary
LEFT_OPEN_RANGES = {"2": False, "3": True}  # by engine generation (tools/engines.py)
# The records the derived windows read, as input series: one every RECORD_STEP (a 5m evaluation
# interval), at every multiple of it from 0 on where the engine would have recorded one.
RECORD_STEP = SHORT_WINDOW
_SCRAPE_MINUTES = int(parse_duration(SCRAPE) // 60)
_RECORD_MINUTES = int(parse_duration(RECORD_STEP) // 60)


def _minutes(duration: str) -> int:
    return int(parse_duration(duration) // 60)


def _minute_ratios(phases: Phases) -> list[float]:
    """The error ratio at each minute 0..SAMPLES of the input series: of the counter increment that
    ends at that minute (minute >= 1), or of the gauge sample at that minute (sli_series lays the
    phases out so that both agree)."""
    ratios = [phases[0][0]]
    for ratio, count in phases:
        ratios += [ratio] * count
    assert len(ratios) == SAMPLES + 1, "the phases must cover EVAL_AT"
    return ratios


def _selected(end: int, width: int, left_open: bool, grid: int, first: int = 0) -> range:
    """Timestamps (minutes, multiples of `grid` from `first` on) a range `[width]` evaluated at `end`
    selects: (end - width, end] when left-open, [end - width, end] otherwise."""
    start = end - width + (1 if left_open else 0)
    start = max(first, -(-start // grid) * grid)
    return range(start, end + 1, grid)


def _raw_ratio(ratios: list[float], width: int, end: int, left_open: bool, gauge: bool) -> float | None:
    """The rule's ratio over raw series: the mean of the selected gauge samples, or the share of bad
    events in the increments between the selected counter samples (constant traffic: every
    increment carries the same number of events, and rate() extrapolates bad and all events alike)."""
    samples = _selected(end, width, left_open, _SCRAPE_MINUTES)
    points = samples if gauge else samples[1:]
    if not points:
        return None
    return sum(ratios[m] for m in points) / len(points)


def _records(phases: Phases, left_open: bool, gauge: bool) -> dict[int, float]:
    """The SLO's 5m records (error ratio) at every RECORD_STEP from 0 to EVAL_AT where the engine
    records one (a rate needs two samples, an average one)."""
    return dict(_records_of(tuple(phases), left_open, gauge))


@functools.cache
def _records_of(phases: tuple[tuple[float, int], ...], left_open: bool, gauge: bool) -> tuple[tuple[int, float], ...]:
    ratios = _minute_ratios(list(phases))
    width = _minutes(SHORT_WINDOW)
    out = []
    for s in _selected(SAMPLES, SAMPLES, False, _RECORD_MINUTES):
        value = _raw_ratio(ratios, width, s, left_open, gauge)
        if value is not None:
            out.append((s, value))
    return tuple(out)


def rule_ratio(slo: Slo, phases: Phases, window: str, left_open: bool) -> float:
    """What `slo:sli_error:ratio_rate<window>` of that SLO reads at EVAL_AT: from raw series, or
    derived from the 5m records (monitoring/slo.py `is_derived`): those of its 5m steps back from
    EVAL_AT (`is_stitched`, and the newest 30m of `is_headed`), or every one in its range. A derived event ratio is the bad
    events of the records over all their events; every record carries the same event rate here, so
    that is the mean of their ratios, and an uptime ratio is the time average of the records."""
    ratios = _minute_ratios(phases)
    gauge = isinstance(slo.sli, UptimeSli)
    width = _minutes(window)
    if not (is_derived(slo, window) and parse_duration(window) >= parse_duration(DERIVED_FROM)):
        # Raw windows, and an event SLI's 5m ratio (bad / total of the records at EVAL_AT).
        value = _raw_ratio(ratios, width, SAMPLES, left_open, gauge)
    else:
        records = _records(phases, left_open, gauge)
        if is_stitched(slo, window):
            # The records at EVAL_AT and every 5m before it within the window: instant selectors.
            steps = range(SAMPLES, SAMPLES - width, -_RECORD_MINUTES)
        elif is_headed(slo, window):
            # The 30m record at EVAL_AT (its six 5m steps), then the tiles of the range before it,
            # a second short: left-open on both generations.
            middle = _minutes(MIDDLE_WINDOW)
            steps = [*range(SAMPLES, SAMPLES - middle, -_RECORD_MINUTES),
                     *_selected(SAMPLES - middle, width - middle, True, _RECORD_MINUTES)]
        else:
            steps = _selected(SAMPLES, width, left_open, _RECORD_MINUTES)
        picked = [records[s] for s in steps if s in records]
        value = sum(picked) / len(picked) if picked else None
    assert value is not None, (slo.id, window)
    return value


def _fed_values(slo: Slo, phases: Phases, left_open: bool) -> dict[str, dict[int, float]]:
    """record -> minute -> value, for every record the case feeds: `recorded_inputs(slo)` (the 5m
    records of one synthetic service) and `derived_inputs(slo)`, what the SLO's rules derive from
    them at each 5m step: the 30m records (the six 5m records back from that step that exist; an
    event SLI's rates are their sum over six, an uptime ratio their mean) and the tiles (copies)."""
    gauge = isinstance(slo.sli, UptimeSli)
    records = _records(phases, left_open, gauge)
    per_second = REQUESTS_PER_MINUTE / 60
    if gauge:
        short = {ratio_record(SHORT_WINDOW): records}
    else:
        short = {
            BAD_RATE_RECORD: {s: per_second * r for s, r in records.items()},
            TOTAL_RATE_RECORD: {s: per_second for s in records},
        }
    assert set(short) == set(recorded_inputs(slo)), slo.id
    spans = _minutes(MIDDLE_WINDOW) // _RECORD_MINUTES

    def middle(values: dict[int, float], mean: bool) -> dict[int, float]:
        out = {}
        for s in values:
            picked = [values[s - k * _RECORD_MINUTES] for k in range(spans) if s - k * _RECORD_MINUTES in values]
            out[s] = sum(picked) / (len(picked) if mean else spans)
        return out

    derived: dict[str, dict[int, float]] = {}
    for name in derived_inputs(slo):
        if name == ratio_record(MIDDLE_WINDOW):
            derived[name] = middle(records, mean=True)
        elif name in (BAD_MIDDLE_RECORD, TOTAL_MIDDLE_RECORD):
            derived[name] = middle(short[BAD_RATE_RECORD if name == BAD_MIDDLE_RECORD else TOTAL_RATE_RECORD], mean=False)
        else:
            (source,) = [r for r in short if tile_record(r) == name]
            derived[name] = dict(short[source])
    return short | derived


def record_series(slo: Slo, group_value: str, phases: Phases, left_open: bool) -> list[dict]:
    """The records the case feeds (`_fed_values`) for one synthetic service, as input series."""
    labels = {slo.label: group_value, "slo": slo.id}
    return [{"series": _selector(name, labels), "values": _sparse(by_minute)}
            for name, by_minute in _fed_values(slo, phases, left_open).items()]


def _sparse(by_minute: dict[int, float]) -> str:
    """promtool notation of samples at some minutes of 0..SAMPLES: `_xN` for N missing samples."""
    tokens, gap = [], 0
    for minute in range(0, SAMPLES + 1, _SCRAPE_MINUTES):
        if minute in by_minute:
            if gap:
                tokens.append(f"_x{gap}")
                gap = 0
            tokens.append(f"{by_minute[minute]:.17g}")
        else:
            gap += 1
    if gap:
        tokens.append(f"_x{gap}")
    return " ".join(tokens)


# The record rules' values may differ from the modelled records by float rounding only (the
# counters grow by exactly their phase's step, `_counter`); a zero record must be exactly zero.
RECORD_TOLERANCE = 1e-9
# Each record check covers at most this much time: a subquery holds every step of every probe at
# once, for each selector of the rule (and the fed record), and promtool allows 10000 samples per
# query. Ref: prometheus/prometheus@v3.5.3 promql/promqltest/test.go (the lazy loader promtool
# evaluates with: MaxSamples 10000).
_CHECK_MINUTES = 12 * 60
_MAX_SAMPLES = 10000


def _check_minutes(expr: str, probes: int) -> int:
    """The span of one record check of `expr`: its selectors' samples within _MAX_SAMPLES."""
    # Each selector's vector and what combines it are held at once (the union of a stitched rule
    # as much as its terms), with the fed record's and the comparison's.
    selectors = expr.count(" offset ") + 1
    steps = _MAX_SAMPLES // (probes * (2 * selectors + 2)) - 1
    return min(_CHECK_MINUTES, steps * _RECORD_MINUTES)


def _fed(slo: Slo) -> set[str]:
    return set(recorded_inputs(slo)) | set(derived_inputs(slo))


def record_checks(slo: Slo, groups: list[dict], probes: dict[str, Phases], left_open: bool) -> list[dict]:
    """promql_expr_test entries: at every RECORD_STEP in 0..EVAL_AT, each rule recording what the
    case feeds (`_fed_values`), evaluated over the case's input series (the 5m records' over the raw
    ones, the derived ones' over the fed 5m records), equals the fed record for every probe (the
    count of equal steps is the count of fed records)."""
    rules = {r["record"]: r for g in groups for r in g["rules"] if r.get("record") in _fed(slo)}
    assert set(rules) == _fed(slo), slo.id
    fed = {name: _fed_values(slo, phases, left_open) for name, phases in probes.items()}
    checks = []
    for record, rule in rules.items():
        span = _check_minutes(rule["expr"], len(probes))
        ends = list(range(span, SAMPLES, span)) + [SAMPLES]
        for i, end in enumerate(ends):
            # The first range reaches one step before 0, so that a left-open range still holds 0.
            width = end - (ends[i - 1] if i else -_RECORD_MINUTES)
            steps = _selected(end, width, left_open, _RECORD_MINUTES, first=-_RECORD_MINUTES)
            expected = [
                {"labels": f'{{{slo.label}="{name}"}}', "value": sum(1 for s in steps if s in values[record])}
                for name, values in fed.items()
            ]
            checks.append({
                "expr": (
                    f"sum_over_time((abs(({rule['expr']}) - on ({slo.label}) {record}{{slo=\"{slo.id}\"}})"
                    f" <= bool on ({slo.label}) ({RECORD_TOLERANCE:g} * {record}{{slo=\"{slo.id}\"}}))"
                    f"[{width}m:{RECORD_STEP}])"
                ),
                "eval_time": f"{end}m",
                "exp_samples": expected,
            })
    return checks


# A window's ratio at EVAL_AT may differ from the model's by float rounding only.
WINDOW_TOLERANCE = 1e-9


def window_checks(slo: Slo, groups: list[dict], probes: dict[str, Phases], left_open: bool) -> list[dict]:
    """promql_expr_test entries: at EVAL_AT, every window the SLO's rules record (what the case does
    not feed) equals `rule_ratio`, the model of what that window measures, for every probe: the
    value itself, not only the alerts' verdict, so an edge of a window (a span counted twice on
    one generation's closed ranges, or left out) shows."""
    windows = [r["record"].removeprefix("slo:sli_error:ratio_rate") for g in groups for r in g["rules"]
               if r.get("record", "").startswith("slo:sli_error:ratio_rate") and r["record"] not in _fed(slo)
               and not r["record"].endswith(PERIOD_SUFFIX)]  # (the SLO's window: longer than EVAL_AT)
    checks = []
    for window in windows:
        if parse_duration(window) > parse_duration(EVAL_AT):
            continue  # the budget's 30 days: tests/monitoring/test_slo_long_windows.py
        for name, phases in probes.items():
            expected = rule_ratio(slo, phases, window, left_open)
            selector = f'{ratio_record(window)}{{slo="{slo.id}", {slo.label}="{name}"}}'
            checks.append({
                "expr": f"abs({selector} - {expected!r}) <= bool {WINDOW_TOLERANCE * expected + 1e-15!r}",
                "eval_time": EVAL_AT,
                "exp_samples": [{"labels": f'{{slo="{slo.id}", {slo.label}="{name}"}}', "value": 1}],
            })
    return checks


def without_recorded_inputs(slo: Slo, groups: list[dict]) -> list[dict]:
    """The SLO's groups less the rules recording what the case feeds (and a group left empty)."""
    kept = [{**g, "rules": [r for r in g["rules"] if r.get("record") not in _fed(slo)]} for g in groups]
    return [g for g in kept if g["rules"]]


# --- test cases --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    name: str  # the synthetic service/app
    phases: tuple[tuple[float, int], ...]  # (burn as a multiple of the budget, samples)


def _steady(burn: float) -> tuple[tuple[float, int], ...]:
    return ((burn, SAMPLES),)


def _probes(slo: Slo) -> list[Probe]:
    probes = []
    for index, tier in enumerate(burn_windows_for(slo)):
        tag = f"tier{index}-{tier.severity.value.lower()}"
        probes.append(Probe(f"{tag}-above", _steady(tier.factor * ABOVE)))
        probes.append(Probe(f"{tag}-below", _steady(tier.factor * BELOW)))
        # A burn well above the rate that stopped just longer than the short window ago: the long
        # window is still above, the short one is clean, so this tier must have resolved.
        # (Capped at a 95% error ratio: a 5% budget at 14.4x is already 72% errors. Not 90%: over
        # the 1d window of api-latency, which ends in 2 quiet 5m records of 288, that reads 89.375%,
        # a rounding tie of the 4-digit annotation, refused by `expand`.)
        quiet = int(parse_duration(tier.short) / 60) + 5
        burn = min(tier.factor * 1.5, 0.95 / slo.error_budget)
        probes.append(Probe(f"{tag}-recovered", ((burn, SAMPLES - quiet), (0.0, quiet))))
    if has_threshold_alert(slo):
        probes += [Probe("objective-above", _steady(ABOVE)), Probe("objective-below", _steady(BELOW))]
    return probes


def _fires(phases, slo: Slo, factor: float, long: str, short: str, left_open: bool) -> bool:
    limit = factor * slo.error_budget
    ratios = [rule_ratio(slo, list(phases), w, left_open) * slo.error_budget for w in (long, short)]
    # Guard the test itself: a ratio within 1% of the limit would make the verdict float noise.
    assert all(abs(r / limit - 1) > 0.01 for r in ratios if r), (slo.id, factor, ratios)
    return all(r > limit for r in ratios)


def _rules_by_name(groups: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for group in groups:
        for rule in group["rules"]:
            if "alert" in rule:
                out.setdefault(rule["alert"], []).append(rule)
    return out


def ratio_slo_case(slo: Slo, groups: list[dict], left_open: bool = False) -> dict:
    """The case of a ratio SLO against its rendered `groups` (the record rules included: the checks
    read their expressions; the rule file under test leaves them out, `without_recorded_inputs`)."""
    rules = _rules_by_name(groups)
    series: list[dict] = []
    burn_expected: list[dict] = []
    objective_expected: list[dict] = []
    absolute: dict[str, Phases] = {}
    for i, probe in enumerate(_probes(slo)):
        phases = [(burn * slo.error_budget, count) for burn, count in probe.phases]
        absolute[probe.name] = phases
        series += sli_series(slo, probe.name, phases, alt_le=i % 2 == 1)
        series += record_series(slo, probe.name, phases, left_open)
        labels = {slo.label: probe.name}
        for tier, rule in zip(burn_windows_for(slo), rules.get(slo.burn_alert, [])):
            if _fires(probe.phases, slo, tier.factor, tier.long, tier.short, left_open):
                burn_expected.append(expected_alert(rule, labels))
        if has_threshold_alert(slo) and rule_ratio(slo, list(probe.phases), slo.window, left_open) > 1:
            (rule,) = rules[slo.threshold_alert]
            value = rule_ratio(slo, phases, slo.window, left_open)
            objective_expected.append(expected_alert(rule, labels, value))
    tests = [{"eval_time": EVAL_AT, "alertname": slo.burn_alert, "exp_alerts": burn_expected}]
    if has_threshold_alert(slo):
        tests.append({"eval_time": EVAL_AT, "alertname": slo.threshold_alert, "exp_alerts": objective_expected})
    return {
        "name": f"SLO {slo.id}",
        "interval": SCRAPE,
        "input_series": series,
        "alert_rule_test": tests,
        "promql_expr_test": record_checks(slo, groups, absolute, left_open) + window_checks(slo, groups, absolute, left_open),
    }


def threshold_slo_case(slo: Slo, groups: list[dict]) -> dict:
    """A gauge above the limit fires after `for`; one below it never does."""
    sli = slo.sli
    assert isinstance(sli, GaugeLimitSli)
    (rule,) = _rules_by_name(groups)[slo.threshold_alert]
    above, below = slo.target * 1.5, slo.target * 0.5
    series = [
        {"series": _selector(sli.metric, {slo.label: "limit-above", "instance": "replica-1"}), "values": _gauge([(above, SAMPLES)])},
        {"series": _selector(sli.metric, {slo.label: "limit-below", "instance": "replica-1"}), "values": _gauge([(below, SAMPLES)])},
    ]
    return {
        "name": f"SLO {slo.id}",
        "interval": SCRAPE,
        "input_series": series,
        "alert_rule_test": [
            # At the first evaluation the alert is only pending: `for` has not elapsed.
            {"eval_time": "0m", "alertname": slo.threshold_alert, "exp_alerts": []},
            {
                "eval_time": "2h",
                "alertname": slo.threshold_alert,
                "exp_alerts": [expected_alert(rule, {slo.label: "limit-above"}, above)],
            },
        ],
    }


def slo_case(slo: Slo, groups: list[dict], generation: str = "3") -> dict:
    """The promtool case of one SLO, its expected values as that engine generation computes them."""
    if slo.kind is SloKind.THRESHOLD:
        return threshold_slo_case(slo, groups)
    return ratio_slo_case(slo, groups, LEFT_OPEN_RANGES[generation])


def rule_test_file(rule_files: list[str], cases: list[dict], evaluation_interval: str = "5m",
                   group_eval_order: list[str] | None = None) -> dict:
    """A promtool test file. `group_eval_order`: promtool evaluates the groups of a step in no fixed
    order otherwise, and a group that reads another's records must see this step's."""
    order = {"group_eval_order": group_eval_order} if group_eval_order else {}
    return {"rule_files": rule_files, "evaluation_interval": evaluation_interval, **order, "tests": cases}


# --- platform and key catalogue alerts (hand-written scenarios) --------------------------------


@dataclass(frozen=True)
class Scenario:
    """Input series, then: silent at `silent_at`, firing at `firing_at` with `expected` alerts.

    `expected`: (labels the expression keeps, $value) per alert; severity etc. come from the rule.
    """

    alertname: str
    series: tuple[tuple[str, str], ...]
    silent_at: str
    firing_at: str
    expected: tuple[tuple[dict[str, str], float | None], ...]


_URL = "http://influxdb:8086/api/v1/prom/write?db=prometheus"


def _trivy_report(workload: str, repository: str, tag: str) -> str:
    """A Trivy Operator vulnerability report's Critical series (labels as the operator sets them;
    Ref: aquasecurity/trivy-operator@v0.32.0 pkg/metrics/collector.go)."""
    return (
        f'trivy_image_vulnerabilities{{namespace="shop", name="replicaset-{workload}-app", resource_kind="ReplicaSet", '
        f'resource_name="{workload}", container_name="app", image_registry="registry.example", '
        f'image_repository="{repository}", image_tag="{tag}", image_digest="", severity="Critical"}}'
    )

SCENARIOS: tuple[Scenario, ...] = (
    Scenario("Watchdog", (), silent_at="", firing_at="1m", expected=(({}, None),)),
    Scenario(
        "ThanosCompactorHalted",
        (('thanos_compact_halted{job="thanos-compactor", pod="compactor-0"}', "0x10 1x30"),),
        silent_at="12m",  # halted at 11m, pending until `for: 5m` has passed
        firing_at="25m",
        expected=(({"job": "thanos-compactor"}, 1),),
    ),
    Scenario(
        "ThanosSidecarUploadFailures",
        (('thanos_shipper_upload_failures_total{job="prometheus", pod="prometheus-0"}', "0x20 1+1x40"),),
        silent_at="20m",
        firing_at="45m",
        expected=(({"job": "prometheus", "pod": "prometheus-0"}, 15),),
    ),
    Scenario(
        "AlertmanagerNotificationsFailing",
        (
            ('alertmanager_notifications_total{integration="pagerduty", pod="am-0"}', "0+10x60"),
            ('alertmanager_notifications_failed_total{integration="pagerduty", pod="am-0"}', "0+1x60"),
            ('alertmanager_notifications_total{integration="slack", pod="am-0"}', "0+10x60"),
            ('alertmanager_notifications_failed_total{integration="slack", pod="am-0"}', "0x60"),
        ),
        silent_at="4m",
        firing_at="30m",
        expected=(({"integration": "pagerduty"}, 0.1),),
    ),
    Scenario(
        "FluentBitOutputRetriesFailed",
        (('fluentbit_output_retries_failed_total{pod="fluent-bit-x", name="es.0"}', "0x10 2x30"),),
        silent_at="5m",
        firing_at="15m",
        expected=(({"pod": "fluent-bit-x", "name": "es.0"}, 2),),
    ),
    Scenario(
        "FluentBitOutputErrors",
        (('fluentbit_output_errors_total{pod="fluent-bit-x", name="es.0"}', "0+3x60"),),
        silent_at="10m",
        firing_at="30m",
        expected=(({"pod": "fluent-bit-x", "name": "es.0"}, 0.05),),
    ),
    Scenario(
        "ElasticsearchClusterRed",
        (
            # As the ServiceMonitor delivers them: the exporter's `cluster` renamed to `es_cluster`.
            ('elasticsearch_cluster_health_status{es_cluster="logs", color="red"}', "0x10 1x30"),
            ('elasticsearch_cluster_health_status{es_cluster="logs", color="green"}', "1x10 0x30"),
        ),
        silent_at="5m",
        firing_at="30m",
        expected=(({"es_cluster": "logs"}, 1),),
    ),
    Scenario(
        "TracingSpansDropped",
        (
            # Both spellings of the collector counter: before and after the `_total` suffix.
            ('otelcol_exporter_send_failed_spans{job="otel-collector", exporter="otlp/jaeger"}', "0+60x40"),
            ('otelcol_exporter_send_failed_spans_total{job="jaeger", exporter="jaeger_storage_exporter"}', "0+120x40"),
        ),
        silent_at="10m",
        firing_at="30m",
        expected=(
            ({"job": "jaeger", "exporter": "jaeger_storage_exporter"}, 2),
            ({"job": "otel-collector", "exporter": "otlp/jaeger"}, 1),
        ),
    ),
    Scenario(
        "InfluxDbWriteErrors",
        ((f'prometheus_remote_storage_samples_failed_total{{remote_name="influxdb", url="{_URL}", pod="p-0"}}', "0+600x40"),),
        silent_at="10m",
        firing_at="30m",
        expected=(({"remote_name": "influxdb", "url": _URL}, 10),),
    ),
    Scenario(
        # retentionSize deleted a block at 11m: local data is now shorter than prometheus.retention.
        "PrometheusRetentionSizeReached",
        (('prometheus_tsdb_size_retentions_total{instance="p-0:9090"}', "0x10 1x30"),),
        silent_at="14m",  # pending until `for: 5m` has passed
        firing_at="20m",
        expected=(({"instance": "p-0:9090"}, None),),
    ),
    Scenario(
        "PrometheusRuleEvaluationFailures",
        (('prometheus_rule_evaluation_failures_total{rule_group="slo-api-availability", pod="p-0"}', "0+1x40"),),
        silent_at="4m",  # failing since 1m, pending until `for: 5m` has passed
        firing_at="20m",
        expected=(({"rule_group": "slo-api-availability", "pod": "p-0"}, 5),),
    ),
    Scenario(
        "FrontendProbeFailing",
        (
            # An API probe (no `app`) failing all along must not count as a frontend: no alert at 5m.
            ('probe_success{job="blackbox-api", service="api", instance="https://api.example/healthz"}', "0x30"),
            ('probe_success{job="blackbox-frontend", app="web", instance="https://web.example/"}', "1x5 0x25"),
        ),
        silent_at="5m",
        firing_at="15m",
        expected=(({"app": "web"}, 0),),
    ),
    Scenario(
        "PostgresDown",
        (('pg_up{service="postgres", instance="pg-0:9187"}', "1x5 0x20"),),
        silent_at="5m",
        firing_at="10m",
        expected=(({"service": "postgres", "instance": "pg-0:9187"}, 0),),
    ),
    Scenario(
        "PostgresLowCacheHitRatio",
        (
            ('pg_stat_database_blks_hit{service="postgres", datname="orders", instance="pg-0"}', "0+90x60"),
            ('pg_stat_database_blks_read{service="postgres", datname="orders", instance="pg-0"}', "0+10x60"),
            ('pg_stat_database_blks_hit{service="postgres", datname="billing", instance="pg-0"}', "0+99x60"),
            ('pg_stat_database_blks_read{service="postgres", datname="billing", instance="pg-0"}', "0+1x60"),
        ),
        silent_at="20m",
        firing_at="50m",
        expected=(({"service": "postgres", "datname": "orders"}, 0.9),),
    ),
    Scenario(
        "KubePodCrashLooping",
        ((
            'kube_pod_container_status_waiting_reason{namespace="api", pod="checkout-1", container="app", reason="CrashLoopBackOff"}',
            "1x40",
        ),),
        silent_at="10m",
        firing_at="30m",
        expected=(({"namespace": "api", "pod": "checkout-1", "container": "app", "reason": "CrashLoopBackOff"}, 1),),
    ),
    Scenario(
        "KubeHpaMaxedOut",
        (
            ('kube_horizontalpodautoscaler_status_current_replicas{namespace="api", horizontalpodautoscaler="checkout"}', "10x40"),
            ('kube_horizontalpodautoscaler_spec_max_replicas{namespace="api", horizontalpodautoscaler="checkout"}', "10x40"),
            ('kube_horizontalpodautoscaler_status_current_replicas{namespace="api", horizontalpodautoscaler="search"}', "3x40"),
            ('kube_horizontalpodautoscaler_spec_max_replicas{namespace="api", horizontalpodautoscaler="search"}', "10x40"),
        ),
        silent_at="10m",
        firing_at="30m",
        expected=(({"namespace": "api", "horizontalpodautoscaler": "checkout"}, 10),),
    ),
    Scenario(
        "ApiHighErrorRate",
        (
            ('http_server_request_duration_seconds_count{service="checkout", http_response_status_code="200"}', "0+900x40"),
            ('http_server_request_duration_seconds_count{service="checkout", http_response_status_code="503"}', "0+100x40"),
            ('http_server_request_duration_seconds_count{service="search", http_response_status_code="200"}', "0+900x40"),
        ),
        silent_at="5m",
        firing_at="30m",
        expected=(({"service": "checkout"}, 0.1),),
    ),
    Scenario(
        "ApiTrafficDropped",
        (
            # checkout serves 10 requests per second for 90 minutes, then none; search goes on.
            ('http_server_request_duration_seconds_count{service="checkout", http_response_status_code="200"}', "0+600x90 54000x60"),
            ('http_server_request_duration_seconds_count{service="search", http_response_status_code="200"}', "0+600x150"),
        ),
        silent_at="105m",  # silent since 100m (both 5m spans of the last 10m), pending for `for: 10m`
        firing_at="130m",
        expected=(({"service": "checkout"}, 0),),
    ),
    Scenario(
        "ApiSlowRequestsShare",
        (
            # checkout: 20% of its requests take longer than 1 s; search: 5%.
            ('http_server_request_duration_seconds_bucket{service="checkout", le="1"}', "0+80x60"),
            ('http_server_request_duration_seconds_count{service="checkout", http_response_status_code="200"}', "0+100x60"),
            ('http_server_request_duration_seconds_bucket{service="search", le="1"}', "0+95x60"),
            ('http_server_request_duration_seconds_count{service="search", http_response_status_code="200"}', "0+100x60"),
        ),
        silent_at="10m",
        firing_at="40m",
        expected=(({"service": "checkout"}, 0.2),),
    ),
    Scenario(
        "UnexpectedAuthErrorRate",
        (
            # 10% of checkout's requests end in 403; search refuses 1%.
            ('http_server_request_duration_seconds_count{service="checkout", http_response_status_code="200"}', "0+90x60"),
            ('http_server_request_duration_seconds_count{service="checkout", http_response_status_code="403"}', "0+10x60"),
            ('http_server_request_duration_seconds_count{service="search", http_response_status_code="200"}', "0+99x60"),
            ('http_server_request_duration_seconds_count{service="search", http_response_status_code="403"}', "0+1x60"),
        ),
        silent_at="10m",
        firing_at="40m",
        expected=(({"service": "checkout", "http_response_status_code": "403"}, 0.1),),
    ),
    Scenario(
        "FrontendJsErrorSpike",
        (
            # shop: 3 JS errors per 100 page views; blog 0.5.
            ('browser_js_errors_total{app="shop"}', "0+3x60"),
            ('browser_page_views_total{app="shop"}', "0+100x60"),
            ('browser_js_errors_total{app="blog"}', "0+1x60"),
            ('browser_page_views_total{app="blog"}', "0+200x60"),
        ),
        silent_at="10m",
        firing_at="40m",
        expected=(({"app": "shop"}, 0.03),),
    ),
    Scenario(
        "FrontendSlowPageLoad",
        (
            # shop: 30% of its loads take 4-5 s (p75 above 4 s); blog: all within 2.5 s. Two pages
            # each, so the per-app sum is what is judged.
            *(
                (f'browser_page_load_duration_seconds_bucket{{app="{app}", page="{page}", le="{le}"}}', f"0+{n}x90")
                for app, buckets in (("shop", (("2.5", 50), ("4", 70), ("5", 100), ("+Inf", 100))),
                                     ("blog", (("2.5", 100), ("4", 100), ("5", 100), ("+Inf", 100))))
                for page in ("home", "cart")
                for le, n in buckets
            ),
        ),
        silent_at="20m",  # pending: `for: 30m`
        firing_at="70m",
        expected=(({"app": "shop"}, 4 + 5 / 30),),  # the 75th of 100 within (4, 5]: 5 of its 30
    ),
    Scenario(
        "AuthenticationFailureSpike",
        (
            # A day at 0.1 401s per second, then 10 per second: 5x the daily average and above 1/s.
            ('http_server_request_duration_seconds_count{service="login", http_response_status_code="401"}', "0+6x1440 9240+600x40"),
        ),
        silent_at="1430m",
        firing_at="1470m",
        expected=(({"service": "login"}, 10),),
    ),
    Scenario(
        "NewCriticalVulnerability",
        (
            # checkout's report: 2 critical findings for two days, then a third (a new CVE).
            (_trivy_report("checkout-7d9f", "shop/checkout", "1.4.2"), "2x2880 3x40"),
            # cart rolls out a new tag at 2000m with the same single finding: the old ReplicaSet's
            # report goes, the new one's comes; never news.
            (_trivy_report("cart-5c6b", "shop/cart", "2.0.0"), "1x2000"),
            (_trivy_report("cart-8e1a", "shop/cart", "2.1.0"), "_x2000 1x920"),
        ),
        silent_at="2870m",  # a day after the first scan, nothing has changed
        firing_at="2910m",  # the third finding at 2881m, for: 15m
        expected=(({"namespace": "shop", "container_name": "app", "image_registry": "registry.example",
                    "image_repository": "shop/checkout"}, 3),),  # fmt: skip
    ),
)


def scenario_case(scenario: Scenario, rules: dict[str, list[dict]]) -> dict:
    (rule,) = rules[scenario.alertname]
    tests = []
    if scenario.silent_at:
        tests.append({"eval_time": scenario.silent_at, "alertname": scenario.alertname, "exp_alerts": []})
    tests.append(
        {
            "eval_time": scenario.firing_at,
            "alertname": scenario.alertname,
            "exp_alerts": [expected_alert(rule, labels, value) for labels, value in scenario.expected],
        }
    )
    return {
        "name": scenario.alertname,
        "interval": "1m",
        "input_series": [{"series": s, "values": v} for s, v in scenario.series],
        "alert_rule_test": tests,
    }


def rules_by_name(rule_files: dict[str, dict]) -> dict[str, list[dict]]:
    return _rules_by_name([g for content in rule_files.values() for g in content["groups"]])
