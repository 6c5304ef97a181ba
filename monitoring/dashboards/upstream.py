"""kube-prometheus-stack's node, pod, namespace and workload dashboards in our Grafana.

The foundational Kubernetes views (compute resources per cluster/namespace/node/pod/workload,
networking, volumes, node-exporter USE) are the kubernetes-mixin and node-exporter-mixin dashboards
the chart ships. Nothing of them is in this repository: the chart renders them as ConfigMaps
labelled for Grafana's dashboard sidecar (`grafana.forceDeployDashboards`, plan/prometheus_stack.py),
and our Grafana's sidecar loads the labelled ones of the platform namespace into the "Kubernetes"
folder (plan/grafana.py). The release's object patch (`upstream_dashboard_patch`, applied by
the Pulumi transform and by tools/render.py) decides per ConfigMap: an excluded dashboard loses the
sidecar's label, so the sidecar ignores it; a kept one gets its `datasource` variable defaulting to
Thanos and loses the queries of series the stack does not store. They read the recording rules of
the chart's default rules (monitoring/upstream_rules.py), which is why those groups are on.

Every dashboard the chart renders is either kept or excluded with its reason (one table each; a
chart bump that adds one fails the patch until it is decided); the metrics contract checks the kept
ones like ours (tests/test_metrics_contract.py).
Ref: kube-prometheus-stack 88.5.3 templates/grafana/dashboards-1.14/*.yaml (one ConfigMap per
dashboard, named `<fullname>-<name>`, labelled `grafana.sidecar.dashboards.label: labelValue`,
annotated with `grafana.sidecar.dashboards.annotations`, data key `<name>.json`).
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from monitoring.datasources import THANOS_UID

# The label kube-prometheus-stack puts on its dashboard ConfigMaps and our Grafana's sidecar
# watches: one value for both charts. Ref: kube-prometheus-stack 88.5.3 values.yaml
# `grafana.sidecar.dashboards.label` (grafana_dashboard) / `labelValue` ("1"); grafana 12.11.1
# values.yaml `sidecar.dashboards.label` / `labelValue` ("" matches any value), templates/_pod.tpl
# (env LABEL, LABEL_VALUE of the grafana-sc-dashboard container).
SIDECAR_LABEL = "grafana_dashboard"
SIDECAR_LABEL_VALUE = "1"
# The `app` label of every dashboard ConfigMap, whether the patch left the sidecar's label on it or
# not: `<kube-prometheus-stack.name>-grafana` (the chart's name; no nameOverride here).
# Ref: kube-prometheus-stack 88.5.3 templates/grafana/dashboards-1.14/*.yaml metadata.labels.app
DASHBOARD_APP_LABEL = "kube-prometheus-stack-grafana"

# Dashboard name as the chart renders it (ConfigMap `kps-<name>`, data key `<name>.json`) -> what it answers.
KEPT: dict[str, str] = {
    "k8s-resources-cluster": "CPU, memory, network and storage by namespace, requests/limits vs usage",
    "k8s-resources-nodes-overview": "every node's CPU and memory use against its capacity",
    "k8s-resources-node": "the pods of one node and what they use",
    "k8s-resources-namespace": "the pods of one namespace, usage against requests, limits and quotas",
    "k8s-resources-workloads-namespace": "the workloads of one namespace and what they use",
    "k8s-resources-workload": "the pods of one workload and what they use",
    "k8s-resources-pod": "one pod's containers: CPU, throttling, memory, network, storage I/O",
    "cluster-total": "network traffic and drops by namespace",
    "namespace-by-pod": "network traffic of one namespace by pod",
    "namespace-by-workload": "network traffic of one namespace by workload",
    "pod-total": "network traffic of one pod",
    "workload-total": "network traffic of one workload",
    "persistentvolumesusage": "space and inodes of each PersistentVolumeClaim",
    "nodes": "one node's CPU, load, memory, disk and network (node-exporter)",
    "node-rsrc-use": "utilisation, saturation, errors of one node (USE method)",
    "node-cluster-rsrc-use": "utilisation, saturation, errors of the whole cluster (USE method)",
}

_CONTROL_PLANE = "control-plane component a managed cluster does not expose; the chart renders it only where cluster.controlPlane is self-hosted"
# Rendered by the chart only when their target is scraped (`kubeEtcd/kubeScheduler/
# kubeControllerManager/kubeProxy.enabled`, set by cluster.controlPlane); left out of Grafana either way.
# Ref: kube-prometheus-stack 88.5.3 templates/grafana/dashboards-1.14/{etcd,scheduler,controller-manager,proxy}.yaml l.1
CONTROL_PLANE_DASHBOARDS = ("controller-manager", "scheduler", "etcd", "proxy")
EXCLUDED: dict[str, str] = {
    "alertmanager-overview": "the Operations dashboard covers the alerting pipeline (tf-operations)",
    "prometheus": "the Operations dashboard covers Prometheus itself (tf-operations)",
    "grafana-overview": "Grafana's own request metrics: not an operational view of the platform",
    "apiserver": "API server internals (work queues, etcd latency) for cluster operators; the "
    "API server SLO alerts (kube-apiserver-slos) are on",
    "kubelet": "kubelet internals (operation latencies, PLEG, cgroup manager) for cluster operators; "
    "the kubelet alerts are on",
    "controller-manager": _CONTROL_PLANE,
    "scheduler": _CONTROL_PLANE,
    "etcd": _CONTROL_PLANE,
    "proxy": "kube-proxy's metrics are bound to 127.0.0.1 on EKS and absent with eBPF dataplanes; "
    "its rule group is off too (monitoring/upstream_rules.py)",
    "k8s-coredns": "cluster DNS belongs to the cluster's operators, and GKE runs kube-dns, not CoreDNS",
    "k8s-resources-multicluster": "each stack's Thanos sees one cluster",
    "nodes-aix": "no AIX nodes",
    "nodes-darwin": "no macOS nodes",
}


# Excluded dashboards the chart has a value for: they are not rendered at all. The others are
# rendered (their toggle also switches scrape targets or rule groups that stay on, or there is
# none) and lose the sidecar's label in `upstream_dashboard_patch`.
# Ref: kube-prometheus-stack 88.5.3 templates/grafana/dashboards-1.14/nodes-aix.yaml, nodes-darwin.yaml
# (`nodeExporter.operatingSystems.<os>.enabled`, used by nothing else).
EXCLUDED_BY_VALUES: dict[str, dict[str, Any]] = {
    "nodes-aix": {"nodeExporter": {"operatingSystems": {"aix": {"enabled": False}}}},
    "nodes-darwin": {"nodeExporter": {"operatingSystems": {"darwin": {"enabled": False}}}},
}

# Series the stack never stores although the dashboards read them: the chart's own kubelet
# ServiceMonitor drops cAdvisor's container_memory_swap (kubelet.serviceMonitor.cAdvisorMetricRelabelings
# `container_memory_(mapped_file|swap)`), so its recording rule group is off too. Their queries are
# left out of the dashboards rather than shown as empty columns.
DROPPED_SERIES = re.compile(r"container_memory_swap")


class UndecidedDashboardError(AssertionError):
    """A dashboard the chart renders that is neither kept nor excluded (e.g. a chart bump added one)."""


def dashboard_name(obj: dict[str, Any]) -> str | None:
    """The chart's name of the dashboard a ConfigMap carries (its data key less `.json`), or None
    for any other object."""
    if obj.get("kind") != "ConfigMap":
        return None
    keys = [k for k in (obj.get("data") or {}) if k.endswith(".json")]
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if len(keys) != 1 or labels.get("app") != DASHBOARD_APP_LABEL:
        return None
    return keys[0].removesuffix(".json")


def _panels(panels: list[dict]):
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def adapted_model(model: dict[str, Any]) -> dict[str, Any]:
    """The model with its `datasource` variable defaulting to Thanos (uid `thanos`), as ours do (the
    chart's default is `default`, whichever datasource is Grafana's default), and without the
    queries of DROPPED_SERIES."""
    model = copy.deepcopy(model)
    for variable in model.get("templating", {}).get("list", []):
        if variable.get("type") == "datasource" and variable.get("query") == "prometheus":
            variable["current"] = {"selected": True, "text": "Thanos", "value": THANOS_UID}
    for panel in _panels(model.get("panels", [])):
        if "targets" in panel:
            panel["targets"] = [t for t in panel["targets"] if not DROPPED_SERIES.search(str(t.get("expr", "")))]
    return model


def upstream_dashboard_patch(obj: dict[str, Any]) -> dict[str, Any]:
    """A kube-prometheus-stack object with the decisions above applied to its dashboard ConfigMaps.

    Returns `obj` itself for anything but a dashboard ConfigMap (components/chart.py ObjectPatch).
    The patch cannot delete an object, so an excluded dashboard's ConfigMap stays, without the label.
    """
    name = dashboard_name(obj)
    if name is None:
        return obj
    if name not in KEPT and name not in EXCLUDED:
        raise UndecidedDashboardError(
            f"kube-prometheus-stack dashboard {name!r} is neither kept nor excluded in "
            "monitoring/dashboards/upstream.py (KEPT, EXCLUDED)"
        )
    patched = copy.deepcopy(obj)
    if name in EXCLUDED:
        patched["metadata"]["labels"].pop(SIDECAR_LABEL, None)
        return patched
    key = f"{name}.json"
    patched["data"][key] = json.dumps(adapted_model(json.loads(obj["data"][key])), sort_keys=True)
    return patched
