"""The platform's NetworkPolicies as resources: the plan (plan/network_policies.py) holds the flow
table and every policy; this component declares them."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options
from monitoring.network_policy import DEFAULT_DENY_NAME, POLICY_PREFIX
from plan.network_policies import NetworkPoliciesPlan


class NetworkPolicies(pulumi.ComponentResource):
    """Default-deny ingress per platform namespace plus one allow policy per component."""

    def __init__(self, plan: NetworkPoliciesPlan, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:NetworkPolicies", plan.name, None, opts)
        child = child_options(self, opts)
        for manifest in plan.manifests:
            meta = manifest["metadata"]
            if meta["name"] == DEFAULT_DENY_NAME:
                role = f"default-deny-{plan.namespace_roles[meta['namespace']]}"
            else:
                role = meta["name"].removeprefix(POLICY_PREFIX)
            k8s.networking.v1.NetworkPolicy(
                f"{plan.name}-{role}",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=meta["name"], namespace=meta["namespace"], labels=meta["labels"]),
                spec=manifest["spec"],
                opts=child,
            )
        self.register_outputs({})
