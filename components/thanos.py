"""Thanos query, query-frontend, store gateway and compactor (stevehipwell `thanos` chart): the
chart with the plan's values (plan/thanos.py), and the digest of the bucket config on the pods that
mount it."""

from __future__ import annotations

import pulumi

from components.chart import child_options, declare_chart
from components.rollout import ContentDigests, ObjectRef
from plan.context import PlatformContext
from plan.thanos import ThanosPlan
from plan.values import deep_merge
from plan.versions import THANOS


class Thanos(pulumi.ComponentResource):
    """Global query over all Prometheus replicas plus the bucket, and its retention."""

    def __init__(
        self,
        name: str,
        plan: ThanosPlan,
        ctx: PlatformContext,
        digests: ContentDigests,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("terrafusion:monitoring:Thanos", name, None, opts)
        # The compactor and store gateway mount objstore.yml by subPath (never updated in a running
        # pod); the chart's `checksum/config` only exists with `objstoreConfig.create` (thanos 1.24.1
        # templates/compact/statefulset.yaml l.26-33, store-gateway/statefulset.yaml l.26-33), so the
        # digest goes in `<component>.podAnnotations`. Query and query-frontend read no bucket.
        objstore = ObjectRef("Secret", ctx.namespace, plan.objstore_secret.name)
        self.values = deep_merge(
            plan.values,
            {component: {"podAnnotations": digests.annotations([objstore])} for component in ("compact", "storeGateway")},
        )
        self.chart = declare_chart(
            f"{name}-chart", THANOS, ctx.namespace, self.values, child_options(self, opts),
            extra_values=plan.extra_values,
        )  # fmt: skip
        self.register_outputs({})
