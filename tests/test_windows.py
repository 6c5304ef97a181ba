"""Every window has its data: each rule is evaluated where its whole range exists (Prometheus or the
Thanos Ruler), each panel reads a tier that keeps its whole range, and a stack that breaks either
is rejected before any resource exists (monitoring/windows.py, plan/settings.py)."""

from __future__ import annotations

import json

import copy

import pytest
import yaml

from plan.alerting import RULER_ALERTMANAGERS_KEY, RULER_ALERTMANAGERS_SECRET
from plan.prometheus_stack import THANOS_RULER_NAME
from plan.thanos import QUERY_SERVICE
from monitoring import windows
from monitoring.dashboards import build_dashboards
from monitoring.durations import parse_duration
from monitoring.influxdb import ONE_HOUR_POLICY, RAW_POLICY
from stacks.config import ConfigError
from plan.settings import retentions
from tools.cluster_checks import selector_matches
from tools.mockrun import run_stack

KEY = "terrafusion-monitoring"
RULE_TYPE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def _error(stack: str, overrides: dict) -> str:
    run = None
    with pytest.raises(ConfigError) as raised:
        run = run_stack(stack, overrides)
    assert run is None
    return str(raised.value)


def _kps(run):
    return run.chart("kube-prometheus-stack").plain_inputs["values"]


# --- lookbacks -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "seconds"),
    [
        ("rate(x[5m])", 300),
        ("rate(x[5m] offset 1h)", 3900),
        ("max_over_time(rate(x[5m])[1d:1m] offset 2h)", 86400 + 7200 + 300),
        ("predict_linear(sum(x)[7d:1h], 86400)", 7 * 86400 + 300),  # the instant selector's 5m lookback
        ("sum by (a) (avg_over_time(up[30d])) / on (a) group_left vector(1)", 30 * 86400),
        ("vector(1)", 0),
    ],
)
def test_lookback_adds_range_offset_and_subquery(expr, seconds):
    assert windows.lookback_seconds(expr) == seconds


def test_a_record_read_at_an_offset_reaches_its_own_lookback_further_back():
    # A day record read 2d back covers the day before that: 3d in all, not the selector's 2d5m.
    assert windows.lookback_seconds("r:1d offset 2d + r:1d", {"r:1d": 86400}) == 3 * 86400
    # Over a range, the longer of the range and the record's lookback (both end at the same time).
    assert windows.lookback_seconds("sum_over_time(r:5m[6h])", {"r:5m": 300}) == 6 * 3600
    files = {"f": {"groups": [{"name": "g", "rules": [
        {"record": "r:30m", "expr": "r:5m offset 25m + r:5m"},
        {"record": "r:5m", "expr": "rate(x[5m])"},
        {"record": "r:1h", "expr": "r:30m offset 30m + r:30m"},
    ]}]}}
    found = {w.name: w for w in windows.rule_windows(files)}
    assert (found["r:30m"].lookback, found["r:1h"].lookback, found["r:1h"].via) == (1800, 3600, "r:30m")


def test_lookback_rejects_the_at_modifier():
    with pytest.raises(windows.LookbackError):
        windows.lookback_seconds("rate(x[5m] @ 1700000000)")


def test_a_rule_reading_a_recorded_series_inherits_its_window():
    files = {
        "f": {
            "groups": [
                {"name": "g", "rules": [{"record": "r:30d", "expr": "avg_over_time(up[30d])"}]},
                {"name": "h", "rules": [{"record": "r:remaining", "expr": "1 - r:30d"}]},
            ]
        }
    }
    by_name = {w.name: w for w in windows.rule_windows(files)}
    assert by_name["r:remaining"].lookback == 30 * 86400
    assert by_name["r:remaining"].via == "r:30d"


# --- where each group runs -----------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_ruler_groups_page_nobody_and_are_longer_than_local_retention(stack, dev, prod):
    run = {"dev": dev, "prod": prod}[stack]
    local = windows.usable(parse_duration(run.result.plan.settings.prometheus.retention))
    by_name = {w.name: w for w in windows.rule_windows(run.result.plan.alerting.rule_files)}
    ruler = [r for r in run.of_type(RULE_TYPE) if r.plain_inputs["metadata"]["labels"].get(windows.EVALUATOR_LABEL)]
    assert ruler, "no group is evaluated by the Thanos Ruler"
    alerts = []
    for rule in ruler:
        for group in rule.plain_inputs["spec"]["groups"]:
            alerts += [r for r in group["rules"] if "alert" in r]
            assert max(by_name[r.get("record") or r["alert"]].lookback for r in group["rules"]) > local, group["name"]
    assert alerts, "the anomaly alerts read the ruler's baselines, so the ruler evaluates them"
    assert {a["labels"]["severity"] for a in alerts} <= {"P3", "P4"}


def test_prod_keeps_the_7d_budget_in_prometheus_and_moves_the_30d_budgets(prod):
    groups = {
        g["name"]: bool(r.plain_inputs["metadata"]["labels"].get(windows.EVALUATOR_LABEL))
        for r in prod.of_type(RULE_TYPE)
        for g in r.plain_inputs["spec"]["groups"]
    }
    assert groups["slo-api-availability-budget"] is True
    assert groups["slo-api-success-rate-budget"] is False  # 7d < 15d local retention
    assert groups["slo-api-availability"] is False  # alerts stay in Prometheus


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_anomaly_baselines_and_their_alerts_run_in_the_ruler_and_their_inputs_in_prometheus(stack, dev, prod):
    run = {"dev": dev, "prod": prod}[stack]
    groups = {
        g["name"]: bool(r.plain_inputs["metadata"]["labels"].get(windows.EVALUATOR_LABEL))
        for r in run.of_type(RULE_TYPE)
        for g in r.plain_inputs["spec"]["groups"]
    }
    assert {name: groups[name] for name in ("anomaly-inputs", "anomaly-hourly", "anomaly-baseline")} == {
        "anomaly-inputs": False, "anomaly-hourly": False, "anomaly-baseline": True,
    }


def test_every_group_is_deployed_once(prod):
    deployed = [g["name"] for r in prod.of_type(RULE_TYPE) for g in r.plain_inputs["spec"]["groups"]]
    built = [g["name"] for f in prod.result.plan.alerting.rule_files.values() for g in f["groups"]]
    assert sorted(deployed) == sorted(built)


def test_each_prometheus_rule_is_selected_by_exactly_one_evaluator(prod):
    prometheus_selector = _kps(prod)["prometheus"]["prometheusSpec"]["ruleSelector"]
    ruler_selector = _kps(prod)["thanosRuler"]["thanosRulerSpec"]["ruleSelector"]
    for rule in prod.of_type(RULE_TYPE):
        labels = rule.plain_inputs["metadata"]["labels"]
        assert selector_matches(prometheus_selector, labels) != selector_matches(ruler_selector, labels), rule.name


def test_ruler_writes_the_stack_labels_reads_thanos_query_and_alerts_alertmanager(prod):
    spec = _kps(prod)["thanosRuler"]["thanosRulerSpec"]
    assert spec["labels"] == {"cluster": "terrafusion-prod", "environment": "prod"}
    assert spec["queryEndpoints"] == [f"dnssrv+_http._tcp.{QUERY_SERVICE}.monitoring.svc.cluster.local"]
    assert spec["alertmanagersConfig"]["existingSecret"] == {"name": RULER_ALERTMANAGERS_SECRET, "key": RULER_ALERTMANAGERS_KEY}
    secret = prod.one("kubernetes:core/v1:Secret", "terrafusion-alerting-ruler-alertmanagers").plain_inputs
    config = yaml.safe_load(secret["stringData"][RULER_ALERTMANAGERS_KEY])
    port_name = _kps(prod)["alertmanager"]["alertmanagerSpec"].get("portName", "http-web")
    assert config["alertmanagers"][0]["static_configs"] == [
        f"dnssrv+_{port_name}._tcp.alertmanager-operated.monitoring.svc.cluster.local"
    ]
    assert spec["replicas"] == 2 and _kps(prod)["thanosRuler"]["podDisruptionBudget"]["enabled"] is True
    assert THANOS_RULER_NAME == "kps-thanos-ruler"


# --- the settings validation ---------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_real_stacks_keep_every_window(stack, dev, prod):
    plan = {"dev": dev, "prod": prod}[stack].result.plan
    dashboards = [(d.title, d.model) for d in plan.grafana_content.dashboards]
    assert windows.check_windows(plan.alerting.rule_files, dashboards, retentions(plan.settings)) == []


def test_prometheus_retention_shorter_than_a_paging_alert_window_is_rejected():
    assert _error("dev", {"prometheus.retention": "1d"}) == (
        f"{KEY}:prometheus.retention: 1d is shorter than the 1d window of "
        "AuthenticationFailureSpike (group security)"
    )


def test_the_slo_tiers_that_page_nobody_go_to_the_ruler_when_prometheus_keeps_too_little(dev):
    # 2d does not hold the P3 tiers' 3d window: their group (tickets only) is evaluated by the
    # Thanos Ruler, while the paging tiers' windows (6h at most) stay in Prometheus.
    evaluators = windows.group_evaluators(dev.result.plan.alerting.rule_files, "2d")
    assert evaluators[("slo-api", "slo-api-availability-slow")] == windows.THANOS_RULER
    assert evaluators[("slo-api", "slo-api-availability")] == windows.PROMETHEUS


def test_thanos_raw_retention_shorter_than_a_ruler_window_is_rejected():
    message = _error("prod", {"thanos.compactor.retentionRaw": "30d"})
    assert message == (
        f"{KEY}:thanos.compactor.retentionRaw: 30d is shorter than the 30d window of "
        "slo:sli_error:ratio_rate30d_period (group slo-api-availability-period), evaluated by the Thanos Ruler"
    )


def test_an_slo_window_longer_than_every_retention_is_rejected():
    message = _error("prod", {"alerting.sloOverrides": {"api-availability": {"window": "90d"}}})
    assert message.startswith(f"{KEY}:thanos.compactor.retentionRaw: 35d is shorter than the 90d window of ")


def test_a_paging_alert_reading_a_ruler_record_is_rejected():
    files = {
        "f": {
            "groups": [
                {"name": "budget", "rules": [{"record": "r:30d", "expr": "avg_over_time(up[30d])"}]},
                {"name": "alerts", "rules": [{"alert": "A", "expr": "r:30d < 0.9", "labels": {"severity": "P2"}}]},
            ]
        }
    }
    (problem,) = windows.check_rules(files, _retentions("15d"))
    assert problem.startswith("prometheus.retention: 15d is too short for group alerts: A reads r:30d")


def _retentions(prometheus: str, raw: str = "35d") -> windows.Retentions:
    keys = {"prometheus": "prometheus.retention", "raw": "retentionRaw", "5m": "retention5m", "1h": "retention1h", "influx": "influx"}
    return windows.Retentions(prometheus, {"raw": raw, "5m": "180d", "1h": "2y"}, {}, RAW_POLICY, "30s", keys)


def _ticket_alert_on(record_expr: str) -> dict:
    return {
        "f": {
            "groups": [
                {"name": "baseline", "rules": [{"record": "r:long", "expr": record_expr}]},
                {"name": "tickets", "rules": [{"alert": "T", "expr": "r:long > 3", "labels": {"severity": "P3"}}]},
            ]
        }
    }


def test_a_ticket_alert_reading_a_ruler_record_goes_to_the_ruler():
    files = _ticket_alert_on("avg_over_time(up[21d])")
    assert windows.group_evaluators(files, "15d") == {("f", "baseline"): windows.THANOS_RULER, ("f", "tickets"): windows.THANOS_RULER}
    assert windows.check_rules(files, _retentions("15d")) == []


def test_a_ticket_alert_on_the_ruler_still_needs_its_window_in_the_bucket():
    (problem,) = [p for p in windows.check_rules(_ticket_alert_on("avg_over_time(up[40d])"), _retentions("15d")) if " T " in p]
    assert problem.startswith("retentionRaw: 35d is shorter than the 40d window of T (group tickets via r:long), evaluated by the Thanos Ruler")


# --- dashboards ----------------------------------------------------------------------------------


def _dashboards(environment: str = "prod"):
    return [(d.title, copy.deepcopy(d.model)) for d in build_dashboards(environment)]


def _panel(dashboards, title: str) -> dict:
    (panel,) = [p for _, m in dashboards for p in windows._panels(m["panels"]) if p.get("title") == title]
    return panel


def _prod_retentions(prod):
    return retentions(prod.result.plan.settings)


def test_a_long_panel_without_a_downsampled_step_is_rejected(prod):
    dashboards = _dashboards()
    del _panel(dashboards, "Monthly cost trend (last 90 days)")["interval"]
    (problem,) = windows.check_dashboards(dashboards, _prod_retentions(prod))
    assert problem.startswith("thanos.compactor.retentionRaw: 35d is shorter than the 90d5m window of panel")


def test_the_step_decides_the_tier_a_panel_reads(prod):
    r = _prod_retentions(prod)
    assert windows._thanos_kept(r, 30)[0] == "raw"
    assert windows._thanos_kept(r, parse_duration("30m"))[0] == "5m"
    assert windows._thanos_kept(r, parse_duration("5h"))[0] == "1h"
    assert windows._thanos_kept(windows.Retentions(**{**r.__dict__, "auto_downsampling": False}), 18000)[0] == "raw"


def test_an_influxql_panel_longer_than_the_default_policy_must_name_one(prod):
    dashboards = _dashboards()
    panel = _panel(dashboards, "Monthly active users, last 12 months (InfluxDB trends)")
    query = panel["targets"][0]["query"]
    assert f'FROM "{ONE_HOUR_POLICY}".' in query
    panel["targets"][0]["query"] = query.replace(f'"{ONE_HOUR_POLICY}".', "")
    (problem,) = windows.check_dashboards(dashboards, _prod_retentions(prod))
    assert problem.startswith("influxdb.retention.rawRetention: 30d is shorter than the 365d window of panel")


@pytest.mark.parametrize(
    ("query", "policy"),
    [
        ('SELECT x FROM "m" WHERE $timeFilter', None),
        ('SELECT x FROM "downsampled_1h"."slo:ratio" WHERE $timeFilter', "downsampled_1h"),
        ('SELECT x FROM "prometheus"."downsampled_5m"."m"', "downsampled_5m"),
        ('SELECT x FROM "prometheus".."m"', None),
    ],
)
def test_influxql_retention_policy_of_the_from_clause(query, policy):
    assert windows.influx_retention_policy(query) == policy


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_window_check_sees_exactly_what_is_deployed(stack, dev, prod):
    # build_plan checks the plan's rule files and dashboards; the program deploys those same objects
    # (dev leaves out the rules and panels of producers it does not deploy: checked as left out).
    run = {"dev": dev, "prod": prod}[stack]
    deployed_rules = sorted(
        json.dumps(g, sort_keys=True) for r in run.of_type(RULE_TYPE) for g in r.plain_inputs["spec"]["groups"]
    )
    planned_rules = sorted(json.dumps(g, sort_keys=True) for f in run.result.plan.alerting.rule_files.values() for g in f["groups"])
    assert deployed_rules == planned_rules
    deployed_dashboards = [json.loads(r.plain_inputs["configJson"]) for r in run.of_type("grafana:oss/dashboard:Dashboard")]
    assert {d["uid"]: d for d in deployed_dashboards} == {d.model["uid"]: d.model for d in run.result.plan.grafana_content.dashboards}