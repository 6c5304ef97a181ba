"""Real promtool: the seasonal anomaly alerts (monitoring/anomaly.py) fire on a synthetic spike and
drop, and stay silent through a normal week with its daily peaks, its weekend and a growing trend.

The case feeds the input records (`anomaly:signal:5m`, one sample every 5m, as the `anomaly-inputs`
group writes them) for five weeks and a day of synthetic traffic, and evaluates the hourly and the
baseline group (records and alerts) over them at a 1h step: the hourly group's own interval, and a
step at which the 5m-interval group reaches the same verdicts (every range reads every sample in it, and the
alerts' `for:` is shorter than a step: pending at one step, firing at the next). promtool's engine
loads at most 10,000 samples per query: the week-long statistics read the hourly series (169
samples a week per series), so the case's 16 series stay far below it.

What is expected comes from the scenario (when each service's traffic is unusual), never from the
rule expressions: all four alerts on the spiking service from the step after its spike starts, the
two rate alerts (and not the error and latency alerts, which only look upwards) on the service whose
traffic falls at its daily peak, nothing on a quiet service with the same spike (too little traffic
to judge), and nothing anywhere during the fifth week, a normal week (the first four build the
baseline: three weeks back plus the week-long mean of each of them); the first z-scores appear
after two weeks (a complete week one week back), not before. The input records' own rules
are checked against the SLO records they read, in a second, short case.
"""

from __future__ import annotations

import math
import random
import subprocess
from pathlib import Path

import pytest
from tests.helpers import engine_params, require_engine
from tests.monitoring.alerting_helpers import make_spec, write_yaml
from tests.monitoring.alerting_promtool_cases import expected_alert, rule_test_file

from monitoring import anomaly
from monitoring.durations import parse_duration

STEP = "1h"
SAMPLE_MINUTES = 5
HOURS_PER_DAY, DAYS = 24, 36  # day 0 is a Monday; days 28-34 are the normal week checked
CHECKED_WEEK = range(28 * HOURS_PER_DAY, 35 * HOURS_PER_DAY)
SPIKE = (35 * HOURS_PER_DAY + 10, 35 * HOURS_PER_DAY + 13)  # Monday 10:00-13:00 of week 6, hours
DROP = (35 * HOURS_PER_DAY + 14, 35 * HOURS_PER_DAY + 17)  # at the daily peak

# Per service: request rate and sessions rate at the weekday mean, and whether it spikes or drops.
SERVICES = {
    "steady": (40.0, 2.0, None),
    "spiky": (40.0, 2.0, SPIKE),
    "falling": (40.0, 2.0, DROP),
    "quiet": (0.3, 0.01, SPIKE),  # below anomaly.MIN_REQUESTS_PER_SECOND / MIN_SESSIONS_PER_SECOND
}
ERROR_RATIO, SLOW_SHARE = 0.004, 0.03
SPIKE_FACTOR, DROP_FACTOR = 4.0, 0.1
SPIKE_ERRORS, SPIKE_SLOW = 0.08, 0.4


def _season(hour_of_week: float) -> float:
    """Traffic shape: a daily peak at 14:00 (2.5x the night), weekends at 60%."""
    day, hour = divmod(hour_of_week, HOURS_PER_DAY)
    daily = 0.6 + 0.9 * math.exp(-(((hour - 14) / 3.5) ** 2))
    return daily * (0.6 if day % 7 >= 5 else 1.0)


def _values(service: str, signal: str) -> str:
    rate, sessions, event = SERVICES[service]
    rng = random.Random(f"{service}/{signal}")  # deterministic noise, per series
    values = []
    for i in range(DAYS * HOURS_PER_DAY * 60 // SAMPLE_MINUTES):
        hour = i * SAMPLE_MINUTES / 60
        shape = _season(hour) * (1 + 0.02 * hour / (7 * HOURS_PER_DAY))  # +2% a week
        noise = 1 + rng.uniform(-0.04, 0.04)
        unusual = event is not None and event[0] <= hour < event[1]
        spike = unusual and event == SPIKE
        if signal == anomaly.REQUESTS or signal == anomaly.SESSIONS:
            base = rate if signal == anomaly.REQUESTS else sessions
            factor = (SPIKE_FACTOR if spike else DROP_FACTOR) if unusual else 1.0
            value = base * shape * noise * factor
        else:
            normal = ERROR_RATIO if signal == anomaly.ERRORS else SLOW_SHARE
            peak = SPIKE_ERRORS if signal == anomaly.ERRORS else SPIKE_SLOW
            # Ratios rise a little with load; a drop in traffic halves them (fewer errors: no alert).
            value = (peak if spike else normal * (0.5 if unusual else 0.9 + 0.1 * shape)) * noise
        values.append(format(value, ".6g"))
    return " ".join(values)


def _series() -> list[dict]:
    return [
        {"series": f'{anomaly.VALUE_RECORD}{{service="{service}", signal="{signal.id}"}}', "values": _values(service, signal.id)}
        for service in SERVICES
        for signal in anomaly.SIGNALS
    ]


def _hours(h: int) -> str:
    return f"{h}h"


def _alert_tests(alerts: dict[str, dict]) -> list[dict]:
    """Silent through the checked week and before the events; then who fires when."""
    tests = [{"eval_time": _hours(h), "alertname": name, "exp_alerts": []} for h in CHECKED_WEEK for name in alerts]
    both = [s for s in anomaly.SIGNALS if s.direction is anomaly.Direction.BOTH]

    def firing(h: int, service: str, signals) -> list[dict]:
        out = []
        for signal in anomaly.SIGNALS:
            hit = service if signal in signals else None
            labels = {"service": hit, "signal": signal.id}
            exp = [expected_alert(alerts[signal.alert], labels)] if hit else []
            out.append({"eval_time": _hours(h), "alertname": signal.alert, "exp_alerts": exp})
        return out

    # Pending at the first step with the spike (its 5m value), firing from the next; resolved when it ends.
    tests += firing(SPIKE[0], "spiky", [])
    tests += firing(SPIKE[0] + 1, "spiky", anomaly.SIGNALS) + firing(SPIKE[1] - 1, "spiky", anomaly.SIGNALS)
    tests += firing(SPIKE[1], "spiky", [])
    tests += firing(DROP[0] + 1, "falling", both) + firing(DROP[1] - 1, "falling", both)
    tests += firing(DROP[1], "falling", [])
    return tests


def _ramp_tests() -> list[dict]:
    """No z-score until a complete week lies a week back (anomaly.MIN_WEEK_HOURS): none at day 13,
    one per series at day 15."""
    count = f"count({anomaly.ZSCORE_RECORD})"
    return [
        {"expr": count, "eval_time": "13d", "exp_samples": []},
        {"expr": count, "eval_time": "15d", "exp_samples": [{"labels": "{}", "value": len(SERVICES) * len(anomaly.SIGNALS)}]},
    ]


def _stepped(groups: list[dict]) -> list[dict]:
    """The hourly and baseline groups, as one group evaluated at the case's step (the inputs group
    is fed, not evaluated). promtool evaluates a test's groups in no fixed order at each step: at
    their production intervals the baseline group reads the newest hourly record whichever ran
    first within the hour, but at a 1h step it could read the hour before. One group, in the
    deployed order, is what production's intervals give."""
    rules = [r for name in (anomaly.HOURLY_GROUP, anomaly.BASELINE_GROUP) for g in groups if g["name"] == name for r in g["rules"]]
    assert [g["name"] for g in groups] == [anomaly.INPUTS_GROUP, anomaly.HOURLY_GROUP, anomaly.BASELINE_GROUP]
    return [{"name": "anomaly-stepped", "interval": STEP, "rules": rules}]


def _input_case(groups: list[dict]) -> dict:
    """The input rules over the SLO records and the sessions counter they read."""
    series = [
        {"series": 'slo:sli_total:rate5m{slo="api-availability", service="a"}', "values": "12x40"},
        {"series": 'slo:sli_error:ratio_rate5m{slo="api-error-rate", service="a"}', "values": "0.02x40"},
        {"series": 'slo:sli_error:ratio_rate5m{slo="api-latency", service="a"}', "values": "0.25x40"},
        # Another SLO's record of the same name must not leak in.
        {"series": 'slo:sli_error:ratio_rate5m{slo="api-success-rate", service="a"}', "values": "0.9x40"},
        # Scraped every minute (a rate needs two samples in its left-open 5m range on 3.x).
        {"series": 'terrafusion_sessions_total{service="a", pod="p1"}', "values": "0+60x40"},  # 1/s
        {"series": 'terrafusion_sessions_total{service="a", pod="p2"}', "values": "0+120x40"},  # 2/s
    ]
    expected = {anomaly.REQUESTS: 12, anomaly.ERRORS: 0.02, anomaly.SLOW: 0.25, anomaly.SESSIONS: 3}
    return {
        "interval": "1m",
        "input_series": series,
        "promql_expr_test": [
            {
                "expr": f'{anomaly.VALUE_RECORD}{{signal="{signal}"}}',
                "eval_time": "30m",
                "exp_samples": [{"labels": f'{anomaly.VALUE_RECORD}{{service="a", signal="{signal}"}}', "value": value}],
            }
            for signal, value in expected.items()
        ],
    }


@pytest.fixture(scope="module")
def case_files(tmp_path_factory) -> list[Path]:
    """Both cases, written once for both engine generations."""
    out = tmp_path_factory.mktemp("anomaly")
    groups = anomaly.build_anomaly_rule_groups(make_spec())
    alerts = {r["alert"]: r for g in groups for r in g["rules"] if "alert" in r}
    assert all(r["for"] == anomaly.FOR for r in alerts.values()) and parse_duration(anomaly.FOR) < parse_duration(STEP)
    stepped = write_yaml(out / "anomaly.yaml", {"groups": _stepped(groups)})
    season = {"interval": "5m", "input_series": _series(), "alert_rule_test": _alert_tests(alerts), "promql_expr_test": _ramp_tests()}
    inputs = write_yaml(out / "anomaly-inputs.yaml", {"groups": [g for g in groups if g["name"] == anomaly.INPUTS_GROUP]})
    return [
        write_yaml(out / "test-anomaly.yaml", rule_test_file([str(stepped)], [season], evaluation_interval=STEP)),
        write_yaml(out / "test-anomaly-inputs.yaml", rule_test_file([str(inputs)], [_input_case(groups)])),
    ]


@pytest.mark.parametrize("generation", engine_params("promtool"))
def test_anomaly_alerts_fire_on_a_spike_and_a_drop_and_not_through_a_normal_week(generation, case_files):
    promtool = require_engine("promtool", generation)
    result = subprocess.run([promtool, "test", "rules", *map(str, case_files)], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert result.stdout.count("SUCCESS") == len(case_files)
