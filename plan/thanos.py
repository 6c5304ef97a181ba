"""Thanos query, query-frontend, store gateway and compactor (stevehipwell `thanos` chart), as
planned: the chart values and the endpoints the rest of the platform queries. components/thanos.py
declares the chart.

The sidecar runs inside the Prometheus pods (kube-prometheus-stack); this component adds the
global query path and long-term storage over the same object-storage Secret.

Chart facts (thanos 1.24.1, verified in its values.yaml and templates): no Helm hooks;
`objstoreConfig.create` defaults to true with a FILESYSTEM bucket, so it is switched off and pointed
at the program's Secret; the compactor key is `compact` and has no retention keys, so retention is
passed as flags; `storageClass` defaults to the literal "standard", so it is always set.

Pod security: the chart's defaults are already `restricted` (nobody, read-only root filesystem,
no capabilities, seccomp RuntimeDefault; tests/test_pod_security.py checks the render). No Thanos
component calls the Kubernetes API (the sidecars are found by DNS): the ServiceAccounts already
mount no token (`serviceAccount.automountToken: false`), and each pod says so too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from monitoring.windows import QUERY_AUTO_DOWNSAMPLING
from plan.endpoints import Endpoint, SecretKeyRef
from plan.prometheus_stack import REPLICA_LABEL, THANOS_RULER_REPLICA_LABEL
from plan.settings import StackSettings, ThanosSettings
from plan.versions import THANOS_IMAGE_TAG

FULLNAME = "thanos"
QUERY_SERVICE = f"{FULLNAME}-query"
QUERY_FRONTEND_SERVICE = f"{FULLNAME}-query-frontend"
HTTP_PORT = 10902
GRPC_PORT = 10901  # StoreAPI of the query and the store gateway (chart default)
DEDUPLICATION_FUNC = "penalty"  # the compactor's merge of HA replicas (see thanos_values)


def query_endpoint(namespace: str) -> Endpoint:
    """Thanos Query: the PromQL HTTP API (`http`) and its StoreAPI (`grpc`)."""
    return Endpoint(QUERY_SERVICE, namespace, {"http": HTTP_PORT, "grpc": GRPC_PORT})


def query_frontend_endpoint(namespace: str) -> Endpoint:
    """The query-frontend (HTTP only): split and retried range queries, what Grafana queries."""
    return Endpoint(QUERY_FRONTEND_SERVICE, namespace, {"http": HTTP_PORT})


def _pdb(replicas: int) -> dict[str, Any]:
    return {"enabled": replicas > 1, "maxUnavailable": 1}


def _persistence(storage_class: str | None, size: str) -> dict[str, Any]:
    # An empty storageClass makes the chart omit storageClassName, i.e. the cluster default.
    return {"enabled": True, "size": str(size), "storageClass": storage_class or ""}


# Ref: thanos 1.24.1 values.yaml `<component>.automountServiceAccountToken`; templates/query/deployment.yaml,
# query-frontend/deployment.yaml, store-gateway/statefulset.yaml, compact/statefulset.yaml.
_NO_TOKEN = {"automountServiceAccountToken": False}


def thanos_values(
    s: ThanosSettings,
    storage_class: str | None,
    objstore_secret: SecretKeyRef,
    sidecar_endpoints: Sequence[str],
    ruler_endpoints: Sequence[str] = (),
) -> dict[str, Any]:
    """`sidecar_endpoints`: gRPC StoreAPI endpoints of the Prometheus sidecars (dnssrv+ addresses);
    `ruler_endpoints`: StoreAPI of the Thanos Ruler, whose recent samples are not in the bucket yet."""
    compactor = s.compactor
    values: dict[str, Any] = {
        "fullnameOverride": FULLNAME,
        "image": {"tag": THANOS_IMAGE_TAG},
        "objstoreConfig": {
            "create": False,
            "name": objstore_secret.name,
            "key": objstore_secret.key,
        },
        "additionalEndpoints": [*sidecar_endpoints, *ruler_endpoints],
        # Query deduplicates, and the compactor merges, the replicas of Prometheus and of the ruler.
        # Ref: thanos 1.24.1 templates/query/deployment.yaml, compact/statefulset.yaml (additionalReplicaLabels).
        "additionalReplicaLabels": [REPLICA_LABEL, *([THANOS_RULER_REPLICA_LABEL] if ruler_endpoints else [])],
        "serviceMonitor": {"enabled": True},
        "query": {
            **_NO_TOKEN,
            "enabled": True,
            "replicas": s.query.replicas,
            "resources": s.query.resources.to_k8s(),
            "podDisruptionBudget": _pdb(s.query.replicas),
            # Range queries may read the 5m/1h tiers when their step allows (step / 5); instant
            # queries (the Thanos Ruler's) still read raw only. monitoring/windows.py checks each
            # panel against the tier it can read. Ref: thanos-io/thanos@v0.42.4 docs/components/query.md.
            "extraArgs": [QUERY_AUTO_DOWNSAMPLING],
        },
        "queryFrontend": {
            **_NO_TOKEN,
            "enabled": True,
            "replicas": s.query_frontend.replicas,
            "resources": s.query_frontend.resources.to_k8s(),
            "podDisruptionBudget": _pdb(s.query_frontend.replicas),
            # Ref: https://thanos.io/tip/components/query-frontend.md/#flags
            # Splitting long ranges by day keeps one dashboard from pinning a querier.
            "extraArgs": [
                "--query-range.split-interval=24h",
                "--query-frontend.log-queries-longer-than=10s",
            ],
        },
        "storeGateway": {
            **_NO_TOKEN,
            "enabled": True,
            "replicas": s.store_gateway.replicas,
            "resources": s.store_gateway.resources.to_k8s(),
            "podDisruptionBudget": _pdb(s.store_gateway.replicas),
            "persistence": _persistence(storage_class, s.store_gateway.storage_size),
        },
        "compact": {
            **_NO_TOKEN,
            "enabled": True,
            "resources": compactor.resources.to_k8s(),
            "persistence": _persistence(storage_class, compactor.storage_size),
            # Offline deduplication of the HA Prometheus pair along `additionalReplicaLabels` (the
            # chart renders one --deduplication.replica-label per entry, the same list as the
            # querier's --query.replica-label). The default merge is one-to-one, for blocks with
            # precisely the same samples (Receiver replication); two Prometheus replicas scrape at
            # different instants, so their samples would be interleaved irreversibly. `penalty` is
            # the querier's HA algorithm. Caveat upstream documents: thanos#2890 (rate/irate).
            # Ref: thanos-io/thanos@v0.42.4 cmd/thanos/compact.go (flags deduplication.func,
            # deduplication.replica-label), docs/components/compact.md "Vertical Compaction Use Cases";
            # thanos 1.24.1 values.yaml compact.deduplication.{enabled,func},
            # templates/compact/statefulset.yaml.
            "deduplication": {"enabled": True, "func": DEDUPLICATION_FUNC},
            # Ref: https://thanos.io/tip/components/compact.md/#enforcing-retention-of-data
            "extraArgs": [
                f"--retention.resolution-raw={compactor.retention_raw}",
                f"--retention.resolution-5m={compactor.retention_5m}",
                f"--retention.resolution-1h={compactor.retention_1h}",
            ],
        },
        "rule": {"enabled": False},
        "receive": {"enabled": False},
    }
    return values


@dataclass(frozen=True)
class ThanosPlan:
    values: Mapping[str, Any]
    extra_values: Mapping[str, Any]
    # The object-storage Secret the compactor and the store gateway mount (its content rolls them).
    objstore_secret: SecretKeyRef
    query: Endpoint
    # Grafana queries through the frontend: split and retried range queries.
    query_frontend: Endpoint


def thanos_plan(
    settings: StackSettings,
    objstore_secret: SecretKeyRef,
    sidecars: Sequence[Endpoint],
    rulers: Sequence[Endpoint] = (),
) -> ThanosPlan:
    """Query over every replica of `sidecars` (the Prometheus pods' Thanos sidecars) and of
    `rulers` (the Thanos Ruler's), found by DNS SRV on their `grpc` port, plus the bucket."""
    return ThanosPlan(
        values=thanos_values(
            settings.thanos,
            settings.storage_class,
            objstore_secret,
            sidecar_endpoints=[e.srv("grpc") for e in sidecars],
            ruler_endpoints=[e.srv("grpc") for e in rulers],
        ),
        extra_values=settings.thanos.extra_values,
        objstore_secret=objstore_secret,
        query=query_endpoint(settings.namespace),
        query_frontend=query_frontend_endpoint(settings.namespace),
    )
