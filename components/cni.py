"""The PodMonitors of the cluster's CNI (Cilium), as the plan has them (plan/cni.py, which says what
they scrape and why)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options
from components.labels import standard_labels
from plan.cni import CniPlan
from plan.context import PlatformContext


class CniMonitors(pulumi.ComponentResource):
    """PodMonitors for the Cilium agent and Hubble metrics (opts must wait for the Operator CRDs)."""

    def __init__(self, name: str, plan: CniPlan, ctx: PlatformContext, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:CniMonitors", name, None, opts)
        child = child_options(self, opts)
        for monitor, spec in plan.pod_monitors.items():
            k8s.apiextensions.CustomResource(
                f"{name}-{monitor}",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=monitor, namespace=ctx.namespace, labels=standard_labels("cilium", name, "pod-monitor")
                ),
                spec=spec,
                opts=child,
            )
        self.register_outputs({})
