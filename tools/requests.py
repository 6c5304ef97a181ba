"""CPU and memory requests of every pod a rendered stack runs, from the rendered objects themselves.

Workloads (Deployment, StatefulSet, ReplicaSet, DaemonSet) count their pod template; the pods that
operators create from custom resources count what the operator puts in them, read from the CR and,
for the operator's own sidecars, from the operator's rendered flags or its documented defaults.
Jobs and CronJobs run to completion, so they are listed apart and not added to the steady total.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Callable, Iterable, Mapping

from plan import units

Resources = tuple[Decimal, Decimal]  # (cpu cores, memory bytes)
ZERO: Resources = (Decimal(0), Decimal(0))

# prometheus-operator's config-reloader sidecar in every Prometheus and Alertmanager pod, unless the
# operator runs with --config-reloader-{cpu,memory}-request.
# Ref: prometheus-operator Documentation/platform/operator.md (flags: config-reloader-cpu-request
# "default 10m", config-reloader-memory-request "default 50Mi")
RELOADER_DEFAULT = {"cpu": "10m", "memory": "50Mi"}
# ECK gives the elasticsearch container 2Gi of memory when the podTemplate sets no resources.
# Ref: https://www.elastic.co/docs/deploy-manage/deploy/cloud-on-k8s/manage-compute-resources
ECK_ES_DEFAULT = {"requests": {"memory": "2Gi"}}


def _quantity(value: Any) -> Decimal:
    return units.quantity(str(value)) if value not in (None, "") else Decimal(0)


def container_requests(resources: Mapping[str, Any] | None) -> Resources:
    """A container's requests; Kubernetes takes the limit when only a limit is set."""
    resources = resources or {}
    req, lim = resources.get("requests") or {}, resources.get("limits") or {}
    return _quantity(req.get("cpu", lim.get("cpu"))), _quantity(req.get("memory", lim.get("memory")))


def _add(a: Resources, b: Resources) -> Resources:
    return a[0] + b[0], a[1] + b[1]


def pod_requests(pod_spec: Mapping[str, Any]) -> Resources:
    """The pod's effective request: the larger of its regular containers (plus restartable init
    sidecars) and its largest one-shot init container, per resource.
    Ref: https://kubernetes.io/docs/concepts/workloads/pods/init-containers/#resource-sharing-within-containers
    """
    sidecars, init_peak = ZERO, ZERO
    for init in pod_spec.get("initContainers") or []:
        own = container_requests(init.get("resources"))
        if init.get("restartPolicy") == "Always":
            sidecars = _add(sidecars, own)
        else:
            peak = _add(sidecars, own)
            init_peak = (max(init_peak[0], peak[0]), max(init_peak[1], peak[1]))
    steady = sidecars
    for container in pod_spec.get("containers") or []:
        steady = _add(steady, container_requests(container.get("resources")))
    return max(steady[0], init_peak[0]), max(steady[1], init_peak[1])


def _operator_reloader(objects: Iterable[Mapping[str, Any]]) -> Resources:
    """The config-reloader requests the rendered prometheus-operator Deployment sets by flag."""
    flags = dict(RELOADER_DEFAULT)
    for obj in objects:
        if obj.get("kind") != "Deployment":
            continue
        for container in obj["spec"]["template"]["spec"].get("containers", []):
            for arg in container.get("args") or []:
                for key in ("cpu", "memory"):
                    prefix = f"--config-reloader-{key}-request="
                    if arg.startswith(prefix):
                        flags[key] = arg.removeprefix(prefix)
    return _quantity(flags["cpu"]), _quantity(flags["memory"])


def _prometheus_pods(cr: Mapping[str, Any], reloader: Resources) -> list[tuple[int, Resources]]:
    spec = cr["spec"]
    pod = _add(container_requests(spec.get("resources")), reloader)
    if "thanos" in spec:
        pod = _add(pod, container_requests(spec["thanos"].get("resources")))
    return [(int(spec.get("replicas", 1)) * int(spec.get("shards", 1)), pod)]


def _alertmanager_pods(cr: Mapping[str, Any], reloader: Resources) -> list[tuple[int, Resources]]:
    """One container from spec.resources plus the config-reloader (Alertmanager, ThanosRuler)."""
    spec = cr["spec"]
    return [(int(spec.get("replicas", 1)), _add(container_requests(spec.get("resources")), reloader))]


def _elasticsearch_pods(cr: Mapping[str, Any], _reloader: Resources) -> list[tuple[int, Resources]]:
    pods = []
    for node_set in cr["spec"]["nodeSets"]:
        template = (node_set.get("podTemplate") or {}).get("spec") or {}
        containers = [dict(c) for c in template.get("containers", [])]
        es = next((c for c in containers if c.get("name") == "elasticsearch"), None)
        if es is None:
            containers.append({"name": "elasticsearch", "resources": ECK_ES_DEFAULT})
        elif not es.get("resources"):
            es["resources"] = ECK_ES_DEFAULT
        pods.append((int(node_set.get("count", 1)), pod_requests({**template, "containers": containers})))
    return pods


# Custom resources whose operator runs pods: (apiVersion group, kind) -> pods it creates.
OPERATOR_PODS: dict[tuple[str, str], Callable[[Mapping[str, Any], Resources], list[tuple[int, Resources]]]] = {
    ("monitoring.coreos.com", "Prometheus"): _prometheus_pods,
    ("monitoring.coreos.com", "Alertmanager"): _alertmanager_pods,
    # The ThanosRuler pod: the ruler plus the same config-reloader (pkg/thanos/statefulset.go).
    ("monitoring.coreos.com", "ThanosRuler"): _alertmanager_pods,
    ("elasticsearch.k8s.elastic.co", "Elasticsearch"): _elasticsearch_pods,
}
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet", "DaemonSet")
RUN_TO_COMPLETION = ("Job", "CronJob")


def _pod_template(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def _pod_sets(obj: Mapping[str, Any], nodes: int, reloader: Resources) -> list[tuple[int, Resources]]:
    """(pod count, requests per pod) for each set of identical pods the object runs."""
    kind = obj.get("kind")
    group = obj.get("apiVersion", "").rpartition("/")[0]
    if kind in WORKLOAD_KINDS:
        count = nodes if kind == "DaemonSet" else int(obj["spec"].get("replicas", 1))
        return [(count, pod_requests(_pod_template(obj)))]
    if (group, kind) in OPERATOR_PODS:
        return OPERATOR_PODS[(group, kind)](obj, reloader)
    if kind in RUN_TO_COMPLETION:
        return [(1, pod_requests(_pod_template(obj)))]
    return []


def _row(obj: Mapping[str, Any], sets: list[tuple[int, Resources]]) -> dict[str, Any]:
    meta = obj.get("metadata", {})
    return {
        "workload": meta.get("name"),
        "namespace": meta.get("namespace"),
        "kind": obj["kind"],
        "pods": sum(n for n, _ in sets),
        "cpu": sum((n * r[0] for n, r in sets), Decimal(0)),
        "memory": sum((n * r[1] for n, r in sets), Decimal(0)),
    }


def _shown(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        (
            {**{k: v for k, v in r.items() if k != "memory"}, "cpu": f"{r['cpu']:.3f}", "memoryMi": int(r["memory"] / 2**20)}
            for r in rows
        ),
        key=lambda r: (r["namespace"] or "", r["kind"], r["workload"]),
    )


def totals(objects: list[dict[str, Any]], nodes: int) -> dict[str, Any]:
    """Requests per workload and in total, DaemonSets counted once per node."""
    reloader = _operator_reloader(o for o in objects if _is_prometheus_operator(o))
    rows = [_row(o, sets) for o in objects if (sets := _pod_sets(o, nodes, reloader))]
    steady = [r for r in rows if r["kind"] not in RUN_TO_COMPLETION]
    return {
        "assumedNodes": nodes,
        "cpuCores": f"{sum((r['cpu'] for r in steady), Decimal(0)):.3f}",
        "memoryMi": int(sum((r["memory"] for r in steady), Decimal(0)) / 2**20),
        "workloads": _shown(steady),
        "runToCompletion": _shown([r for r in rows if r["kind"] in RUN_TO_COMPLETION]),
    }


def _is_prometheus_operator(obj: Mapping[str, Any]) -> bool:
    """kube-prometheus-stack's operator Deployment (templates/prometheus-operator/deployment.yaml
    labels it `app: kube-prometheus-stack-operator`)."""
    labels = obj.get("metadata", {}).get("labels") or {}
    return obj.get("kind") == "Deployment" and labels.get("app") == "kube-prometheus-stack-operator"
