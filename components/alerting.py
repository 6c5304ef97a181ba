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
from monitoring import yaml_text
from monitoring.alert_rules import build_rule_files
from monitoring.alerting_spec import AlertingSpec
from monitoring.alertmanager import (
    ALERTMANAGER_RECEIVER_SECRET,
    RECEIVER_SECRET_KEYS,
    build_alertmanager_config,
)

ALERTMANAGER_CONFIG_SECRET = "alertmanager-config"
RULE_NAME_PREFIX = "terrafusion"


@dataclass(frozen=True)
class AlertingArgs:
    namespace: str
    spec: AlertingSpec
    # Receiver kind ("pagerduty", ...) -> its credential, for the enabled receivers only.
    receiver_credentials: Mapping[str, pulumi.Output[str]]


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


def rule_resource_name(file_stem: str) -> str:
    return f"{RULE_NAME_PREFIX}-{file_stem}"


class AlertRules(pulumi.ComponentResource):
    """One PrometheusRule per rule file; Prometheus selects PrometheusRules cluster-wide."""

    rule_files: dict[str, dict[str, Any]]

    def __init__(self, name: str, args: AlertRulesArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:AlertRules", name, None, opts)
        self.rule_files = build_rule_files(args.spec, without=args.without)
        self.rules = [
            k8s.apiextensions.CustomResource(
                f"{name}-{stem}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=rule_resource_name(stem),
                    namespace=args.namespace,
                    labels=standard_labels("prometheus", name, "rules"),
                ),
                spec=content,
                opts=child_options(self, opts),
            )
            for stem, content in sorted(self.rule_files.items())
        ]
        self.register_outputs({})
