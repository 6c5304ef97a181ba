"""Every component that calls the Kubernetes API is allowed to make the calls its rendered
configuration makes, no token is mounted without a reason, and the RBAC the program writes grants
nothing beyond that.

What each workload needs is derived from the rendered objects (not from the values that produced
them), each rule from the upstream source of the component that makes the calls:
- the OpenTelemetry Collector: from the processors its config's pipelines use (k8sattributes);
- Fluent Bit: from the filters and inputs of its pipeline (kubernetes filter, kubernetes_events);
- Prometheus: from the monitors it selects (Kubernetes service discovery) and their scrape auth;
- kube-state-metrics: from its `--resources` (one list/watch per collected resource);
- the operators: from the custom resources of the render they reconcile.
The requests are then evaluated against every rendered Role/ClusterRole/binding
(tests/rbac_evaluator.py, written from the Kubernetes RBAC rules)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import pytest
import yaml
from tests.network_policy_evaluator import (
    Cluster,
    Pod,
    namespaces_of,
    operator_pods,
    policies_of,
    workload_pods,
)
from tests.pod_security_evaluator import all_pods
from tests.rbac_evaluator import WILDCARD, Account, Rbac, Request, mounts_token

from monitoring.otel import collector_api_rules

STACKS = ("dev", "prod")
READ = ("get", "list", "watch")


@pytest.fixture(scope="module")
def rendered(rendered_objects) -> dict[str, list[dict[str, Any]]]:
    return rendered_objects


@dataclass(frozen=True)
class Need:
    account: Account
    request: Request
    why: str

    def __str__(self) -> str:
        return f"{self.account}: {self.request} ({self.why})"


def _cluster_read(account: Account, group: str, resources: Iterable[str], why: str, verbs=READ) -> list[Need]:
    return [Need(account, Request(verb, group, resource), why) for resource in resources for verb in verbs]


# --- who runs as which ServiceAccount -----------------------------------------------------------


def _accounts(objects) -> dict[str, Account]:
    """Owner id (Kind/namespace/name) -> the ServiceAccount its pods run as."""
    return {p.owner: Account(p.namespace, p.spec.get("serviceAccountName") or "default") for p in all_pods(objects)}


def _pod_template(obj: Mapping[str, Any]) -> Mapping[str, Any] | None:
    if obj.get("kind") in ("Deployment", "StatefulSet", "DaemonSet"):
        return obj["spec"]["template"]["spec"]
    return None


def _owner(obj: Mapping[str, Any]) -> str:
    meta = obj["metadata"]
    return f"{obj['kind']}/{meta.get('namespace')}/{meta['name']}"


def _mounted_documents(obj: Mapping[str, Any], config_maps: Mapping[tuple[str, str], Mapping[str, Any]]) -> list[Any]:
    """Every ConfigMap value the workload mounts, parsed as YAML (what is not YAML is skipped)."""
    spec = _pod_template(obj)
    docs = []
    for volume in (spec or {}).get("volumes") or []:
        name = (volume.get("configMap") or {}).get("name")
        cm = config_maps.get((obj["metadata"].get("namespace"), name))
        for value in ((cm or {}).get("data") or {}).values():
            try:
                docs.append(yaml.safe_load(value))
            except yaml.YAMLError:
                continue
    return docs


# --- what each kind of API client needs ---------------------------------------------------------


def collector_needs(account: Account, config: Mapping[str, Any]) -> list[Need]:
    """k8sattributes (any name of it, in any pipeline): get/watch/list pods and namespaces across the
    cluster; replicasets for k8s.deployment.name/uid; nodes for k8s.node.uid or node labels/annotations.
    Ref: open-telemetry/opentelemetry-collector-contrib processor/k8sattributesprocessor/README.md
    "Role-based access control" (the chart renames k8sattributes to k8s_attributes)."""
    used = {p for pipeline in (config.get("service") or {}).get("pipelines", {}).values() for p in pipeline.get("processors", [])}
    needs = []
    for name in used:
        if name.split("/")[0] not in ("k8sattributes", "k8s_attributes"):
            continue
        processor = config["processors"][name] or {}
        if processor.get("passthrough"):
            continue
        extract = processor.get("extract") or {}
        metadata = set(extract.get("metadata") or ())
        why = f"collector processor {name}"
        needs += _cluster_read(account, "", ("pods", "namespaces"), why)
        if metadata & {"k8s.deployment.name", "k8s.deployment.uid"}:
            needs += _cluster_read(account, "apps", ("replicasets",), f"{why}: k8s.deployment.name")
        if "k8s.node.uid" in metadata or any(r.get("from") == "node" for k in ("labels", "annotations") for r in extract.get(k) or []):
            needs += _cluster_read(account, "", ("nodes",), f"{why}: node metadata")
    return needs


def _on(value: Any) -> bool:
    return str(value).lower() in ("on", "true", "yes", "1")


def fluent_bit_needs(account: Account, config: Mapping[str, Any]) -> list[Need]:
    """kubernetes filter: GET /api/v1/namespaces/<ns>/pods/<pod> for any pod, GET
    /api/v1/namespaces/<ns> with namespace_labels/namespace_annotations, the kubelet's /pods (nodes/proxy)
    with use_kubelet; kubernetes_events input: list then watch /api/v1/events.
    Ref: fluent/fluent-bit@v5.1.1 plugins/filter_kubernetes/kube_meta.h (FLB_KUBE_API_POD_FMT,
    FLB_KUBE_API_NAMESPACE_FMT, FLB_KUBELET_PODS), plugins/in_kubernetes_events/kubernetes_events_conf.h
    (K8S_EVENTS_KUBE_API_URI), kubernetes_events.c (list, then ?watch=1)."""
    pipeline = config.get("pipeline") or {}
    needs = []
    for f in pipeline.get("filters") or []:
        if f.get("name") != "kubernetes":
            continue
        needs.append(Need(account, Request("get", "", "pods"), "fluent-bit kubernetes filter"))
        if _on(f.get("namespace_labels", "off")) or _on(f.get("namespace_annotations", "off")):
            needs.append(Need(account, Request("get", "", "namespaces"), "fluent-bit kubernetes filter: namespace metadata"))
        if _on(f.get("use_kubelet", "off")):
            needs.append(Need(account, Request("get", "", "nodes/proxy"), "fluent-bit kubernetes filter: use_kubelet"))
    for i in pipeline.get("inputs") or []:
        if i.get("name") == "kubernetes_events":
            needs += _cluster_read(account, "", ("events",), "fluent-bit kubernetes_events input", verbs=("list", "watch"))
    return needs


def prometheus_needs(prometheus: Mapping[str, Any], objects) -> list[Need]:
    """Kubernetes service discovery for the monitors it selects (every namespace: the render's
    selectors are empty): ServiceMonitors by the `endpoints` role (or `endpointslice`), which also
    watches services and pods; PodMonitors by the `pod` role. Scrapes that send the pod's token: the
    kubelet authorizes /metrics* as nodes/metrics, the API server /metrics as a non-resource URL.
    Ref: prometheus-operator@v0.93.0 Documentation/api-reference (Prometheus.spec.serviceDiscoveryRole:
    unset means Endpoints); prometheus/prometheus discovery/kubernetes (endpoints role informers on
    endpoints, services, pods); https://kubernetes.io/docs/reference/access-authn-authz/kubelet-authn-authz/
    (/metrics/* -> resource nodes, subresource metrics)."""
    spec = prometheus["spec"]
    account = Account(prometheus["metadata"]["namespace"], spec.get("serviceAccountName") or "default")
    kinds = {o.get("kind") for o in objects}
    needs = []
    if "ServiceMonitor" in kinds:
        role = spec.get("serviceDiscoveryRole") or "Endpoints"
        needs += _cluster_read(account, "", ("services", "pods"), "ServiceMonitor discovery")
        if role == "EndpointSlice":
            needs += _cluster_read(account, "discovery.k8s.io", ("endpointslices",), "ServiceMonitor discovery (EndpointSlice)")
        else:
            needs += _cluster_read(account, "", ("endpoints",), "ServiceMonitor discovery (Endpoints)")
    if "PodMonitor" in kinds:
        needs += _cluster_read(account, "", ("pods",), "PodMonitor discovery")
    for monitor in (o for o in objects if o.get("kind") == "ServiceMonitor"):
        selector = ((monitor["spec"].get("selector") or {}).get("matchLabels")) or {}
        for endpoint in monitor["spec"].get("endpoints") or []:
            if not (endpoint.get("bearerTokenFile") or endpoint.get("authorization")):
                continue
            path = endpoint.get("path", "/metrics")
            if selector.get("k8s-app") == "kubelet":
                needs.append(Need(account, Request("get", "", "nodes/metrics"), f"scrape of the kubelet {path}"))
            elif selector.get("component") == "apiserver":
                needs.append(Need(account, Request("get", url=path), "scrape of the API server"))
    return needs


# kube-state-metrics resource -> API group. Ref: kubernetes/kube-state-metrics@v2.20.0
# internal/store/builder.go (one list/watch store per resource, by the client of its group).
KSM_GROUPS = {
    "certificatesigningrequests": "certificates.k8s.io", "configmaps": "", "cronjobs": "batch",
    "daemonsets": "apps", "deployments": "apps", "endpoints": "", "endpointslices": "discovery.k8s.io",
    "horizontalpodautoscalers": "autoscaling", "ingressclasses": "networking.k8s.io", "ingresses": "networking.k8s.io",
    "jobs": "batch", "leases": "coordination.k8s.io", "limitranges": "",
    "mutatingwebhookconfigurations": "admissionregistration.k8s.io", "namespaces": "",
    "networkpolicies": "networking.k8s.io", "nodes": "", "persistentvolumeclaims": "", "persistentvolumes": "",
    "poddisruptionbudgets": "policy", "pods": "", "replicasets": "apps", "replicationcontrollers": "",
    "resourcequotas": "", "secrets": "", "serviceaccounts": "", "services": "", "statefulsets": "apps",
    "storageclasses": "storage.k8s.io", "validatingwebhookconfigurations": "admissionregistration.k8s.io",
    "volumeattachments": "storage.k8s.io",
}  # fmt: skip


def kube_state_metrics_needs(account: Account, spec: Mapping[str, Any]) -> list[Need]:
    needs = []
    for container in spec.get("containers") or []:
        for arg in container.get("args") or []:
            if arg.startswith("--resources="):
                for resource in arg.split("=", 1)[1].split(","):
                    assert resource in KSM_GROUPS, f"kube-state-metrics collects {resource}: add its API group to KSM_GROUPS"
                    needs += _cluster_read(account, KSM_GROUPS[resource], (resource,), "kube-state-metrics --resources", ("list", "watch"))
    return needs


# The operators, by the API group they reconcile: the workload running them. Each watches its
# custom resources in every namespace and makes a StatefulSet from each workload resource.
# Ref: prometheus-operator@v0.93.0 pkg/prometheus/server/operator.go, pkg/alertmanager/operator.go
# (informers on the monitoring.coreos.com kinds, StatefulSets created per CR); elastic/cloud-on-k8s
# v3.5.0 pkg/controller/elasticsearch/elasticsearch_controller.go (watches Elasticsearch, owns StatefulSets).
OPERATORS = {
    "monitoring.coreos.com": ("Deployment/monitoring/kps-operator", {"Prometheus", "Alertmanager"}),
    "elasticsearch.k8s.elastic.co": ("StatefulSet/monitoring/elastic-operator", {"Elasticsearch"}),
}


def operator_needs(objects, accounts: Mapping[str, Account]) -> list[Need]:
    plurals = {
        (crd["spec"]["group"], crd["spec"]["names"]["kind"]): crd["spec"]["names"]["plural"]
        for crd in objects
        if crd.get("kind") == "CustomResourceDefinition"
    }
    needs = []
    for obj in objects:
        group = obj.get("apiVersion", "").rpartition("/")[0]
        if group not in OPERATORS or (group, obj["kind"]) not in plurals:
            continue
        owner, workload_kinds = OPERATORS[group]
        account = accounts[owner]
        why = f"operator reconciles {obj['kind']} {obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        needs += _cluster_read(account, group, (plurals[(group, obj["kind"])],), why, ("list", "watch"))
        if obj["kind"] in workload_kinds:
            ns = obj["metadata"]["namespace"]
            needs += [Need(account, Request(verb, "apps", "statefulsets", ns), why) for verb in ("get", "create", "update")]
    return needs


# The Trivy Operator's calls, from its Deployment's env and its ConfigMap trivy-operator-config
# (envFrom). Ref: aquasecurity/trivy-operator@v0.32.0 pkg/operator/operator.go (controllers started
# per OPERATOR_*_ENABLED), pkg/kube/object.go (target workload kinds -> resources),
# pkg/vulnerabilityreport/controller/workload.go (scan Jobs and their Secrets in the operator's
# namespace, pods/log of finished Jobs), pkg/configauditreport/controller (config audit kinds),
# pkg/compliance (ClusterComplianceReport status), main.go (leader election lease, events).
TRIVY_WORKLOADS = {
    "pod": ("", "pods"), "replicaset": ("apps", "replicasets"), "replicationcontroller": ("", "replicationcontrollers"),
    "statefulset": ("apps", "statefulsets"), "daemonset": ("apps", "daemonsets"), "cronjob": ("batch", "cronjobs"),
    "job": ("batch", "jobs"),
}  # fmt: skip
TRIVY_AUDITED = (
    ("", "services"), ("rbac.authorization.k8s.io", "roles"), ("rbac.authorization.k8s.io", "clusterroles"),
    ("networking.k8s.io", "networkpolicies"), ("networking.k8s.io", "ingresses"), ("", "limitranges"),
    ("", "resourcequotas"), ("", "persistentvolumes"), ("", "persistentvolumeclaims"),
)  # fmt: skip
TRIVY_GROUP = "aquasecurity.github.io"


def trivy_operator_needs(account: Account, obj: Mapping[str, Any], config_maps) -> list[Need]:
    ns = obj["metadata"]["namespace"]
    (container,) = obj["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value", "") for e in container.get("env") or []}
    for source in container.get("envFrom") or []:
        if ref := source.get("configMapRef"):
            env |= (config_maps.get((ns, ref["name"])) or {}).get("data") or {}
    on = lambda key: env.get(key) == "true"  # noqa: E731
    needs = [Need(account, Request(verb, "coordination.k8s.io", "leases", ns), "leader election") for verb in ("get", "create", "update")]
    needs.append(Need(account, Request("create", "", "events", ns), "leader election events"))
    if on("OPERATOR_VULNERABILITY_SCANNER_ENABLED") or on("OPERATOR_EXPOSED_SECRET_SCANNER_ENABLED"):
        why = "vulnerability / exposed secret scans of the target workloads"
        for kind in env["OPERATOR_TARGET_WORKLOADS"].split(","):
            group, resource = TRIVY_WORKLOADS[kind]
            needs += _cluster_read(account, group, (resource,), why)
        needs += [Need(account, Request(verb, "batch", "jobs", ns), "scan Jobs in its namespace") for verb in ("create", "delete", "get", "list", "watch")]
        needs += [Need(account, Request("get", "", "pods/log", ns), "reads a finished scan Job's report")]
        needs += [Need(account, Request(verb, "", "secrets", ns), "scan Jobs' registry credentials") for verb in ("create", "get", "delete")]
        for report in ("vulnerabilityreports", "exposedsecretreports"):
            needs += _cluster_read(account, TRIVY_GROUP, (report,), why) + [Need(account, Request("create", TRIVY_GROUP, report), why)]
    if on("OPERATOR_CONFIG_AUDIT_SCANNER_ENABLED"):
        why = "config audit of workloads and the supported kinds"
        for group, resource in TRIVY_AUDITED:
            needs += _cluster_read(account, group, (resource,), why)
        for report in ("configauditreports", "clusterconfigauditreports"):
            needs += _cluster_read(account, TRIVY_GROUP, (report,), why) + [Need(account, Request("create", TRIVY_GROUP, report), why)]
    if on("OPERATOR_RBAC_ASSESSMENT_SCANNER_ENABLED"):
        why = "RBAC assessment of Roles and ClusterRoles"
        for report in ("rbacassessmentreports", "clusterrbacassessmentreports"):
            needs += _cluster_read(account, TRIVY_GROUP, (report,), why) + [Need(account, Request("create", TRIVY_GROUP, report), why)]
    if on("OPERATOR_CLUSTER_COMPLIANCE_ENABLED"):
        why = "compliance reports from the other reports"
        needs += _cluster_read(account, TRIVY_GROUP, ("clustercompliancereports",), why)
        needs.append(Need(account, Request("update", TRIVY_GROUP, "clustercompliancereports/status"), why))
    return needs


# OpenCost's cluster cache: a list/watch of every kind it allocates or prices, cluster-wide, and of
# the ConfigMaps of its own namespace (its pricing ConfigMap, PRICING_CONFIGMAP_NAME).
# Ref: opencost/opencost pkg/clustercache/clustercache.go (NewKubernetesClusterCache: one caching
# watcher per kind; configmaps in the install namespace), pkg/cloud/provider/provider.go ConfigWatcherFor.
OPENCOST_WATCHED = (
    ("", ("namespaces", "nodes", "pods", "services", "persistentvolumes", "persistentvolumeclaims", "replicationcontrollers")),
    ("apps", ("daemonsets", "deployments", "statefulsets", "replicasets")),
    ("storage.k8s.io", ("storageclasses",)),
    ("batch", ("jobs",)),
    ("policy", ("poddisruptionbudgets",)),
)  # fmt: skip


def opencost_needs(account: Account, obj: Mapping[str, Any]) -> list[Need]:
    why = "cluster cache of what it allocates and prices"
    needs = [n for group, resources in OPENCOST_WATCHED for n in _cluster_read(account, group, resources, why, verbs=("list", "watch"))]
    ns = obj["metadata"]["namespace"]
    needs += [Need(account, Request(verb, "", "configmaps", ns), "its pricing ConfigMap") for verb in ("list", "watch")]
    return needs


# The OpenTelemetry Operator as the platform uses it: the pod-injection webhook and the
# Instrumentation it reads. Its cached client (controller-runtime) lists and watches every kind it
# gets: the pod's namespace (inject annotations there too), the Instrumentation named by the
# annotation, and the ReplicaSet/Job owning the pod (service.name from the Deployment or CronJob).
# Ref: open-telemetry/opentelemetry-operator@v0.158.0 internal/webhook/podmutation/webhookhandler.go
# (namespace Get), internal/instrumentation/podmutator.go (Instrumentation Get/List),
# internal/instrumentation/sdk.go createResourceMap (ReplicaSet, Job Get), main.go (leader election).
OTEL_OPERATOR_WATCHED = (
    ("opentelemetry.io", ("instrumentations",)),
    ("", ("namespaces",)),
    ("apps", ("replicasets",)),
    ("batch", ("jobs",)),
)  # fmt: skip


def otel_operator_needs(account: Account, obj: Mapping[str, Any]) -> list[Need]:
    why = "pod injection: the namespace, the Instrumentation and the pod's owner"
    needs = [n for group, resources in OTEL_OPERATOR_WATCHED for n in _cluster_read(account, group, resources, why, verbs=("list", "watch"))]
    ns = obj["metadata"]["namespace"]
    needs += [Need(account, Request(verb, "coordination.k8s.io", "leases", ns), "leader election") for verb in ("get", "create", "update")]
    needs.append(Need(account, Request("create", "", "events", ns), "injection events"))
    return needs


def api_needs(objects) -> list[Need]:
    """Every API request the render's workloads are configured to make."""
    objects = list(objects)
    accounts = _accounts(objects)
    config_maps = {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects if o.get("kind") == "ConfigMap"}
    needs: list[Need] = []
    for obj in objects:
        spec = _pod_template(obj)
        if spec is None:
            continue
        account = accounts[_owner(obj)]
        for doc in _mounted_documents(obj, config_maps):
            if not isinstance(doc, dict):
                continue
            if isinstance(doc.get("processors"), dict) and "pipelines" in (doc.get("service") or {}):
                needs += collector_needs(account, doc)
            if isinstance(doc.get("pipeline"), dict):
                needs += fluent_bit_needs(account, doc)
        if any(c.get("name") == "kube-state-metrics" for c in spec.get("containers") or []):
            needs += kube_state_metrics_needs(account, spec)
        if any(c.get("name") == "trivy-operator" for c in spec.get("containers") or []):
            needs += trivy_operator_needs(account, obj, config_maps)
        if any(c.get("name") == "opencost" for c in spec.get("containers") or []):
            needs += opencost_needs(account, obj)
        if any("/opentelemetry-operator:" in (c.get("image") or "") for c in spec.get("containers") or []):
            needs += otel_operator_needs(account, obj)
    for prometheus in (o for o in objects if o.get("kind") == "Prometheus"):
        needs += prometheus_needs(prometheus, objects)
    return needs + operator_needs(objects, accounts)


def token_accounts(objects) -> dict[Account, list[str]]:
    """ServiceAccount -> the owners of the pods that mount its token."""
    objects = list(objects)
    sas = {(o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in objects if o.get("kind") == "ServiceAccount"}
    out: dict[Account, list[str]] = {}
    for pod in all_pods(objects):
        account = Account(pod.namespace, pod.spec.get("serviceAccountName") or "default")
        if mounts_token(pod.spec, sas.get((account.namespace, account.name))):
            out.setdefault(account, []).append(pod.owner)
    return out


def missing(objects) -> list[str]:
    rbac = Rbac(objects)
    return sorted({str(need) for need in api_needs(objects) if not rbac.allows(need.account, need.request)})


# --- the evaluator's semantics --------------------------------------------------------------------

SA = Account("team", "reader")
POD_READER = {"kind": "ClusterRole", "metadata": {"name": "pod-reader"}, "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}


def _binding(kind: str, role_kind: str, role: str, namespace: str | None = None, subject: dict | None = None) -> dict:
    meta = {"name": "b"} | ({"namespace": namespace} if namespace else {})
    return {
        "kind": kind, "metadata": meta, "roleRef": {"kind": role_kind, "name": role},
        "subjects": [subject or {"kind": "ServiceAccount", "name": SA.name, "namespace": SA.namespace}],
    }  # fmt: skip


def test_evaluator_a_rolebinding_to_a_clusterrole_grants_only_in_its_namespace():
    rbac = Rbac([POD_READER, _binding("RoleBinding", "ClusterRole", "pod-reader", "team")])
    assert rbac.allows(SA, Request("list", "", "pods", "team"))
    assert not rbac.allows(SA, Request("list", "", "pods", "other"))
    assert not rbac.allows(SA, Request("list", "", "pods"))  # across all namespaces
    assert not rbac.allows(SA, Request("watch", "", "pods", "team"))


def test_evaluator_a_clusterrolebinding_grants_everywhere_and_groups_match_service_accounts():
    group = {"kind": "Group", "name": "system:serviceaccounts:team"}
    rbac = Rbac([POD_READER, _binding("ClusterRoleBinding", "ClusterRole", "pod-reader", subject=group)])
    assert rbac.allows(SA, Request("list", "", "pods"))
    assert not rbac.allows(Account("other", "reader"), Request("list", "", "pods"))


def test_evaluator_wildcards_subresources_resource_names_and_urls():
    role = {"kind": "ClusterRole", "metadata": {"name": "r"}, "rules": [
        {"apiGroups": ["*"], "resources": ["*/status"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["kube-system"], "verbs": ["get"]},
        {"nonResourceURLs": ["/metrics", "/debug/*"], "verbs": ["get"]},
    ]}  # fmt: skip
    rbac = Rbac([role, _binding("ClusterRoleBinding", "ClusterRole", "r")])
    assert rbac.allows(SA, Request("get", "apps", "deployments/status"))
    assert not rbac.allows(SA, Request("get", "apps", "deployments"))
    assert rbac.allows(SA, Request("get", "", "namespaces", name="kube-system"))
    assert not rbac.allows(SA, Request("get", "", "namespaces", name="default"))
    assert rbac.allows(SA, Request("get", url="/debug/pprof"))
    assert not rbac.allows(SA, Request("get", url="/metrics/cadvisor"))


def test_evaluator_aggregated_clusterroles_collect_the_matching_rules():
    aggregate = {"kind": "ClusterRole", "metadata": {"name": "agg"}, "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"x": "y"}}]}}
    part = copy.deepcopy(POD_READER) | {"metadata": {"name": "part", "labels": {"x": "y"}}}
    rbac = Rbac([aggregate, part, _binding("ClusterRoleBinding", "ClusterRole", "agg")])
    assert rbac.allows(SA, Request("get", "", "pods"))


def test_evaluator_the_pods_automount_setting_wins_over_the_service_accounts():
    assert mounts_token({}, None)
    assert not mounts_token({}, {"automountServiceAccountToken": False})
    assert mounts_token({"automountServiceAccountToken": True}, {"automountServiceAccountToken": False})


# --- the render -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_every_api_client_is_granted_every_call_its_configuration_makes(rendered, stack):
    assert missing(rendered[stack]) == []


@pytest.mark.parametrize("stack", STACKS)
def test_the_needs_are_derived_for_every_kind_of_api_client(rendered, stack):
    """The derivation itself found each client (a config it can no longer parse would pass the test above vacuously)."""
    why = {need.why.split(":")[0].split(" ")[0] for need in api_needs(rendered[stack])}
    assert {"collector", "fluent-bit", "ServiceMonitor", "kube-state-metrics", "operator", "scrape"} <= why
    accounts = {str(need.account) for need in api_needs(rendered[stack]) if need.why.startswith("collector processor")}
    assert accounts == {"monitoring/otel-collector"}


@pytest.mark.parametrize("stack", STACKS)
def test_without_the_collectors_binding_its_k8sattributes_calls_are_refused(rendered, stack):
    objects = [o for o in rendered[stack] if not (o.get("kind") == "ClusterRoleBinding" and o["metadata"]["name"] == "otel-collector")]
    assert any(line.startswith("monitoring/otel-collector: list pods") for line in missing(objects))


@pytest.mark.parametrize("stack", STACKS)
def test_every_service_account_that_mounts_a_token_is_bound_and_needs_it(rendered, stack):
    objects = rendered[stack]
    rbac = Rbac(objects)
    needing = {need.account for need in api_needs(objects)}
    for account, owners in token_accounts(objects).items():
        assert rbac.bindings_of(account), f"{account} mounts a token in {owners} but is bound to nothing"
        assert account in needing, f"{account} mounts a token in {owners} but its configuration makes no API call"


def _rule_grants(rule: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    return {(g, r, v) for g in rule.get("apiGroups") or [] for r in rule.get("resources") or [] for v in rule.get("verbs") or []}


@pytest.mark.parametrize("stack", STACKS)
def test_the_collectors_cluster_role_grants_exactly_what_its_config_needs(rendered, stack):
    objects = rendered[stack]
    (role,) = [o for o in objects if o.get("kind") == "ClusterRole" and o["metadata"]["name"] == "otel-collector"]
    granted = set().union(*(_rule_grants(rule) for rule in role["rules"]))
    needed = {
        (n.request.group, n.request.resource, n.request.verb)
        for n in api_needs(objects)
        if n.account == Account("monitoring", "otel-collector")
    }
    assert not any(WILDCARD in part for grant in granted for part in grant)
    assert granted == needed


# The API server's address as a pod egress destination: host network, so only an ipBlock (or a rule
# with no `to`) matches it. Ports: the `kubernetes` Service's 443 and the usual endpoint port 6443
# (egress is evaluated after the Service's DNAT on most CNIs).
API_SERVER = Pod("kube-apiserver", "kube-system", {}, host_network=True, ip="172.18.0.2")


def _api_client_pods(objects) -> list[Pod]:
    clients = {owner for owners in token_accounts(objects).values() for owner in owners}
    pods = workload_pods(objects) + operator_pods(objects)
    names = {owner.split("/", 1)[0].lower() + "/" + owner.rsplit("/", 1)[-1] for owner in clients}
    return [p for p in pods if p.name in names]


@pytest.mark.parametrize("stack", STACKS)
def test_every_api_client_may_reach_the_api_server(rendered, stack):
    """Egress is open by design (docs/network-policies.md); this fails as soon as a policy restricts
    an API client's egress without allowing networkPolicy.apiServerCidrs."""
    objects = rendered[stack]
    cluster = Cluster(namespaces=copy.deepcopy(namespaces_of(objects)), pods=workload_pods(objects), policies=policies_of(objects))
    clients = _api_client_pods(objects)
    assert len(clients) >= 5, clients
    for pod in clients:
        for port in (443, 6443):
            assert cluster.egress_allowed(pod, API_SERVER, port), (pod.name, port)


def test_an_egress_policy_without_the_api_server_cuts_an_api_client_off(rendered):
    objects = rendered["dev"]
    deny = {
        "kind": "NetworkPolicy", "metadata": {"name": "egress", "namespace": "monitoring"},
        "spec": {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {}}]}]},
    }  # fmt: skip
    cluster = Cluster(namespaces=copy.deepcopy(namespaces_of(objects)), pods=workload_pods(objects), policies=[*policies_of(objects), deny])
    (collector,) = [p for p in _api_client_pods(objects) if p.name == "deployment/otel-collector"]
    assert not cluster.egress_allowed(collector, API_SERVER, 443)


def test_the_collectors_rules_follow_its_processors(dev):
    """The builder's side: no k8sattributes, no rules (and then no ClusterRole and no token);
    node metadata adds nodes."""
    config = copy.deepcopy(dev.result.plan.tracing.collector_values["alternateConfig"])
    config["processors"]["k8sattributes"]["extract"]["metadata"].append("k8s.node.uid")
    assert {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]} in collector_api_rules(config)
    config["service"]["pipelines"]["traces"]["processors"].remove("k8sattributes")
    assert collector_api_rules(config) == []
