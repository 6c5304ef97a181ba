"""Rollouts and drains keep every replicated component serving, and the Thanos compactor merges the
HA Prometheus pair the way the querier does.

Evaluated over the rendered objects of every chart and of the program, plus the StatefulSets the
operators make from the rendered custom resources:
- every workload with more than one replica rolls (Deployment: not `Recreate`; StatefulSet: not
  `OnDelete`), unless listed in ROLLS_ITSELF with its reason;
- a PodDisruptionBudget in its namespace selects its pods, allows one disruption, and no PDB
  covers a single-replica workload (it would block every node drain);
- every replica label a Prometheus adds is one the querier and the compactor deduplicate on, and the
  compactor uses the `penalty` merge when a Prometheus has replicas.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping

import pytest
from tests.network_policy_evaluator import operator_pods, selector_matches

from plan.prometheus_stack import REPLICA_LABEL
from plan.thanos import DEDUPLICATION_FUNC

STACKS = ("dev", "prod")


@pytest.fixture(scope="module")
def rendered(rendered_objects) -> dict[str, list[dict[str, Any]]]:
    return rendered_objects


@dataclass(frozen=True)
class Replicated:
    id: str
    namespace: str
    replicas: int
    labels: Mapping[str, str]
    strategy: str  # RollingUpdate | Recreate | OnDelete
    pdb_by_operator: bool = False  # the operator makes its own PDB


# Workloads that roll themselves, with the reason. Ref: elastic/cloud-on-k8s@v3.5.0
# pkg/controller/elasticsearch/driver/upgrade.go (ECK deletes pods one at a time, respecting shard
# health, with updateStrategy OnDelete) and pkg/controller/elasticsearch/pdb/reconcile_default.go
# (`expectedPDB`: a default PDB unless spec.podDisruptionBudget is disabled).
ROLLS_ITSELF = {"Elasticsearch": "ECK restarts Elasticsearch nodes one at a time itself, waiting for green shards"}


def replicated_workloads(objects) -> list[Replicated]:
    out = []
    for obj in objects:
        kind, meta, spec = obj.get("kind"), obj.get("metadata") or {}, obj.get("spec") or {}
        ident = f"{kind}/{meta.get('namespace')}/{meta.get('name')}"
        if kind == "Deployment":
            strategy = (spec.get("strategy") or {}).get("type", "RollingUpdate")
            labels = spec["template"]["metadata"].get("labels") or {}
            out.append(Replicated(ident, meta["namespace"], spec.get("replicas", 1), labels, strategy))
        elif kind == "StatefulSet":
            strategy = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate")
            labels = spec["template"]["metadata"].get("labels") or {}
            out.append(Replicated(ident, meta["namespace"], spec.get("replicas", 1), labels, strategy))
    # The operators' StatefulSets: prometheus-operator sets RollingUpdate unless the CR says otherwise.
    # Ref: prometheus-operator@v0.93.0 pkg/operator/statefulset.go UpdateStrategyForStatefulSet.
    crs = {f"{o['kind'].lower()}/{o['metadata']['name']}": o for o in objects if o.get("kind") in ("Prometheus", "Alertmanager", "Elasticsearch")}
    for pod in operator_pods(objects):
        kind, _, name = pod.name.partition("/")
        if kind in ("prometheus", "alertmanager"):
            cr = crs[pod.name]
            strategy = (cr["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
            out.append(Replicated(f"{cr['kind']}/{pod.namespace}/{name}", pod.namespace, cr["spec"].get("replicas", 1), pod.labels, strategy))
        elif kind == "elasticsearch":
            (cr,) = [o for o in crs.values() if o["kind"] == "Elasticsearch"]
            count = sum(ns.get("count", 1) for ns in cr["spec"]["nodeSets"])
            default_pdb = cr["spec"].get("podDisruptionBudget") != {}
            out.append(Replicated(f"Elasticsearch/{pod.namespace}/{cr['metadata']['name']}", pod.namespace, count, pod.labels, "OnDelete", default_pdb))
    return out


def _pdbs(objects) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == "PodDisruptionBudget"]


def pdbs_selecting(workload: Replicated, objects) -> list[dict[str, Any]]:
    return [
        p for p in _pdbs(objects)
        if p["metadata"].get("namespace") == workload.namespace and selector_matches(p["spec"].get("selector"), workload.labels)
    ]  # fmt: skip


def allows_a_disruption(pdb: Mapping[str, Any], replicas: int) -> bool:
    spec = pdb["spec"]
    if "maxUnavailable" in spec:
        return int(spec["maxUnavailable"]) >= 1
    return int(spec.get("minAvailable", 0)) < replicas


def rollout_problems(objects) -> list[str]:
    problems = []
    for w in replicated_workloads(objects):
        kind = w.id.split("/")[0]
        pdbs = pdbs_selecting(w, objects)
        if w.replicas <= 1:
            problems += [f"{w.id}: one replica, but PDB {p['metadata']['name']} blocks every drain" for p in pdbs if not allows_a_disruption(p, 1)]
            continue
        if w.strategy in ("Recreate", "OnDelete") and kind not in ROLLS_ITSELF:
            problems.append(f"{w.id}: {w.replicas} replicas with {w.strategy}: every rollout stops them all")
        if not pdbs and not w.pdb_by_operator:
            problems.append(f"{w.id}: {w.replicas} replicas and no PodDisruptionBudget selects its pods")
        problems += [f"{w.id}: PDB {p['metadata']['name']} allows no disruption" for p in pdbs if not allows_a_disruption(p, w.replicas)]
    return problems


@pytest.mark.parametrize("stack", STACKS)
def test_every_replicated_workload_rolls_and_has_a_disruption_budget(rendered, stack):
    assert rollout_problems(rendered[stack]) == []


def test_prod_has_the_replicated_workloads_the_check_is_about(rendered):
    replicated = {w.id for w in replicated_workloads(rendered["prod"]) if w.replicas > 1}
    assert {
        "Deployment/monitoring/jaeger", "Deployment/monitoring/otel-collector", "Deployment/monitoring/thanos-query",
        "StatefulSet/monitoring/thanos-store-gateway", "Prometheus/monitoring/kps-prometheus",
        "Alertmanager/monitoring/kps-alertmanager", "Elasticsearch/monitoring/logs",
    } <= replicated  # fmt: skip


def test_the_check_finds_a_recreate_deployment_and_a_missing_pdb(rendered):
    objects = copy.deepcopy([o for o in rendered["prod"] if not (o.get("kind") == "PodDisruptionBudget" and o["metadata"]["name"] == "jaeger")])
    _deployment(objects, "jaeger")["spec"]["strategy"] = {"type": "Recreate"}
    problems = rollout_problems(objects)
    assert "Deployment/monitoring/jaeger: 2 replicas with Recreate: every rollout stops them all" in problems
    assert "Deployment/monitoring/jaeger: 2 replicas and no PodDisruptionBudget selects its pods" in problems


def _deployment(objects, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o.get("kind") == "Deployment" and o["metadata"]["name"] == name]
    return found


def test_prod_jaeger_rolls_one_pod_at_a_time_above_its_replica_count(rendered):
    objects = rendered["prod"]
    jaeger = _deployment(objects, "jaeger")
    assert jaeger["spec"]["replicas"] == 2
    assert jaeger["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}
    (pdb,) = [p for p in _pdbs(objects) if p["metadata"]["name"] == "jaeger"]
    assert pdb["spec"]["maxUnavailable"] == 1
    assert selector_matches(pdb["spec"]["selector"], jaeger["spec"]["template"]["metadata"]["labels"])
    spread = jaeger["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert spread[0]["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"


def test_a_single_jaeger_keeps_the_charts_recreate_and_has_no_pdb(rendered):
    objects = rendered["dev"]
    jaeger = _deployment(objects, "jaeger")
    assert jaeger["spec"]["replicas"] == 1
    assert jaeger["spec"]["strategy"]["type"] == "Recreate"
    assert not [p for p in _pdbs(objects) if p["metadata"]["name"] == "jaeger"]


# --- Thanos deduplication -------------------------------------------------------------------------


def _args(objects, kind: str, name: str) -> list[str]:
    (obj,) = [o for o in objects if o.get("kind") == kind and o["metadata"]["name"] == name]
    (container,) = [c for c in obj["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return container["args"]


def _flag_values(args: list[str], flag: str) -> set[str]:
    return {a.split("=", 1)[1] for a in args if a.startswith(f"--{flag}=")}


@pytest.mark.parametrize("stack", STACKS)
def test_every_prometheus_replica_label_is_deduplicated_by_query_and_compactor(rendered, stack):
    objects = rendered[stack]
    query = _args(objects, "Deployment", "thanos-query")
    compact = _args(objects, "StatefulSet", "thanos-compact")
    for prometheus in (o for o in objects if o.get("kind") == "Prometheus"):
        # Ref: prometheus-operator@v0.93.0 Prometheus.spec.replicaExternalLabelName (default prometheus_replica).
        label = prometheus["spec"].get("replicaExternalLabelName", "prometheus_replica")
        assert label == REPLICA_LABEL
        assert label in _flag_values(query, "query.replica-label")
        assert label in _flag_values(compact, "deduplication.replica-label")
        if prometheus["spec"].get("replicas", 1) > 1:
            assert _flag_values(compact, "deduplication.func") == {"penalty"}
    assert _flag_values(compact, "deduplication.replica-label") == _flag_values(query, "query.replica-label")


def test_the_compactor_merges_with_penalty(rendered):
    assert DEDUPLICATION_FUNC == "penalty"
    assert "--deduplication.func=penalty" in _args(rendered["prod"], "StatefulSet", "thanos-compact")
