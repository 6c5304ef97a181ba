"""The Trivy Operator, the producer of the Security dashboard's trivy_* series: its chart, with the
values of the plan (plan/trivy_operator.py, where the chart facts and production choices are)."""

from __future__ import annotations

import pulumi

from components.chart import child_options, declare_chart
from plan.context import PlatformContext
from plan.trivy_operator import TrivyOperatorPlan
from plan.versions import TRIVY_OPERATOR


class TrivyOperator(pulumi.ComponentResource):
    """The Trivy Operator and its ServiceMonitor (opts must wait for the Prometheus Operator CRDs)."""

    def __init__(
        self, name: str, plan: TrivyOperatorPlan, ctx: PlatformContext, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("terrafusion:monitoring:TrivyOperator", name, None, opts)
        self.values = plan.values
        self.chart = declare_chart(
            f"{name}-chart", TRIVY_OPERATOR, ctx.namespace, self.values, child_options(self, opts),
            extra_values=plan.extra_values,
        )  # fmt: skip
        self.register_outputs({})
