"""Scraping the cluster's CNI when it is Cilium (`cluster.cni: cilium`): the program does not deploy
the CNI, but it declares the PodMonitors for the metrics the CNI's own values switch on, so the
Security dashboard's "Packets dropped by network policy" panel has its producers.

The cilium-agent DaemonSet's pods carry `k8s-app: cilium` and name their metrics container ports
`prometheus` (9962, `prometheus.enabled`) and `hubble-metrics` (9965, `hubble.metrics.enabled`,
which must include `drop`). The agents run on the host network in kube-system, a namespace the
platform's NetworkPolicies do not cover (only ingress into the platform's namespaces is restricted),
so these scrapes need no flow. Ref: cilium/cilium install/kubernetes/cilium/templates/cilium-agent/daemonset.yaml
(pod labels, ports `prometheus`, `hubble-metrics`); Documentation/observability/metrics.rst.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options
from components.labels import standard_labels

CNI_NAMESPACE = "kube-system"
AGENT_SELECTOR = {"k8s-app": "cilium"}
# PodMonitor name -> the agent's container port name it scrapes.
MONITORS = {"cilium-agent": "prometheus", "hubble": "hubble-metrics"}


def pod_monitor_specs() -> dict[str, dict[str, Any]]:
    """One PodMonitor per metrics port, so each has its own `job` (the PodMonitor's name)."""
    return {
        name: {
            "namespaceSelector": {"matchNames": [CNI_NAMESPACE]},
            "selector": {"matchLabels": dict(AGENT_SELECTOR)},
            "podMetricsEndpoints": [{"port": port, "path": "/metrics"}],
        }
        for name, port in MONITORS.items()
    }


@dataclass(frozen=True)
class CniMonitorsArgs:
    namespace: str  # the platform's: the Prometheus Operator picks PodMonitors up there


class CniMonitors(pulumi.ComponentResource):
    """PodMonitors for the Cilium agent and Hubble metrics (opts must wait for the Operator CRDs)."""

    def __init__(self, name: str, args: CniMonitorsArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:CniMonitors", name, None, opts)
        child = child_options(self, opts)
        for monitor, spec in pod_monitor_specs().items():
            k8s.apiextensions.CustomResource(
                f"{name}-{monitor}",
                api_version="monitoring.coreos.com/v1",
                kind="PodMonitor",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=monitor, namespace=args.namespace, labels=standard_labels("cilium", name, "pod-monitor")
                ),
                spec=spec,
                opts=child,
            )
        self.register_outputs({})
