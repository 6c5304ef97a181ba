"""The NetworkPolicies allow exactly the documented data path, proven by evaluating the rendered
policies (tests/network_policy_evaluator.py) over the rendered pods, the pods the operators create,
and pods of the rest of the cluster: an application namespace, the ingress controller's namespace,
and impostors (pods elsewhere wearing a platform component's labels)."""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

import pytest
from tests.network_policy_evaluator import (
    Cluster,
    ContainerPort,
    External,
    Pod,
    known_ports,
    namespaces_of,
    operator_pods,
    policies_of,
    selector_matches,
    service_pods,
    target_port,
    workload_pods,
)

from tests.helpers import ROOT
from monitoring.network_policy import (
    DEFAULT_DENY_NAME,
    Addresses,
    AnyPod,
    Flow,
    FlowTable,
    Namespaces,
    Pods,
    Workload,
    flow_table_markdown,
    quiet_table_markdown,
)
from stacks.config import ConfigError
from tools.mockrun import run_stack

STACKS = ("dev", "prod")
KEY = "terrafusion-monitoring"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"

APP_NAMESPACE = "shop"
INGRESS_NAMESPACE = "ingress-nginx"  # the default networkPolicy.ingressNamespaceSelector
APP = Pod("app/checkout", APP_NAMESPACE, {"app": "checkout"}, (ContainerPort(8080, "http"),))
INGRESS_CONTROLLER = Pod(
    "ingress/controller", INGRESS_NAMESPACE, {"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller"}
)
API_SERVER = External("kube-apiserver", "172.18.0.2")
BROWSER = External("browser", "203.0.113.7")
UNUSED_PORT = (12345, "TCP")


# --- The modelled cluster ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(rendered_objects) -> dict[str, list[dict[str, Any]]]:
    return rendered_objects


@pytest.fixture(scope="module")
def tables(dev, prod) -> dict[str, FlowTable]:
    return {"dev": dev.result.plan.network_policies.table, "prod": prod.result.plan.network_policies.table}


def platform_namespaces(objects: list[dict[str, Any]]) -> set[str]:
    return set(namespaces_of(objects))


def model(objects: list[dict[str, Any]], policies: list[dict[str, Any]] | None = None) -> Cluster:
    """The render's pods and namespaces plus the rest of a cluster: an application, the ingress
    controller, and for every platform pod an impostor in the application namespace with its labels."""
    platform = workload_pods(objects) + operator_pods(objects)
    impostors = [
        Pod(f"impostor/{pod.name}", APP_NAMESPACE, dict(pod.labels), pod.ports) for pod in platform if not pod.host_network
    ]
    cluster = Cluster(
        namespaces=copy.deepcopy(namespaces_of(objects)),
        pods=platform + impostors + [APP, INGRESS_CONTROLLER],
        policies=policies_of(objects) if policies is None else policies,
    )
    for namespace in (APP_NAMESPACE, INGRESS_NAMESPACE, "kube-system"):
        cluster.add_namespace(namespace)
    return cluster


def services(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o.get("kind") == "Service"]


def platform_pods(cluster: Cluster, objects: list[dict[str, Any]]) -> list[Pod]:
    owned = platform_namespaces(objects)
    return [p for p in cluster.pods if p.namespace in owned and not p.name.startswith("impostor/")]


def sources(cluster: Cluster) -> list[Pod | External]:
    return [*cluster.pods, API_SERVER, BROWSER]


def prometheus_pod(cluster: Cluster) -> Pod:
    (pod,) = [p for p in cluster.pods if p.name.startswith("prometheus/")]
    return pod


def pods_of(cluster: Cluster, workload: Workload) -> list[Pod]:
    return cluster.pods_matching(workload.match_labels, workload.namespace)


def workload(table: FlowTable, key: str) -> Workload:
    (found,) = {w for w in (*table.destinations, *(q.workload for q in table.quiet)) if w.key == key}
    return found


def the_pod(cluster: Cluster, table: FlowTable, key: str) -> Pod:
    pods = pods_of(cluster, workload(table, key))
    assert len(pods) == 1, (key, pods)
    return pods[0]


# --- What the table documents --------------------------------------------------------------------


def source_documented(source: Pods | AnyPod | Namespaces | Addresses, other: Pod | External, cluster: Cluster) -> bool:
    if isinstance(source, Addresses):
        return not source.cidrs or (other.ip is not None and any(_in_cidr(other.ip, c) for c in source.cidrs))
    if isinstance(other, External) or other.host_network:
        return False
    if isinstance(source, AnyPod):
        return True
    if isinstance(source, Namespaces):
        return selector_matches({"matchLabels": dict(source.labels)}, cluster.namespaces[other.namespace])
    return other.namespace == source.workload.namespace and selector_matches(
        {"matchLabels": source.workload.match_labels}, other.labels
    )


def _in_cidr(ip: str, cidr: str) -> bool:
    return ipaddress.ip_address(ip) in ipaddress.ip_network(cidr)


def flow_ports(flow: Flow, destination: Pod) -> set[tuple[int, str]]:
    resolved = set()
    for port in flow.ports:
        if isinstance(port.port, int):
            resolved.add((port.port, port.protocol))
        elif named := destination.port_named(port.port, port.protocol):
            resolved.add((named.number, port.protocol))
    return resolved


def documented(table: FlowTable, cluster: Cluster, source: Pod | External, destination: Pod, port: tuple[int, str]) -> bool:
    return any(
        destination in pods_of(cluster, flow.to)
        and source_documented(flow.source, source, cluster)
        and port in flow_ports(flow, destination)
        for flow in table.flows
    )


def source_pods(flow: Flow, cluster: Cluster, table: FlowTable) -> list[Pod | External]:
    """The senders a flow documents. A pod whose own egress is limited (table.egress) sends only its
    own flows: it stands in for none of a broader source (e.g. the API server at any address)."""
    limited = [limit.workload for limit in table.egress if not (isinstance(flow.source, Pods) and flow.source.workload == limit.workload)]
    return [
        s for s in sources(cluster)
        if source_documented(flow.source, s, cluster)
        and not (isinstance(s, Pod) and any(s in pods_of(cluster, w) for w in limited))
    ]


# --- Evaluator semantics (the Kubernetes rules the proofs rest on) ---------------------------------


def _policy(namespace: str, pod_selector: dict, ingress: list | None = None, types: list | None = None) -> dict:
    spec: dict[str, Any] = {"podSelector": pod_selector}
    if ingress is not None:
        spec["ingress"] = ingress
    if types is not None:
        spec["policyTypes"] = types
    return {"kind": "NetworkPolicy", "metadata": {"name": "p", "namespace": namespace}, "spec": spec}


DB = Pod("db", "data", {"app": "db"}, (ContainerPort(5432, "pg"), ContainerPort(53, "dns", "UDP")))
WEB_SAME_NS = Pod("web", "data", {"app": "web"})
WEB_OTHER_NS = Pod("web2", "front", {"app": "web"})


def _tiny(*policies: dict) -> Cluster:
    return Cluster({"data": {"team": "data"}, "front": {"team": "front"}}, [DB, WEB_SAME_NS, WEB_OTHER_NS], list(policies))


def test_evaluator_a_pod_no_policy_selects_accepts_everything():
    cluster = _tiny(_policy("data", {"matchLabels": {"app": "other"}}, []))
    assert cluster.allowed(WEB_OTHER_NS, DB, 5432)


def test_evaluator_pod_selector_alone_means_the_policys_namespace():
    cluster = _tiny(_policy("data", {"matchLabels": {"app": "db"}}, [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]))
    assert cluster.allowed(WEB_SAME_NS, DB, 5432)
    assert not cluster.allowed(WEB_OTHER_NS, DB, 5432)


def test_evaluator_both_selectors_in_one_peer_are_and_in_two_peers_or():
    both = {"namespaceSelector": {"matchLabels": {"team": "front"}}, "podSelector": {"matchLabels": {"app": "db"}}}
    assert not _tiny(_policy("data", {}, [{"from": [both]}])).allowed(WEB_OTHER_NS, DB, 5432)
    either = [{"namespaceSelector": {"matchLabels": {"team": "front"}}}, {"podSelector": {"matchLabels": {"app": "db"}}}]
    assert _tiny(_policy("data", {}, [{"from": either}])).allowed(WEB_OTHER_NS, DB, 5432)


def test_evaluator_namespace_selector_sees_the_metadata_name_label():
    peer = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "front"}}}
    cluster = _tiny(_policy("data", {}, [{"from": [peer]}]))
    assert cluster.allowed(WEB_OTHER_NS, DB, 5432) and not cluster.allowed(WEB_SAME_NS, DB, 5432)


def test_evaluator_named_ports_resolve_on_the_destination_and_protocol_defaults_to_tcp():
    cluster = _tiny(_policy("data", {}, [{"ports": [{"port": "pg"}, {"port": 53}]}]))
    assert cluster.allowed(WEB_SAME_NS, DB, 5432)
    assert not cluster.allowed(WEB_SAME_NS, DB, 5433)
    assert cluster.allowed(WEB_SAME_NS, DB, 53, "TCP") and not cluster.allowed(WEB_SAME_NS, DB, 53, "UDP")


def test_evaluator_ip_block_honours_except_and_never_matches_by_labels():
    block = {"ipBlock": {"cidr": "172.18.0.0/16", "except": ["172.18.0.0/24"]}}
    cluster = _tiny(_policy("data", {}, [{"from": [block]}]))
    assert cluster.allowed(External("a", "172.18.1.5"), DB, 5432)
    assert not cluster.allowed(External("b", "172.18.0.2"), DB, 5432)
    assert not cluster.allowed(WEB_SAME_NS, DB, 5432)


def test_evaluator_rules_without_from_or_ports_match_everything_and_policies_add_up():
    cluster = _tiny(_policy("data", {}, [{"ports": [{"port": 5432}]}]), _policy("data", {}, [{"from": [{"podSelector": {}}]}]))
    assert cluster.allowed(BROWSER, DB, 5432)
    assert cluster.allowed(WEB_SAME_NS, DB, 9999) and not cluster.allowed(WEB_OTHER_NS, DB, 9999)


def test_evaluator_an_egress_only_policy_does_not_isolate_ingress_and_empty_ingress_denies():
    assert _tiny(_policy("data", {}, None, ["Egress"])).allowed(WEB_OTHER_NS, DB, 5432)
    assert not _tiny(_policy("data", {}, None, ["Ingress"])).allowed(WEB_SAME_NS, DB, 5432)


def test_evaluator_needs_the_sources_egress_too():
    egress = {"kind": "NetworkPolicy", "metadata": {"name": "e", "namespace": "data"},
              "spec": {"podSelector": {"matchLabels": {"app": "web"}}, "egress": [{"ports": [{"port": 80}]}]}}  # fmt: skip
    assert not _tiny(egress).allowed(WEB_SAME_NS, DB, 5432)
    assert _tiny(egress).allowed(WEB_OTHER_NS, DB, 5432)


# --- Every documented flow is allowed --------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_documented_flow_is_allowed_between_real_pods_on_ports_they_listen_on(rendered, tables, stack):
    objects, table = rendered[stack], tables[stack]
    cluster = model(objects)
    svcs = services(objects)
    for flow in table.flows:
        senders, receivers = source_pods(flow, cluster, table), pods_of(cluster, flow.to)
        assert senders and receivers, f"{flow.source.title} -> {flow.to.title}: no pod on one side"
        for receiver in receivers:
            ports = flow_ports(flow, receiver)
            assert len(ports) == len(flow.ports), f"{flow.to.title}: a named port of {flow.ports} is not declared"
            assert ports <= known_ports(cluster, svcs, receiver), f"{flow.to.title} does not listen on {ports}"
            for sender in senders:
                for port in ports:
                    assert cluster.allowed(sender, receiver, *port), (sender.name, receiver.name, port, flow.why)


@pytest.mark.parametrize("stack", STACKS)
def test_prometheus_can_scrape_every_service_monitor_endpoint_and_probe_of_the_platform(rendered, stack):
    objects = rendered[stack]
    cluster, svcs, owned = model(objects), services(objects), platform_namespaces(objects)
    prometheus = prometheus_pod(cluster)
    scraped = 0
    for monitor in (o for o in objects if o.get("kind") == "ServiceMonitor"):
        spec, namespace = monitor["spec"], monitor["metadata"]["namespace"]
        selector_ns = spec.get("namespaceSelector") or {}
        allowed_ns = None if selector_ns.get("any") else set(selector_ns.get("matchNames") or [namespace])
        for service in svcs:
            svc_ns = service["metadata"]["namespace"]
            if svc_ns not in owned or (allowed_ns is not None and svc_ns not in allowed_ns):
                continue
            if not selector_matches(spec.get("selector"), service["metadata"].get("labels") or {}):
                continue
            for endpoint in spec["endpoints"]:
                for pod in service_pods(cluster, service):
                    port = target_port(service, endpoint["port"], pod)
                    assert port, (monitor["metadata"]["name"], endpoint["port"], pod.name)
                    assert cluster.allowed(prometheus, pod, *port), (monitor["metadata"]["name"], pod.name, port)
                    scraped += 1
    for probe in (o for o in objects if o.get("kind") == "Probe"):
        host, _, number = probe["spec"]["prober"]["url"].partition(":")
        name, namespace = host.split(".")[:2]
        (service,) = [s for s in svcs if s["metadata"]["name"] == name and s["metadata"]["namespace"] == namespace]
        for pod in service_pods(cluster, service):
            assert cluster.allowed(prometheus, pod, *target_port(service, int(number), pod)), probe["metadata"]["name"]
            scraped += 1
    assert scraped >= 15


@pytest.mark.parametrize("stack", STACKS)
def test_the_api_server_reaches_every_admission_webhook_of_the_render(rendered, stack):
    objects = rendered[stack]
    cluster, svcs = model(objects), services(objects)
    hooks = [
        hook["clientConfig"]["service"]
        for config in objects
        if config.get("kind") in ("ValidatingWebhookConfiguration", "MutatingWebhookConfiguration")
        for hook in config.get("webhooks") or []
        if "service" in hook.get("clientConfig", {})
    ]
    assert hooks
    for ref in hooks:
        (service,) = [s for s in svcs if (s["metadata"]["name"], s["metadata"]["namespace"]) == (ref["name"], ref["namespace"])]
        for pod in service_pods(cluster, service):
            assert cluster.allowed(API_SERVER, pod, *target_port(service, ref.get("port", 443), pod)), ref


@pytest.mark.parametrize("stack", STACKS)
def test_the_ingress_controller_reaches_every_ingress_backend(rendered, stack):
    objects = rendered[stack]
    cluster, svcs = model(objects), services(objects)
    ingresses = [o for o in objects if o.get("kind") == "Ingress"]
    assert ingresses
    for ingress in ingresses:
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                backend = path["backend"]["service"]
                (service,) = [s for s in svcs if s["metadata"]["name"] == backend["name"]]
                port = backend["port"].get("number", backend["port"].get("name"))
                for pod in service_pods(cluster, service):
                    assert cluster.allowed(INGRESS_CONTROLLER, pod, *target_port(service, port, pod)), pod.name


# --- Nothing else is -------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_connection_the_policies_allow_into_the_platform_is_a_documented_flow(rendered, tables, stack):
    objects, table = rendered[stack], tables[stack]
    cluster, svcs = model(objects), services(objects)
    undocumented = []
    for destination in platform_pods(cluster, objects):
        for port in known_ports(cluster, svcs, destination) | {UNUSED_PORT}:
            for source in sources(cluster):
                if cluster.allowed(source, destination, *port) and not documented(table, cluster, source, destination, port):
                    undocumented.append((source.name, destination.name, port))
    assert undocumented == []


@pytest.mark.parametrize("stack", STACKS)
def test_an_app_pod_cannot_reach_elasticsearch_transport_or_http(rendered, tables, stack):
    cluster = model(rendered[stack])
    es = the_pod(cluster, tables[stack], "elasticsearch")
    assert not cluster.allowed(APP, es, 9300)
    assert not cluster.allowed(APP, es, 9200)
    grafana = the_pod(cluster, tables[stack], "grafana")
    assert not cluster.allowed(grafana, es, 9300), "only Elasticsearch nodes speak transport"


@pytest.mark.parametrize("stack", STACKS)
def test_nothing_reaches_influxdb_rpc_port(rendered, tables, stack):
    cluster = model(rendered[stack])
    influx = the_pod(cluster, tables[stack], "influxdb")
    rpc = influx.port_named("rpc")
    assert rpc is not None and rpc.number == 8088, "the chart exposes the backup/restore RPC port"
    assert [s.name for s in sources(cluster) if cluster.allowed(s, influx, rpc.number)] == []


@pytest.mark.parametrize("stack", STACKS)
def test_grafana_is_reached_only_through_the_ingress_namespace_and_by_prometheus(rendered, tables, stack):
    cluster = model(rendered[stack])
    grafana = the_pod(cluster, tables[stack], "grafana")
    port = grafana.port_named("grafana").number
    allowed = {s.name for s in sources(cluster) if cluster.allowed(s, grafana, port)}
    assert allowed == {INGRESS_CONTROLLER.name, prometheus_pod(cluster).name}


@pytest.mark.parametrize("stack", STACKS)
def test_an_app_pod_cannot_reach_alertmanager_even_wearing_prometheus_labels(rendered, tables, stack):
    cluster = model(rendered[stack])
    alertmanager = the_pod(cluster, tables[stack], "alertmanager")
    impostor = next(p for p in cluster.pods if p.name == f"impostor/{prometheus_pod(cluster).name}")
    for source in (APP, impostor):
        assert not cluster.allowed(source, alertmanager, 9093)
        assert not cluster.allowed(source, alertmanager, 9094, "UDP")
    assert cluster.allowed(prometheus_pod(cluster), alertmanager, 9093)


@pytest.mark.parametrize("stack", STACKS)
def test_an_app_pod_cannot_reach_the_thanos_store_gateway_grpc(rendered, tables, stack):
    cluster = model(rendered[stack])
    store = the_pod(cluster, tables[stack], "thanos-store-gateway")
    grpc = store.port_named("grpc").number
    assert not cluster.allowed(APP, store, grpc)
    assert {s.name for s in sources(cluster) if cluster.allowed(s, store, grpc)} == {
        p.name for p in pods_of(cluster, workload(tables[stack], "thanos-query"))
    }


# --- Shape of the policies ----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_platform_namespace_has_a_default_deny_of_ingress(rendered, tables, stack):
    objects = rendered[stack]
    owned = platform_namespaces(objects)
    assert set(tables[stack].namespaces) == owned
    cluster = model(objects)
    assert {p.namespace for p in platform_pods(cluster, objects)} <= owned
    for namespace in owned:
        (deny,) = [p for p in policies_of(objects) if p["metadata"] == {**p["metadata"], "name": DEFAULT_DENY_NAME, "namespace": namespace}]
        assert deny["spec"]["podSelector"] in ({}, {"matchLabels": {}}) and not deny["spec"].get("ingress")
        assert deny["spec"]["policyTypes"] == ["Ingress"]


@pytest.mark.parametrize("stack", STACKS)
def test_every_platform_pod_has_an_allow_policy_or_is_documented_as_accepting_nothing(rendered, tables, stack):
    objects, table = rendered[stack], tables[stack]
    cluster = model(objects)
    quiet = {pod for q in table.quiet for pod in pods_of(cluster, q.workload)}
    for pod in platform_pods(cluster, objects):
        allowing = [p["metadata"]["name"] for p in cluster.selecting(pod, "Ingress") if p["metadata"]["name"] != DEFAULT_DENY_NAME]
        assert bool(allowing) != (pod in quiet), (pod.name, allowing)


@pytest.mark.parametrize("stack", STACKS)
def test_each_component_has_exactly_one_allow_policy(rendered, stack):
    cluster = model(rendered[stack])
    for pod in platform_pods(cluster, rendered[stack]):
        allowing = [p["metadata"]["name"] for p in cluster.selecting(pod, "Ingress") if p["metadata"]["name"] != DEFAULT_DENY_NAME]
        assert len(allowing) <= 1, (pod.name, allowing)


# --- Settings -----------------------------------------------------------------------------------------


def _policies(run) -> list[dict[str, Any]]:
    return [r.plain_inputs for r in run.of_type(NETWORK_POLICY)]


def test_api_server_cidrs_restrict_the_webhook_to_the_api_server(rendered):
    run = run_stack("dev", {"networkPolicy.apiServerCidrs": [f"{API_SERVER.ip}/32"]})
    cluster = model(rendered["dev"], _policies(run))
    (operator,) = [p for p in cluster.pods if p.labels.get("app.kubernetes.io/name") == "elastic-operator" and not p.name.startswith("impostor")]
    assert cluster.allowed(API_SERVER, operator, 9443)
    assert not cluster.allowed(APP, operator, 9443)
    assert not cluster.allowed(BROWSER, operator, 9443)


def test_ingress_namespace_selector_moves_grafana_access_to_that_namespace(rendered):
    run = run_stack("dev", {"networkPolicy.ingressNamespaceSelector": {"kubernetes.io/metadata.name": "traefik"}})
    cluster = model(rendered["dev"], _policies(run))
    cluster.add_namespace("traefik")
    traefik = Pod("ingress/traefik", "traefik", {"app.kubernetes.io/name": "traefik"})
    cluster.pods.append(traefik)
    (grafana,) = [p for p in cluster.pods if p.name == "deployment/grafana"]
    assert cluster.allowed(traefik, grafana, 3000)
    assert not cluster.allowed(INGRESS_CONTROLLER, grafana, 3000)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "must have at least one label; an empty selector matches every namespace"),
        ({"bad key!": "x"}, "'bad key!' is not a label key (e.g. kubernetes.io/metadata.name)"),
        ({"team": "-x"}, "'-x' is not a label value (63 characters of [A-Za-z0-9_.-], alphanumeric at both ends)"),
    ],
)
def test_bad_ingress_namespace_selector_is_one_line_naming_the_key(value, message):
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {"networkPolicy.ingressNamespaceSelector": value})
    assert str(raised.value) == f"{KEY}:networkPolicy.ingressNamespaceSelector: {message}"


def test_bad_api_server_cidr_is_one_line_naming_the_key():
    with pytest.raises(ConfigError) as raised:
        run_stack("dev", {"networkPolicy.apiServerCidrs": ["10.0.0.300/32"]})
    assert str(raised.value) == f"{KEY}:networkPolicy.apiServerCidrs: '10.0.0.300/32' is not a CIDR (e.g. 10.0.0.10/32)"


# --- Docs ---------------------------------------------------------------------------------------------

DOC = (ROOT / "docs" / "network-policies.md").read_text()


def test_docs_flow_table_is_the_builders_table(tables):
    # prod deploys every optional exporter: its table is the full one; dev's is a subset.
    expected = flow_table_markdown(tables["prod"])
    assert expected in DOC, "docs/network-policies.md is out of date; its table should read:\n" + expected
    assert set(flow_table_markdown(tables["dev"]).splitlines()) <= set(expected.splitlines())


def test_docs_list_the_pods_that_accept_nothing(tables):
    assert quiet_table_markdown(tables["prod"]) in DOC


def test_docs_name_the_settings_and_their_defaults():
    for text in ("networkPolicy.ingressNamespaceSelector", "networkPolicy.apiServerCidrs", f"kubernetes.io/metadata.name: {INGRESS_NAMESPACE}"):
        assert text in DOC, text

