"""Thanos query, query-frontend, store gateway and compactor (stevehipwell `thanos` chart).

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
from typing import Any

import pulumi

from components.chart import child_options, declare_chart
from components.prometheus_stack import REPLICA_LABEL, THANOS_RULER_REPLICA_LABEL, SecretKeyRef
from components.rollout import ContentDigests, ObjectRef
from plan.versions import THANOS, THANOS_IMAGE_TAG
from monitoring.windows import QUERY_AUTO_DOWNSAMPLING
from plan.settings import ThanosSettings

FULLNAME = "thanos"
QUERY_SERVICE = f"{FULLNAME}-query"
QUERY_FRONTEND_SERVICE = f"{FULLNAME}-query-frontend"
HTTP_PORT = 10902
GRPC_PORT = 10901  # StoreAPI of the query and the store gateway (chart default)
DEDUPLICATION_FUNC = "penalty"  # the compactor's merge of HA replicas (see thanos_values)


@dataclass(frozen=True)
class ThanosArgs:
    namespace: str
    storage_class: str | None
    settings: ThanosSettings
    objstore_secret: SecretKeyRef
    # gRPC StoreAPI endpoints of the Prometheus sidecars (dnssrv+ addresses).
    sidecar_endpoints: tuple[str, ...]
    # The object-storage Secret's content (recorded by the platform) rolls the bucket readers.
    digests: ContentDigests
    # StoreAPI of the Thanos Ruler, whose recent samples are not in the bucket yet.
    ruler_endpoints: tuple[str, ...] = ()


def _pdb(replicas: int) -> dict[str, Any]:
    return {"enabled": replicas > 1, "maxUnavailable": 1}


def _persistence(storage_class: str | None, size: str) -> dict[str, Any]:
    # An empty storageClass makes the chart omit storageClassName, i.e. the cluster default.
    return {"enabled": True, "size": str(size), "storageClass": storage_class or ""}


# Ref: thanos 1.24.1 values.yaml `<component>.automountServiceAccountToken`; templates/query/deployment.yaml,
# query-frontend/deployment.yaml, store-gateway/statefulset.yaml, compact/statefulset.yaml.
_NO_TOKEN = {"automountServiceAccountToken": False}


def thanos_values(args: ThanosArgs) -> dict[str, Any]:
    s = args.settings
    compactor = s.compactor
    values: dict[str, Any] = {
        "fullnameOverride": FULLNAME,
        "image": {"tag": THANOS_IMAGE_TAG},
        "objstoreConfig": {
            "create": False,
            "name": args.objstore_secret.name,
            "key": args.objstore_secret.key,
        },
        "additionalEndpoints": [*args.sidecar_endpoints, *args.ruler_endpoints],
        # Query deduplicates, and the compactor merges, the replicas of Prometheus and of the ruler.
        # Ref: thanos 1.24.1 templates/query/deployment.yaml, compact/statefulset.yaml (additionalReplicaLabels).
        "additionalReplicaLabels": [REPLICA_LABEL, *([THANOS_RULER_REPLICA_LABEL] if args.ruler_endpoints else [])],
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
            "persistence": _persistence(args.storage_class, s.store_gateway.storage_size),
        },
        "compact": {
            **_NO_TOKEN,
            "enabled": True,
            "resources": compactor.resources.to_k8s(),
            "persistence": _persistence(args.storage_class, compactor.storage_size),
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


class Thanos(pulumi.ComponentResource):
    """Global query over all Prometheus replicas plus the bucket, and its retention."""

    query_url: str
    query_frontend_url: str

    def __init__(self, name: str, args: ThanosArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:Thanos", name, None, opts)
        self.values = thanos_values(args)
        # The compactor and store gateway mount objstore.yml by subPath (never updated in a running
        # pod); the chart's `checksum/config` only exists with `objstoreConfig.create` (thanos 1.24.1
        # templates/compact/statefulset.yaml l.26-33, store-gateway/statefulset.yaml l.26-33), so the
        # digest goes in `<component>.podAnnotations`. Query and query-frontend read no bucket.
        objstore = ObjectRef("Secret", args.namespace, args.objstore_secret.name)
        for component in ("compact", "storeGateway"):
            self.values[component]["podAnnotations"] = args.digests.annotations([objstore])
        self.chart = declare_chart(
            f"{name}-chart", THANOS, args.namespace, self.values, child_options(self, opts),
            extra_values=args.settings.extra_values,
        )  # fmt: skip
        svc = f"{args.namespace}.svc"
        self.query_url = f"http://{QUERY_SERVICE}.{svc}:{HTTP_PORT}"
        # Grafana queries through the frontend: split and retried range queries.
        self.query_frontend_url = f"http://{QUERY_FRONTEND_SERVICE}.{svc}:{HTTP_PORT}"
        self.register_outputs({"query_url": self.query_url, "query_frontend_url": self.query_frontend_url})
