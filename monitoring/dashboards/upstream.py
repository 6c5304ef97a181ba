"""kube-prometheus-stack's node, pod, namespace and workload dashboards in our Grafana.

The foundational Kubernetes views (compute resources per cluster/namespace/node/pod/workload,
networking, volumes, node-exporter USE) are the kubernetes-mixin and node-exporter-mixin dashboards
the chart ships; rather than rebuilding them, the program provisions them as they are, from the
JSON the pinned chart renders (vendored in upstream/ by tools/upstream_dashboards.py, checked
against the chart by the tests), into the "Kubernetes" folder, with their `datasource` variable
defaulting to Thanos like every dashboard of ours. They read the recording rules of the chart's
default rules (monitoring/upstream_rules.py), which is why those groups are on.

Every dashboard the chart renders is either kept or excluded with its reason (one table each); the
metrics contract checks the kept ones like ours (tests/test_metrics_contract.py).
Ref: kube-prometheus-stack 88.5.3 templates/grafana/dashboards-1.14/.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from monitoring.datasources import THANOS_UID

UPSTREAM_DIR = Path(__file__).parent / "upstream"

# File (as the chart names its ConfigMap key) -> what it answers.
KEPT: dict[str, str] = {
    "k8s-resources-cluster.json": "CPU, memory, network and storage by namespace, requests/limits vs usage",
    "k8s-resources-nodes-overview.json": "every node's CPU and memory use against its capacity",
    "k8s-resources-node.json": "the pods of one node and what they use",
    "k8s-resources-namespace.json": "the pods of one namespace, usage against requests, limits and quotas",
    "k8s-resources-workloads-namespace.json": "the workloads of one namespace and what they use",
    "k8s-resources-workload.json": "the pods of one workload and what they use",
    "k8s-resources-pod.json": "one pod's containers: CPU, throttling, memory, network, storage I/O",
    "cluster-total.json": "network traffic and drops by namespace",
    "namespace-by-pod.json": "network traffic of one namespace by pod",
    "namespace-by-workload.json": "network traffic of one namespace by workload",
    "pod-total.json": "network traffic of one pod",
    "workload-total.json": "network traffic of one workload",
    "persistentvolumesusage.json": "space and inodes of each PersistentVolumeClaim",
    "nodes.json": "one node's CPU, load, memory, disk and network (node-exporter)",
    "node-rsrc-use.json": "utilisation, saturation, errors of one node (USE method)",
    "node-cluster-rsrc-use.json": "utilisation, saturation, errors of the whole cluster (USE method)",
}

_CONTROL_PLANE = "control-plane component a managed cluster does not expose (monitoring/upstream_rules.py SELF_HOSTED_CONTROL_PLANE)"
EXCLUDED: dict[str, str] = {
    "alertmanager-overview.json": "the Operations dashboard covers the alerting pipeline (tf-operations)",
    "prometheus.json": "the Operations dashboard covers Prometheus itself (tf-operations)",
    "grafana-overview.json": "Grafana's own request metrics: not an operational view of the platform",
    "apiserver.json": "API server internals (work queues, etcd latency) for cluster operators; the "
    "API server SLO alerts (kube-apiserver-slos) are on",
    "kubelet.json": "kubelet internals (operation latencies, PLEG, cgroup manager) for cluster operators; "
    "the kubelet alerts are on",
    "controller-manager.json": _CONTROL_PLANE,
    "scheduler.json": _CONTROL_PLANE,
    "etcd.json": _CONTROL_PLANE,
    "proxy.json": "kube-proxy's metrics are bound to 127.0.0.1 on EKS and absent with eBPF dataplanes; "
    "its rule group is off too (monitoring/upstream_rules.py)",
    "k8s-coredns.json": "cluster DNS belongs to the cluster's operators, and GKE runs kube-dns, not CoreDNS",
    "k8s-resources-multicluster.json": "each stack's Thanos sees one cluster",
    "nodes-aix.json": "no AIX nodes",
    "nodes-darwin.json": "no macOS nodes",
}


def kept_files() -> tuple[str, ...]:
    return tuple(KEPT)


# Series the stack never stores although the dashboards read them: the chart's own kubelet
# ServiceMonitor drops cAdvisor's container_memory_swap (kubelet.serviceMonitor.cAdvisorMetricRelabelings
# `container_memory_(mapped_file|swap)`), so its recording rule group is off too. Their queries are
# left out of the models rather than shown as empty columns.
DROPPED_SERIES = re.compile(r"container_memory_swap")


def _panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def _adapted(model: dict) -> dict:
    """The model with its `datasource` variable defaulting to Thanos (uid `thanos`), as ours do (the
    chart's default is Grafana's default datasource, which may not be Thanos), and without the
    queries of DROPPED_SERIES."""
    model = copy.deepcopy(model)
    for variable in model.get("templating", {}).get("list", []):
        if variable.get("type") == "datasource" and variable.get("query") == "prometheus":
            variable["current"] = {"selected": True, "text": "Thanos", "value": THANOS_UID}
    for panel in _panels(model.get("panels", [])):
        if "targets" in panel:
            panel["targets"] = [t for t in panel["targets"] if not DROPPED_SERIES.search(str(t.get("expr", "")))]
    return model


def upstream_models() -> list[dict]:
    """The kept dashboards' models, in KEPT order."""
    return [_adapted(json.loads((UPSTREAM_DIR / name).read_text())) for name in KEPT]
