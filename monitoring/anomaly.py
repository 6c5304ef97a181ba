"""Anomaly detection: seasonal baselines of the API's RED signals and of the sessions rate, and P3
"anomalous behaviour" alerts on them.

A fixed threshold cannot tell a normal Monday-noon peak from an incident at 3 a.m. Each signal is
instead compared with what the same time of the previous weeks predicts (a seasonal z-score):

    baseline(t) = median over k = 1..3 of ( hour mean around t - k weeks
                                            + mean of the last week - mean of the week before t - k weeks )
    z(t)        = (value(t) - baseline(t)) / standard deviation of the hourly means over the last week

The drift term (the change of the weekly mean since then) carries a growing or shrinking service's
trend into the prediction; the median of three weeks ignores one unusual week (an incident, a
holiday). Ref: https://about.gitlab.com/blog/2019/07/23/anomaly-detection-using-prometheus/
(A. Newdigate, GitLab: `avg_over_time`/`stddev_over_time` of a recorded rate over 1w, the value of
the previous weeks plus the 1w growth trend, median of the weeks, z-score). Our rules are our own
formulation of it: a signal label instead of one record set per metric, an hourly series for the
week-long statistics, and the false-alarm guards below.

Records (one name each, a `signal` label per input, so the long-range rules are written once):
- `anomaly:signal:5m` (group `anomaly-inputs`, every 5m, Prometheus): each signal per service, read
  from records the SLOs already keep (issue 14: no second read of the raw HTTP histogram); the
  sessions rate is the one raw read, a single counter per service.
- `anomaly:signal:avg1h` (group `anomaly-hourly`, every hour, Prometheus): the hour's mean, one
  sample per hour. The week-long statistics read these 168 samples a week instead of the 2016 of
  the 5m record (12x fewer), and a centered hour is the smoothing the baseline wants anyway.
- `anomaly:signal:avg1w`, `anomaly:signal:stddev1w`, `anomaly:signal:baseline`,
  `anomaly:signal:zscore` (group `anomaly-baseline`, every 5m): the baseline reads three weeks and
  an hour back, more than Prometheus keeps in any stack, so monitoring/windows.py sends the group
  to the Thanos Ruler (raw blocks through Thanos Query, `thanos.compactor.retentionRaw`).
The alerts close the baseline group (they read its z-scores), so the Thanos Ruler evaluates them as
well: they are P3 (a ticket, business hours), which monitoring/windows.py lets depend on the query
path; paging alerts never do. The ruler sends them to the same Alertmanager; the operator drops its
replica label from alerts, so the two replicas' alerts deduplicate (Ref:
prometheus-operator/prometheus-operator pkg/thanos/statefulset.go, `alert.label-drop` of
`thanos_ruler_replica`).

False-alarm guards, all required together: |z| above Z_THRESHOLD (only upwards for the error and
latency signals: fewer errors are no incident), a change of at least `min_change` of the baseline
and `min_absolute` (a z-score alone flags tiny absolute moves on a very steady series), enough
expected traffic (`volume`: the service's baseline request or sessions rate, so that a drop is
still judged against normal traffic; ratio signals also need that traffic now, since a ratio of a
handful of requests is noise), a `for:` of FOR, and a standard deviation clamped to MIN_STDDEV so
that a constant series gives a finite z. A week's mean and spread count only when the week holds
MIN_WEEK_HOURS hourly records (a partial week's mean would skew the drift term): after a first
rollout the first baseline (one week back) exists after two weeks, the complete one (the median of
three) after four; until then the median is over the weeks there are, and no baseline, no alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from monitoring.alerting_spec import AlertingSpec
from monitoring.durations import format_duration, parse_duration
from monitoring.severity import Severity
from monitoring.slo import TOTAL_RATE_RECORD, effective_slos, format_number, ratio_record
from monitoring.slo_catalogue import kebab

SIGNAL_LABEL = "signal"
BY = f"{SIGNAL_LABEL}, service"

VALUE_RECORD = "anomaly:signal:5m"
HOURLY_RECORD = "anomaly:signal:avg1h"
WEEK_MEAN_RECORD = "anomaly:signal:avg1w"
WEEK_STDDEV_RECORD = "anomaly:signal:stddev1w"
WEEK_HOURS_RECORD = "anomaly:signal:hours1w"
BASELINE_RECORD = "anomaly:signal:baseline"
ZSCORE_RECORD = "anomaly:signal:zscore"

INPUTS_GROUP, HOURLY_GROUP, BASELINE_GROUP = "anomaly-inputs", "anomaly-hourly", "anomaly-baseline"
INPUT_INTERVAL = "5m"
HOURLY_INTERVAL = "1h"
# Every 5m: the alerts compare the 5m value with a baseline at most one interval old.
BASELINE_INTERVAL = "5m"
SEASON = "1w"
WEEKS = (1, 2, 3)
# Hourly records a week must hold for its mean and spread to count: 90% of 168 (a few missed
# evaluations, a restart, are tolerated; a week that started recording days late is not).
MIN_WEEK_HOURS = 151
Z_THRESHOLD = 3.0
MIN_STDDEV = 1e-9
FOR = "30m"


class Direction(StrEnum):
    BOTH = "both"
    UP = "up"


@dataclass(frozen=True)
class Signal:
    """One signal watched for anomalies, per service."""

    id: str
    alert: str
    title: str
    unit: str  # "ratio" for a share of requests (then the current traffic is checked too)
    source: str  # the 5m series it reads: a record of the SLO `slo`, or a raw expression
    direction: Direction
    min_change: float  # share of the baseline the value must move by
    min_absolute: float  # ... and at least this much, in the signal's unit
    volume: str  # the signal whose baseline (and, for ratios, current value) must show traffic
    min_volume: float  # per second
    slo: str | None = None  # the SLO whose record `source` is (None: a raw expression)

    @property
    def ratio(self) -> bool:
        return self.unit == "ratio"

    @property
    def expr(self) -> str:
        """The 5m value per service."""
        if self.slo is None:
            return self.source
        return f'sum by (service) ({self.source}{{slo="{self.slo}"}})'


# Requests per second below which a service's statistics are noise (a 5m window of 1 req/s holds
# 300 requests: a 5xx share moves by a third of a percent per failure).
MIN_REQUESTS_PER_SECOND = 1.0
# Sessions started per second below which the sessions rate is noise (180 an hour).
MIN_SESSIONS_PER_SECOND = 0.05

REQUESTS, ERRORS, SLOW, SESSIONS = "api-request-rate", "api-error-ratio", "api-slow-share", "session-rate"

SIGNALS: tuple[Signal, ...] = (
    Signal(
        REQUESTS, "ApiRequestRateAnomalous", "API request rate", "req/s", TOTAL_RATE_RECORD, Direction.BOTH,
        min_change=0.5, min_absolute=MIN_REQUESTS_PER_SECOND, volume=REQUESTS, min_volume=MIN_REQUESTS_PER_SECOND,
        slo="api-availability",
    ),
    Signal(
        ERRORS, "ApiErrorRatioAnomalous", "API 5xx share", "ratio", ratio_record("5m"), Direction.UP,
        min_change=1.0, min_absolute=0.01, volume=REQUESTS, min_volume=MIN_REQUESTS_PER_SECOND,
        slo="api-error-rate",
    ),
    # The latency SLO's 5m record: the share of requests slower than its threshold. A latency signal
    # from a record that exists (a quantile would read every bucket of the histogram again).
    Signal(
        SLOW, "ApiLatencyAnomalous", "API slow-request share", "ratio", ratio_record("5m"), Direction.UP,
        min_change=1.0, min_absolute=0.05, volume=REQUESTS, min_volume=MIN_REQUESTS_PER_SECOND,
        slo="api-latency",
    ),
    # Ref: README.md "Application contract" (Business: counter terrafusion_sessions_total, `service`).
    Signal(
        SESSIONS, "SessionRateAnomalous", "session start rate", "sessions/s",
        "sum by (service) (rate(terrafusion_sessions_total[5m]))", Direction.BOTH,
        min_change=0.5, min_absolute=MIN_SESSIONS_PER_SECOND, volume=SESSIONS, min_volume=MIN_SESSIONS_PER_SECOND,
    ),
)


def active_signals(spec: AlertingSpec, without: frozenset[str] = frozenset()) -> list[Signal]:
    """The signals whose inputs the stack records: an SLO-based one needs its SLO in effect."""
    slos = {s.id for s in effective_slos(spec, without)}
    kept = [s for s in SIGNALS if s.slo is None or s.slo in slos]
    ids = {s.id for s in kept}
    return [s for s in kept if s.volume in ids]


# --- PromQL --------------------------------------------------------------------------------------


def _read(record: str, signal: str | None = None, by: str = BY) -> str:
    """A record as one series per (signal, service): read through Thanos Query it also carries the
    external labels, which would keep the two sides of a binary operation from matching."""
    selector = f'{{{SIGNAL_LABEL}="{signal}"}}' if signal else ""
    return f"avg by ({by}) ({record}{selector})"


def _offset(seconds: float) -> str:
    return format_duration(seconds)


def baseline_expr() -> str:
    """The median over WEEKS of the hour around the same time k weeks ago plus the weekly drift.

    The hourly record written at tau holds the mean of (tau - 1h, tau]; the newest one in
    (t - k weeks, t - k weeks + 1h] is centred within 30m of t - k weeks (on average on it)."""
    week = parse_duration(SEASON)
    terms = []
    for k in WEEKS:
        hour = f"avg by ({BY}) (last_over_time({HOURLY_RECORD}[1h] offset {_offset(k * week - 3600)}))"
        then = f" offset {_offset(k * week)}"
        drift = f"{_read(WEEK_MEAN_RECORD)} - {_read(WEEK_MEAN_RECORD + then)}"
        complete = f"{_read(WEEK_HOURS_RECORD + then)} >= {MIN_WEEK_HOURS}"
        terms.append(f'label_replace(\n    ({hour}\n    + {drift})\n    and {complete},\n    "weeks_ago", "{k}", "", ""\n  )')
    return f"quantile without (weeks_ago) (0.5,\n  " + "\n  or\n  ".join(terms) + "\n)"


def _rec(record: str, expr: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"record": record, "expr": expr}
    if labels:
        rule["labels"] = labels
    return rule


def input_rules(signals: list[Signal]) -> list[dict[str, Any]]:
    return [_rec(VALUE_RECORD, s.expr, {SIGNAL_LABEL: s.id}) for s in signals]


def hourly_rules() -> list[dict[str, Any]]:
    return [_rec(HOURLY_RECORD, f"avg by ({BY}) (avg_over_time({VALUE_RECORD}[1h]))")]


def baseline_rules() -> list[dict[str, Any]]:
    return [
        _rec(WEEK_MEAN_RECORD, f"avg by ({BY}) (avg_over_time({HOURLY_RECORD}[{SEASON}]))"),
        _rec(WEEK_STDDEV_RECORD, f"avg by ({BY}) (stddev_over_time({HOURLY_RECORD}[{SEASON}]))"),
        _rec(WEEK_HOURS_RECORD, f"avg by ({BY}) (count_over_time({HOURLY_RECORD}[{SEASON}]))"),
        _rec(BASELINE_RECORD, baseline_expr()),
        _rec(
            ZSCORE_RECORD,
            f"({_read(VALUE_RECORD)} - {_read(BASELINE_RECORD)})\n/\n"
            f"clamp_min({_read(WEEK_STDDEV_RECORD)}, {format_number(MIN_STDDEV)})\n"
            f"and {_read(WEEK_HOURS_RECORD)} >= {MIN_WEEK_HOURS}",
        ),
    ]


def alert_expr(signal: Signal) -> str:
    z = _read(ZSCORE_RECORD, signal.id)
    change = f"({_read(VALUE_RECORD, signal.id)} - {_read(BASELINE_RECORD, signal.id)})"
    floor = f"clamp_min({_read(BASELINE_RECORD, signal.id)} * {format_number(signal.min_change)}, {format_number(signal.min_absolute)})"
    if signal.direction is Direction.BOTH:
        z, change = f"abs({z})", f"abs{change}"
    volume = f"{_read(BASELINE_RECORD, signal.volume, 'service')} > {format_number(signal.min_volume)}"
    lines = [f"{z} > {format_number(Z_THRESHOLD)}", "and", f"{change} > {floor}", "and on (service)", volume]
    if signal.ratio:
        lines += ["and on (service)", f"{_read(VALUE_RECORD, signal.volume, 'service')} > {format_number(signal.min_volume)}"]
    return "\n".join(lines)


def _alert(spec: AlertingSpec, signal: Signal) -> dict[str, Any]:
    direction = "above or below" if signal.direction is Direction.BOTH else "above"
    who = "{{ $labels.service }}"
    return {
        "alert": signal.alert,
        "expr": alert_expr(signal),
        "for": FOR,
        "labels": {"severity": Severity.P3.value, "environment": spec.environment},
        "annotations": {
            "summary": f"The {signal.title} of {who} is unusual for this time of the week",
            "description": (
                f"For {FOR} the {signal.title} of {who} has been more than {format_number(Z_THRESHOLD)} standard "
                f"deviations {direction} its seasonal baseline (the same time of the last {len(WEEKS)} weeks, "
                f"corrected by the weekly trend) and at least {format_number(signal.min_change * 100)}% away from it. "
                f'The z-score: {ZSCORE_RECORD}{{{SIGNAL_LABEL}="{signal.id}", service="{who}"}}.'
            ),
            "runbook_url": f"{spec.runbook_base_url.rstrip('/')}/{kebab(signal.alert)}.md",
        },
    }


def build_anomaly_rule_groups(spec: AlertingSpec, without: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """The three groups, in evaluation order; none when no signal's inputs exist."""
    signals = active_signals(spec, without)
    if not signals:
        return []
    return [
        {"name": INPUTS_GROUP, "interval": INPUT_INTERVAL, "rules": input_rules(signals)},
        {"name": HOURLY_GROUP, "interval": HOURLY_INTERVAL, "rules": hourly_rules()},
        # The alerts last, in the baseline's group: a group evaluates its rules in order, so they
        # read this evaluation's z-scores.
        {"name": BASELINE_GROUP, "interval": BASELINE_INTERVAL, "rules": baseline_rules() + [_alert(spec, s) for s in signals]},
    ]
