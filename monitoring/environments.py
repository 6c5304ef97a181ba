"""What differs between environments on principle, in one table: POLICIES.

A stack file says which environment it is (`environment: dev | staging | prod`); everything the
program does differently because of that name is a field of EnvironmentPolicy, read from here.
Nothing else compares an environment's name (tests/test_environments.py walks the code for such a
comparison). What a stack merely chooses (sizes, retention inside the bounds, receivers) stays in
its stack file.

Pure module: no Pulumi import, and no stack-file keys: plan/settings.py checks a stack against its
policy and names the keys in its messages; builders read the values they need.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

# prod keeps its audit trail at least a year (the log families' default, monitoring/logs.py
# DEFAULT_FAMILIES, keeps it that long), and debug lines at most days (they are many: useful for
# days, expensive for months).
AUDIT_TRAIL_RETENTION = "365d"
DEBUG_RETENTION_LIMIT = "7d"


@dataclass(frozen=True)
class MinimumReplicas:
    """The fewest replicas an environment runs of each part; fewer is a settings error."""

    # Two Prometheus replicas scrape everything each (an HA pair, deduplicated by Thanos Query): one
    # can restart or lose its node without a gap in the data or in rule evaluation.
    prometheus: int
    # Alertmanager replicas gossip notifications and silences; three keep a pair working while one
    # restarts, as kube-prometheus runs it.
    # Ref: prometheus-operator/kube-prometheus jsonnet/kube-prometheus/components/alertmanager.libsonnet (replicas: 3)
    alertmanager: int
    # The Thanos read path (query, query-frontend, store gateway) is what Grafana reads through:
    # two of each keep dashboards and the Ruler's queries answering through a restart.
    thanos_query: int
    thanos_query_frontend: int
    thanos_store_gateway: int
    # Master-eligible Elasticsearch nodes: a cluster elects its master by majority, and three is the
    # fewest that survive losing one.
    # Ref: https://www.elastic.co/docs/deploy-manage/distributed-architecture/discovery-cluster-formation/modules-discovery-quorums
    elasticsearch_nodes: int


@dataclass(frozen=True)
class EnvironmentPolicy:
    """One row of the table. Every field is read by the program (tests/test_environments.py)."""

    name: str
    # `protect` on every resource that holds data (the namespace, whose deletion takes every volume
    # claim with it, and the stateful charts): `pulumi destroy` must not take that environment's data.
    # Ref: https://www.pulumi.com/docs/iac/concepts/options/protect/
    protect_stateful: bool
    minimum_replicas: MinimumReplicas
    # Head-sampling probability of every trace when the stack sets none (jaeger.sampling): all of
    # them where traffic is a developer's, a fraction where it is real and would fill the trace store.
    default_sampling_probability: float
    # Bounds on how long log families are kept (Elasticsearch time values; None: no bound). The
    # audit trail must outlive its minimum; debug lines must not outlive their maximum.
    min_audit_log_retention: str | None
    max_debug_log_retention: str | None
    # Replica shards of each log and trace index, where the cluster has the nodes to hold them
    # (index_replicas): one copy of each shard on a second node survives losing a node.
    wanted_index_replicas: int
    # Whether people sign in only over https: Grafana's URL and the identity provider's endpoints
    # (grafana.oidc) carry the authorization code, tokens and the client secret.
    https_sign_in: bool

    def index_replicas(self, nodes: int) -> int:
        """Replica shards per Elasticsearch index on a cluster of `nodes` data nodes, for log and
        trace indices alike: Elasticsearch never puts a replica on the node holding its primary, so
        more replicas than `nodes - 1` stay unassigned and the cluster stays yellow.
        Ref: https://www.elastic.co/docs/troubleshoot/elasticsearch/red-yellow-cluster-status
        """
        return max(0, min(self.wanted_index_replicas, nodes - 1))


_NO_MINIMUM = MinimumReplicas(
    prometheus=1, alertmanager=1, thanos_query=1, thanos_query_frontend=1, thanos_store_gateway=1,
    elasticsearch_nodes=1,
)

POLICIES: Mapping[str, EnvironmentPolicy] = MappingProxyType(
    {
        policy.name: policy
        for policy in (
            # A developer's cluster (a laptop): one of everything, nothing protected, every trace.
            EnvironmentPolicy(
                name="dev",
                protect_stateful=False,
                minimum_replicas=_NO_MINIMUM,
                default_sampling_probability=1.0,
                min_audit_log_retention=None,
                max_debug_log_retention=None,
                wanted_index_replicas=1,
                https_sign_in=False,
            ),
            # Between the two: no minimum and no protection (its data can be rebuilt), half of the
            # traces, no retention bounds.
            EnvironmentPolicy(
                name="staging",
                protect_stateful=False,
                minimum_replicas=_NO_MINIMUM,
                default_sampling_probability=0.5,
                min_audit_log_retention=None,
                max_debug_log_retention=None,
                wanted_index_replicas=1,
                https_sign_in=False,
            ),
            # Highly available, protected, a tenth of the traces, the audit trail kept a year.
            EnvironmentPolicy(
                name="prod",
                protect_stateful=True,
                minimum_replicas=MinimumReplicas(
                    prometheus=2, alertmanager=3, thanos_query=2, thanos_query_frontend=2,
                    thanos_store_gateway=2, elasticsearch_nodes=3,
                ),
                default_sampling_probability=0.1,
                min_audit_log_retention=AUDIT_TRAIL_RETENTION,
                max_debug_log_retention=DEBUG_RETENTION_LIMIT,
                wanted_index_replicas=1,
                https_sign_in=True,
            ),
        )
    }
)

# The environments a stack may name, in table order.
ENVIRONMENTS: tuple[str, ...] = tuple(POLICIES)
EnvironmentName = Literal[ENVIRONMENTS]  # type: ignore[valid-type]
