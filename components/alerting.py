"""Alerting as deployed objects: PrometheusRule resources from the rule catalogue and SLOs, the
Alertmanager routing config, and the Secret holding receiver credentials.

The routing config holds no credential: receivers read theirs from files under
/etc/alertmanager/secrets/<ALERTMANAGER_RECEIVER_SECRET>/, which the operator mounts from the
Secret declared here (alertmanagerSpec.secrets). So the config can be rendered, reviewed and
checked with amtool as is, and credentials stay Pulumi secrets end to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options
from components.labels import secret, standard_labels
from components.rollout import ContentDigests
from monitoring import yaml_text
from monitoring.alert_rules import build_rule_files
from monitoring.windows import EVALUATOR_LABEL, THANOS_RULER, split_rule_files
from monitoring.alerting_spec import AlertingSpec
from monitoring.alertmanager import (
    ALERTMANAGER_RECEIVER_SECRET,
    RECEIVER_SECRET_KEYS,
    build_alertmanager_config,
)

ALERTMANAGER_CONFIG_SECRET = "alertmanager-config"
# The Thanos Ruler's Alertmanager config (no credential: a Secret only because the CR takes one).
RULER_ALERTMANAGERS_SECRET = "thanos-ruler-alertmanagers"
RULER_ALERTMANAGERS_KEY = "alertmanagers.yaml"
# kps names the Alertmanager's web port `http-web` (alertmanager.alertmanagerSpec.portName).
# Ref: kube-prometheus-stack@88.5.3 values.yaml alertmanager.alertmanagerSpec.portName
ALERTMANAGER_WEB_PORT_NAME = "http-web"
RULE_NAME_PREFIX = "terrafusion"


@dataclass(frozen=True)
class AlertingArgs:
    namespace: str
    spec: AlertingSpec
    # Receiver kind ("pagerduty", ...) -> its credential, for the enabled receivers only.
    receiver_credentials: Mapping[str, pulumi.Output[str]]
    # Records the Thanos Ruler's Alertmanager config, which rolls the ruler (components/rollout.py).
    digests: ContentDigests | None = None


def alertmanager_config_yaml(spec: AlertingSpec) -> str:
    return yaml_text.dump(build_alertmanager_config(spec), sort_keys=False)


class AlertingConfig(pulumi.ComponentResource):
    """The Alertmanager config and receiver Secrets; declared before the chart that mounts them."""

    config_yaml: str

    def __init__(self, name: str, args: AlertingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:AlertingConfig", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.config_yaml = alertmanager_config_yaml(args.spec)
        self.config_secret = secret(
            f"{name}-config",
            ALERTMANAGER_CONFIG_SECRET,
            args.namespace,
            standard_labels("alertmanager", name, "config"),
            {"alertmanager.yaml": self.config_yaml},
            child,
        )
        self.ruler_alertmanagers_secret = secret(
            f"{name}-ruler-alertmanagers",
            RULER_ALERTMANAGERS_SECRET,
            args.namespace,
            standard_labels("thanos-ruler", name, "alertmanagers"),
            {RULER_ALERTMANAGERS_KEY: ruler_alertmanagers_yaml(args.namespace)},
            child,
            args.digests,
        )
        # Always declared, even empty, so the Alertmanager pods can mount it in every stack.
        self.receiver_secret = secret(
            f"{name}-receivers",
            ALERTMANAGER_RECEIVER_SECRET,
            args.namespace,
            standard_labels("alertmanager", name, "receivers"),
            {RECEIVER_SECRET_KEYS[kind]: value for kind, value in sorted(args.receiver_credentials.items())},
            child,
        )
        self.register_outputs({})


@dataclass(frozen=True)
class AlertRulesArgs:
    namespace: str
    spec: AlertingSpec
    # Optional producers the stack does not deploy: their rules are left out (build_rule_files).
    without: frozenset[str] = frozenset()
    # prometheus.retention: groups whose window it does not cover go to the Thanos Ruler.
    prometheus_retention: str = "15d"


def rule_resource_name(file_stem: str) -> str:
    return f"{RULE_NAME_PREFIX}-{file_stem}"


def ruler_alertmanagers_yaml(namespace: str) -> str:
    """The Thanos Ruler's Alertmanager config: every replica of the platform's Alertmanager, found
    through the operator's governing Service (`alertmanager-operated`, web port named after the
    Alertmanager's portName, kps default `http-web`).
    Ref: thanos-io/thanos@v0.42.4 docs/components/rule.md ("Alertmanager" config format: one HA
    group; static addresses may be dnssrv+, pkg/alert/config_test.go);
    prometheus-operator@v0.93.0 pkg/alertmanager/statefulset.go (governing Service ports)."""
    address = f"dnssrv+_{ALERTMANAGER_WEB_PORT_NAME}._tcp.alertmanager-operated.{namespace}.svc.cluster.local"
    config = {"alertmanagers": [{"api_version": "v2", "static_configs": [address]}]}
    return yaml_text.dump(config, sort_keys=False)


class AlertRules(pulumi.ComponentResource):
    """One PrometheusRule per rule file and evaluator (monitoring/windows.py): Prometheus selects
    those without the evaluator label, the ThanosRuler those with it."""

    rule_files: dict[str, dict[str, Any]]

    def __init__(self, name: str, args: AlertRulesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:AlertRules", name, None, opts)
        self.rule_files = build_rule_files(args.spec, without=args.without)
        split = split_rule_files(self.rule_files, args.prometheus_retention)
        self.rules = [
            k8s.apiextensions.CustomResource(
                f"{name}-{part.stem}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=rule_resource_name(part.stem),
                    namespace=args.namespace,
                    labels={
                        **standard_labels("prometheus", name, "rules"),
                        **({EVALUATOR_LABEL: THANOS_RULER} if part.evaluator == THANOS_RULER else {}),
                    },
                ),
                spec=part.content,
                opts=child_options(self, opts),
            )
            for part in sorted(split, key=lambda p: p.stem)
        ]
        self.register_outputs({})
