"""Alerting as deployed objects: PrometheusRule resources from the rule catalogue and SLOs, the
Alertmanager routing config, and the Secret holding receiver credentials.

The routing config holds no credential: receivers read theirs from files under
/etc/alertmanager/secrets/<ALERTMANAGER_RECEIVER_SECRET>/, which the operator mounts from the
Secret declared here (alertmanagerSpec.secrets). So the config can be rendered, reviewed and
checked with amtool as is, and credentials stay Pulumi secrets end to end.
"""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options
from components.labels import secret, standard_labels
from components.rollout import ContentDigests
from monitoring.alertmanager import ALERTMANAGER_RECEIVER_SECRET
from monitoring.windows import EVALUATOR_LABEL, THANOS_RULER
from plan.context import PlatformContext
from plan.alerting import (
    ALERTMANAGER_CONFIG_SECRET,
    RULER_ALERTMANAGERS_KEY,
    RULER_ALERTMANAGERS_SECRET,
    AlertingPlan,
    rule_resource_name,
)


class AlertingConfig(pulumi.ComponentResource):
    """The Alertmanager config and receiver Secrets; declared before the chart that mounts them."""

    def __init__(
        self,
        name: str,
        plan: AlertingPlan,
        ctx: PlatformContext,
        secrets: Mapping[str, pulumi.Output[str]],
        digests: ContentDigests,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("terrafusion:monitoring:AlertingConfig", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        namespace = ctx.namespace
        self.config_secret = secret(
            f"{name}-config",
            ALERTMANAGER_CONFIG_SECRET,
            namespace,
            standard_labels("alertmanager", name, "config"),
            {"alertmanager.yaml": plan.alertmanager_config_yaml},
            child,
        )
        # Records the Thanos Ruler's Alertmanager config, which rolls the ruler (components/rollout.py).
        self.ruler_alertmanagers_secret = secret(
            f"{name}-ruler-alertmanagers",
            RULER_ALERTMANAGERS_SECRET,
            namespace,
            standard_labels("thanos-ruler", name, "alertmanagers"),
            {RULER_ALERTMANAGERS_KEY: plan.ruler_alertmanagers_yaml},
            child,
            digests,
        )
        # Always declared, even empty, so the Alertmanager pods can mount it in every stack.
        self.receiver_secret = secret(
            f"{name}-receivers",
            ALERTMANAGER_RECEIVER_SECRET,
            namespace,
            standard_labels("alertmanager", name, "receivers"),
            {file: secrets[key] for file, key in plan.receiver_secrets.items()},
            child,
        )
        self.register_outputs({})


class AlertRules(pulumi.ComponentResource):
    """One PrometheusRule per rule file and evaluator (monitoring/windows.py): Prometheus selects
    those without the evaluator label, the ThanosRuler those with it."""

    def __init__(self, name: str, plan: AlertingPlan, ctx: PlatformContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:AlertRules", name, None, opts)
        namespace = ctx.namespace
        self.rules = [
            k8s.apiextensions.CustomResource(
                f"{name}-{part.stem}",
                api_version="monitoring.coreos.com/v1",
                kind="PrometheusRule",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=rule_resource_name(part.stem),
                    namespace=namespace,
                    labels={
                        **standard_labels("prometheus", name, "rules"),
                        **({EVALUATOR_LABEL: THANOS_RULER} if part.evaluator == THANOS_RULER else {}),
                    },
                ),
                spec=part.content,
                opts=child_options(self, opts),
            )
            for part in plan.rule_parts
        ]
        self.register_outputs({})
