"""SLO catalogue and the recording/alerting rules it becomes."""

from __future__ import annotations

import pytest
from tests.monitoring.alerting_helpers import make_spec, with_for

from monitoring.severity import Severity
from monitoring.slo_catalogue import SLO_CATALOGUE, SloKind, slo_by_id
from monitoring.slo import (
    BAD_RATE_RECORD,
    BURN_RATE_WINDOWS,
    PERIOD_GROUP_INTERVAL,
    SLOW_GROUP_INTERVAL,
    TOTAL_RATE_RECORD,
    build_slo_rule_groups,
    burn_windows_for,
    effective_slos,
    error_ratio_expr,
    le_matcher,
    period_record,
    ratio_record,
)
from monitoring.durations import canonical


def _alerts(groups, name=None):
    return [r for g in groups for r in g["rules"] if "alert" in r and (name is None or r["alert"] == name)]


def _records(groups):
    return [r for g in groups for r in g["rules"] if "record" in r]


@pytest.mark.parametrize(
    ("slo_id", "target", "window"),
    [
        ("api-availability", 0.999, "30d"),
        ("api-latency", 0.95, "1d"),
        ("api-error-rate", 0.999, "1d"),
        ("api-success-rate", 0.999, "7d"),
        ("frontend-availability", 0.999, "30d"),
        ("frontend-js-errors", 0.9999, "30d"),
        ("db-availability", 0.9999, "30d"),
        ("db-connection-success", 0.99995, "30d"),
        ("db-replication-lag", 10.0, "30d"),
    ],
)
def test_catalogue_defaults_match_the_issue(slo_id, target, window):
    slo = slo_by_id(slo_id)
    assert (slo.target, slo.window) == (target, window)


def test_latency_slos_use_the_contract_thresholds():
    thresholds = {s.id: s.sli.threshold_seconds for s in SLO_CATALOGUE if hasattr(s.sli, "threshold_seconds")}
    assert thresholds == {
        "api-latency": 0.3,
        "frontend-time-to-interactive": 2.0,
        "frontend-page-load": 3.0,
        "db-query-latency": 0.1,
    }


def test_burn_rate_table_is_the_design_table():
    rows = [(w.severity, w.factor, w.long, w.short) for w in BURN_RATE_WINDOWS]
    assert rows == [
        (Severity.P1, 14.4, "1h", "5m"),
        (Severity.P2, 6.0, "6h", "30m"),
        (Severity.P3, 3.0, "1d", "2h"),
        (Severity.P3, 1.0, "3d", "6h"),
    ]


def test_fast_burn_spends_two_percent_of_a_30_day_budget():
    assert BURN_RATE_WINDOWS[0].budget_spent("30d") == pytest.approx(0.02)


def test_thirty_day_slo_gets_all_four_burn_tiers():
    groups = build_slo_rule_groups(make_spec(), area="api")
    severities = [a["labels"]["severity"] for a in _alerts(groups, "ApiAvailabilityBudgetBurn")]
    assert severities == ["P1", "P2", "P3", "P3"]


def test_day_long_slo_keeps_only_tiers_shorter_than_its_window():
    assert [w.severity for w in burn_windows_for(slo_by_id("api-latency"))] == [Severity.P1, Severity.P2]


def test_day_long_slos_get_a_threshold_alert_over_their_window():
    groups = build_slo_rule_groups(make_spec(), area="api")
    (alert,) = _alerts(groups, "ApiLatencyObjectiveMissed")
    assert alert["expr"] == 'slo:sli_error:ratio_rate1d{slo="api-latency"} > 0.05'


def test_thirty_day_slo_has_no_threshold_alert():
    groups = build_slo_rule_groups(make_spec(), area="api")
    assert _alerts(groups, "ApiAvailabilityObjectiveMissed") == []


def test_p1_burn_alert_requires_both_windows_above_14_4_times_the_budget():
    groups = build_slo_rule_groups(make_spec(), area="api")
    p1 = next(a for a in _alerts(groups, "ApiAvailabilityBudgetBurn") if a["labels"]["severity"] == "P1")
    assert p1["expr"] == (
        'slo:sli_error:ratio_rate1h{slo="api-availability"} > (14.4 * 0.001)\n'
        "and\n"
        'slo:sli_error:ratio_rate5m{slo="api-availability"} > (14.4 * 0.001)'
    )


def test_target_override_changes_the_burn_threshold():
    spec = make_spec(sloOverrides={"api-availability": {"target": 0.995}})
    groups = build_slo_rule_groups(spec, area="api")
    p1 = _alerts(groups, "ApiAvailabilityBudgetBurn")[0]
    assert "(14.4 * 0.005)" in p1["expr"]


def test_window_override_to_a_day_adds_a_threshold_alert():
    spec = make_spec(sloOverrides={"api-availability": {"window": "24h"}})
    groups = build_slo_rule_groups(spec, area="api")
    assert len(_alerts(groups, "ApiAvailabilityObjectiveMissed")) == 1
    assert effective_slos(spec)[0].window == "1d"


def test_every_slo_alert_carries_slo_severity_and_environment():
    groups = build_slo_rule_groups(make_spec(environment="staging"))
    for alert in _alerts(groups):
        labels = alert["labels"]
        assert labels["severity"] in {"P1", "P2", "P3", "P4"}
        assert labels["environment"] == "staging"
        assert labels["slo"]


def test_frontend_slo_alerts_name_the_app_as_service():
    groups = build_slo_rule_groups(make_spec(), area="frontend")
    assert {a["labels"]["service"] for a in _alerts(groups)} == {"{{ $labels.app }}"}


def test_every_ratio_slo_records_a_budget_remaining_series():
    groups = build_slo_rule_groups(make_spec())
    remaining = {r["labels"]["slo"] for r in _records(groups) if r["record"] == "slo:error_budget_remaining:ratio"}
    assert remaining == {s.id for s in SLO_CATALOGUE if s.kind is SloKind.RATIO}


def test_budget_groups_are_evaluated_every_five_minutes():
    groups = build_slo_rule_groups(make_spec())
    assert {g.get("interval") for g in groups if g["name"].endswith("-budget")} == {"5m"}


def test_a_budget_window_no_alert_reads_is_evaluated_every_30m_and_copied_every_5m():
    spec = make_spec()
    groups = {g["name"]: g for g in build_slo_rule_groups(spec)}
    alerted = {r["record"] for g in groups.values() if not g["name"].endswith(("-budget", "-period")) for r in g["rules"] if "record" in r}
    periods = 0
    for slo in (s for s in effective_slos(spec) if s.kind is SloKind.RATIO):
        window, period = canonical(slo.window), groups.get(f"slo-{slo.id}-period")
        budget = {r["record"]: r["expr"] for r in groups[f"slo-{slo.id}-budget"]["rules"]}
        if ratio_record(window) in alerted:  # a 24h SLO: its window is an alerting window
            assert period is None and ratio_record(window) not in budget, slo.id
            continue
        periods += 1
        assert period["interval"] == PERIOD_GROUP_INTERVAL == "30m", slo.id
        assert period["rules"] == [{"record": period_record(window), "expr": error_ratio_expr(slo, window), "labels": {"slo": slo.id}}]
        # The copy every reader reads, under the usual name: the newest within two period intervals
        # (in its own phase, the newest may be exactly one old), one value per SLO label.
        assert budget[ratio_record(window)] == (
            f'max by ({slo.label}) (last_over_time({period_record(window)}{{slo="{slo.id}"}}[1h]))'
        ), slo.id
        assert f'{ratio_record(window)}{{slo="{slo.id}"}}' in budget["slo:error_budget_remaining:ratio"]
    assert periods >= 8  # the 7d and 30d SLOs


def test_the_tiers_that_page_nobody_are_evaluated_every_five_minutes_and_the_paging_ones_every_interval():
    groups = {g["name"]: g for g in build_slo_rule_groups(make_spec())}
    fast, slow = groups["slo-api-availability"], groups["slo-api-availability-slow"]
    assert "interval" not in fast and slow["interval"] == SLOW_GROUP_INTERVAL == "5m"
    assert {a["labels"]["severity"] for a in _alerts([fast])} == {"P1", "P2"}
    assert {(a["labels"]["severity"], a["labels"]["long_window"]) for a in _alerts([slow])} == {("P3", "1d"), ("P3", "3d")}
    # Each window is recorded once, with the fastest alert that reads it (6h: P2's long window).
    assert [r["record"] for r in _records([slow])] == [f"slo:sli_error:ratio_rate{w}" for w in ("2h", "1d", "3d")]
    assert "slo:sli_error:ratio_rate6h" in [r["record"] for r in _records([fast])]
    # A 24h SLO's P3 threshold alert and its 1d window are slow; its budget takes the newest 1d value.
    latency = groups["slo-api-latency-slow"]
    assert [r.get("alert") or r["record"] for r in latency["rules"]] == ["slo:sli_error:ratio_rate1d", "ApiLatencyObjectiveMissed"]
    (remaining,) = [r for r in groups["slo-api-latency-budget"]["rules"] if r["record"] == "slo:error_budget_remaining:ratio"]
    assert 'last_over_time(slo:sli_error:ratio_rate1d{slo="api-latency"}[10m])' in remaining["expr"]
    # The threshold SLO pages (P2): no slow group.
    assert "slo-db-replication-lag-slow" not in groups


def test_event_ratio_is_zero_not_absent_when_a_service_never_failed():
    groups = build_slo_rule_groups(make_spec(), area="api")
    record = next(r for r in _records(groups) if r["labels"]["slo"] == "api-availability" and r["record"] == BAD_RATE_RECORD)
    assert f' or 0 * sum by (service) ({TOTAL_RATE_RECORD}{{slo="api-availability"}})' in record["expr"]


def test_replication_lag_is_recorded_as_a_bad_time_indicator():
    groups = build_slo_rule_groups(make_spec(), area="database")
    record = next(r for r in _records(groups) if r["record"] == "slo:threshold_exceeded:bool")
    assert record["expr"] == "max by (service) (pg_replication_lag_seconds) > bool 10"


def test_whole_number_bucket_bounds_match_both_prometheus_spellings():
    assert le_matcher(2) == 'le=~"2(\\\\.0)?"'
    assert le_matcher(0.3) == 'le="0.3"'


def test_durations_are_canonical():
    assert canonical("24h") == "1d"
    assert canonical("90m") == "1h30m"


def test_for_override_replaces_every_for():
    files = with_for({"slo": {"groups": build_slo_rule_groups(make_spec())}}, "0s")
    assert {a["for"] for a in _alerts(files["slo"]["groups"])} == {"0s"}
