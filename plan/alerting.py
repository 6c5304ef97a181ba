"""The alerting slice of the plan: the Alertmanager config, the rule files as each evaluator gets
them, the receiver credentials the stack needs, and the SLOs in effect. components/alerting.py
declares them; nothing there is computed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from monitoring import yaml_text
from monitoring.alert_rules import build_rule_files
from monitoring.alerting_spec import AlertingSpec
from monitoring.alertmanager import RECEIVER_SECRET_KEYS, build_alertmanager_config
from monitoring.slo import effective_slos
from monitoring.slo_catalogue import Slo
from monitoring.windows import EvaluatedRuleFile, split_rule_files
from plan.endpoints import Endpoint
from plan.secrets import RECEIVER_SECRETS
from plan.settings import StackSettings

ALERTMANAGER_CONFIG_SECRET = "alertmanager-config"
# The Thanos Ruler's Alertmanager config (no credential: a Secret only because the CR takes one).
RULER_ALERTMANAGERS_SECRET = "thanos-ruler-alertmanagers"
RULER_ALERTMANAGERS_KEY = "alertmanagers.yaml"
RULE_NAME_PREFIX = "terrafusion"
# The operator's governing Service of the Alertmanager pods, and the web port's name there (kps
# alertmanager.alertmanagerSpec.portName default `http-web`).
# Ref: prometheus-operator@v0.93.0 pkg/alertmanager/statefulset.go (governing Service ports);
# kube-prometheus-stack@88.5.3 values.yaml alertmanager.alertmanagerSpec.portName
ALERTMANAGER_OPERATED_SERVICE = "alertmanager-operated"
ALERTMANAGER_WEB_PORT_NAME = "http-web"
ALERTMANAGER_WEB_PORT = 9093


@dataclass(frozen=True)
class AlertingPlan:
    spec: AlertingSpec
    # The SLOs in effect: the catalogue with the stack's overrides, less those whose producer the
    # stack does not deploy. Every SLO text, rule and dashboard threshold comes from these.
    slos: tuple[Slo, ...]
    alertmanager_config_yaml: str
    ruler_alertmanagers_yaml: str
    # Every rule file the stack deploys (monitoring/alert_rules), and the same split by evaluator
    # (monitoring/windows.py: groups Prometheus' retention does not cover go to the Thanos Ruler).
    rule_files: Mapping[str, Mapping[str, Any]]
    rule_parts: tuple[EvaluatedRuleFile, ...]
    # Key of the receivers Secret (monitoring/alertmanager.py RECEIVER_SECRET_KEYS) -> the secret
    # config key whose value it holds, for the enabled receivers only.
    receiver_secrets: Mapping[str, str]


def rule_resource_name(file_stem: str) -> str:
    return f"{RULE_NAME_PREFIX}-{file_stem}"


def ruler_alertmanagers_yaml(alertmanagers: str) -> str:
    """The Thanos Ruler's Alertmanager config: one HA group, every replica found through `alertmanagers`
    (a `dnssrv+` address of the operator's governing Service).
    Ref: thanos-io/thanos@v0.42.4 docs/components/rule.md ("Alertmanager" config format: one HA
    group; static addresses may be dnssrv+, pkg/alert/config_test.go)."""
    config = {"alertmanagers": [{"api_version": "v2", "static_configs": [alertmanagers]}]}
    return yaml_text.dump(config, sort_keys=False)


def alertmanager_config_yaml(spec: AlertingSpec) -> str:
    return yaml_text.dump(build_alertmanager_config(spec), sort_keys=False)


def alertmanager_pods(namespace: str) -> Endpoint:
    """Every Alertmanager replica, one by one (the Thanos Ruler sends to each)."""
    return Endpoint(ALERTMANAGER_OPERATED_SERVICE, namespace, {ALERTMANAGER_WEB_PORT_NAME: ALERTMANAGER_WEB_PORT})


def alerting_plan(settings: StackSettings) -> AlertingPlan:
    spec = settings.alerting_spec
    without = settings.undeployed_producers
    rule_files = build_rule_files(spec, without=without)
    enabled = spec.receivers.enabled_kinds()
    return AlertingPlan(
        spec=spec,
        slos=tuple(effective_slos(spec, without)),
        alertmanager_config_yaml=alertmanager_config_yaml(spec),
        ruler_alertmanagers_yaml=ruler_alertmanagers_yaml(alertmanager_pods(settings.namespace).srv(ALERTMANAGER_WEB_PORT_NAME)),
        rule_files=rule_files,
        rule_parts=tuple(sorted(split_rule_files(rule_files, settings.prometheus.retention), key=lambda p: p.stem)),
        receiver_secrets={
            RECEIVER_SECRET_KEYS[kind]: secret.key for kind, secret in sorted(RECEIVER_SECRETS.items()) if kind in enabled
        },
    )
