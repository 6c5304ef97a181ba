"""Checks over the complete object set of a stack: what the API server would reject, and what would
deploy but never work, found without a cluster.

The input is every Kubernetes object a stack deploys: the program's own manifests plus every object
each chart renders (CRDs included, as helm.v4.Chart installs them). Each check returns a list of
problems, each reading `<Kind> <namespace>/<name>: <rule>: <detail>`; an empty list is a pass.

- check_builtin_schemas   built-in kinds against the Kubernetes OpenAPI schema of each given minor
                          (kubernetes-validate's strict schemas: unknown fields are errors)
- check_custom_resources  custom resources against the CRD in the same set, unknown fields being
                          errors (the API server would prune them silently)
- check_unique            no object declared twice
- check_references        selectors select something and names resolve: Services to pods and
                          container ports, monitors to Services/pods and ports, PDBs and
                          NetworkPolicies to pods, pod specs to Secrets (and their keys), ConfigMaps,
                          PVCs and ServiceAccounts, bindings to roles, CRs to their Secrets; every
                          monitor and rule selected by a Prometheus; namespaces exist
- check_all               all of the above

What an operator or Kubernetes itself creates (the Secrets and pods of a `Prometheus`, the
`<cluster>-es-http` Service of an `Elasticsearch`, every namespace's `default` ServiceAccount) is
derived from the objects in the set by the tables OPERATOR_CREATED and KUBERNETES_CREATED, each
entry with its reason and upstream source, so that a reference to it is not a false problem.

Pure Python on plain dicts: no Pulumi, no cluster, no network.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from kubernetes_validate import utils as kv_utils
from packaging.version import Version
from referencing import Registry, Resource

Obj = Mapping[str, Any]

# ---------------------------------------------------------------------------------------------
# Identity


def group_of(obj: Obj) -> str:
    """API group of an object ("" for the core group)."""
    api_version = str(obj.get("apiVersion", ""))
    return api_version.split("/", 1)[0] if "/" in api_version else ""


def version_of(obj: Obj) -> str:
    return str(obj.get("apiVersion", "")).rsplit("/", 1)[-1]


def _meta(obj: Obj) -> Mapping[str, Any]:
    return obj.get("metadata") or {}


def name_of(obj: Obj) -> str:
    return str(_meta(obj).get("name", ""))


def namespace_of(obj: Obj) -> str:
    return str(_meta(obj).get("namespace") or "")


def labels_of(obj: Obj) -> Mapping[str, str]:
    return _meta(obj).get("labels") or {}


def describe(obj: Obj) -> str:
    """`Kind namespace/name`, or `Kind name` for an object without a namespace."""
    ns = namespace_of(obj)
    return f"{obj.get('kind', '?')} {ns + '/' if ns else ''}{name_of(obj)}"


def _problem(obj: Obj, rule: str, detail: str) -> str:
    return f"{describe(obj)}: {rule}: {detail}"


def _is_builtin_group(group: str) -> bool:
    """Groups the API server itself serves: the core group, the dotless ones (apps, batch, policy,
    autoscaling) and *.k8s.io (rbac.authorization.k8s.io, networking.k8s.io, ...). A CRD in the set
    takes precedence (some CRDs live under k8s.io, e.g. gateway.networking.k8s.io)."""
    return "." not in group or group == "k8s.io" or group.endswith(".k8s.io")


# ---------------------------------------------------------------------------------------------
# 1. Built-in kinds against the Kubernetes OpenAPI schema


def supported_kube_versions() -> list[str]:
    """Kubernetes minors kubernetes-validate ships schemas for (1.25 .. 1.37 in 1.37.0)."""
    return sorted({kv_utils.major_minor(v) for v in kv_utils.all_versions()}, key=Version)


def _schema_dir(kube_version: str) -> str:
    """kubernetes-validate's strict schema directory for a minor. It silently falls back to an older
    minor for an unknown one; an exact match is required here so a typo cannot weaken the check."""
    minor = kv_utils.major_minor(kube_version.lstrip("v"))
    full = [v for v in kv_utils.all_versions() if kv_utils.major_minor(v) == minor]
    if not full:
        supported = supported_kube_versions()
        raise ValueError(f"kubernetes-validate has no schemas for Kubernetes {kube_version} (it has {supported[0]}..{supported[-1]})")
    return f"v{full[-1]}-local-strict"


@functools.cache
def _definitions_registry(schema_dir: str) -> Registry:
    definitions = kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/_definitions.json", schema_dir)
    return Resource.from_contents(definitions) @ Registry()


@functools.cache
def _builtin_validator(schema_dir: str, kind: str, api_version: str) -> jsonschema.protocols.Validator | None:
    """The validator kubernetes_validate.validate() builds, built once per (version, kind,
    apiVersion): the same schema files, registry and Draft 2020-12 validator. validate() re-reads the
    1.5 MB definitions file on every call (~12 ms an object), too slow for the whole set; the tests
    pin that both give the same verdicts. None when the version has no such kind."""
    # Same file naming as kubernetes_validate.utils.validate: rbac.authorization.k8s.io/v1 -> rbac-v1.
    munged = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    try:
        schema = kv_utils.schema_contents(f"kubernetes-json-schema/{schema_dir}/{kind.lower()}-{munged}.json", schema_dir)
    except FileNotFoundError:
        return None
    registry = Resource.from_contents(schema) @ _definitions_registry(schema_dir)
    return jsonschema.Draft202012Validator(schema, registry=registry)


def _json_path(parts: Iterable[Any], at: str = "") -> str:
    """spec.containers[0].name, the way the problems name every location."""
    out = at
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _error_path(error: jsonschema.ValidationError) -> str:
    return _json_path(error.absolute_path) or "(root)"


def check_builtin_schemas(objects: Sequence[Obj], kube_versions: Sequence[str]) -> list[str]:
    """Every object of a built-in kind valid against the strict OpenAPI schema of each minor.

    Custom resources are check_custom_resources' job: anything served by a CRD in the set, and
    anything outside the built-in groups (which that check reports when its CRD is missing)."""
    schema_dirs = {v: _schema_dir(v) for v in kube_versions}
    crd_kinds = {(c.group, c.kind) for c in crd_index(objects).values()}
    problems = []
    for obj in objects:
        group = group_of(obj)
        if (group, obj.get("kind")) in crd_kinds or not _is_builtin_group(group):
            continue
        for kube_version, schema_dir in schema_dirs.items():
            validator = _builtin_validator(schema_dir, str(obj.get("kind", "")), str(obj.get("apiVersion", "")))
            if validator is None:
                problems.append(_problem(obj, "schema", f"Kubernetes {kube_version} serves no {obj.get('apiVersion')} {obj.get('kind')} (removed or not yet served API, or a CRD missing from the set)"))
                continue
            for error in sorted(validator.iter_errors(obj), key=_error_path):
                problems.append(_problem(obj, "schema", f"Kubernetes {kube_version}: {_error_path(error)}: {error.message}"))
    return problems


# ---------------------------------------------------------------------------------------------
# 2. Custom resources against their CRDs


@dataclass(frozen=True)
class Crd:
    """The part of a CustomResourceDefinition the checks need."""

    obj: Obj = field(repr=False)
    group: str
    kind: str
    scope: str  # Namespaced | Cluster
    served: frozenset[str]  # versions served
    schemas: Mapping[str, Mapping[str, Any]] = field(repr=False)  # version -> openAPIV3Schema


def crd_index(objects: Iterable[Obj]) -> dict[tuple[str, str], Crd]:
    """(group, kind) -> CRD, for every apiextensions.k8s.io/v1 CRD in the set."""
    index = {}
    for obj in objects:
        if obj.get("kind") != "CustomResourceDefinition" or obj.get("apiVersion") != "apiextensions.k8s.io/v1":
            continue
        spec = obj.get("spec") or {}
        versions = spec.get("versions") or []
        index[(spec.get("group", ""), (spec.get("names") or {}).get("kind", ""))] = Crd(
            obj=obj,
            group=spec.get("group", ""),
            kind=(spec.get("names") or {}).get("kind", ""),
            scope=spec.get("scope", "Namespaced"),
            served=frozenset(v["name"] for v in versions if v.get("served")),
            schemas={v["name"]: (v.get("schema") or {}).get("openAPIV3Schema") or {} for v in versions},
        )
    return index


# Custom resource groups allowed without their CRD in the set, each with the reason. Empty: every
# CRD the platform uses comes from a chart it deploys.
CRD_NOT_REQUIRED: dict[str, str] = {}

# JSON Schema keywords that mean the same in a CRD's OpenAPI v3 (structural) schema.
_SAME_KEYWORDS = frozenset({
    "type", "enum", "format", "minimum", "maximum", "multipleOf", "minLength", "maxLength", "pattern",
    "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "required",
})

# ObjectMeta as a client may send it. Ref: kubernetes/apimachinery pkg/apis/meta/v1/types.go
# (ObjectMeta); the API server validates a custom resource's metadata itself, whatever the CRD says.
_OBJECT_META = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
        "ownerReferences": {"type": "array", "items": {"type": "object"}},
        **{k: {} for k in ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                           "deletionGracePeriodSeconds", "managedFields", "selfLink")},
    },
    "additionalProperties": False,
}


def _convert(node: Mapping[str, Any], structural: bool = True) -> dict[str, Any]:
    """One node of a CRD's openAPIV3Schema as JSON Schema, with the API server's rules made explicit.

    Ref: kubernetes/apiextensions-apiserver pkg/apiserver/schema (structural schemas, pruning,
    defaulting) and https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
    - an object with `properties` and neither `additionalProperties` nor
      `x-kubernetes-preserve-unknown-fields: true` prunes unknown fields: here they are errors;
    - `nullable: true` admits null; `x-kubernetes-int-or-string` admits an integer or a string;
    - `x-kubernetes-embedded-resource` admits apiVersion, kind and metadata;
    - a property with a `default` is filled in before validation, so it is not `required` here.
    Value validations inside allOf/anyOf/oneOf/not never declare fields (structural rule), so no
    unknown-field rule is added there. CEL rules (`x-kubernetes-validations`) are not evaluated.
    """
    out: dict[str, Any] = {k: v for k, v in node.items() if k in _SAME_KEYWORDS}
    if "properties" in node:
        out["properties"] = {k: _convert(v) for k, v in node["properties"].items()}
    if isinstance(node.get("items"), Mapping):
        out["items"] = _convert(node["items"])
    additional = node.get("additionalProperties")
    if isinstance(additional, Mapping):
        out["additionalProperties"] = _convert(additional)
    elif isinstance(additional, bool):
        out["additionalProperties"] = additional
    for key in ("allOf", "anyOf", "oneOf"):
        if key in node:
            out[key] = [_convert(sub, structural=False) for sub in node[key]]
    if isinstance(node.get("not"), Mapping):
        out["not"] = _convert(node["not"], structural=False)
    # OpenAPI 3.0's boolean exclusive bounds are JSON Schema's numeric ones.
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if node.get(bound) is True and limit in node:
            out[bound] = out.pop(limit)
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    if node.get("x-kubernetes-embedded-resource"):
        props = out.setdefault("properties", {})
        props.setdefault("apiVersion", {"type": "string"})
        props.setdefault("kind", {"type": "string"})
        props.setdefault("metadata", {"type": "object"})
    if "required" in out and "properties" in node:
        out["required"] = [r for r in out["required"] if "default" not in (node["properties"].get(r) or {})]
    if (
        structural
        and "properties" in out
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if node.get("x-kubernetes-list-type") == "set":
        out["uniqueItems"] = True
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
        if "anyOf" in out:
            out["anyOf"] = [*out["anyOf"], {"type": "null"}]
    return out


def crd_json_schema(openapi_v3_schema: Mapping[str, Any]) -> dict[str, Any]:
    """A CRD version's openAPIV3Schema as a JSON Schema for a whole custom resource: apiVersion, kind
    and metadata are implicit at the top level (the API server checks metadata as ObjectMeta)."""
    schema = _convert(openapi_v3_schema)
    schema["type"] = "object"
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"type": "string"}
    props["kind"] = {"type": "string"}
    declared_meta = props.get("metadata")
    # A CRD may only narrow metadata.name/generateName; keep that, under ObjectMeta's field rule.
    props["metadata"] = {"allOf": [_OBJECT_META, {k: v for k, v in declared_meta.items() if k != "additionalProperties"}]} if declared_meta else _OBJECT_META
    if not openapi_v3_schema.get("x-kubernetes-preserve-unknown-fields"):
        schema["additionalProperties"] = False
    return schema


@functools.lru_cache(maxsize=64)
def _crd_validator(schema_json: str) -> jsonschema.protocols.Validator:
    """Compiled once per distinct schema (the same CRDs come back for every stack and minor)."""
    return jsonschema.Draft202012Validator(crd_json_schema(json.loads(schema_json)))


# Built-in types a CRD leaves untyped (x-kubernetes-preserve-unknown-fields) that its operator
# decodes as that type, ignoring unknown fields: validated against the built-in definition, without
# `required` (the operator merges them into its own defaults). (group, kind) -> ((path, definition), ...)
# Ref: elastic/cloud-on-k8s v3.5.0 pkg/apis/elasticsearch/v1/elasticsearch_types.go
# (NodeSet.PodTemplate corev1.PodTemplateSpec, +kubebuilder:pruning:PreserveUnknownFields).
EMBEDDED_BUILTINS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("elasticsearch.k8s.elastic.co", "Elasticsearch"): (("spec.nodeSets[].podTemplate", "io.k8s.api.core.v1.PodTemplateSpec"),),
}

# Draft 2020-12 without `required`: for partial objects an operator completes.
_PartialValidator = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"required": lambda *_: iter(())})


@functools.cache
def _definition_validator(schema_dir: str, definition: str) -> jsonschema.protocols.Validator:
    schema = {"$ref": f"https://kubernetes.io/api/_definitions.json#/$defs/{definition}"}
    return _PartialValidator(schema, registry=_definitions_registry(schema_dir))


def _check_embedded_builtins(obj: Obj, kube_versions: Sequence[str]) -> list[str]:
    problems = []
    for path, definition in EMBEDDED_BUILTINS.get((group_of(obj), str(obj.get("kind"))), ()):
        for at, value in _walk(obj, path):
            for kube_version in kube_versions:
                validator = _definition_validator(_schema_dir(kube_version), definition)
                for error in sorted(validator.iter_errors(value), key=_error_path):
                    where = _json_path(error.absolute_path, at)
                    problems.append(_problem(obj, "crd-schema", f"Kubernetes {kube_version} {definition.rsplit('.', 1)[-1]}: {where}: {error.message}"))
    return problems


def check_custom_resources(objects: Sequence[Obj], kube_versions: Sequence[str] | None = None) -> list[str]:
    """Every custom resource valid against its CRD in the same set: served version, scope, schema;
    built-in parts the CRD leaves untyped (EMBEDDED_BUILTINS) against the schema of each minor
    (default: the newest kubernetes-validate has)."""
    kube_versions = list(kube_versions or supported_kube_versions()[-1:])
    crds = crd_index(objects)
    validators: dict[tuple[str, str, str], jsonschema.protocols.Validator] = {}
    problems = []
    for obj in objects:
        group, kind, version = group_of(obj), str(obj.get("kind", "")), version_of(obj)
        crd = crds.get((group, kind))
        if crd is None:
            if not _is_builtin_group(group) and group not in CRD_NOT_REQUIRED:
                problems.append(_problem(obj, "crd", f"no CustomResourceDefinition for {kind} in group {group} in the set"))
            continue
        if version not in crd.served:
            problems.append(_problem(obj, "crd", f"{obj.get('apiVersion')} is not served by CRD {name_of(crd.obj)} (served: {', '.join(sorted(crd.served)) or 'none'})"))
            continue
        if (crd.scope == "Cluster") == bool(namespace_of(obj)):
            problems.append(_problem(obj, "crd", f"CRD {name_of(crd.obj)} is {crd.scope}-scoped but the object {'has' if namespace_of(obj) else 'has no'} namespace"))
        key = (group, kind, version)
        if key not in validators:
            validators[key] = _crd_validator(json.dumps(crd.schemas.get(version) or {}, sort_keys=True))
        for error in sorted(validators[key].iter_errors(obj), key=_error_path):
            problems.append(_problem(obj, "crd-schema", f"{_error_path(error)}: {error.message}"))
        problems += _check_embedded_builtins(obj, kube_versions)
    return problems


# ---------------------------------------------------------------------------------------------
# 3. Uniqueness


def _key(obj: Obj) -> tuple[str, str, str, str]:
    return group_of(obj), str(obj.get("kind", "")), namespace_of(obj), name_of(obj)


def check_unique(objects: Sequence[Obj]) -> list[str]:
    """No two objects with the same group, kind, namespace and name (the version does not count: one
    object is served under every version of its group)."""
    seen: dict[tuple[str, str, str, str], list[Obj]] = {}
    for obj in objects:
        seen.setdefault(_key(obj), []).append(obj)
    return [
        _problem(same[0], "unique", f"declared {len(same)} times ({', '.join(str(o.get('apiVersion')) for o in same)})")
        for same in seen.values()
        if len(same) > 1
    ]


# ---------------------------------------------------------------------------------------------
# 4. References: the cluster model


@dataclass(frozen=True)
class Pods:
    """Pods something runs: a workload's template, or what an operator creates for a CR."""

    owner: str  # describe() of the object that runs them
    namespace: str
    labels: Mapping[str, str]
    port_names: frozenset[str]


@dataclass(frozen=True)
class Provided:
    """Objects something other than the set creates (an operator, Kubernetes itself): Services,
    Secrets, ConfigMaps, ... as minimal Kubernetes dicts, and pods."""

    objects: tuple[dict[str, Any], ...] = ()
    pods: tuple[Pods, ...] = ()


# Marks a provided object: it is there, but only the fields its creator is known to set are.
PROVIDED_BY = "x-provided-by"


def _provided(kind: str, namespace: str, name: str, by: str, *, labels: Mapping[str, str] | None = None,
              selector: Mapping[str, str] | None = None, ports: Sequence[tuple[str, str]] = (),
              keys: Iterable[str] | None = None) -> dict[str, Any]:
    """A provided object; `ports` are (Service port name, targetPort); `keys` the data keys when known."""
    obj: dict[str, Any] = {
        "apiVersion": "v1", "kind": kind, PROVIDED_BY: by,
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
    }
    if kind == "Service":
        obj["spec"] = {"selector": dict(selector or {}), "ports": [{"name": p, "targetPort": t} for p, t in ports]}
    if keys is not None:
        obj["data"] = {k: "" for k in keys}
    return obj


def _container_port_names(containers: Iterable[Mapping[str, Any]]) -> set[str]:
    return {p["name"] for c in containers for p in c.get("ports") or [] if p.get("name")}


def _pod_port_names(spec: Mapping[str, Any]) -> frozenset[str]:
    """Named ports of a pod: its containers' and its sidecars' (init containers that keep running,
    restartPolicy: Always). Ref: https://kubernetes.io/docs/concepts/workloads/pods/sidecar-containers/"""
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return frozenset(_container_port_names([*(spec.get("containers") or []), *sidecars]))


# --- prometheus-operator ---------------------------------------------------------------------


def _prometheus_provides(cr: Obj) -> Provided:
    """What prometheus-operator (v0.93) creates for a `Prometheus` named N.

    Ref: prometheus-operator/prometheus-operator v0.93.0
    - pods: pkg/prometheus/server/operator.go makeSelectorLabels (app.kubernetes.io/name=prometheus,
      app.kubernetes.io/managed-by=prometheus-operator, app.kubernetes.io/instance=N,
      operator.prometheus.io/name=N, prometheus=N) and statefulset.go (operator.prometheus.io/shard,
      spec.podMetadata.labels under them); ports: pkg/prometheus/common.go MakeContainerPorts
      (spec.portName, default "web", none with listenLocal), statefulset.go createThanosContainer
      ("http", "grpc" with spec.thanos), pkg/operator/config_reloader.go ("reloader-web");
    - Service prometheus-operated unless spec.serviceName: pkg/prometheus/common.go
      BuildStatefulSetService (label operated-prometheus=true, selects app.kubernetes.io/name) and
      server/operator.go (adds "grpc" with spec.thanos);
    - Secrets prometheus-N (config), prometheus-N-web-config, prometheus-N-tls-assets-0 and ConfigMap
      prometheus-N-rulefiles-0: pkg/prometheus/common.go ConfigSecretName/WebConfigSecretName/
      TLSAssetsSecretName, pkg/operator/sharded_secret.go ("-<index>"), pkg/operator/rules.go.
    """
    spec, name, ns = cr.get("spec") or {}, name_of(cr), namespace_of(cr)
    by = describe(cr)
    port = spec.get("portName") or "web"
    ports = set() if spec.get("listenLocal") else {port, "reloader-web"}
    if spec.get("thanos") is not None:
        ports |= {"http", "grpc"}
    ports |= _container_port_names(spec.get("containers") or [])
    selector = {
        "app.kubernetes.io/name": "prometheus", "app.kubernetes.io/managed-by": "prometheus-operator",
        "app.kubernetes.io/instance": name, "operator.prometheus.io/name": name, "prometheus": name,
    }
    extra = (spec.get("podMetadata") or {}).get("labels") or {}
    pods = tuple(
        Pods(by, ns, {**extra, **selector, "operator.prometheus.io/shard": str(shard)}, frozenset(ports))
        for shard in range(max(int(spec.get("shards") or 1), 1))
    )
    objects = [
        _provided("Secret", ns, f"prometheus-{name}", by, keys=["prometheus.yaml.gz"]),
        _provided("Secret", ns, f"prometheus-{name}-web-config", by, keys=["web-config.yaml"]),
        _provided("Secret", ns, f"prometheus-{name}-tls-assets-0", by),
        _provided("ConfigMap", ns, f"prometheus-{name}-rulefiles-0", by),
    ]
    if not spec.get("serviceName"):
        service_ports = [(port, port)] + ([("grpc", "grpc")] if spec.get("thanos") is not None else [])
        objects.append(_provided("Service", ns, "prometheus-operated", by, labels={"operated-prometheus": "true"},
                                 selector={"app.kubernetes.io/name": "prometheus"}, ports=service_ports))
    return Provided(tuple(objects), pods)


def _alertmanager_provides(cr: Obj) -> Provided:
    """What prometheus-operator (v0.93) creates for an `Alertmanager` named N.

    Ref: prometheus-operator/prometheus-operator v0.93.0
    - pods: pkg/alertmanager/operator.go makeSelectorLabels (app.kubernetes.io/name=alertmanager,
      app.kubernetes.io/managed-by, app.kubernetes.io/instance=N, alertmanager=N), statefulset.go
      (spec.podMetadata.labels under them; ports spec.portName default "web", "mesh-tcp",
      "mesh-udp"), pkg/operator/config_reloader.go ("reloader-web");
    - Service alertmanager-operated: statefulset.go makeStatefulSetService (label
      operated-alertmanager=true; ports portName, tcp-mesh, udp-mesh);
    - Secrets alertmanager-N-generated, alertmanager-N-web-config, alertmanager-N-tls-assets-0:
      statefulset.go generatedConfigSecretName/webConfigSecretName, operator.go.
    """
    spec, name, ns = cr.get("spec") or {}, name_of(cr), namespace_of(cr)
    by = describe(cr)
    port = spec.get("portName") or "web"
    ports = {"mesh-tcp", "mesh-udp", "reloader-web"} | (set() if spec.get("listenLocal") else {port})
    ports |= _container_port_names(spec.get("containers") or [])
    selector = {
        "app.kubernetes.io/name": "alertmanager", "app.kubernetes.io/managed-by": "prometheus-operator",
        "app.kubernetes.io/instance": name, "alertmanager": name,
    }
    extra = (spec.get("podMetadata") or {}).get("labels") or {}
    objects = (
        _provided("Secret", ns, f"alertmanager-{name}-generated", by),
        _provided("Secret", ns, f"alertmanager-{name}-web-config", by, keys=["web-config.yaml"]),
        _provided("Secret", ns, f"alertmanager-{name}-tls-assets-0", by),
        _provided("Service", ns, "alertmanager-operated", by, labels={"operated-alertmanager": "true"},
                  selector={"app.kubernetes.io/name": "alertmanager"},
                  ports=[(port, port), ("tcp-mesh", "mesh-tcp"), ("udp-mesh", "mesh-udp")]),
    )
    return Provided(objects, (Pods(by, ns, {**extra, **selector}, frozenset(ports)),))


def _thanos_ruler_provides(cr: Obj) -> Provided:
    """What prometheus-operator (v0.93) creates for a `ThanosRuler` named N.

    Ref: prometheus-operator/prometheus-operator v0.93.0
    - pods: pkg/thanos/operator.go makeSelectorLabels (app.kubernetes.io/name=thanos-ruler,
      app.kubernetes.io/managed-by, app.kubernetes.io/instance=N, thanos-ruler=N), statefulset.go
      (spec.podMetadata.labels under them; ports "grpc" 10901 and spec.portName, default "web",
      unless listenLocal; the config-reloader's "reloader-web");
    - Service thanos-ruler-operated: statefulset.go makeStatefulSetService (label
      operated-thanos-ruler=true, selects app.kubernetes.io/name=thanos-ruler; ports portName, grpc).
    """
    spec, name, ns = cr.get("spec") or {}, name_of(cr), namespace_of(cr)
    by = describe(cr)
    port = spec.get("portName") or "web"
    ports = {"grpc", "reloader-web"} | (set() if spec.get("listenLocal") else {port})
    ports |= _container_port_names(spec.get("containers") or [])
    selector = {
        "app.kubernetes.io/name": "thanos-ruler", "app.kubernetes.io/managed-by": "prometheus-operator",
        "app.kubernetes.io/instance": name, "thanos-ruler": name,
    }
    extra = (spec.get("podMetadata") or {}).get("labels") or {}
    objects = (
        _provided("Service", ns, "thanos-ruler-operated", by, labels={"operated-thanos-ruler": "true"},
                  selector={"app.kubernetes.io/name": "thanos-ruler"}, ports=[(port, port), ("grpc", "grpc")]),
    )
    return Provided(objects, (Pods(by, ns, {**extra, **selector}, frozenset(ports)),))


def _kubelet_service_provides(deployment: Obj) -> Provided:
    """The kubelet Service prometheus-operator maintains when started with
    `--kubelet-service=<namespace>/<name>`.

    Ref: prometheus-operator/prometheus-operator v0.93.0 cmd/operator/main.go (flag),
    pkg/kubelet/controller.go (labels k8s-app=kubelet, app.kubernetes.io/name=kubelet,
    app.kubernetes.io/managed-by=prometheus-operator; ports https-metrics, http-metrics, cadvisor).
    """
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    objects = []
    for container in spec.get("containers") or []:
        for arg in container.get("args") or []:
            if isinstance(arg, str) and arg.startswith("--kubelet-service="):
                ns, _, svc = arg.split("=", 1)[1].partition("/")
                objects.append(_provided(
                    "Service", ns, svc, describe(deployment),
                    labels={"k8s-app": "kubelet", "app.kubernetes.io/name": "kubelet", "app.kubernetes.io/managed-by": "prometheus-operator"},
                    ports=[("https-metrics", "10250"), ("http-metrics", "10255"), ("cadvisor", "4194")],
                ))
    return Provided(tuple(objects))


def _cert_manager_ingress_provides(ingress: Obj) -> Provided:
    """The TLS Secrets cert-manager's ingress-shim creates for an Ingress annotated with
    `cert-manager.io/cluster-issuer` (or `cert-manager.io/issuer`): one per `spec.tls[].secretName`,
    with keys tls.crt and tls.key. Without the annotation nothing creates them.

    Ref: https://cert-manager.io/docs/usage/ingress/ (annotations; "secretName ... will be created")
    """
    annotations = (ingress.get("metadata") or {}).get("annotations") or {}
    if not {"cert-manager.io/cluster-issuer", "cert-manager.io/issuer"} & set(annotations):
        return Provided()
    secrets = [
        _provided("Secret", namespace_of(ingress), tls["secretName"], describe(ingress), keys=("tls.crt", "tls.key"))
        for tls in ((ingress.get("spec") or {}).get("tls") or [])
        if tls.get("secretName")
    ]
    return Provided(tuple(secrets))


# --- ECK -------------------------------------------------------------------------------------


def _es_http_protocol(spec: Mapping[str, Any]) -> str:
    """"https" unless self-signed TLS is disabled and no certificate is given.
    Ref: elastic/cloud-on-k8s v3.5.0 pkg/apis/common/v1/common.go HTTPConfig.Protocol, TLSOptions.Enabled."""
    tls = (spec.get("http") or {}).get("tls") or {}
    disabled = ((tls.get("selfSignedCertificate") or {}).get("disabled")) is True
    return "http" if disabled and not (tls.get("certificate") or {}).get("secretName") else "https"


def _elasticsearch_provides(cr: Obj) -> Provided:
    """What ECK (3.5) creates for an `Elasticsearch` named N (names are N-es-<suffix>).

    Ref: elastic/cloud-on-k8s v3.5.0
    - names: pkg/apis/elasticsearch/v1/name.go (ESNamer "es"; http, internal-http, transport,
      elastic-user, internal-users, xpack-file-realm, remote-ca, secure-settings, unicast-hosts,
      scripts, <sset>-es-config, <sset>-es-transport-certs), pkg/controller/common/name/name.go
      (owner + "-es-" + suffix), pkg/controller/common/certificates/secret.go and ca_reconcile.go
      (N-es-http-certs-public, -http-certs-internal, -http-ca-internal, -transport-certs-public,
      -transport-ca-internal);
    - Services: pkg/controller/elasticsearch/services/services.go (N-es-http and N-es-internal-http
      port named after the protocol, N-es-transport "tls-transport", selector cluster-name + type),
      nodespec/statefulset.go HeadlessServiceName (one per node set, named like its StatefulSet);
    - pods: pkg/controller/elasticsearch/label/label.go NewPodLabels
      (common.k8s.elastic.co/type=elasticsearch, elasticsearch.k8s.elastic.co/cluster-name=N,
      elasticsearch.k8s.elastic.co/statefulset-name=N-es-<nodeSet>, under podTemplate labels);
      ports: nodespec/podspec.go getDefaultContainerPorts (protocol name, "transport");
    - the elastic user's password is under key "elastic": user/predefined.go ElasticUserName.
    """
    spec, name, ns = cr.get("spec") or {}, name_of(cr), namespace_of(cr)
    by = describe(cr)
    es = f"{name}-es"
    protocol = _es_http_protocol(spec)
    cluster = {"common.k8s.elastic.co/type": "elasticsearch", "elasticsearch.k8s.elastic.co/cluster-name": name}
    objects = [
        _provided("Service", ns, f"{es}-http", by, labels=cluster, selector=cluster, ports=[(protocol, protocol)]),
        _provided("Service", ns, f"{es}-internal-http", by, labels=cluster, selector=cluster, ports=[(protocol, protocol)]),
        _provided("Service", ns, f"{es}-transport", by, labels=cluster, selector=cluster, ports=[("tls-transport", "9300")]),
        _provided("Secret", ns, f"{es}-elastic-user", by, keys=["elastic"]),
        *(_provided("Secret", ns, f"{es}-{suffix}", by) for suffix in (
            "http-certs-public", "http-certs-internal", "http-ca-internal", "transport-certs-public",
            "transport-ca-internal", "internal-users", "xpack-file-realm", "remote-ca", "secure-settings",
        )),
        *(_provided("ConfigMap", ns, f"{es}-{suffix}", by) for suffix in ("unicast-hosts", "scripts")),
    ]
    pods = []
    for node_set in spec.get("nodeSets") or []:
        sset = f"{es}-{node_set.get('name', '')}"
        template = node_set.get("podTemplate") or {}
        labels = {**((template.get("metadata") or {}).get("labels") or {}), **cluster, "elasticsearch.k8s.elastic.co/statefulset-name": sset}
        ports = {protocol, "transport"} | _pod_port_names(template.get("spec") or {})
        pods.append(Pods(by, ns, labels, frozenset(ports)))
        objects.append(_provided("Service", ns, sset, by, labels=cluster, selector={**cluster, "elasticsearch.k8s.elastic.co/statefulset-name": sset}))
        objects.append(_provided("Secret", ns, f"{sset}-es-config", by))
        objects.append(_provided("Secret", ns, f"{sset}-es-transport-certs", by))
    return Provided(tuple(objects), tuple(pods))


@dataclass(frozen=True)
class Creator:
    """Something that creates objects the set refers to but does not contain."""

    reason: str
    derive: Callable[[Obj], Provided]  # its docstring carries the Ref


# (group, kind) of an object in the set -> what gets created for it. Add an operator's CR here.
OPERATOR_CREATED: dict[tuple[str, str], Creator] = {
    ("monitoring.coreos.com", "Prometheus"): Creator("prometheus-operator runs the Prometheus StatefulSet(s) with its config Secrets and governing Service", _prometheus_provides),
    ("monitoring.coreos.com", "Alertmanager"): Creator("prometheus-operator runs the Alertmanager StatefulSet with its generated config and governing Service", _alertmanager_provides),
    ("monitoring.coreos.com", "ThanosRuler"): Creator("prometheus-operator runs the Thanos Ruler StatefulSet and its governing Service", _thanos_ruler_provides),
    ("elasticsearch.k8s.elastic.co", "Elasticsearch"): Creator("ECK runs one StatefulSet per node set with its Services, certificates and the elastic user Secret", _elasticsearch_provides),
    ("apps", "Deployment"): Creator("a prometheus-operator started with --kubelet-service maintains that Service for the kubelets", _kubelet_service_provides),
    ("networking.k8s.io", "Ingress"): Creator("cert-manager issues the TLS Secret of an Ingress annotated with an issuer", _cert_manager_ingress_provides),
}


def _cluster_pods(component: str, labels: Mapping[str, str]) -> Pods:
    return Pods(f"{component} (cluster)", "kube-system", labels, frozenset())


# What Kubernetes itself provides. `namespaced` objects exist in every namespace.
# Ref: kubernetes/kubernetes pkg/controller/serviceaccount/serviceaccounts_controller.go (a
# "default" ServiceAccount in every namespace); pkg/controller/certificates/rootcacertpublisher/
# publisher.go (ConfigMap kube-root-ca.crt, key ca.crt, in every namespace);
# pkg/controlplane/controller/kubernetesservice/controller.go (Service default/kubernetes, labels
# component=apiserver provider=kubernetes, port "https"); plugin/pkg/auth/authorizer/rbac/
# bootstrappolicy/policy.go (cluster-admin, admin, edit, view and the system: roles).
KUBERNETES_CREATED = {
    "namespaced": (("ServiceAccount", "default", None), ("ConfigMap", "kube-root-ca.crt", ("ca.crt",))),
    "services": (("default", "kubernetes", {"component": "apiserver", "provider": "kubernetes"}, ("https",)),),
    "cluster_roles": ("cluster-admin", "admin", "edit", "view"),
    "cluster_role_prefixes": ("system:",),
}

# Pods the cluster runs in kube-system that kube-prometheus-stack's kube-system Services select.
# These are kubeadm's labels; a managed control plane (EKS, GKE, AKS) or k3s runs no etcd,
# scheduler or controller-manager pods, and there those Services select nothing.
# Ref: kubernetes/kubernetes cmd/kubeadm/app/util/staticpod/utils.go ComponentPod (component=<name>,
# tier=control-plane); cmd/kubeadm/app/phases/addons/dns/manifests.go (k8s-app=kube-dns);
# cmd/kubeadm/app/phases/addons/proxy/manifests.go (k8s-app=kube-proxy).
CLUSTER_PODS: tuple[Pods, ...] = (
    _cluster_pods("CoreDNS", {"k8s-app": "kube-dns"}),
    _cluster_pods("kube-proxy", {"k8s-app": "kube-proxy"}),
    *(_cluster_pods(c, {"component": c, "tier": "control-plane"}) for c in ("etcd", "kube-scheduler", "kube-controller-manager", "kube-apiserver")),
)


# --- pod templates ---------------------------------------------------------------------------

# (group, kind) -> paths of the pod specs it carries and of their labels.
POD_TEMPLATES: dict[tuple[str, str], tuple[str, str]] = {
    ("", "Pod"): ("spec", "metadata.labels"),
    ("apps", "Deployment"): ("spec.template.spec", "spec.template.metadata.labels"),
    ("apps", "StatefulSet"): ("spec.template.spec", "spec.template.metadata.labels"),
    ("apps", "DaemonSet"): ("spec.template.spec", "spec.template.metadata.labels"),
    ("apps", "ReplicaSet"): ("spec.template.spec", "spec.template.metadata.labels"),
    ("batch", "Job"): ("spec.template.spec", "spec.template.metadata.labels"),
    ("batch", "CronJob"): ("spec.jobTemplate.spec.template.spec", "spec.jobTemplate.spec.template.metadata.labels"),
}

# Custom resources whose spec carries (parts of) a pod spec the operator copies into its pods:
# their volumes, env, imagePullSecrets and serviceAccountName must resolve like a workload's.
CR_POD_SPECS: dict[tuple[str, str], str] = {
    ("monitoring.coreos.com", "Prometheus"): "spec",
    ("monitoring.coreos.com", "Alertmanager"): "spec",
    ("monitoring.coreos.com", "ThanosRuler"): "spec",
    ("monitoring.coreos.com", "PrometheusAgent"): "spec",
    ("elasticsearch.k8s.elastic.co", "Elasticsearch"): "spec.nodeSets[].podTemplate.spec",
}


def _walk(node: Any, path: str, at: str = "") -> Iterator[tuple[str, Any]]:
    """(location, value) for each value at a dotted path; `name[]` walks every item of a list."""
    if not path:
        if node is not None:
            yield at, node
        return
    head, _, rest = path.partition(".")
    many = head.endswith("[]")
    key = head[:-2] if many else head
    if not isinstance(node, Mapping):
        return
    value = node.get(key) if key else node
    where = f"{at}.{key}" if at and key else (key or at)
    if many:
        for i, item in enumerate(value if isinstance(value, list) else []):
            yield from _walk(item, rest, f"{where}[{i}]")
    else:
        yield from _walk(value, rest, where)


def _first(node: Any, path: str, default: Any = None) -> Any:
    return next((v for _, v in _walk(node, path)), default)


def _template_pods(obj: Obj) -> list[Pods]:
    paths = POD_TEMPLATES.get((group_of(obj), str(obj.get("kind"))))
    if paths is None:
        return []
    spec = _first(obj, paths[0], {})
    return [Pods(describe(obj), namespace_of(obj), _first(obj, paths[1], {}) or {}, _pod_port_names(spec))]


def _statefulset_claims(obj: Obj) -> list[dict[str, Any]]:
    """PVCs a StatefulSet's volumeClaimTemplates create: <template>-<statefulset>-<ordinal>.
    Ref: kubernetes/kubernetes pkg/controller/statefulset/stateful_set_utils.go getPersistentVolumeClaimName."""
    if (group_of(obj), obj.get("kind")) != ("apps", "StatefulSet"):
        return []
    spec = obj.get("spec") or {}
    replicas = max(int(spec.get("replicas", 1) or 0), 1)
    return [
        _provided("PersistentVolumeClaim", namespace_of(obj), f"{name_of(t)}-{name_of(obj)}-{i}", describe(obj))
        for t in spec.get("volumeClaimTemplates") or []
        for i in range(replicas)
    ]


# --- the model -------------------------------------------------------------------------------


@dataclass
class Cluster:
    """The object set plus what operators and Kubernetes create for it, indexed for look-ups."""

    objects: Sequence[Obj]
    by_key: dict[tuple[str, str, str], Obj]  # (kind, namespace, name); core and built-in kinds by kind
    pods: list[Pods]
    namespaces: dict[str, Mapping[str, str]]  # name -> labels
    crds: dict[tuple[str, str], Crd]

    def get(self, kind: str, namespace: str, name: str) -> Obj | None:
        return self.by_key.get((kind, namespace, name))

    def of_kind(self, kind: str, namespaces: Iterable[str] | None = None) -> list[Obj]:
        wanted = None if namespaces is None else set(namespaces)
        return [o for (k, ns, _), o in self.by_key.items() if k == kind and (wanted is None or ns in wanted)]


def build_cluster(objects: Sequence[Obj]) -> Cluster:
    provided: list[dict[str, Any]] = []
    pods: list[Pods] = list(CLUSTER_PODS)
    for obj in objects:
        creator = OPERATOR_CREATED.get((group_of(obj), str(obj.get("kind"))))
        if creator is not None:
            made = creator.derive(obj)
            provided.extend(made.objects)
            pods.extend(made.pods)
        pods.extend(_template_pods(obj))
        provided.extend(_statefulset_claims(obj))
    # The namespaces Kubernetes creates itself, plus the set's. Ref: kubernetes/kubernetes
    # pkg/controlplane/controller/systemnamespaces/system_namespaces_controller.go.
    namespaces: dict[str, Mapping[str, str]] = {ns: {} for ns in ("default", "kube-system", "kube-public", "kube-node-lease")}
    for obj in objects:
        if obj.get("kind") == "Namespace":
            namespaces[name_of(obj)] = labels_of(obj)
    for ns in namespaces:
        for kind, name, keys in KUBERNETES_CREATED["namespaced"]:
            provided.append(_provided(kind, ns, name, "Kubernetes", keys=keys))
    for ns, name, labels, ports in KUBERNETES_CREATED["services"]:
        provided.append(_provided("Service", ns, name, "Kubernetes", labels=labels, ports=[(p, p) for p in ports]))
    by_key: dict[tuple[str, str, str], Obj] = {}
    for obj in provided:  # the set's own objects win over what would be created
        by_key[(obj["kind"], namespace_of(obj), name_of(obj))] = obj
    for obj in objects:
        by_key[(str(obj.get("kind")), namespace_of(obj), name_of(obj))] = obj
    # Kubernetes adds kubernetes.io/metadata.name to every namespace (NamespaceDefaultLabelName).
    namespaces = {ns: {**labels, "kubernetes.io/metadata.name": ns} for ns, labels in namespaces.items()}
    return Cluster(objects, by_key, pods, namespaces, crd_index(objects))


# --- selectors -------------------------------------------------------------------------------


def selector_matches(selector: Mapping[str, Any] | None, labels: Mapping[str, str]) -> bool:
    """A metav1.LabelSelector (matchLabels + matchExpressions); {} matches everything, None nothing.
    Ref: kubernetes/apimachinery pkg/apis/meta/v1/helpers.go LabelSelectorAsSelector."""
    if selector is None:
        return False
    if any(labels.get(k) != str(v) for k, v in (selector.get("matchLabels") or {}).items()):
        return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key"), expr.get("operator"), [str(v) for v in expr.get("values") or []]
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def _map_selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A Service-style equality selector."""
    return all(labels.get(k) == str(v) for k, v in selector.items())


def _monitor_namespaces(monitor: Obj, cluster: Cluster) -> list[str] | None:
    """Namespaces a ServiceMonitor/PodMonitor/Probe selector looks in; None for all.
    Ref: prometheus-operator v0.93.0 pkg/apis/monitoring/v1/types.go NamespaceSelector (any;
    matchNames; neither: the monitor's own namespace)."""
    ns_selector = _first(monitor, "spec.namespaceSelector", {}) or {}
    if ns_selector.get("any"):
        return None
    return list(ns_selector.get("matchNames") or []) or [namespace_of(monitor)]


def _prometheus_namespaces(prometheus: Obj, selector: Mapping[str, Any] | None, cluster: Cluster) -> list[str]:
    """Namespaces a Prometheus picks monitors from: nil selector, its own; else matching Namespaces.
    Ref: prometheus-operator v0.93.0 pkg/operator/operator.go SelectNamespacesFromCache."""
    if selector is None:
        return [namespace_of(prometheus)]
    return [ns for ns, labels in cluster.namespaces.items() if selector_matches(selector, labels)]


def _pods_behind(service: Obj, cluster: Cluster) -> list[Pods]:
    selector = _first(service, "spec.selector") or {}
    if not selector:
        return []
    return [p for p in cluster.pods if p.namespace == namespace_of(service) and _map_selects(selector, p.labels)]


def _service_port_names(service: Obj) -> set[str]:
    return {str(p.get("name")) for p in _first(service, "spec.ports", []) or [] if p.get("name")}


# ---------------------------------------------------------------------------------------------
# 4. References: the rules


@dataclass(frozen=True)
class Ref:
    """One kind of reference: where it sits in the referring object and what it must resolve to.

    `path` locates the referring values (dotted, `[]` walks a list); the value is the target's name
    if it is a string, else a dict with the name under `name`. `optional: true` in that dict skips
    it. `key` is a path in that dict to data keys the target must hold, `keys` keys fixed by the
    consumer; `namespace` the dict field naming another namespace; `port` a field naming a port the
    target Service must have (only named ports are checked)."""

    path: str
    kind: str
    name: str = "name"
    key: str = ""
    keys: tuple[str, ...] = ()
    namespace: str = ""
    port: str = ""


_CONTAINERS = ("containers", "initContainers", "ephemeralContainers")

# Relative to a pod spec (workloads' templates and CRs' pod-spec parts alike).
POD_SPEC_REFS: tuple[Ref, ...] = (
    Ref("volumes[].secret", "Secret", name="secretName", key="items[].key"),
    Ref("volumes[].configMap", "ConfigMap", key="items[].key"),
    Ref("volumes[].persistentVolumeClaim", "PersistentVolumeClaim", name="claimName"),
    Ref("volumes[].projected.sources[].secret", "Secret", key="items[].key"),
    Ref("volumes[].projected.sources[].configMap", "ConfigMap", key="items[].key"),
    *(Ref(f"{c}[].env[].valueFrom.secretKeyRef", "Secret", key="key") for c in _CONTAINERS),
    *(Ref(f"{c}[].env[].valueFrom.configMapKeyRef", "ConfigMap", key="key") for c in _CONTAINERS),
    *(Ref(f"{c}[].envFrom[].secretRef", "Secret") for c in _CONTAINERS),
    *(Ref(f"{c}[].envFrom[].configMapRef", "ConfigMap") for c in _CONTAINERS),
    Ref("imagePullSecrets[]", "Secret"),
    Ref("serviceAccountName", "ServiceAccount"),
    Ref("serviceAccount", "ServiceAccount"),  # deprecated alias, still honoured
)


def _http_client_refs(prefix: str) -> tuple[Ref, ...]:
    """Secret/ConfigMap key selectors of a prometheus-operator HTTP client config (basic auth,
    authorization, OAuth2, TLS, SigV4). Ref: prometheus-operator v0.93.0
    pkg/apis/monitoring/v1/types.go (BasicAuth, SafeAuthorization, OAuth2, SafeTLSConfig, SecretOrConfigMap)."""
    secrets = ("basicAuth.username", "basicAuth.password", "authorization.credentials", "bearerTokenSecret",
               "oauth2.clientSecret", "oauth2.clientId.secret", "tlsConfig.ca.secret", "tlsConfig.cert.secret",
               "tlsConfig.keySecret", "sigv4.accessKey", "sigv4.secretKey")
    config_maps = ("oauth2.clientId.configMap", "tlsConfig.ca.configMap", "tlsConfig.cert.configMap")
    return (
        *(Ref(f"{prefix}.{p}", "Secret", key="key") for p in secrets),
        *(Ref(f"{prefix}.{p}", "ConfigMap", key="key") for p in config_maps),
    )


# (group, kind) -> references in objects of that kind, from the object's root. One line per reference.
# Not checked: a StatefulSet's spec.serviceName. Kubernetes runs the StatefulSet without that
# Service (its pods just get no per-pod DNS names), and charts rely on that: eck-operator 3.5.0
# names "elastic-operator" and creates only "elastic-operator-webhook".
OBJECT_REFS: dict[tuple[str, str], tuple[Ref, ...]] = {
    ("networking.k8s.io", "Ingress"): (
        Ref("spec.rules[].http.paths[].backend.service", "Service", port="port.name"),
        Ref("spec.defaultBackend.service", "Service", port="port.name"),
        Ref("spec.tls[]", "Secret", name="secretName"),
    ),
    ("admissionregistration.k8s.io", "ValidatingWebhookConfiguration"): (Ref("webhooks[].clientConfig.service", "Service", namespace="namespace"),),
    ("admissionregistration.k8s.io", "MutatingWebhookConfiguration"): (Ref("webhooks[].clientConfig.service", "Service", namespace="namespace"),),
    ("apiextensions.k8s.io", "CustomResourceDefinition"): (Ref("spec.conversion.webhook.clientConfig.service", "Service", namespace="namespace"),),
    ("apiregistration.k8s.io", "APIService"): (Ref("spec.service", "Service", namespace="namespace"),),
    ("monitoring.coreos.com", "Prometheus"): (
        Ref("spec.secrets[]", "Secret"),
        Ref("spec.configMaps[]", "ConfigMap"),
        Ref("spec.thanos.objectStorageConfig", "Secret", key="key"),
        Ref("spec.additionalScrapeConfigs", "Secret", key="key"),
        Ref("spec.additionalAlertManagerConfigs", "Secret", key="key"),
        Ref("spec.additionalAlertRelabelConfigs", "Secret", key="key"),
        Ref("spec.alerting.alertmanagers[]", "Service", namespace="namespace", port="port"),
        *_http_client_refs("spec.remoteWrite[]"),
        *_http_client_refs("spec.remoteRead[]"),
        *_http_client_refs("spec.alerting.alertmanagers[]"),
    ),
    ("monitoring.coreos.com", "ThanosRuler"): (
        Ref("spec.objectStorageConfig", "Secret", key="key"),
        Ref("spec.alertmanagersConfig", "Secret", key="key"),
        Ref("spec.queryConfig", "Secret", key="key"),
        Ref("spec.tracingConfig", "Secret", key="key"),
    ),
    ("monitoring.coreos.com", "Alertmanager"): (
        Ref("spec.configSecret", "Secret"),
        Ref("spec.secrets[]", "Secret"),
        Ref("spec.configMaps[]", "ConfigMap"),
    ),
    ("monitoring.coreos.com", "ServiceMonitor"): _http_client_refs("spec.endpoints[]"),
    ("monitoring.coreos.com", "PodMonitor"): _http_client_refs("spec.podMetricsEndpoints[]"),
    ("monitoring.coreos.com", "Probe"): _http_client_refs("spec"),
    # Ref: elastic/cloud-on-k8s v3.5.0 pkg/apis/elasticsearch/v1/elasticsearch_types.go (secureSettings,
    # auth.roles, auth.fileRealm), pkg/apis/common/v1/common.go (TLSOptions.certificate);
    # a custom HTTP certificate needs tls.crt and tls.key: pkg/controller/common/certificates/secret.go parse.
    ("elasticsearch.k8s.elastic.co", "Elasticsearch"): (
        Ref("spec.http.tls.certificate", "Secret", name="secretName", keys=("tls.crt", "tls.key")),
        Ref("spec.transport.tls.certificate", "Secret", name="secretName"),
        Ref("spec.transport.tls.certificateAuthorities", "ConfigMap", name="configMapName"),
        Ref("spec.secureSettings[]", "Secret", name="secretName", key="entries[].key"),
        Ref("spec.auth.roles[]", "Secret", name="secretName"),
        Ref("spec.auth.fileRealm[]", "Secret", name="secretName"),
    ),
}


def _data_keys(obj: Obj) -> set[str] | None:
    """Keys a Secret/ConfigMap holds; None when unknown (a provided object whose keys are not)."""
    if PROVIDED_BY in obj and "data" not in obj:
        return None
    return {k for field_ in ("data", "stringData", "binaryData") for k in (obj.get(field_) or {})}


def _is_builtin_cluster_role(name: str) -> bool:
    return name in KUBERNETES_CREATED["cluster_roles"] or name.startswith(KUBERNETES_CREATED["cluster_role_prefixes"])


def _targets(
    referrer: Obj, ref: Ref, base: Any, base_at: str, skip_optional: bool = True
) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
    """(location, namespace, name, selector dict) of each object `ref` names in `base`."""
    for at, value in _walk(base, ref.path, base_at):
        if isinstance(value, Mapping):
            if skip_optional and value.get("optional") is True:
                continue
            target_name = value.get(ref.name)
            target_ns = (value.get(ref.namespace) if ref.namespace else None) or namespace_of(referrer)
        else:
            target_name, target_ns, value = value, namespace_of(referrer), {}
        if target_name and isinstance(target_name, str):
            yield at, target_ns, target_name, value


def _named_refs(obj: Obj) -> Iterator[tuple[Ref, Any, str]]:
    """(reference rule, the part of `obj` it applies to, where that part is) for every rule of `obj`."""
    for at, spec in _pod_specs(obj):
        for ref in POD_SPEC_REFS:
            yield ref, spec, at
    for ref in OBJECT_REFS.get((group_of(obj), str(obj.get("kind"))), ()):
        yield ref, obj, ""


def referenced(obj: Obj, kinds: Iterable[str]) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of every object of `kinds` that `obj` reads by name, by the same
    reference rules as the checks (its pod specs' and its own fields), optional references included."""
    kinds = set(kinds)
    return {
        (ref.kind, ns, name)
        for ref, base, at in _named_refs(obj) if ref.kind in kinds
        for _, ns, name, _ in _targets(obj, ref, base, at, skip_optional=False)
    }


def _resolve(referrer: Obj, ref: Ref, base: Any, base_at: str, cluster: Cluster) -> list[str]:
    problems = []
    for at, target_ns, target_name, value in _targets(referrer, ref, base, base_at):
        target = cluster.get(ref.kind, target_ns, target_name)
        if target is None:
            problems.append(_problem(referrer, "ref", f"{at}: {ref.kind} {target_ns}/{target_name} not found"))
            continue
        keys = _data_keys(target) if ref.kind in ("Secret", "ConfigMap") else None
        if keys is not None:
            wanted = [*ref.keys, *(k for _, k in _walk(value, ref.key) if isinstance(k, str))] if ref.key else list(ref.keys)
            for key in wanted:
                if key not in keys:
                    problems.append(_problem(referrer, "ref", f"{at}: {ref.kind} {target_ns}/{target_name} has no key {key!r} (has {', '.join(sorted(keys)) or 'none'})"))
        port = _first(value, ref.port) if ref.port else None
        if isinstance(port, str) and port not in _service_port_names(target):
            problems.append(_problem(referrer, "ref", f"{at}: Service {target_ns}/{target_name} has no port named {port!r} (has {', '.join(sorted(_service_port_names(target))) or 'none'})"))
    return problems


def _pod_specs(obj: Obj) -> list[tuple[str, Mapping[str, Any]]]:
    kind = (group_of(obj), str(obj.get("kind")))
    path = POD_TEMPLATES[kind][0] if kind in POD_TEMPLATES else CR_POD_SPECS.get(kind)
    return [(at, spec) for at, spec in _walk(obj, path)] if path else []


def _check_namespace(obj: Obj, cluster: Cluster) -> list[str]:
    """An object's namespace is one the set creates or one Kubernetes has from the start."""
    ns = namespace_of(obj)
    if ns and ns not in cluster.namespaces:
        return [_problem(obj, "namespace", f"namespace {ns} is neither in the set nor one Kubernetes creates")]
    return []


def _check_named_refs(obj: Obj, cluster: Cluster) -> list[str]:
    return [p for ref, base, at in _named_refs(obj) for p in _resolve(obj, ref, base, at, cluster)]


def _check_volume_mounts(obj: Obj, cluster: Cluster) -> list[str]:
    """Every volumeMount names a volume of the pod (or a volumeClaimTemplate). Workloads only: an
    operator adds volumes of its own to the pods of a CR."""
    if (group_of(obj), str(obj.get("kind"))) not in POD_TEMPLATES:
        return []
    claims = {name_of(t) for t in _first(obj, "spec.volumeClaimTemplates", []) or []}
    problems = []
    for at, spec in _pod_specs(obj):
        volumes = {v.get("name") for v in spec.get("volumes") or []} | claims
        for list_name in _CONTAINERS:
            for where, mount in _walk(spec, f"{list_name}[].volumeMounts[]", at):
                if mount.get("name") not in volumes:
                    problems.append(_problem(obj, "volume-mount", f"{where}: no volume named {mount.get('name')!r} in the pod"))
    return problems


def _check_workload_selector(obj: Obj, cluster: Cluster) -> list[str]:
    """A workload's spec.selector must select its own template (the API server rejects it otherwise)."""
    kind = (group_of(obj), str(obj.get("kind")))
    if kind not in POD_TEMPLATES or kind in (("", "Pod"), ("batch", "CronJob"), ("batch", "Job")):
        return []
    selector = _first(obj, "spec.selector")
    labels = _first(obj, POD_TEMPLATES[kind][1], {}) or {}
    if not selector_matches(selector, labels):
        return [_problem(obj, "workload-selector", f"spec.selector {_brief(selector)} does not select the pod template's labels {_brief(labels)}")]
    return []


def _brief(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _check_service(obj: Obj, cluster: Cluster) -> list[str]:
    """A Service's selector selects pods in its namespace, and each named targetPort is a container
    port of at least one of them (a pod without it gets no endpoint for that port)."""
    if (group_of(obj), obj.get("kind")) != ("", "Service") or PROVIDED_BY in obj:
        return []
    spec = obj.get("spec") or {}
    if spec.get("type") == "ExternalName" or not spec.get("selector"):
        return []  # endpoints managed by hand or by a controller
    pods = _pods_behind(obj, cluster)
    if not pods:
        return [_problem(obj, "service-selector", f"selector {_brief(spec['selector'])} matches no pods in namespace {namespace_of(obj)}")]
    names = set().union(*(p.port_names for p in pods))
    return [
        _problem(obj, "service-port", f"port {port.get('name') or port.get('port')}: targetPort {port['targetPort']!r} is no container port of the selected pods ({', '.join(sorted({p.owner for p in pods}))}; ports: {', '.join(sorted(names)) or 'none'})")
        for port in spec.get("ports") or []
        if isinstance(port.get("targetPort"), str) and not port["targetPort"].isdigit() and port["targetPort"] not in names
    ]


def _check_service_monitor(obj: Obj, cluster: Cluster) -> list[str]:
    """A ServiceMonitor selects Services, and each endpoint's port is one of theirs.
    Ref: prometheus-operator v0.93.0 Documentation/api-reference (Endpoint.port: the Service port
    name; targetPort: the pod's container port, name or number)."""
    if (group_of(obj), obj.get("kind")) != ("monitoring.coreos.com", "ServiceMonitor"):
        return []
    selector = _first(obj, "spec.selector", {}) or {}
    services = [s for s in cluster.of_kind("Service", _monitor_namespaces(obj, cluster)) if selector_matches(selector, labels_of(s))]
    if not services:
        where = _monitor_namespaces(obj, cluster)
        return [_problem(obj, "servicemonitor-selector", f"selector {_brief(selector)} matches no Service in {'any namespace' if where is None else ', '.join(where)}")]
    ports = set().union(*(_service_port_names(s) for s in services))
    pod_ports = set().union(set(), *(p.port_names for s in services for p in _pods_behind(s, cluster)))
    problems = []
    for at, endpoint in _walk(obj, "spec.endpoints[]"):
        if endpoint.get("port") and endpoint["port"] not in ports:
            problems.append(_problem(obj, "servicemonitor-port", f"{at}.port {endpoint['port']!r} is no port of the selected Services ({', '.join(sorted(name_of(s) for s in services))}; ports: {', '.join(sorted(ports))})"))
        target = endpoint.get("targetPort")
        if isinstance(target, str) and not target.isdigit() and target not in pod_ports:
            problems.append(_problem(obj, "servicemonitor-port", f"{at}.targetPort {target!r} is no container port of the pods behind the selected Services"))
    return problems


def _check_pod_monitor(obj: Obj, cluster: Cluster) -> list[str]:
    """A PodMonitor selects pods, and each podMetricsEndpoints[].port is a container port name."""
    if (group_of(obj), obj.get("kind")) != ("monitoring.coreos.com", "PodMonitor"):
        return []
    selector = _first(obj, "spec.selector", {}) or {}
    where = _monitor_namespaces(obj, cluster)
    pods = [p for p in cluster.pods if (where is None or p.namespace in where) and selector_matches(selector, p.labels)]
    if not pods:
        return [_problem(obj, "podmonitor-selector", f"selector {_brief(selector)} matches no pods in {'any namespace' if where is None else ', '.join(where)}")]
    names = set().union(*(p.port_names for p in pods))
    return [
        _problem(obj, "podmonitor-port", f"{at}.port {endpoint['port']!r} is no container port of the selected pods (ports: {', '.join(sorted(names)) or 'none'})")
        for at, endpoint in _walk(obj, "spec.podMetricsEndpoints[]")
        if endpoint.get("port") and endpoint["port"] not in names
    ]


def _check_probe(obj: Obj, cluster: Cluster) -> list[str]:
    """A Probe's ingress targets select at least one Ingress (static targets and the prober URL are
    addresses, not references)."""
    if (group_of(obj), obj.get("kind")) != ("monitoring.coreos.com", "Probe"):
        return []
    ingress = _first(obj, "spec.targets.ingress")
    if ingress is None:
        return []
    selector = ingress.get("selector") or {}
    ns = ingress.get("namespaceSelector") or {}
    where = None if ns.get("any") else (list(ns.get("matchNames") or []) or [namespace_of(obj)])
    if not [i for i in cluster.of_kind("Ingress", where) if selector_matches(selector, labels_of(i))]:
        return [_problem(obj, "probe-ingress", f"spec.targets.ingress selector {_brief(selector)} matches no Ingress")]
    return []


def _check_pdb(obj: Obj, cluster: Cluster) -> list[str]:
    """A PodDisruptionBudget selects pods in its namespace (else it protects nothing)."""
    if (group_of(obj), obj.get("kind")) != ("policy", "PodDisruptionBudget"):
        return []
    selector = _first(obj, "spec.selector")
    if not [p for p in cluster.pods if p.namespace == namespace_of(obj) and selector_matches(selector, p.labels)]:
        return [_problem(obj, "pdb-selector", f"selector {_brief(selector)} matches no pods in namespace {namespace_of(obj)}")]
    return []


def _check_network_policy(obj: Obj, cluster: Cluster) -> list[str]:
    """A NetworkPolicy's podSelector selects pods in its namespace ({} is namespace-wide, fine with
    no pods yet); each named ingress port is a container port of a selected pod (else that rule
    admits nothing); each peer podSelector without a namespaceSelector selects pods in the policy's
    namespace (with one, the peers may live outside the set and are not checked).
    Ref: https://kubernetes.io/docs/concepts/services-networking/network-policies/ (podSelector,
    NetworkPolicyPeer, named ports)."""
    if (group_of(obj), obj.get("kind")) != ("networking.k8s.io", "NetworkPolicy"):
        return []
    ns = namespace_of(obj)
    in_ns = [p for p in cluster.pods if p.namespace == ns]
    selector = _first(obj, "spec.podSelector", {}) or {}
    selected = [p for p in in_ns if selector_matches(selector, p.labels)]
    problems = []
    if selector and not selected:
        problems.append(_problem(obj, "networkpolicy-selector", f"podSelector {_brief(selector)} matches no pods in namespace {ns}"))
    names = set().union(set(), *(p.port_names for p in selected))
    for at, port in _walk(obj, "spec.ingress[].ports[]"):
        named = port.get("port")
        if selected and isinstance(named, str) and not named.isdigit() and named not in names:
            problems.append(_problem(obj, "networkpolicy-port", f"{at}.port {named!r} is no container port of the selected pods (ports: {', '.join(sorted(names)) or 'none'})"))
    for rule_path in ("spec.ingress[].from[]", "spec.egress[].to[]"):
        for at, peer in _walk(obj, rule_path):
            if "podSelector" in peer and "namespaceSelector" not in peer and not [p for p in in_ns if selector_matches(peer["podSelector"], p.labels)]:
                problems.append(_problem(obj, "networkpolicy-peer", f"{at}.podSelector {_brief(peer['podSelector'])} matches no pods in namespace {ns}"))
    return problems


def _check_binding(obj: Obj, cluster: Cluster) -> list[str]:
    """A (Cluster)RoleBinding's role exists (a Role in its namespace, a ClusterRole in the set or
    built in) and so does each ServiceAccount subject."""
    if (group_of(obj), obj.get("kind")) not in (("rbac.authorization.k8s.io", "RoleBinding"), ("rbac.authorization.k8s.io", "ClusterRoleBinding")):
        return []
    problems = []
    role = obj.get("roleRef") or {}
    role_ns = namespace_of(obj) if role.get("kind") == "Role" else ""
    if cluster.get(str(role.get("kind")), role_ns, str(role.get("name"))) is None and not (
        role.get("kind") == "ClusterRole" and _is_builtin_cluster_role(str(role.get("name")))
    ):
        problems.append(_problem(obj, "ref", f"roleRef: {role.get('kind')} {role_ns + '/' if role_ns else ''}{role.get('name')} not found"))
    for at, subject in _walk(obj, "subjects[]"):
        if subject.get("kind") != "ServiceAccount":
            continue  # users and groups live outside the cluster
        ns = subject.get("namespace") or namespace_of(obj)
        if cluster.get("ServiceAccount", ns, str(subject.get("name"))) is None:
            problems.append(_problem(obj, "ref", f"{at}: ServiceAccount {ns}/{subject.get('name')} not found"))
    return problems


# Which Prometheus selector picks each monitoring kind (<field>Selector, <field>NamespaceSelector).
# Ref: prometheus-operator v0.93.0 pkg/prometheus/resource_selector.go (a nil selector selects nothing).
MONITOR_SELECTORS: dict[str, str] = {
    "ServiceMonitor": "serviceMonitor",
    "PodMonitor": "podMonitor",
    "Probe": "probe",
    "ScrapeConfig": "scrapeConfig",
    "PrometheusRule": "rule",
}


def _check_selected_by_prometheus(obj: Obj, cluster: Cluster) -> list[str]:
    """A monitor or rule no Prometheus in the set selects is never used. Only checked when the set
    has a Prometheus (otherwise the selecting happens outside it). A PrometheusRule may instead be
    selected by a ThanosRuler, but never by both: its groups would be evaluated twice (and the
    ruler's copy written with other labels). Ref: prometheus-operator v0.93.0 pkg/thanos/rules.go
    (ruleSelector, ruleNamespaceSelector as for Prometheus)."""
    field_ = MONITOR_SELECTORS.get(str(obj.get("kind"))) if group_of(obj) == "monitoring.coreos.com" else None
    prometheuses = cluster.of_kind("Prometheus")
    if field_ is None or not prometheuses:
        return []

    def selecting(crs: list[Obj]) -> list[Obj]:
        return [
            cr for cr in crs
            if selector_matches((cr.get("spec") or {}).get(f"{field_}Selector"), labels_of(obj))
            and namespace_of(obj) in _prometheus_namespaces(cr, (cr.get("spec") or {}).get(f"{field_}NamespaceSelector"), cluster)
        ]

    by_prometheus = selecting(prometheuses)
    by_ruler = selecting(cluster.of_kind("ThanosRuler")) if field_ == "rule" else []
    if by_prometheus and by_ruler:
        return [_problem(obj, "double-evaluated", f"selected by {describe(by_prometheus[0])} and {describe(by_ruler[0])}: its groups run twice")]
    if by_prometheus or by_ruler:
        return []
    selectors = ", ".join(f"{describe(p)} {field_}Selector {_brief(_first(p, f'spec.{field_}Selector'))}" for p in prometheuses)
    return [_problem(obj, "not-selected", f"no Prometheus selects it ({selectors})")]


REFERENCE_RULES: tuple[Callable[[Obj, Cluster], list[str]], ...] = (
    _check_namespace,
    _check_named_refs,
    _check_volume_mounts,
    _check_workload_selector,
    _check_service,
    _check_service_monitor,
    _check_pod_monitor,
    _check_probe,
    _check_pdb,
    _check_network_policy,
    _check_binding,
    _check_selected_by_prometheus,
)


def check_references(objects: Sequence[Obj]) -> list[str]:
    """Every reference resolves to an object in the set or to one an operator or Kubernetes creates
    for it (OPERATOR_CREATED, KUBERNETES_CREATED, CLUSTER_PODS)."""
    cluster = build_cluster(objects)
    return [p for obj in objects for rule in REFERENCE_RULES for p in rule(obj, cluster)]


# ---------------------------------------------------------------------------------------------
# 5. All


def check_all(objects: Sequence[Obj], kube_versions: Sequence[str]) -> list[str]:
    return (
        check_unique(objects)
        + check_builtin_schemas(objects, kube_versions)
        + check_custom_resources(objects, kube_versions)
        + check_references(objects)
    )
