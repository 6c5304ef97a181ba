"""A NetworkPolicy evaluator written from the Kubernetes semantics, over a modelled cluster: the
pods of every rendered workload, the pods operators create from the rendered custom resources
(with the labels and ports their source gives them), namespaces with their labels, and sources
that are not pods (the API server, a browser).

Ref: https://kubernetes.io/docs/concepts/services-networking/network-policies/
- A pod is isolated for ingress (egress) when any policy in its namespace selects it and has
  Ingress (Egress) in policyTypes; policyTypes defaults to Ingress, plus Egress when the policy has
  egress rules. A non-isolated pod allows everything in that direction.
- An isolated pod allows a connection when any rule of any selecting policy allows it: policies
  are additive. A rule allows a connection when a `from`/`to` peer matches (no peers: every peer)
  and a port matches (no ports: every port).
- A peer with only podSelector selects pods of the policy's namespace; with only namespaceSelector,
  every pod of the matching namespaces; with both, pods matching both. `{}` matches everything.
  namespaceSelector sees the namespace's labels, including kubernetes.io/metadata.name.
- ipBlock matches source (destination) addresses in `cidr` and outside every `except`.
- A port entry's protocol defaults to TCP; a numeric port (with optional endPort) matches the
  destination port; a named port matches a container port of the destination pod with that name
  and protocol. A connection needs both the source's egress and the destination's ingress.
- hostNetwork pods are outside the pod network; this model takes the "cannot distinguish" branch
  of the spec: as a source a host-network pod is the node, matched by no pod/namespace selector.
Label selectors: matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist) all must hold.
Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


@dataclass(frozen=True)
class ContainerPort:
    number: int
    name: str | None = None
    protocol: str = "TCP"


@dataclass(frozen=True)
class Pod:
    name: str
    namespace: str
    labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...] = ()
    host_network: bool = False
    ip: str | None = None

    def port_named(self, name: str, protocol: str = "TCP") -> ContainerPort | None:
        return next((p for p in self.ports if p.name == name and p.protocol == protocol), None)

    def __hash__(self) -> int:
        return hash((self.namespace, self.name))


@dataclass(frozen=True)
class External:
    """A source that is not a pod: only ipBlock peers can match it."""

    name: str
    ip: str


Source = Pod | External


def _integral(value: Any) -> Any:
    # Pulumi's mock serialisation turns integers into floats (9200.0).
    return int(value) if isinstance(value, float) and value.is_integer() else value


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A LabelSelector against a label set; an empty selector matches everything."""
    selector = selector or {}
    if any(labels.get(k) != v for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values") or []
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
        if operator not in ("In", "NotIn", "Exists", "DoesNotExist"):
            raise ValueError(f"unknown selector operator {operator!r}")
    return True


def policy_types(spec: Mapping[str, Any]) -> list[str]:
    if "policyTypes" in spec:
        return list(spec["policyTypes"])
    return ["Ingress"] + (["Egress"] if "egress" in spec else [])


@dataclass
class Cluster:
    namespaces: dict[str, dict[str, str]]
    pods: list[Pod]
    policies: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name, labels in self.namespaces.items():
            labels.setdefault(NAMESPACE_NAME_LABEL, name)

    def add_namespace(self, name: str, labels: Mapping[str, str] | None = None) -> None:
        self.namespaces[name] = {NAMESPACE_NAME_LABEL: name, **(labels or {})}

    def selecting(self, pod: Pod, direction: str) -> list[dict[str, Any]]:
        """The policies that select `pod` for `direction` ("Ingress" or "Egress")."""
        return [
            policy
            for policy in self.policies
            if policy["metadata"].get("namespace") == pod.namespace
            and selector_matches(policy["spec"].get("podSelector"), pod.labels)
            and direction in policy_types(policy["spec"])
        ]

    def _peer_matches(self, peer: Mapping[str, Any], other: Source, policy_namespace: str) -> bool:
        if "ipBlock" in peer:
            ip = other.ip
            if ip is None:
                return False
            address = ipaddress.ip_address(ip)
            block = peer["ipBlock"]
            return address in ipaddress.ip_network(block["cidr"]) and not any(
                address in ipaddress.ip_network(e) for e in block.get("except") or []
            )
        if isinstance(other, External) or other.host_network:
            return False
        if "namespaceSelector" in peer:
            namespace_ok = selector_matches(peer["namespaceSelector"], self.namespaces[other.namespace])
        else:
            namespace_ok = other.namespace == policy_namespace
        pod_ok = selector_matches(peer["podSelector"], other.labels) if "podSelector" in peer else True
        return namespace_ok and pod_ok

    @staticmethod
    def _port_matches(entries: list[Mapping[str, Any]] | None, destination: Pod | None, port: int, protocol: str) -> bool:
        if not entries:
            return True
        for entry in entries:
            if entry.get("protocol", "TCP") != protocol:
                continue
            wanted = _integral(entry.get("port"))
            if wanted is None:
                return True
            if isinstance(wanted, int):
                end = _integral(entry.get("endPort", wanted))
                if wanted <= port <= end:
                    return True
            elif destination is not None:
                named = destination.port_named(wanted, protocol)
                if named is not None and named.number == port:
                    return True
        return False

    def ingress_allowed(self, source: Source, destination: Pod, port: int, protocol: str = "TCP") -> bool:
        policies = self.selecting(destination, "Ingress")
        if not policies:
            return True
        return any(
            (not rule.get("from") or any(self._peer_matches(p, source, policy["metadata"]["namespace"]) for p in rule["from"]))
            and self._port_matches(rule.get("ports"), destination, port, protocol)
            for policy in policies
            for rule in policy["spec"].get("ingress") or []
        )

    def egress_allowed(self, source: Source, destination: Pod, port: int, protocol: str = "TCP") -> bool:
        if isinstance(source, External) or source.host_network:
            return True
        policies = self.selecting(source, "Egress")
        if not policies:
            return True
        return any(
            (not rule.get("to") or any(self._peer_matches(p, destination, policy["metadata"]["namespace"]) for p in rule["to"]))
            and self._port_matches(rule.get("ports"), destination, port, protocol)
            for policy in policies
            for rule in policy["spec"].get("egress") or []
        )

    def allowed(self, source: Source, destination: Pod, port: int, protocol: str = "TCP") -> bool:
        return self.egress_allowed(source, destination, port, protocol) and self.ingress_allowed(
            source, destination, port, protocol
        )

    def pods_matching(self, labels: Mapping[str, str], namespace: str | None = None) -> list[Pod]:
        return [
            pod
            for pod in self.pods
            if (namespace is None or pod.namespace == namespace) and selector_matches({"matchLabels": labels}, pod.labels)
        ]


# --- Pods from a render ---------------------------------------------------------------------

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def _container_ports(containers: Iterable[Mapping[str, Any]]) -> tuple[ContainerPort, ...]:
    return tuple(
        ContainerPort(int(_integral(p["containerPort"])), p.get("name"), p.get("protocol", "TCP"))
        for container in containers
        for p in container.get("ports") or []
    )


def _template(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if obj.get("kind") in WORKLOAD_KINDS:
        return obj["spec"]["template"]
    if obj.get("kind") == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]
    return None


def workload_pods(objects: Iterable[Mapping[str, Any]]) -> list[Pod]:
    """One pod per workload of the render, from its pod template (replicas share labels and ports)."""
    pods = []
    for obj in objects:
        template = _template(obj)
        if template is None:
            continue
        spec = template["spec"]
        pods.append(
            Pod(
                name=f"{obj['kind'].lower()}/{obj['metadata']['name']}",
                namespace=obj["metadata"]["namespace"],
                labels=dict((template.get("metadata") or {}).get("labels") or {}),
                ports=_container_ports(spec.get("containers") or []),
                host_network=bool(spec.get("hostNetwork")),
            )
        )
    return pods


def _pod_metadata_labels(spec: Mapping[str, Any]) -> dict[str, str]:
    return dict((spec.get("podMetadata") or {}).get("labels") or {})


def operator_pods(objects: Iterable[Mapping[str, Any]]) -> list[Pod]:
    """The pods prometheus-operator and ECK create from the rendered custom resources.

    Labels and ports as their source sets them:
    - Prometheus: Ref prometheus-operator v0.93.0 pkg/prometheus/server/operator.go `makeSelectorLabels`
      (managed-by, name=prometheus, instance, operator.prometheus.io/name, prometheus), the shard label
      (pkg/prometheus/server/statefulset.go), `podMetadata` labels; ports: web 9090 named `portName`
      (pkg/prometheus/common.go), config-reloader `reloader-web` 8080 (pkg/operator/config_reloader.go),
      Thanos sidecar `http` 10902 and `grpc` 10901 (pkg/prometheus/server/statefulset.go).
    - Alertmanager: pkg/alertmanager/operator.go `makeSelectorLabels` (name=alertmanager, managed-by,
      instance, alertmanager); ports: web 9093 named `portName`, `mesh-tcp` 9094/TCP and `mesh-udp`
      9094/UDP (pkg/alertmanager/statefulset.go), `reloader-web` 8080.
    - Elasticsearch: Ref ECK v3.5.0 pkg/controller/elasticsearch/label/label.go `NewPodLabels`
      (common.k8s.elastic.co/type, cluster-name, statefulset-name, ...), podTemplate labels; ports:
      9200 named after the HTTP scheme (`https` unless TLS is disabled) and `transport` 9300
      (pkg/controller/elasticsearch/nodespec/podspec.go, network/ports.go).
    """
    pods = []
    reloader = ContainerPort(8080, "reloader-web")
    for obj in objects:
        kind, meta, spec = obj.get("kind"), obj.get("metadata", {}), obj.get("spec", {})
        api = obj.get("apiVersion", "")
        name, namespace = meta.get("name"), meta.get("namespace")
        if api.startswith("monitoring.coreos.com/") and kind == "Prometheus":
            labels = {
                **_pod_metadata_labels(spec),
                "app.kubernetes.io/managed-by": "prometheus-operator",
                "app.kubernetes.io/name": "prometheus",
                "app.kubernetes.io/instance": name,
                "operator.prometheus.io/name": name,
                "prometheus": name,
                "operator.prometheus.io/shard": "0",
            }
            ports = [ContainerPort(9090, spec.get("portName", "web")), reloader]
            if spec.get("thanos") is not None:
                ports += [ContainerPort(10902, "http"), ContainerPort(10901, "grpc")]
            pods.append(Pod(f"prometheus/{name}", namespace, labels, tuple(ports)))
        elif api.startswith("monitoring.coreos.com/") and kind == "ThanosRuler":
            # Ref prometheus-operator v0.93.0 pkg/thanos/operator.go `makeSelectorLabels`; ports `grpc`
            # 10901 and web 10902 named `portName` (pkg/thanos/statefulset.go), `reloader-web` 8080.
            labels = {
                **_pod_metadata_labels(spec),
                "app.kubernetes.io/name": "thanos-ruler",
                "app.kubernetes.io/managed-by": "prometheus-operator",
                "app.kubernetes.io/instance": name,
                "thanos-ruler": name,
            }
            ports = (ContainerPort(10902, spec.get("portName", "web")), ContainerPort(10901, "grpc"), reloader)
            pods.append(Pod(f"thanos-ruler/{name}", namespace, labels, ports))
        elif api.startswith("monitoring.coreos.com/") and kind == "Alertmanager":
            labels = {
                **_pod_metadata_labels(spec),
                "app.kubernetes.io/name": "alertmanager",
                "app.kubernetes.io/managed-by": "prometheus-operator",
                "app.kubernetes.io/instance": name,
                "alertmanager": name,
            }
            ports = (
                ContainerPort(9093, spec.get("portName", "web")),
                ContainerPort(9094, "mesh-tcp", "TCP"),
                ContainerPort(9094, "mesh-udp", "UDP"),
                reloader,
            )
            pods.append(Pod(f"alertmanager/{name}", namespace, labels, ports))
        elif api.startswith("elasticsearch.k8s.elastic.co/") and kind == "Elasticsearch":
            tls_off = ((spec.get("http") or {}).get("tls") or {}).get("selfSignedCertificate", {}).get("disabled")
            scheme = "http" if tls_off else "https"
            for node_set in spec.get("nodeSets") or []:
                template_labels = ((node_set.get("podTemplate") or {}).get("metadata") or {}).get("labels") or {}
                labels = {
                    **template_labels,
                    "common.k8s.elastic.co/type": "elasticsearch",
                    "elasticsearch.k8s.elastic.co/cluster-name": name,
                    "elasticsearch.k8s.elastic.co/statefulset-name": f"{name}-es-{node_set['name']}",
                    "elasticsearch.k8s.elastic.co/http-scheme": scheme,
                }
                ports = (ContainerPort(9200, scheme), ContainerPort(9300, "transport"))
                pods.append(Pod(f"elasticsearch/{name}-{node_set['name']}", namespace, labels, ports))
    return pods


def namespaces_of(objects: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    return {
        obj["metadata"]["name"]: {NAMESPACE_NAME_LABEL: obj["metadata"]["name"], **(obj["metadata"].get("labels") or {})}
        for obj in objects
        if obj.get("kind") == "Namespace"
    }


def policies_of(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [dict(obj) for obj in objects if obj.get("kind") == "NetworkPolicy"]


# --- Services: what a ServiceMonitor, an Ingress or a webhook reaches -------------------------------


def service_pods(cluster: Cluster, service: Mapping[str, Any]) -> list[Pod]:
    selector = service["spec"].get("selector")
    if not selector:
        return []
    return cluster.pods_matching(selector, service["metadata"]["namespace"])


def target_port(service: Mapping[str, Any], port_name_or_number: str | int, pod: Pod) -> tuple[int, str] | None:
    """The pod port (number, protocol) a Service port (by name or number) sends traffic to."""
    for port in service["spec"].get("ports") or []:
        if port.get("name") == port_name_or_number or _integral(port.get("port")) == port_name_or_number:
            protocol = port.get("protocol", "TCP")
            target = _integral(port.get("targetPort", port.get("port")))
            if isinstance(target, int):
                return target, protocol
            named = pod.port_named(target, protocol)
            return (named.number, protocol) if named else None
    return None


def known_ports(cluster: Cluster, services: Iterable[Mapping[str, Any]], pod: Pod) -> set[tuple[int, str]]:
    """Every port the pod listens on as far as the render says: its container ports and the
    numeric targets of the Services that select it (a Service can target an undeclared port)."""
    ports = {(p.number, p.protocol) for p in pod.ports}
    for service in services:
        if pod in service_pods(cluster, service):
            for port in service["spec"].get("ports") or []:
                resolved = target_port(service, port.get("name") or _integral(port["port"]), pod)
                if resolved:
                    ports.add(resolved)
    return ports
