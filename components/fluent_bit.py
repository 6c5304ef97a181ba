"""Fluent Bit as deployed objects: the node DaemonSet's and the events collector's releases and the
pipeline ConfigMaps they read. Values, configs and why they are so: plan/fluent_bit.py."""

from __future__ import annotations

import pulumi

from components.chart import child_options, declare_chart
from components.labels import config_map
from components.rollout import ContentDigests, ObjectRef
from monitoring.fluentbit import CONFIG_FILE_NAME
from plan.context import PlatformContext
from plan.fluent_bit import FluentBitPlan
from plan.versions import FLUENT_BIT


class FluentBit(pulumi.ComponentResource):
    """Container logs from every node and cluster events from one pod, routed into log families."""

    def __init__(
        self,
        name: str,
        plan: FluentBitPlan,
        ctx: PlatformContext,
        digests: ContentDigests,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`digests`: the pipeline ConfigMaps are recorded here; the ES user and CA Secrets were
        (components/elasticsearch.py)."""
        super().__init__("terrafusion:monitoring:FluentBit", name, None, opts)
        child = child_options(self, opts)
        labels = dict(plan.labels)
        pipelines = {
            role: config_map(
                f"{name}-{role}-config", release.config_map, release.namespace, labels,
                {CONFIG_FILE_NAME: release.config}, child, digests,
            )  # fmt: skip
            for role, release in plan.releases.items()
        }
        for role, release in plan.releases.items():
            # With `existingConfigMap` the chart's own `checksum/config` hashes an empty template (fluent-bit
            # 0.58.1 templates/daemonset.yaml l.37, deployment.yaml l.40: configmap.yaml renders nothing), so
            # the digest of what each pod reads is what rolls it. Ref: values.yaml `podAnnotations`.
            annotations = digests.annotations(
                [
                    ObjectRef("ConfigMap", release.namespace, release.config_map),
                    ObjectRef("Secret", release.namespace, plan.user.secret),
                    ObjectRef("Secret", release.namespace, plan.ca.name),
                ]
            )
            declare_chart(
                f"{name}-{role}",
                FLUENT_BIT,
                release.namespace,
                {**release.values, "podAnnotations": annotations},
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[pipelines[role]])),
                extra_values=release.extra_values,
            )
        self.register_outputs({})
