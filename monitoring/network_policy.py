"""The platform's data path as a flow table, and the ingress NetworkPolicies that allow exactly it.

Every connection a platform pod accepts is one `Flow`: who connects (a component's pods, any pod in
the cluster, the ingress controller's namespace, the kube-apiserver), to which component, on which
port(s), and why. From the table come:
- one NetworkPolicy per component, selecting its pods and allowing exactly the flows into it;
- a default-deny-ingress NetworkPolicy in every namespace the platform owns, so a pod nobody
  listed (a Job, a new chart's pod) accepts nothing;
- the table in docs/network-policies.md (`flow_table_markdown`).

Ingress is restricted everywhere. Egress stays open for the components: Prometheus scrapes every
namespace, the Thanos sidecar/store/compactor talk to object storage, Alertmanager to
PagerDuty/Slack/SMTP, Grafana to its database and several components to the API server, all
outside the cluster at addresses this program does not know; and each flow inside the cluster is
already enforced at its destination. The exception is a pod that carries a credential for the
outside and needs nothing else (`EgressLimit`, the weekly report job with the Slack webhook): its
egress is exactly its flows of the table, DNS, and HTTPS outside the cluster's private ranges.

Semantics relied on (Ref: https://kubernetes.io/docs/concepts/services-networking/network-policies/):
a pod selected by any policy is isolated for ingress and accepts only what some selecting policy
allows; policies are additive; a peer with only `podSelector` means the policy's own namespace, with
`namespaceSelector` and `podSelector` both set it means pods matching both; `namespaceSelector: {}`
is every namespace; a rule without `from` allows every source; `protocol` defaults to TCP; a named
port resolves against the destination container's ports. Kubelet probes come from the node, which
policies never block ("what you can't do with network policies").

Pure module: no Pulumi import. Pod selectors and port numbers are inputs (`PlatformWorkloads`,
`PlatformPorts`), filled by plan/network_policies.py from the constants where each component
defines them; this module decides only who may talk to whom.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Iterable, Literal, Mapping

Protocol = Literal["TCP", "UDP", "SCTP"]
# Set by the API server on every namespace since Kubernetes 1.22.
# Ref: https://kubernetes.io/docs/reference/labels-annotations-taints/#kubernetes-io-metadata-name
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
DEFAULT_DENY_NAME = "default-deny-ingress"
POLICY_PREFIX = "ingress-to-"
EGRESS_POLICY_PREFIX = "egress-from-"
# The cluster DNS by default: CoreDNS keeps the kube-dns name and label on kubeadm, EKS, GKE, AKS,
# kind and k3s; other distributions differ (OpenShift: namespace openshift-dns), hence the setting
# networkPolicy.dns. Ref: https://kubernetes.io/docs/tasks/administer-cluster/dns-custom-nameservers/ (`k8s-app=kube-dns`)
DNS_NAMESPACE = "kube-system"
DNS_POD_LABELS = {"k8s-app": "kube-dns"}
# Addresses that are never the internet: RFC 1918, shared address space (RFC 6598, used by some
# CNIs for pods), link-local (cloud metadata services), and IPv6 unique-local and link-local. Pod
# and Service CIDRs are in them on every usual cluster, so an `ipBlock` of "anywhere but these"
# reaches the outside without reaching the cluster (a CNI may match pod IPs by ipBlock).
# Ref: https://kubernetes.io/docs/concepts/services-networking/network-policies/ (ipBlock "should be
# cluster-external IPs")
PRIVATE_IPV4 = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "169.254.0.0/16", "127.0.0.0/8")
PRIVATE_IPV6 = ("fc00::/7", "fe80::/10", "::1/128")


def _frozen_labels(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


@dataclass(frozen=True)
class ClusterDns:
    """The cluster DNS pods (networkPolicy.dns): the one in-cluster destination an egress-limited
    pod may reach besides its flows."""

    namespace: str = DNS_NAMESPACE
    pod_labels: tuple[tuple[str, str], ...] = _frozen_labels(DNS_POD_LABELS)

    @classmethod
    def of(cls, namespace: str, pod_labels: Mapping[str, str]) -> ClusterDns:
        return cls(namespace, _frozen_labels(pod_labels))

    def peer(self) -> dict[str, Any]:
        return {"namespaceSelector": {"matchLabels": {NAMESPACE_NAME_LABEL: self.namespace}},
                "podSelector": {"matchLabels": dict(self.pod_labels)}}  # fmt: skip


@dataclass(frozen=True)
class Port:
    """A destination port: a number, or a container port name resolved on the destination pod."""

    port: int | str
    protocol: Protocol = "TCP"

    def manifest(self) -> dict[str, Any]:
        return {"port": self.port, "protocol": self.protocol}

    def __str__(self) -> str:
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True)
class Workload:
    """The pods of one component: their namespace and the labels that select exactly them."""

    key: str  # stable, DNS-safe: the policy is named `ingress-to-<key>`
    title: str
    namespace: str
    labels: tuple[tuple[str, str], ...]
    # Ports Prometheus scrapes on these pods (their ServiceMonitor or Probe endpoints).
    metrics_ports: tuple[Port, ...] = ()
    # hostNetwork pods are outside most CNIs' policy enforcement (the policy is still declared).
    host_network: bool = False

    @classmethod
    def of(cls, key: str, title: str, namespace: str, labels: Mapping[str, str], **kwargs: Any) -> Workload:
        if not labels:
            raise AssertionError(f"{key}: a workload needs labels; an empty selector is every pod of the namespace")
        return cls(key, title, namespace, _frozen_labels(labels), **kwargs)

    @property
    def match_labels(self) -> dict[str, str]:
        return dict(self.labels)


# Sources. `peers(namespace)` is the `from` list for a policy in `namespace`; None means the rule
# has no `from`, i.e. every source.


@dataclass(frozen=True)
class Pods:
    """The pods of a platform component, in its own namespace."""

    workload: Workload

    @property
    def title(self) -> str:
        return self.workload.title

    def peers(self, namespace: str) -> list[dict[str, Any]] | None:
        peer: dict[str, Any] = {"podSelector": {"matchLabels": self.workload.match_labels}}
        if self.workload.namespace != namespace:
            # Both selectors in one peer: these pods AND in that namespace.
            peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: self.workload.namespace}}
        return [peer]


@dataclass(frozen=True)
class AnyPod:
    """Any pod in any namespace (the applications: services, SDKs). Not host-network traffic."""

    title: str = "any pod in the cluster"

    def peers(self, namespace: str) -> list[dict[str, Any]] | None:
        return [{"namespaceSelector": {}}]


@dataclass(frozen=True)
class Namespaces:
    """Every pod of the namespaces with these labels (the ingress controller's)."""

    title: str
    labels: tuple[tuple[str, str], ...]

    def peers(self, namespace: str) -> list[dict[str, Any]] | None:
        return [{"namespaceSelector": {"matchLabels": dict(self.labels)}}]


@dataclass(frozen=True)
class Addresses:
    """A source that is not a pod (the kube-apiserver calling a webhook): these CIDRs, or, when
    none are known, any address (the rule then still allows only its ports)."""

    title: str
    cidrs: tuple[str, ...] = ()

    def peers(self, namespace: str) -> list[dict[str, Any]] | None:
        if not self.cidrs:
            return None
        return [{"ipBlock": {"cidr": cidr}} for cidr in self.cidrs]


Source = Pods | AnyPod | Namespaces | Addresses


@dataclass(frozen=True)
class Flow:
    source: Source
    to: Workload
    ports: tuple[Port, ...]
    why: str


@dataclass(frozen=True)
class Quiet:
    """A platform pod that accepts no connection at all: only the default deny selects it."""

    workload: Workload
    why: str


@dataclass(frozen=True)
class EgressLimit:
    """A platform pod whose outgoing connections are restricted too: to its flows of the table, the
    cluster DNS, and `external` ports on addresses outside the private ranges."""

    workload: Workload
    external: tuple[Port, ...]
    why: str


@dataclass(frozen=True)
class FlowTable:
    flows: tuple[Flow, ...]
    quiet: tuple[Quiet, ...]
    namespaces: tuple[str, ...]  # every namespace the platform owns: each gets a default deny
    egress: tuple[EgressLimit, ...] = ()
    # The cluster DNS pods the egress-limited pods may ask (networkPolicy.dns).
    dns: ClusterDns = ClusterDns()

    def out_of(self, workload: Workload) -> tuple[Flow, ...]:
        return tuple(flow for flow in self.flows if flow.source == Pods(workload))

    @property
    def destinations(self) -> tuple[Workload, ...]:
        seen: dict[Workload, None] = {}
        for flow in self.flows:
            seen.setdefault(flow.to, None)
        return tuple(seen)

    def into(self, workload: Workload) -> tuple[Flow, ...]:
        return tuple(flow for flow in self.flows if flow.to == workload)


@dataclass(frozen=True)
class PlatformWorkloads:
    """Every pod-owning component. The exporters are None in a stack that does not deploy them."""

    prometheus: Workload
    alertmanager: Workload
    prometheus_operator: Workload
    kube_state_metrics: Workload
    node_exporter: Workload
    thanos_query: Workload
    thanos_query_frontend: Workload
    thanos_store_gateway: Workload
    thanos_compactor: Workload
    grafana: Workload
    influxdb: Workload
    influxdb_schema_job: Workload
    elasticsearch: Workload
    elasticsearch_lifecycle_job: Workload
    eck_operator: Workload
    jaeger: Workload
    jaeger_retention_job: Workload
    otel_collector: Workload
    fluent_bit_node: Workload
    fluent_bit_events: Workload
    elasticsearch_exporter: Workload
    pushgateway: Workload
    blackbox_exporter: Workload | None = None
    postgres_exporter: Workload | None = None
    # The DaemonSet raising vm.max_map_count for Elasticsearch, when the stack runs one.
    max_map_count_setter: Workload | None = None
    # The Thanos Ruler (long-window recording groups, monitoring/windows.py), when the stack runs one.
    thanos_ruler: Workload | None = None
    # The Trivy Operator and the scan Jobs it starts in its namespace, when the stack runs it.
    trivy_operator: Workload | None = None
    trivy_scan_jobs: Workload | None = None
    # OpenCost (costs.enabled): scraped, and it queries Thanos Query.
    opencost: Workload | None = None
    # The collector's service graph tier (otelCollector.serviceGraph.enabled).
    otel_servicegraph: Workload | None = None
    # The OpenTelemetry Operator (otelOperator.enabled): the API server calls its admission webhooks.
    otel_operator: Workload | None = None
    # The weekly report CronJob (reports.enabled): queries Thanos Query, posts to Slack.
    report_job: Workload | None = None
    # The daily dependency-links CronJob (jaeger.dependencies.enabled): reads and writes trace indices.
    jaeger_dependencies_job: Workload | None = None

    def all(self) -> tuple[Workload, ...]:
        return tuple(w for f in fields(self) if (w := getattr(self, f.name)) is not None)


@dataclass(frozen=True)
class PlatformPorts:
    """The ports flows other than scrapes go to (scrape ports are each Workload's metrics_ports)."""

    prometheus_web: Port
    thanos_sidecar_grpc: Port
    alertmanager_web: Port
    alertmanager_mesh_tcp: Port
    alertmanager_mesh_udp: Port
    thanos_http: Port
    thanos_grpc: Port
    grafana_http: Port
    influxdb_http: Port
    elasticsearch_http: Port
    elasticsearch_transport: Port
    eck_webhook: Port
    jaeger_otlp_grpc: Port
    jaeger_query_http: Port
    jaeger_sampling_http: Port
    jaeger_sampling_grpc: Port
    collector_otlp_grpc: Port
    collector_otlp_http: Port
    blackbox_probe: Port
    pushgateway_http: Port
    thanos_ruler_grpc: Port
    otel_operator_webhook: Port


@dataclass(frozen=True)
class Exposure:
    """Where the platform meets what it does not deploy: the ingress controller's namespace, the
    kube-apiserver's addresses and the cluster DNS pods (settings `networkPolicy.*`)."""

    ingress_namespace_labels: tuple[tuple[str, str], ...]
    api_server_cidrs: tuple[str, ...] = ()
    dns: ClusterDns = ClusterDns()

    @classmethod
    def of(
        cls, ingress_namespace_labels: Mapping[str, str], api_server_cidrs: Iterable[str] = (), dns: ClusterDns = ClusterDns()
    ) -> Exposure:
        return cls(_frozen_labels(ingress_namespace_labels), tuple(api_server_cidrs), dns)


def platform_flow_table(w: PlatformWorkloads, p: PlatformPorts, exposure: Exposure) -> FlowTable:
    """The data path of the README's architecture diagram, as implemented by the components."""
    apps = AnyPod()
    ingress = Namespaces("ingress controller (networkPolicy.ingressNamespaceSelector)", exposure.ingress_namespace_labels)
    api_server = Addresses(
        "kube-apiserver (networkPolicy.apiServerCidrs)"
        if exposure.api_server_cidrs
        else "kube-apiserver (any address: networkPolicy.apiServerCidrs is unset)",
        exposure.api_server_cidrs,
    )
    prometheus, grafana = Pods(w.prometheus), Pods(w.grafana)

    flows = [
        # Metrics.
        Flow(Pods(w.thanos_query), w.prometheus, (p.thanos_sidecar_grpc,), "global query over the recent data: StoreAPI of each Thanos sidecar"),
        Flow(Pods(w.thanos_query), w.thanos_store_gateway, (p.thanos_grpc,), "global query over the bucket: StoreAPI of the store gateway"),
        Flow(Pods(w.thanos_query_frontend), w.thanos_query, (p.thanos_http,), "split and retried range queries go down to the querier"),
        Flow(grafana, w.thanos_query_frontend, (p.thanos_http,), "Grafana's metrics datasource"),
        Flow(prometheus, w.alertmanager, (p.alertmanager_web,), "Prometheus sends alerts"),
        Flow(grafana, w.alertmanager, (p.alertmanager_web,), "Grafana's Alertmanager datasource (alerts, silences)"),
        Flow(Pods(w.alertmanager), w.alertmanager, (p.alertmanager_mesh_tcp, p.alertmanager_mesh_udp), "cluster gossip: replicas share silences and notification state"),
        Flow(prometheus, w.influxdb, (p.influxdb_http,), "remote_write of the SLO and business series (long-term trends)"),
        Flow(grafana, w.influxdb, (p.influxdb_http,), "Grafana's trends datasource (read-only user)"),
        Flow(Pods(w.influxdb_schema_job), w.influxdb, (p.influxdb_http,), "schema Job applies retention policies and continuous queries"),
        # Logs.
        Flow(Pods(w.fluent_bit_node), w.elasticsearch, (p.elasticsearch_http,), "container logs from every node, by family"),
        Flow(Pods(w.fluent_bit_events), w.elasticsearch, (p.elasticsearch_http,), "Kubernetes events"),
        Flow(Pods(w.jaeger), w.elasticsearch, (p.elasticsearch_http,), "trace storage and Jaeger's index templates"),
        Flow(Pods(w.jaeger_retention_job), w.elasticsearch, (p.elasticsearch_http,), "daily deletion of expired trace indices"),
        Flow(Pods(w.elasticsearch_lifecycle_job), w.elasticsearch, (p.elasticsearch_http,), "lifecycle Job applies ILM policies and index templates"),
        Flow(grafana, w.elasticsearch, (p.elasticsearch_http,), "Grafana's logs datasource (read-only user)"),
        Flow(Pods(w.eck_operator), w.elasticsearch, (p.elasticsearch_http,), "ECK manages the cluster through its API"),
        Flow(Pods(w.elasticsearch), w.elasticsearch, (p.elasticsearch_transport,), "node-to-node transport: discovery, replication"),
        Flow(api_server, w.eck_operator, (p.eck_webhook,), "admission webhook validating ECK resources"),
        # Traces.
        Flow(apps, w.otel_collector, (p.collector_otlp_grpc, p.collector_otlp_http), "services send traces and SDK metrics over OTLP"),
        Flow(ingress, w.otel_collector, (p.collector_otlp_http,), "browsers send OTLP/HTTP through the ingress (CORS)"),
        Flow(Pods(w.otel_collector), w.jaeger, (p.jaeger_otlp_grpc,), "the collector forwards traces"),
        Flow(apps, w.jaeger, (p.jaeger_sampling_http, p.jaeger_sampling_grpc), "SDKs fetch their remote sampling strategies"),
        Flow(grafana, w.jaeger, (p.jaeger_query_http,), "Grafana's traces datasource"),
        Flow(Pods(w.jaeger), w.thanos_query, (p.thanos_http,), "Jaeger's Monitor tab reads the span metrics through the global query"),
        Flow(Pods(w.elasticsearch_exporter), w.elasticsearch, (p.elasticsearch_http,), "elasticsearch_exporter reads cluster health and node stats"),
        # CI delivery values (README "Application contract"): CI runners outside the cluster push
        # through the ingress controller; runners inside it push from their own pods.
        Flow(ingress, w.pushgateway, (p.pushgateway_http,), "CI jobs push per-run delivery values through the ingress"),
        Flow(apps, w.pushgateway, (p.pushgateway_http,), "in-cluster CI runners push per-run delivery values"),
        # Dashboards: people and the Grafana provider (`pulumi up`) reach Grafana only through the ingress.
        Flow(ingress, w.grafana, (p.grafana_http,), "users and the Grafana provider through the Ingress"),
    ]
    if w.thanos_ruler is not None:
        ruler = Pods(w.thanos_ruler)
        flows += [
            Flow(ruler, w.thanos_query, (p.thanos_http,), "the Thanos Ruler evaluates its groups through the global query"),
            Flow(Pods(w.thanos_query), w.thanos_ruler, (p.thanos_ruler_grpc,), "global query over the ruler's recent samples: its StoreAPI"),
            Flow(ruler, w.alertmanager, (p.alertmanager_web,), "the Thanos Ruler sends alerts"),
        ]
    if w.otel_servicegraph is not None:
        flows.append(
            Flow(Pods(w.otel_collector), w.otel_servicegraph, (p.collector_otlp_grpc,), "the gateway forwards every span by trace ID to the service graph tier")
        )
    if w.opencost is not None:
        flows.append(Flow(Pods(w.opencost), w.thanos_query, (p.thanos_http,), "OpenCost's cost model reads allocations and usage through the global query"))
    if w.otel_operator is not None:
        flows.append(Flow(api_server, w.otel_operator, (p.otel_operator_webhook,), "admission webhooks: pod injection, Instrumentation defaulting and validation"))
    egress: list[EgressLimit] = []
    if w.jaeger_dependencies_job is not None:
        flows.append(Flow(Pods(w.jaeger_dependencies_job), w.elasticsearch, (p.elasticsearch_http,), "daily dependency links from the stored spans"))
    if w.report_job is not None:
        flows.append(Flow(Pods(w.report_job), w.thanos_query, (p.thanos_http,), "the weekly report asks the global query"))
        egress.append(EgressLimit(w.report_job, (Port(443),), "holds the Slack webhook: Thanos Query, DNS and Slack over HTTPS only"))
    if w.blackbox_exporter is not None:
        flows.append(Flow(prometheus, w.blackbox_exporter, (p.blackbox_probe,), "Probes: Prometheus asks the exporter to probe each URL"))
    # Scrapes: every component's metrics ports, from Prometheus only.
    flows += [
        Flow(prometheus, workload, workload.metrics_ports, "scrape (ServiceMonitor)")
        for workload in w.all()
        if workload.metrics_ports
    ]
    quiet = [
        Quiet(w.influxdb_schema_job, "a Job: only makes connections"),
        Quiet(w.elasticsearch_lifecycle_job, "a Job: only makes connections"),
        Quiet(w.jaeger_retention_job, "a CronJob: only makes connections"),
    ]
    if w.report_job is not None:
        quiet.append(Quiet(w.report_job, "a CronJob: only makes connections"))
    if w.jaeger_dependencies_job is not None:
        quiet.append(Quiet(w.jaeger_dependencies_job, "a CronJob: only makes connections"))
    if w.trivy_scan_jobs is not None:
        quiet.append(Quiet(w.trivy_scan_jobs, "Jobs: pull the images they scan, report to the API server"))
    if w.max_map_count_setter is not None:
        quiet.append(Quiet(w.max_map_count_setter, "sets a sysctl on its node, then sleeps; serves nothing"))
    namespaces = tuple(dict.fromkeys(workload.namespace for workload in w.all()))
    return FlowTable(
        flows=_checked(flows), quiet=tuple(quiet), namespaces=namespaces, egress=tuple(egress),
        dns=exposure.dns,
    )  # fmt: skip


def _checked(flows: list[Flow]) -> tuple[Flow, ...]:
    """Rows stay as written (a scrape of a port that is also a data port is its own row, so the
    table reads as reasons); a row needs at least one port and never repeats one."""
    for flow in flows:
        if not flow.ports or len(set(flow.ports)) != len(flow.ports):
            raise AssertionError(f"{flow.to.key}: a flow needs distinct ports ({flow.why})")
    return tuple(flows)


def _policy_metadata(name: str, namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(labels)}


def default_deny_ingress(namespace: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """Selects every pod of the namespace and allows nothing: the baseline the others add to.
    Ref: https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic
    """
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _policy_metadata(DEFAULT_DENY_NAME, namespace, labels),
        "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
    }


def ingress_policy(workload: Workload, flows: Iterable[Flow], labels: Mapping[str, str]) -> dict[str, Any]:
    """One rule per source: its peers and the union of its ports, in table order."""
    by_source: dict[Source, list[Port]] = {}
    for flow in flows:
        if flow.to != workload:
            raise AssertionError(f"{workload.key}: flow to {flow.to.key} given to its policy")
        ports = by_source.setdefault(flow.source, [])
        ports += [port for port in flow.ports if port not in ports]
    rules = []
    for source, ports in by_source.items():
        rule: dict[str, Any] = {"ports": [port.manifest() for port in ports]}
        if (peers := source.peers(workload.namespace)) is not None:
            rule["from"] = peers
        rules.append(rule)
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _policy_metadata(POLICY_PREFIX + workload.key, workload.namespace, labels),
        "spec": {
            "podSelector": {"matchLabels": workload.match_labels},
            "policyTypes": ["Ingress"],
            "ingress": rules,
        },
    }


def egress_policy(limit: EgressLimit, flows: Iterable[Flow], labels: Mapping[str, str], dns: ClusterDns) -> dict[str, Any]:
    """The only connections `limit.workload` may open: its flows (one rule per destination), the
    cluster DNS pods over UDP and TCP, and its external ports anywhere but the private ranges."""
    workload = limit.workload
    rules: list[dict[str, Any]] = []
    for flow in flows:
        if flow.source != Pods(workload):
            raise AssertionError(f"{workload.key}: flow from {flow.source.title} given to its egress policy")
        peer: dict[str, Any] = {"podSelector": {"matchLabels": flow.to.match_labels}}
        if flow.to.namespace != workload.namespace:
            peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: flow.to.namespace}}
        rules.append({"to": [peer], "ports": [port.manifest() for port in flow.ports]})
    rules.append({
        "to": [dns.peer()],
        "ports": [Port(53, "UDP").manifest(), Port(53, "TCP").manifest()],
    })  # fmt: skip
    if limit.external:
        rules.append({
            "to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_IPV4)}},
                   {"ipBlock": {"cidr": "::/0", "except": list(PRIVATE_IPV6)}}],
            "ports": [port.manifest() for port in limit.external],
        })  # fmt: skip
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _policy_metadata(EGRESS_POLICY_PREFIX + workload.key, workload.namespace, labels),
        "spec": {"podSelector": {"matchLabels": workload.match_labels}, "policyTypes": ["Egress"], "egress": rules},
    }


def network_policies(table: FlowTable, labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every NetworkPolicy of the platform: a default deny per namespace, then one per destination,
    then one per egress limit."""
    policies = [default_deny_ingress(namespace, labels) for namespace in table.namespaces]
    policies += [ingress_policy(workload, table.into(workload), labels) for workload in table.destinations]
    policies += [egress_policy(limit, table.out_of(limit.workload), labels, table.dns) for limit in table.egress]
    names = [(p["metadata"]["namespace"], p["metadata"]["name"]) for p in policies]
    if len(names) != len(set(names)):
        raise AssertionError("two workloads share a policy name; workload keys must be unique per namespace")
    return policies


FLOW_TABLE_HEADER = ("| Source | Destination | Port | Why |", "|---|---|---|---|")


def flow_table_markdown(table: FlowTable) -> str:
    """The table in docs/network-policies.md, one row per flow, in table order."""
    rows = list(FLOW_TABLE_HEADER)
    for flow in table.flows:
        ports = ", ".join(f"`{port}`" for port in flow.ports)
        rows.append(f"| {flow.source.title} | {flow.to.title} | {ports} | {flow.why} |")
    return "\n".join(rows) + "\n"


def quiet_table_markdown(table: FlowTable) -> str:
    rows = ["| Pods | Why they accept nothing |", "|---|---|"]
    rows += [f"| {q.workload.title} | {q.why} |" for q in table.quiet]
    return "\n".join(rows) + "\n"

