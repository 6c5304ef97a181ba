"""Request totals from rendered objects (tools/requests.py): the Kubernetes rules they follow."""

from __future__ import annotations

from decimal import Decimal

from tools import requests


def _container(cpu: str, memory: str, **extra) -> dict:
    return {"name": "c", "resources": {"requests": {"cpu": cpu, "memory": memory}}, **extra}


def test_pod_request_is_the_larger_of_containers_and_the_largest_init_container():
    pod = {
        "initContainers": [_container("1", "64Mi"), _container("100m", "2Gi")],
        "containers": [_container("200m", "128Mi"), _container("300m", "128Mi")],
    }
    assert requests.pod_requests(pod) == (Decimal("1"), Decimal(2 * 2**30))


def test_restartable_init_sidecars_add_to_the_pod():
    pod = {
        "initContainers": [_container("100m", "64Mi", restartPolicy="Always")],
        "containers": [_container("200m", "128Mi")],
    }
    assert requests.pod_requests(pod) == (Decimal("0.3"), Decimal(192 * 2**20))


def test_a_limit_alone_is_the_request():
    assert requests.container_requests({"limits": {"cpu": "500m", "memory": "1Gi"}}) == (Decimal("0.5"), Decimal(2**30))


def test_daemonsets_count_once_per_node_and_jobs_stay_out_of_the_total():
    template = {"template": {"spec": {"containers": [_container("100m", "100Mi")]}}}
    objects = [
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent", "namespace": "a"}, "spec": template},
        {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "a"}, "spec": {**template, "replicas": 2}},
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "once", "namespace": "a"}, "spec": template},
    ]
    totals = requests.totals(objects, nodes=3)
    assert totals["cpuCores"] == "0.500"
    assert totals["memoryMi"] == 500
    assert [r["workload"] for r in totals["runToCompletion"]] == ["once"]


def test_operator_pods_include_the_sidecars_the_operator_adds():
    prometheus = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "Prometheus",
        "metadata": {"name": "p", "namespace": "m"},
        "spec": {"replicas": 2, "resources": {"requests": {"cpu": "1", "memory": "1Gi"}},
                 "thanos": {"resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}},
    }
    # No operator Deployment in the set: the config-reloader's documented defaults apply (10m, 50Mi).
    totals = requests.totals([prometheus], nodes=1)
    assert totals["cpuCores"] == "2.220"
    assert totals["memoryMi"] == 2 * (1024 + 128 + 50)


def test_elasticsearch_without_resources_gets_eck_default_memory():
    es = {
        "apiVersion": "elasticsearch.k8s.elastic.co/v1",
        "kind": "Elasticsearch",
        "metadata": {"name": "logs", "namespace": "m"},
        "spec": {"nodeSets": [{"name": "default", "count": 3}]},
    }
    assert requests.totals([es], nodes=3)["memoryMi"] == 3 * 2048
