"""Cost by component from OpenCost's allocation metrics: the recorded series the executive
dashboard reads, and the cheap cluster-wide expressions it reads directly.

OpenCost (plan/opencost.py) exports, per container, what it is allocated (the larger of its request
and its use) and, per node and per persistent volume, the hourly unit prices of the stack's custom
pricing (costs.*). A container's hourly cost is its allocation times its node's price; a pod's adds
its share of the persistent volumes it claims. Joining every container with its node at every
panel refresh over 90 days is the heavy part, so it is recorded once per evaluation, per pod, then
summed per namespace and per workload; the dashboard reads those records (and Thanos' downsampled
tiers of them for the long trend).

Series and labels, at OpenCost 1.120.x. Ref: opencost/opencost pkg/costmodel/metrics.go
(initCostModelMetrics: node_cpu_hourly_cost, node_ram_hourly_cost, node_gpu_hourly_cost and
node_total_hourly_cost {instance, node, instance_type, region, provider_id, arch, uid} - per core,
per GiB of RAM, per GPU, per node; container_cpu_allocation (cores), container_memory_allocation_bytes,
container_gpu_allocation {namespace, pod, container, instance, node, uid}; pv_hourly_cost
{volumename, persistentvolume, provider_id, uid} per GiB; pod_pvc_allocation (bytes) {namespace, pod,
persistentvolumeclaim, persistentvolume, uid}); the same names and labels (less `uid`, and `arch` on
the node series) at the v1.112.0 tag, so they held across the releases in between. The chart's
ServiceMonitor keeps them (honorLabels). The workload of a pod comes from kube-prometheus-stack's
record namespace_workload_pod:kube_pod_owner:relabel {namespace, workload, workload_type, pod}
(rules k8s.rules.pod_owner, kept in every stack: monitoring/upstream_rules.py).

Pure module: no Pulumi import.
"""

from __future__ import annotations

# 730 hours: the average month (8760 h / 12), to show hourly prices as a monthly run rate.
HOURS_PER_MONTH = 730
GIB = 1073741824

# Recorded by the `opencost-costs` group (monitoring/alert_rules/costs.py), evaluated by Prometheus.
POD_COST_RECORD = "namespace_pod:opencost_cost_hourly:sum"
NAMESPACE_COST_RECORD = "namespace:opencost_cost_hourly:sum"
WORKLOAD_COST_RECORD = "namespace_workload:opencost_cost_hourly:sum"
# kube-prometheus-stack's pod -> workload record.
POD_OWNER_RECORD = "namespace_workload_pod:kube_pod_owner:relabel"


def _priced(allocation: str, price: str, on: str) -> str:
    """Each series of `allocation` times the price of its node (or volume); `max by` keeps one price
    per node while two OpenCost pods overlap in a rollout."""
    return f"{allocation} * on ({on}) group_left () max by ({on}) ({price})"


def _cpu() -> str:
    return _priced("container_cpu_allocation", "node_cpu_hourly_cost", "node")


def _memory() -> str:
    return _priced(f"container_memory_allocation_bytes / {GIB}", "node_ram_hourly_cost", "node")


def _gpu() -> str:
    return _priced("container_gpu_allocation", "node_gpu_hourly_cost", "node")


def _storage() -> str:
    return _priced(f"pod_pvc_allocation / {GIB}", "pv_hourly_cost", "persistentvolume")


def pod_cost_expr() -> str:
    """Hourly cost of each pod: CPU + memory, plus GPUs and claimed volumes where it has any (a pod
    without either still counts: `or ... * 0` stands in for the missing term)."""
    by = "sum by (namespace, pod)"
    base = f"{by} ({_cpu()})\n+ {by} ({_memory()})"
    zero = f"{by} ({_cpu()}) * 0"
    return f"{base}\n+ ({by} ({_gpu()}) or {zero})\n+ ({by} ({_storage()}) or {zero})"


def namespace_cost_expr() -> str:
    return f"sum by (namespace) ({POD_COST_RECORD})"


def workload_cost_expr() -> str:
    """Per workload (Deployment, StatefulSet, DaemonSet, Job...): pods without an owner are left out."""
    owner = f"max by (namespace, pod, workload, workload_type) ({POD_OWNER_RECORD})"
    return (
        f"sum by (namespace, workload, workload_type) (\n  {POD_COST_RECORD}\n"
        f"  * on (namespace, pod) group_left (workload, workload_type) {owner}\n)"
    )


def cluster_cost_expr(selector: str) -> str:
    """What the cluster costs per hour: every node at its price, plus every persistent volume by
    its capacity (kube-state-metrics) at its price, whether or not a workload uses it. Read directly:
    one series per node and per volume. `selector`: the label matchers every series gets."""
    by_cluster = "cluster, "
    nodes = f"sum(max by ({by_cluster}node) (node_total_hourly_cost{{{selector}}}))"
    volumes = (
        f"sum(\n  max by ({by_cluster}persistentvolume) (pv_hourly_cost{{{selector}}})\n"
        f"  * on ({by_cluster}persistentvolume) group_left ()\n"
        f"  max by ({by_cluster}persistentvolume) (kube_persistentvolume_capacity_bytes{{{selector}}}) / {GIB}\n)"
    )
    return f"{nodes}\n+ ({volumes} or vector(0))"
