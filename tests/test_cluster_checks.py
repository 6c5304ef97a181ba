"""tools/cluster_checks.py: each rule passes a small consistent object set and fails on a minimal
mutation of it, with a message naming the object and the rule."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from tools import cluster_checks as cc

ROOT = Path(__file__).resolve().parent.parent
VERSIONS = ("1.32", "1.37")
NS = "monitoring"


# --- builders: the smallest objects the rules look at ----------------------------------------


def namespace(name: str = NS, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def pod_spec(ports: dict[str, int] | None = None, **extra: Any) -> dict[str, Any]:
    container = {"name": "app", "image": "example/app:1", "ports": [{"name": n, "containerPort": p} for n, p in (ports or {"http": 8080}).items()]}
    return {"containers": [container], **extra}


def deployment(name: str = "app", labels: dict[str, str] | None = None, spec: dict[str, Any] | None = None, ns: str = NS) -> dict[str, Any]:
    labels = labels or {"app": name}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"selector": {"matchLabels": labels}, "template": {"metadata": {"labels": labels}, "spec": spec or pod_spec()}},
    }


def statefulset(name: str = "db", claims: tuple[str, ...] = ("data",), replicas: int = 2, spec: dict[str, Any] | None = None) -> dict[str, Any]:
    obj = deployment(name, spec=spec)
    obj["kind"] = "StatefulSet"
    obj["spec"]["serviceName"] = name
    obj["spec"]["replicas"] = replicas
    obj["spec"]["volumeClaimTemplates"] = [{"metadata": {"name": c}, "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}} for c in claims]
    return obj


def service(name: str = "app", selector: dict[str, str] | None = None, ports: dict[str, Any] | None = None, labels: dict[str, str] | None = None, ns: str = NS) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns, "labels": labels or {"app": name}},
        "spec": {"selector": selector if selector is not None else {"app": name},
                 "ports": [{"name": n, "port": 80, "targetPort": t} for n, t in (ports or {"http": "http"}).items()]},
    }


def secret(name: str, *keys: str, ns: str = NS) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": ns}, "stringData": {k: "x" for k in keys}}


def config_map(name: str, *keys: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": NS}, "data": {k: "x" for k in keys}}


def service_account(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, "namespace": NS}}


def monitor(kind: str, name: str, spec: dict[str, Any], labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"apiVersion": "monitoring.coreos.com/v1", "kind": kind, "metadata": {"name": name, "namespace": NS, "labels": labels or {}}, "spec": spec}


def only(problems: list[str], rule: str) -> list[str]:
    return [p for p in problems if f": {rule}: " in p]


# --- 1. built-in schemas ---------------------------------------------------------------------


def test_kubernetes_validate_supports_the_platform_minors():
    supported = cc.supported_kube_versions()
    assert {"1.32", "1.37"} <= set(supported)


def test_a_valid_deployment_passes_the_builtin_schemas_of_both_minors():
    assert cc.check_builtin_schemas([namespace(), deployment()], VERSIONS) == []


def test_an_unknown_field_fails_the_builtin_schema_for_each_minor():
    bad = deployment()
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    problems = cc.check_builtin_schemas([bad], VERSIONS)
    assert len(problems) == 2
    assert problems[0].startswith("Deployment monitoring/app: schema: Kubernetes 1.32: spec.template.spec.containers[0]: ")
    assert "'imagePullPolicyy' was unexpected" in problems[0]


def test_a_wrong_type_fails_the_builtin_schema():
    bad = deployment()
    bad["spec"]["replicas"] = "two"
    assert "spec.replicas: 'two' is not of type 'integer'" in cc.check_builtin_schemas([bad], VERSIONS[:1])[0]


def test_a_removed_api_fails_the_builtin_schemas():
    psp = {"apiVersion": "policy/v1beta1", "kind": "PodSecurityPolicy", "metadata": {"name": "old"}, "spec": {}}
    assert cc.check_builtin_schemas([psp], VERSIONS) == [
        f"PodSecurityPolicy old: schema: Kubernetes {v} serves no policy/v1beta1 PodSecurityPolicy (removed or not yet served API, or a CRD missing from the set)"
        for v in VERSIONS
    ]


def test_custom_resources_are_left_to_their_crds():
    assert cc.check_builtin_schemas([monitor("ServiceMonitor", "x", {"bogus": 1})], VERSIONS) == []


def test_an_unsupported_minor_is_an_error_not_a_silent_fallback():
    with pytest.raises(ValueError, match="no schemas for Kubernetes 1.99"):
        cc.check_builtin_schemas([deployment()], ("1.99",))


@pytest.mark.parametrize("mutate", [lambda d: None, lambda d: d["spec"].update(replicas="x"), lambda d: d["spec"].update(bogus=1)])
def test_the_cached_validator_agrees_with_kubernetes_validate(mutate):
    obj = deployment()
    mutate(obj)
    try:
        kubernetes_validate.validate(obj, "1.37", strict=True)
        expected = None
    except kubernetes_validate.ValidationError as error:
        expected = error.message
    problems = cc.check_builtin_schemas([obj], ("1.37",))
    if expected is None:
        assert problems == []
    else:
        assert any(expected in p for p in problems)


# --- 2. custom resources ---------------------------------------------------------------------

WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size", "mode"],
            "properties": {
                "size": {"type": "integer"},
                "mode": {"type": "string", "default": "fast"},
                "port": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
                "note": {"type": "string", "nullable": True},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "extra": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {"spec": {"type": "object"}}},
                "retries": {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
            },
        },
    },
}


def crd(group: str = "example.com", kind: str = "Widget", schema: dict[str, Any] | None = None, served: tuple[str, ...] = ("v1",), scope: str = "Namespaced") -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{kind.lower()}s.{group}"},
        "spec": {
            "group": group, "scope": scope,
            "names": {"kind": kind, "plural": f"{kind.lower()}s", "singular": kind.lower(), "listKind": f"{kind}List"},
            "versions": [{"name": v, "served": v in served, "storage": v == "v1", "schema": {"openAPIV3Schema": schema or WIDGET_SCHEMA}} for v in ("v1", "v1beta1")],
        },
    }


def widget(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": NS, "labels": {"a": "b"}}, "spec": {"size": 3, **spec}}


def test_a_custom_resource_matching_its_crd_passes():
    ok = widget(port="http", note=None, labels={"x": "y"}, extra={"anything": [1]}, retries=1,
                template={"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}})
    assert cc.check_custom_resources([crd(), ok]) == []


def test_int_or_string_takes_a_number_too():
    assert cc.check_custom_resources([crd(), widget(port=8080)]) == []


def test_an_unknown_field_in_a_custom_resource_is_an_error_not_pruned():
    problems = cc.check_custom_resources([crd(), widget(sise=3)])
    assert problems == ["Widget monitoring/w: crd-schema: spec: Additional properties are not allowed ('sise' was unexpected)"]


def test_an_unknown_top_level_field_is_an_error():
    obj = widget()
    obj["spce"] = {}
    assert "(root): Additional properties are not allowed ('spce' was unexpected)" in cc.check_custom_resources([crd(), obj])[0]


def test_an_unknown_metadata_field_is_an_error():
    obj = widget()
    obj["metadata"]["label"] = {"a": "b"}
    assert "metadata: Additional properties are not allowed ('label' was unexpected)" in cc.check_custom_resources([crd(), obj])[0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"size": "3"}, "spec.size: '3' is not of type 'integer'"),
        ({"port": True}, "spec.port: True is not valid under any of the given schemas"),
        ({"labels": {"x": 1}}, "spec.labels.x: 1 is not of type 'string'"),
        ({"retries": 0}, "spec.retries: 0 is less than or equal to the minimum of 0"),
        ({"template": {"apiVersion": "v1", "spec": {}, "status": {}}}, "spec.template: Additional properties are not allowed ('status' was unexpected)"),
    ],
)
def test_custom_resource_value_rules(spec, message):
    problems = cc.check_custom_resources([crd(), widget(**spec)])
    assert problems == [f"Widget monitoring/w: crd-schema: {message}"]


def test_a_required_field_without_default_is_required():
    obj = widget()
    del obj["spec"]["size"]
    assert cc.check_custom_resources([crd(), obj]) == ["Widget monitoring/w: crd-schema: spec: 'size' is a required property"]


def test_a_preserve_unknown_fields_schema_admits_anything():
    loose = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert cc.check_custom_resources([crd(schema=loose), widget(whatever=1)]) == []


def test_a_custom_resource_without_its_crd_is_a_problem():
    assert cc.check_custom_resources([widget()]) == ["Widget monitoring/w: crd: no CustomResourceDefinition for Widget in group example.com in the set"]


def test_a_version_the_crd_does_not_serve_is_a_problem():
    obj = widget()
    obj["apiVersion"] = "example.com/v1beta1"
    assert cc.check_custom_resources([crd(served=("v1",)), obj]) == [
        "Widget monitoring/w: crd: example.com/v1beta1 is not served by CRD widgets.example.com (served: v1)"
    ]


def test_a_namespace_on_a_cluster_scoped_custom_resource_is_a_problem():
    assert "is Cluster-scoped but the object has namespace" in cc.check_custom_resources([crd(scope="Cluster"), widget()])[0]


ES_CRD_SCHEMA = {
    "type": "object",
    "properties": {"spec": {"type": "object", "properties": {"version": {"type": "string"}, "nodeSets": {"type": "array", "items": {
        "type": "object", "properties": {"name": {"type": "string"}, "count": {"type": "integer"},
                                         "podTemplate": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}}}}}}},
}


def elasticsearch(name: str = "logs", pod_template: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch", "metadata": {"name": name, "namespace": NS},
        "spec": {"version": "9.4.3", "nodeSets": [{"name": "default", "count": 1, "podTemplate": pod_template or {}}], **spec},
    }


def test_an_eck_pod_template_is_checked_as_a_partial_pod_template():
    es_crd = crd("elasticsearch.k8s.elastic.co", "Elasticsearch", ES_CRD_SCHEMA)
    ok = elasticsearch(pod_template={"spec": {"initContainers": [{"name": "sysctl", "command": ["sh"]}]}})
    assert cc.check_custom_resources([es_crd, ok], VERSIONS) == []
    bad = elasticsearch(pod_template={"spec": {"containers": [{"name": "elasticsearch", "resource": {}}]}})
    problems = cc.check_custom_resources([es_crd, bad], VERSIONS)
    assert problems[0] == (
        "Elasticsearch monitoring/logs: crd-schema: Kubernetes 1.32 PodTemplateSpec: spec.nodeSets[0].podTemplate.spec.containers[0]: "
        "Additional properties are not allowed ('resource' was unexpected)"
    )


# --- 3. uniqueness ---------------------------------------------------------------------------


def test_distinct_objects_are_unique():
    assert cc.check_unique([deployment("a"), deployment("b"), service("a")]) == []


def test_the_same_object_twice_is_a_problem_whatever_its_version():
    other = deployment("a")
    other["apiVersion"] = "apps/v1beta2"
    assert cc.check_unique([deployment("a"), other]) == ["Deployment monitoring/a: unique: declared 2 times (apps/v1, apps/v1beta2)"]


# --- 4. references ---------------------------------------------------------------------------


def refs(*objects: dict[str, Any]) -> list[str]:
    return cc.check_references([namespace(), *objects])


def test_a_service_selecting_a_workload_by_a_named_port_passes():
    assert refs(deployment(), service()) == []


def test_a_service_selecting_no_pods_is_a_problem():
    assert refs(deployment(), service(selector={"app": "other"})) == [
        'Service monitoring/app: service-selector: selector {"app":"other"} matches no pods in namespace monitoring'
    ]


def test_a_service_in_another_namespace_than_its_pods_is_a_problem():
    assert only(refs(namespace("other"), deployment(ns="other"), service()), "service-selector")


def test_a_named_target_port_missing_on_the_pods_is_a_problem():
    problems = refs(deployment(), service(ports={"http": "metrics"}))
    assert problems == ["Service monitoring/app: service-port: port http: targetPort 'metrics' is no container port of the selected pods (Deployment monitoring/app; ports: http)"]


def test_a_sidecar_init_container_port_counts_and_a_plain_init_container_port_does_not():
    sidecar = {"name": "proxy", "image": "x", "restartPolicy": "Always", "ports": [{"name": "proxy", "containerPort": 9}]}
    assert refs(deployment(spec=pod_spec(initContainers=[sidecar])), service(ports={"p": "proxy"})) == []
    del sidecar["restartPolicy"]
    assert only(refs(deployment(spec=pod_spec(initContainers=[sidecar])), service(ports={"p": "proxy"})), "service-port")


def test_cronjob_and_bare_pod_templates_are_pods_too():
    cronjob = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "job", "namespace": NS}, "spec": {
        "schedule": "* * * * *", "jobTemplate": {"spec": {"template": {"metadata": {"labels": {"app": "job"}}, "spec": pod_spec()}}}}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pod", "namespace": NS, "labels": {"app": "pod"}}, "spec": pod_spec()}
    assert refs(cronjob, pod, service("job"), service("pod")) == []


PROMETHEUS = monitor("Prometheus", "main", {
    "portName": "http-web", "thanos": {"objectStorageConfig": {"name": "objstore", "key": "objstore.yml"}},
    "serviceMonitorSelector": {}, "serviceMonitorNamespaceSelector": {}, "ruleSelector": {"matchLabels": {"role": "rules"}},
})


def test_a_service_selecting_operator_made_prometheus_pods_passes():
    # Selects what prometheus-operator labels the pods of Prometheus "main" with, by its ports.
    svc = service("main", selector={"app.kubernetes.io/name": "prometheus", "operator.prometheus.io/name": "main"},
                  ports={"web": "http-web", "grpc": "grpc", "reloader": "reloader-web"})
    assert refs(PROMETHEUS, secret("objstore", "objstore.yml"), svc) == []


def test_a_port_the_operator_does_not_open_is_a_problem():
    svc = service("main", selector={"prometheus": "main"}, ports={"web": "web"})
    assert only(refs(PROMETHEUS, secret("objstore", "objstore.yml"), svc), "service-port") == [
        (
            "Service monitoring/main: service-port: port web: targetPort 'web' is no container port of the selected pods "
            "(Prometheus monitoring/main; ports: grpc, http, http-web, reloader-web)"
        )
    ]


def test_eck_services_and_the_elastic_user_secret_come_from_the_elasticsearch_name():
    job = deployment("lifecycle", spec=pod_spec(containers=[{"name": "c", "image": "x", "env": [
        {"name": "P", "valueFrom": {"secretKeyRef": {"name": "logs-es-elastic-user", "key": "elastic"}}}]}]))
    sm = monitor("ServiceMonitor", "es", {"selector": {"matchLabels": {"elasticsearch.k8s.elastic.co/cluster-name": "logs"}}, "endpoints": [{"port": "https"}]})
    assert refs(elasticsearch(), job, sm) == []
    job["spec"]["template"]["spec"]["containers"][0]["env"][0]["valueFrom"]["secretKeyRef"]["key"] = "password"
    assert refs(elasticsearch(), job, sm) == [
        (
            "Deployment monitoring/lifecycle: ref: spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef: "
            "Secret monitoring/logs-es-elastic-user has no key 'password' (has elastic)"
        )
    ]
    assert only(refs(elasticsearch("other"), job, sm), "ref") and only(refs(elasticsearch("other"), job, sm), "servicemonitor-selector")


def test_a_service_monitor_selecting_a_service_by_port_name_passes():
    sm = monitor("ServiceMonitor", "app", {"selector": {"matchLabels": {"app": "app"}}, "endpoints": [{"port": "http"}, {"targetPort": "http"}]})
    assert refs(deployment(), service(), sm) == []


def test_a_service_monitor_selecting_nothing_is_a_problem():
    sm = monitor("ServiceMonitor", "app", {"selector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["other"]}]}, "endpoints": [{"port": "http"}]})
    assert refs(deployment(), service(), sm) == [
        'ServiceMonitor monitoring/app: servicemonitor-selector: selector {"matchExpressions":[{"key":"app","operator":"In","values":["other"]}]} matches no Service in monitoring'
    ]


def test_a_service_monitor_looks_only_in_its_namespace_unless_told():
    svc = service(ns="other")
    pods = deployment(ns="other")
    sm = monitor("ServiceMonitor", "app", {"selector": {"matchLabels": {"app": "app"}}, "endpoints": [{"port": "http"}]})
    assert only(refs(namespace("other"), pods, svc, sm), "servicemonitor-selector")
    sm["spec"]["namespaceSelector"] = {"matchNames": ["other"]}
    assert refs(namespace("other"), pods, svc, sm) == []
    sm["spec"]["namespaceSelector"] = {"any": True}
    assert refs(namespace("other"), pods, svc, sm) == []


def test_a_service_monitor_port_the_service_lacks_is_a_problem():
    sm = monitor("ServiceMonitor", "app", {"selector": {"matchLabels": {"app": "app"}}, "endpoints": [{"port": "metrics"}, {"targetPort": "metrics"}]})
    problems = refs(deployment(), service(), sm)
    assert problems == [
        "ServiceMonitor monitoring/app: servicemonitor-port: spec.endpoints[0].port 'metrics' is no port of the selected Services (app; ports: http)",
        "ServiceMonitor monitoring/app: servicemonitor-port: spec.endpoints[1].targetPort 'metrics' is no container port of the pods behind the selected Services",
    ]


def test_a_pod_monitor_selects_pods_by_port_name():
    pm = monitor("PodMonitor", "app", {"selector": {"matchLabels": {"app": "app"}}, "podMetricsEndpoints": [{"port": "http"}]})
    assert refs(deployment(), pm) == []
    pm["spec"]["podMetricsEndpoints"][0]["port"] = "metrics"
    assert refs(deployment(), pm) == ["PodMonitor monitoring/app: podmonitor-port: spec.podMetricsEndpoints[0].port 'metrics' is no container port of the selected pods (ports: http)"]
    pm["spec"]["selector"] = {"matchLabels": {"app": "none"}}
    assert only(refs(deployment(), pm), "podmonitor-selector")


def test_a_probe_of_ingresses_must_select_one():
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": NS, "labels": {"probe": "yes"}},
               "spec": {"rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "app", "port": {"name": "http"}}}}]}}]}}
    probe = monitor("Probe", "web", {"prober": {"url": "blackbox:9115"}, "targets": {"ingress": {"selector": {"matchLabels": {"probe": "yes"}}}}})
    assert refs(deployment(), service(), ingress, probe) == []
    probe["spec"]["targets"]["ingress"]["selector"] = {"matchLabels": {"probe": "no"}}
    assert refs(deployment(), service(), ingress, probe) == ['Probe monitoring/web: probe-ingress: spec.targets.ingress selector {"matchLabels":{"probe":"no"}} matches no Ingress']


def test_an_ingress_backend_port_must_be_a_service_port():
    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web", "namespace": NS},
               "spec": {"tls": [{"secretName": "web-tls"}], "rules": [{"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "app", "port": {"name": "web"}}}}]}}]}}
    assert refs(deployment(), service(), ingress) == [
        "Ingress monitoring/web: ref: spec.rules[0].http.paths[0].backend.service: Service monitoring/app has no port named 'web' (has http)",
        "Ingress monitoring/web: ref: spec.tls[0]: Secret monitoring/web-tls not found",
    ]


FULL_POD = pod_spec(
    serviceAccountName="app",
    imagePullSecrets=[{"name": "pull"}],
    volumes=[
        {"name": "s", "secret": {"secretName": "creds", "items": [{"key": "user", "path": "u"}]}},
        {"name": "c", "configMap": {"name": "conf"}},
        {"name": "p", "persistentVolumeClaim": {"claimName": "data"}},
        {"name": "j", "projected": {"sources": [{"secret": {"name": "creds"}}, {"configMap": {"name": "conf", "items": [{"key": "a.yml", "path": "a"}]}}]}},
        {"name": "root", "configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca"}]}},
        {"name": "maybe", "secret": {"secretName": "absent", "optional": True}},
    ],
    initContainers=[{"name": "init", "image": "x", "envFrom": [{"secretRef": {"name": "creds"}}, {"configMapRef": {"name": "conf"}}]}],
)
FULL_POD["containers"][0]["env"] = [
    {"name": "U", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "user"}}},
    {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "conf", "key": "a.yml"}}},
    {"name": "O", "valueFrom": {"secretKeyRef": {"name": "absent", "key": "k", "optional": True}}},
]
FULL_POD["containers"][0]["volumeMounts"] = [{"name": v["name"], "mountPath": f"/{v['name']}"} for v in FULL_POD["volumes"]]
POD_TARGETS = (
    secret("creds", "user"), secret("pull", ".dockerconfigjson"), config_map("conf", "a.yml"), service_account("app"),
    {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data", "namespace": NS}, "spec": {}},
)


def test_every_pod_spec_reference_that_resolves_passes():
    assert refs(deployment(spec=copy.deepcopy(FULL_POD)), *POD_TARGETS) == []


@pytest.mark.parametrize(
    ("missing", "where"),
    [
        ("creds", "spec.template.spec.volumes[0].secret: Secret monitoring/creds not found"),
        ("conf", "spec.template.spec.volumes[1].configMap: ConfigMap monitoring/conf not found"),
        ("data", "spec.template.spec.volumes[2].persistentVolumeClaim: PersistentVolumeClaim monitoring/data not found"),
        ("pull", "spec.template.spec.imagePullSecrets[0]: Secret monitoring/pull not found"),
        ("app", "spec.template.spec.serviceAccountName: ServiceAccount monitoring/app not found"),
    ],
)
def test_each_missing_pod_spec_target_is_a_problem(missing, where):
    targets = [t for t in POD_TARGETS if cc.name_of(t) != missing]
    assert f"Deployment monitoring/app: ref: {where}" in refs(deployment(spec=copy.deepcopy(FULL_POD)), *targets)


def test_env_and_env_from_of_init_containers_are_checked():
    targets = [t for t in POD_TARGETS if cc.name_of(t) != "creds"]
    problems = refs(deployment(spec=copy.deepcopy(FULL_POD)), *targets)
    assert "Deployment monitoring/app: ref: spec.template.spec.initContainers[0].envFrom[0].secretRef: Secret monitoring/creds not found" in problems
    assert "Deployment monitoring/app: ref: spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef: Secret monitoring/creds not found" in problems


def test_a_missing_key_of_a_present_secret_or_config_map_is_a_problem():
    targets = [secret("creds", "username") if cc.name_of(t) == "creds" else t for t in POD_TARGETS]
    problems = refs(deployment(spec=copy.deepcopy(FULL_POD)), *targets)
    assert "Deployment monitoring/app: ref: spec.template.spec.volumes[0].secret: Secret monitoring/creds has no key 'user' (has username)" in problems
    assert "Deployment monitoring/app: ref: spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef: Secret monitoring/creds has no key 'user' (has username)" in problems


def test_the_default_service_account_exists_everywhere():
    assert refs(deployment(spec=pod_spec(serviceAccountName="default"))) == []


def test_statefulset_claims_count_as_present_and_mounts_must_name_a_volume():
    db = statefulset(spec=pod_spec())
    db["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "data", "mountPath": "/data"}]
    reader = deployment("reader", spec=pod_spec(volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data-db-1"}}]))
    assert refs(db, service("db"), reader) == []
    reader["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] = "data-db-2"
    assert only(refs(db, service("db"), reader), "ref") == [
        "Deployment monitoring/reader: ref: spec.template.spec.volumes[0].persistentVolumeClaim: PersistentVolumeClaim monitoring/data-db-2 not found"
    ]
    db["spec"]["template"]["spec"]["containers"][0]["volumeMounts"][0]["name"] = "dta"
    assert only(refs(db, service("db")), "volume-mount") == [
        "StatefulSet monitoring/db: volume-mount: spec.template.spec.containers[0].volumeMounts[0]: no volume named 'dta' in the pod"
    ]


def test_a_workload_selector_must_select_its_template():
    app = deployment()
    app["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    assert only(refs(app), "workload-selector") == [
        'Deployment monitoring/app: workload-selector: spec.selector {"matchLabels":{"app":"other"}} does not select the pod template\'s labels {"app":"app"}'
    ]


def test_a_pdb_must_select_pods():
    pdb = {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "app", "namespace": NS}, "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "app"}}}}
    assert refs(deployment(), pdb) == []
    pdb["spec"]["selector"]["matchLabels"]["app"] = "gone"
    assert refs(deployment(), pdb) == ['PodDisruptionBudget monitoring/app: pdb-selector: selector {"matchLabels":{"app":"gone"}} matches no pods in namespace monitoring']


def network_policy(pod_selector: dict[str, Any], port: Any = "http", peer: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np", "namespace": NS},
            "spec": {"podSelector": pod_selector, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [peer or {"podSelector": {"matchLabels": {"app": "app"}}}], "ports": [{"port": port}]}]}}


def test_a_network_policy_selects_its_pods_by_their_port_names():
    assert refs(deployment(), network_policy({"matchLabels": {"app": "app"}})) == []
    assert refs(network_policy({}, port=8080, peer={"namespaceSelector": {}, "podSelector": {"matchLabels": {"x": "y"}}})) == []


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        (network_policy({"matchLabels": {"app": "gone"}}), 'networkpolicy-selector: podSelector {"matchLabels":{"app":"gone"}} matches no pods in namespace monitoring'),
        (network_policy({"matchLabels": {"app": "app"}}, port="metrics"), "networkpolicy-port: spec.ingress[0].ports[0].port 'metrics' is no container port of the selected pods (ports: http)"),
        (network_policy({}, peer={"podSelector": {"matchLabels": {"app": "gone"}}}), 'networkpolicy-peer: spec.ingress[0].from[0].podSelector {"matchLabels":{"app":"gone"}} matches no pods in namespace monitoring'),
    ],
)
def test_a_network_policy_selecting_nothing_is_a_problem(policy, message):
    assert refs(deployment(), policy) == [f"NetworkPolicy monitoring/np: {message}"]


def test_an_object_in_a_namespace_nobody_creates_is_a_problem():
    assert refs(deployment(ns="elsewhere")) == ["Deployment elsewhere/app: namespace: namespace elsewhere is neither in the set nor one Kubernetes creates"]


def binding(kind: str, role_kind: str, role: str, sa: str = "app", sa_ns: str | None = NS) -> dict[str, Any]:
    meta = {"name": "b", **({"namespace": NS} if kind == "RoleBinding" else {})}
    subject = {"kind": "ServiceAccount", "name": sa, **({"namespace": sa_ns} if sa_ns else {})}
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
            "subjects": [subject, {"kind": "Group", "name": "devs", "apiGroup": "rbac.authorization.k8s.io"}]}


def test_bindings_resolve_roles_and_service_accounts():
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "reader", "namespace": NS}, "rules": []}
    assert refs(service_account("app"), role, binding("RoleBinding", "Role", "reader", sa_ns=None),
                binding("ClusterRoleBinding", "ClusterRole", "view"), binding("ClusterRoleBinding", "ClusterRole", "system:auth-delegator")) == []


def test_a_binding_to_a_missing_role_or_service_account_is_a_problem():
    assert refs(binding("RoleBinding", "Role", "reader")) == [
        "RoleBinding monitoring/b: ref: roleRef: Role monitoring/reader not found",
        "RoleBinding monitoring/b: ref: subjects[0]: ServiceAccount monitoring/app not found",
    ]
    assert refs(service_account("app"), binding("ClusterRoleBinding", "ClusterRole", "viewer")) == ["ClusterRoleBinding b: ref: roleRef: ClusterRole viewer not found"]


def prometheus_set(**spec: Any) -> list[dict[str, Any]]:
    prometheus = copy.deepcopy(PROMETHEUS)
    prometheus["spec"].update(spec)
    am = monitor("Alertmanager", "main", {"configSecret": "am-config", "secrets": ["am-receivers"]})
    am_svc = service("alertmanager", selector={"alertmanager": "main"}, ports={"http-web": "web"})
    return [prometheus, am, am_svc, secret("objstore", "objstore.yml"), secret("am-config", "alertmanager.yaml"),
            secret("am-receivers", "key"), secret("influx", "user", "password")]


REMOTE_WRITE = [{"url": "http://influx/write", "basicAuth": {"username": {"name": "influx", "key": "user"}, "password": {"name": "influx", "key": "password"}}}]
ALERTING = {"alertmanagers": [{"name": "alertmanager", "namespace": NS, "port": "http-web"}]}


def test_prometheus_and_alertmanager_secrets_resolve():
    assert refs(*prometheus_set(remoteWrite=REMOTE_WRITE, alerting=ALERTING)) == []


def test_a_prometheus_secret_key_that_is_missing_is_a_problem():
    objects = prometheus_set(remoteWrite=REMOTE_WRITE, alerting=ALERTING)
    objects[0]["spec"]["thanos"]["objectStorageConfig"]["key"] = "objstore.yaml"
    objects[0]["spec"]["remoteWrite"] = [{"url": "x", "basicAuth": {"password": {"name": "influxdb", "key": "password"}}}]
    assert refs(*objects) == [
        "Prometheus monitoring/main: ref: spec.thanos.objectStorageConfig: Secret monitoring/objstore has no key 'objstore.yaml' (has objstore.yml)",
        "Prometheus monitoring/main: ref: spec.remoteWrite[0].basicAuth.password: Secret monitoring/influxdb not found",
    ]


def test_prometheus_alerting_needs_the_alertmanager_service_port():
    alerting = {"alertmanagers": [{"name": "alertmanager", "namespace": NS, "port": "web"}]}
    assert refs(*prometheus_set(alerting=alerting)) == [
        "Prometheus monitoring/main: ref: spec.alerting.alertmanagers[0]: Service monitoring/alertmanager has no port named 'web' (has http-web)"
    ]


def test_an_alertmanager_config_secret_must_exist():
    objects = [o for o in prometheus_set() if cc.name_of(o) != "am-config"]
    assert refs(*objects) == ["Alertmanager monitoring/main: ref: spec.configSecret: Secret monitoring/am-config not found"]


def test_operator_created_prometheus_secrets_count_as_present():
    reader = deployment("reader", spec=pod_spec(volumes=[{"name": "c", "secret": {"secretName": "prometheus-main"}}, {"name": "r", "configMap": {"name": "prometheus-main-rulefiles-0"}}]))
    assert refs(*prometheus_set(), reader) == []


def test_elasticsearch_secrets_must_exist_and_the_http_certificate_hold_its_keys():
    es = elasticsearch(http={"tls": {"certificate": {"secretName": "es-tls"}}}, secureSettings=[{"secretName": "s3", "entries": [{"key": "access"}]}],
                       auth={"roles": [{"secretName": "roles"}], "fileRealm": [{"secretName": "user"}]})
    good = [secret("es-tls", "tls.crt", "tls.key", "ca.crt"), secret("s3", "access"), secret("roles", "roles.yml"), secret("user", "username", "password")]
    assert refs(es, *good) == []
    bad = [secret("es-tls", "tls.crt"), secret("s3", "secret"), secret("roles", "roles.yml")]
    assert refs(es, *bad) == [
        "Elasticsearch monitoring/logs: ref: spec.http.tls.certificate: Secret monitoring/es-tls has no key 'tls.key' (has tls.crt)",
        "Elasticsearch monitoring/logs: ref: spec.secureSettings[0]: Secret monitoring/s3 has no key 'access' (has secret)",
        "Elasticsearch monitoring/logs: ref: spec.auth.fileRealm[0]: Secret monitoring/user not found",
    ]


def test_elasticsearch_pod_templates_are_checked_like_pod_specs():
    es = elasticsearch(pod_template={"spec": {"volumes": [{"name": "x", "secret": {"secretName": "extra"}}]}})
    assert refs(es) == ["Elasticsearch monitoring/logs: ref: spec.nodeSets[0].podTemplate.spec.volumes[0].secret: Secret monitoring/extra not found"]


def test_the_kubelet_service_comes_from_the_operator_flag():
    operator = deployment("operator", spec=pod_spec(containers=[{"name": "op", "image": "x", "args": ["--kubelet-service=kube-system/kubelet"]}]))
    sm = monitor("ServiceMonitor", "kubelet", {"selector": {"matchLabels": {"k8s-app": "kubelet"}}, "namespaceSelector": {"matchNames": ["kube-system"]}, "endpoints": [{"port": "https-metrics"}]})
    assert refs(operator, sm) == []
    operator["spec"]["template"]["spec"]["containers"][0]["args"] = []
    assert only(refs(operator, sm), "servicemonitor-selector")


def test_the_apiserver_service_is_there():
    sm = monitor("ServiceMonitor", "apiserver", {"selector": {"matchLabels": {"component": "apiserver", "provider": "kubernetes"}}, "namespaceSelector": {"matchNames": ["default"]}, "endpoints": [{"port": "https"}]})
    assert refs(sm) == []


def test_a_rule_no_prometheus_selects_is_a_problem():
    rules = monitor("PrometheusRule", "r", {"groups": []}, labels={"role": "rules"})
    assert refs(*prometheus_set(), rules) == []
    rules["metadata"]["labels"] = {"role": "other"}
    assert only(refs(*prometheus_set(), rules), "not-selected") == [
        'PrometheusRule monitoring/r: not-selected: no Prometheus selects it (Prometheus monitoring/main ruleSelector {"matchLabels":{"role":"rules"}})'
    ]


def test_a_nil_monitor_selector_selects_nothing():
    sm = monitor("ServiceMonitor", "app", {"selector": {"matchLabels": {"app": "app"}}, "endpoints": [{"port": "http"}]})
    objects = prometheus_set()
    del objects[0]["spec"]["serviceMonitorSelector"]
    assert only(refs(*objects, deployment(), service(), sm), "not-selected")


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        ({}, {"a": "1"}, True),
        (None, {"a": "1"}, False),
        ({"matchLabels": {"a": "1"}}, {"a": "1", "b": "2"}, True),
        ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["1"]}]}, {"a": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "Exists"}]}, {"b": "1"}, False),
        ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"b": "1"}, True),
    ],
)
def test_label_selectors(selector, labels, expected):
    assert cc.selector_matches(selector, labels) is expected


# --- 5. all, and the real render ---------------------------------------------------------------


def test_check_all_runs_every_check():
    bad = deployment()
    bad["spec"]["bogus"] = 1
    problems = cc.check_all([namespace(), bad, bad, widget(), service(selector={"app": "x"})], VERSIONS)
    assert {p.split(": ")[1] for p in problems} == {"unique", "schema", "crd", "service-selector"}


def _tls_ingress(annotations: dict) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
        "metadata": {"name": "web", "namespace": "ns", "annotations": annotations},
        "spec": {"tls": [{"secretName": "web-tls", "hosts": ["web.example"]}]},
    }


def test_an_ingress_tls_secret_nothing_creates_is_a_problem():
    problems = cc.check_references([namespace(), _tls_ingress({})])
    assert any("Secret ns/web-tls not found" in p for p in problems)


def test_cert_manager_creates_the_tls_secret_of_an_annotated_ingress():
    problems = cc.check_references([namespace(), _tls_ingress({"cert-manager.io/cluster-issuer": "le"})])
    assert not any("web-tls" in p for p in problems)
