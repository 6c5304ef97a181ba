"""The CNI slice of the plan (components/cni.py declares it). Scraping the cluster's CNI when it
is Cilium (`cluster.cni: cilium`): the program does not deploy the CNI, but it declares the
PodMonitors for the metrics the CNI's own values switch on, so the Security dashboard's "Packets
dropped by network policy" panel has its producers.

The cilium-agent DaemonSet's pods carry `k8s-app: cilium` and name their metrics container ports
`prometheus` (9962, `prometheus.enabled`) and `hubble-metrics` (9965, `hubble.metrics.enabled`,
which must include `drop`). The agents run on the host network in kube-system, a namespace the
platform's NetworkPolicies do not cover (only ingress into the platform's namespaces is restricted),
so these scrapes need no flow. Ref: cilium/cilium install/kubernetes/cilium/templates/cilium-agent/daemonset.yaml
(pod labels, ports `prometheus`, `hubble-metrics`); Documentation/observability/metrics.rst.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from plan.settings import StackSettings

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
class CniPlan:
    # PodMonitor name -> its spec, declared in the platform's namespace (the Prometheus Operator
    # picks PodMonitors up there).
    pod_monitors: Mapping[str, Mapping[str, Any]]


def cni_plan(settings: StackSettings) -> CniPlan | None:
    """The CNI's monitors; None unless the cluster's CNI is Cilium (cluster.cni)."""
    if settings.cluster.cni != "cilium":
        return None
    return CniPlan(pod_monitors=pod_monitor_specs())
