"""Alerting as deployed: rules as PrometheusRules the stack's Prometheus picks up, the routing
config as the Secret Alertmanager uses, receiver credentials only in a mounted Secret."""

from __future__ import annotations

import pytest
import yaml

from monitoring.alertmanager import ALERTMANAGER_RECEIVER_SECRET, DEFAULT_SECRETS_DIR, RECEIVER_SECRET_KEYS
from stacks.config import ConfigError
from tools.mockrun import is_secret, placeholder_secret, run_stack

RULE_TYPE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"


def _am_spec(run):
    return run.chart("kube-prometheus-stack").plain_inputs["values"]["alertmanager"]["alertmanagerSpec"]


def test_every_rule_file_is_a_prometheus_rule_in_the_namespace(dev):
    rules = dev.of_type(RULE_TYPE)
    files = dev.result.plan.alerting.rule_files
    # A file whose long-window groups the Thanos Ruler evaluates is two PrometheusRules
    # (tests/test_windows.py); every group is deployed exactly once.
    assert len(rules) >= len(files) >= 8
    assert {r.plain_inputs["metadata"]["namespace"] for r in rules} == {"monitoring"}
    assert sorted(g["name"] for r in rules for g in r.plain_inputs["spec"]["groups"]) == sorted(
        g["name"] for f in files.values() for g in f["groups"]
    )


def test_rules_wait_for_the_operator_crds(dev):
    chart = dev.chart("kube-prometheus-stack")
    for rule in dev.of_type(RULE_TYPE):
        assert chart.urn in rule.depends_on, rule.name


def test_alerts_carry_the_stack_environment(prod):
    for rule in prod.of_type(RULE_TYPE):
        for group in rule.plain_inputs["spec"]["groups"]:
            for alert in (r for r in group["rules"] if "alert" in r):
                assert alert["labels"]["environment"] == "prod", alert["alert"]


def test_alertmanager_mounts_the_receiver_secret(prod):
    assert _am_spec(prod)["secrets"] == [ALERTMANAGER_RECEIVER_SECRET]
    secret = prod.one("kubernetes:core/v1:Secret", "terrafusion-alerting-receivers")
    assert secret.plain_inputs["metadata"]["name"] == ALERTMANAGER_RECEIVER_SECRET


def test_receiver_credentials_are_secret_and_keyed_for_the_config(prod):
    secret = prod.one("kubernetes:core/v1:Secret", "terrafusion-alerting-receivers")
    assert is_secret(secret.inputs["stringData"])
    data = secret.plain_inputs["stringData"]
    routing_keys = prod.result.plan.alerting.pagerduty_routing_keys
    assert sorted(data) == sorted([*RECEIVER_SECRET_KEYS.values(), *routing_keys])
    assert data[RECEIVER_SECRET_KEYS["slack"]] == placeholder_secret("slackWebhookUrl")


def test_every_routing_key_file_of_the_config_is_a_key_of_the_receiver_secret(prod):
    config = yaml.safe_load(prod.result.plan.alerting.alertmanager_config_yaml)
    files = {c["routing_key_file"] for r in config["receivers"] for c in r.get("pagerduty_configs", [])}
    data = prod.one("kubernetes:core/v1:Secret", "terrafusion-alerting-receivers").plain_inputs["stringData"]
    assert files and files == {f"{DEFAULT_SECRETS_DIR}/{key}" for key in data if key.startswith("pagerduty-")}


def test_routing_config_reads_credentials_from_the_mounted_files(prod):
    config = yaml.safe_load(prod.result.plan.alerting.alertmanager_config_yaml)
    files = [
        c.get("routing_key_file") or c.get("api_url_file") or c.get("auth_password_file")
        for r in config["receivers"]
        for key in ("pagerduty_configs", "slack_configs", "email_configs")
        for c in r.get(key, [])
    ]
    assert files and all(f.startswith(DEFAULT_SECRETS_DIR + "/") for f in files)
    assert f"/etc/alertmanager/secrets/{ALERTMANAGER_RECEIVER_SECRET}" == DEFAULT_SECRETS_DIR


def test_routing_config_holds_no_credential(prod):
    text = prod.result.plan.alerting.alertmanager_config_yaml
    for key in ("pagerdutyToken", "slackWebhookUrl", "smtpPassword", "ticketWebhookToken"):
        assert placeholder_secret(key) not in text
    assert "integration-key" not in text


def test_stack_without_receivers_warns_and_routes_to_null(dev):
    assert any("no receiver is enabled" in w for w in dev.warnings)
    config = yaml.safe_load(dev.result.plan.alerting.alertmanager_config_yaml)
    assert config["route"]["receiver"] == "null"
    assert dev.one("kubernetes:core/v1:Secret", "terrafusion-alerting-receivers").plain_inputs.get("stringData", {}) == {}


def test_enabled_receiver_without_its_secret_is_a_clear_error():
    with pytest.raises(ConfigError) as raised:
        run_stack("prod", fill_required_secrets=False)
    assert "terrafusion-monitoring:slackWebhookUrl: is required" in str(raised.value)


def test_impossible_slo_target_names_the_key():
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {"alerting.sloOverrides": {"api-availability": {"target": 1.5}}})
    assert str(raised.value).startswith(
        "terrafusion-monitoring:alerting.sloOverrides.api-availability.target: 1.5 is not a ratio"
    )


def test_unknown_slo_id_names_the_key():
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {"alerting.sloOverrides": {"nope": {"target": 0.9}}})
    assert str(raised.value).startswith("terrafusion-monitoring:alerting.sloOverrides.nope: unknown SLO id")


def test_environment_is_not_configurable_inside_alerting():
    with pytest.raises(ConfigError):
        run_stack("dev", {"alerting.environment": "prod"})
