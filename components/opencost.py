"""OpenCost, the producer of the executive dashboard's cost series: its chart, with the values of
the plan (plan/opencost.py, where the chart facts, the pricing and the production choices are)."""

from __future__ import annotations

import pulumi

from components.chart import child_options, declare_chart
from plan.context import PlatformContext
from plan.opencost import OpencostPlan
from plan.versions import OPENCOST


class Opencost(pulumi.ComponentResource):
    """OpenCost, its pricing ConfigMap and its ServiceMonitor (opts must wait for the Prometheus
    Operator CRDs)."""

    def __init__(
        self, name: str, plan: OpencostPlan, ctx: PlatformContext, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("terrafusion:monitoring:Opencost", name, None, opts)
        self.values = plan.values
        self.chart = declare_chart(
            f"{name}-chart", OPENCOST, ctx.namespace, self.values, child_options(self, opts),
            extra_values=plan.extra_values,
        )  # fmt: skip
        self.register_outputs({})
