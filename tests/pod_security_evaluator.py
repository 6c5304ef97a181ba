"""An evaluator of the Pod Security Standards, written from the standard's tables, for the rendered
objects: every control is a small function of a pod spec returning its violations.

Ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/ (Baseline and Restricted
tables; the `latest` column, which also covers v1.32, the platform's pinned enforce-version).
Windows-only controls are kept for completeness (the platform runs no Windows pods).

Pods come from the workload kinds (`pod_templates`) and from the custom resources whose pods an
operator creates (`operator_pods`): the Elasticsearch podTemplate plus the init containers ECK adds
with its default security context, and Prometheus/Alertmanager pods assembled from the CR's pod
securityContext and the containers the operator creates (with the security context the operator
gives them), merged with the CR's `containers` / `initContainers` patches as the operator does.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

Pod = dict[str, Any]  # a PodSpec, as in the manifests (camelCase)


@dataclass(frozen=True)
class Violation:
    control: str
    detail: str

    def __str__(self) -> str:
        return f"{self.control}: {self.detail}"


def _containers(pod: Pod) -> list[tuple[str, dict[str, Any]]]:
    """(kind, container) for every container, init container and ephemeral container."""
    out = []
    for key in ("initContainers", "containers", "ephemeralContainers"):
        out += [(key, c) for c in pod.get(key) or []]
    return out


def _sc(container: Mapping[str, Any]) -> dict[str, Any]:
    return container.get("securityContext") or {}


def _pod_sc(pod: Pod) -> dict[str, Any]:
    return pod.get("securityContext") or {}


def _name(kind: str, container: Mapping[str, Any]) -> str:
    return f"{kind}[{container.get('name', '?')}]"


# --- Baseline -----------------------------------------------------------------------------------


def host_process(pod: Pod) -> list[Violation]:
    """HostProcess: windowsOptions.hostProcess must be unset or false (pod and containers)."""
    out = []
    if (_pod_sc(pod).get("windowsOptions") or {}).get("hostProcess"):
        out.append(Violation("HostProcess", "spec.securityContext.windowsOptions.hostProcess is true"))
    for kind, c in _containers(pod):
        if (_sc(c).get("windowsOptions") or {}).get("hostProcess"):
            out.append(Violation("HostProcess", f"{_name(kind, c)}.securityContext.windowsOptions.hostProcess is true"))
    return out


def host_namespaces(pod: Pod) -> list[Violation]:
    """Host Namespaces: hostNetwork, hostPID, hostIPC must be unset or false."""
    return [Violation("Host Namespaces", f"spec.{k} is true") for k in ("hostNetwork", "hostPID", "hostIPC") if pod.get(k)]


def privileged_containers(pod: Pod) -> list[Violation]:
    """Privileged Containers: securityContext.privileged must be unset or false."""
    return [
        Violation("Privileged Containers", f"{_name(kind, c)}.securityContext.privileged is true")
        for kind, c in _containers(pod)
        if _sc(c).get("privileged")
    ]


BASELINE_CAPABILITIES = frozenset(
    {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE",
     "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
)


def baseline_capabilities(pod: Pod) -> list[Violation]:
    """Capabilities (baseline): capabilities.add only from the default set."""
    out = []
    for kind, c in _containers(pod):
        extra = set((_sc(c).get("capabilities") or {}).get("add") or []) - BASELINE_CAPABILITIES
        if extra:
            out.append(Violation("Capabilities (baseline)", f"{_name(kind, c)} adds {sorted(extra)}"))
    return out


def host_path_volumes(pod: Pod) -> list[Violation]:
    """HostPath Volumes: forbidden."""
    return [
        Violation("HostPath Volumes", f"volume {v.get('name')!r} is a hostPath ({v['hostPath'].get('path')})")
        for v in pod.get("volumes") or []
        if "hostPath" in v
    ]


def host_ports(pod: Pod) -> list[Violation]:
    """Host Ports: hostPort must be unset or 0."""
    return [
        Violation("Host Ports", f"{_name(kind, c)} uses hostPort {p['hostPort']}")
        for kind, c in _containers(pod)
        for p in c.get("ports") or []
        if p.get("hostPort")
    ]


APPARMOR_TYPES = {"RuntimeDefault", "Localhost"}


def apparmor(pod: Pod, annotations: Mapping[str, str] | None = None) -> list[Violation]:
    """AppArmor: profile type unset, RuntimeDefault or Localhost (fields and legacy annotations)."""
    out = []
    profile = (_pod_sc(pod).get("appArmorProfile") or {}).get("type")
    if profile and profile not in APPARMOR_TYPES:
        out.append(Violation("AppArmor", f"spec.securityContext.appArmorProfile.type is {profile}"))
    for kind, c in _containers(pod):
        profile = (_sc(c).get("appArmorProfile") or {}).get("type")
        if profile and profile not in APPARMOR_TYPES:
            out.append(Violation("AppArmor", f"{_name(kind, c)}.securityContext.appArmorProfile.type is {profile}"))
    for key, value in (annotations or {}).items():
        if key.startswith("container.apparmor.security.beta.kubernetes.io/") and not (
            value == "runtime/default" or value.startswith("localhost/")
        ):
            out.append(Violation("AppArmor", f"annotation {key}={value}"))
    return out


SELINUX_TYPES = {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}


def selinux(pod: Pod) -> list[Violation]:
    """SELinux: type only from the allowed set; user and role unset."""
    out = []
    contexts = [("spec.securityContext", _pod_sc(pod))] + [(_name(k, c) + ".securityContext", _sc(c)) for k, c in _containers(pod)]
    for where, sc in contexts:
        options = sc.get("seLinuxOptions") or {}
        if options.get("type", "") not in SELINUX_TYPES:
            out.append(Violation("SELinux", f"{where}.seLinuxOptions.type is {options['type']}"))
        for field in ("user", "role"):
            if options.get(field):
                out.append(Violation("SELinux", f"{where}.seLinuxOptions.{field} is set"))
    return out


def proc_mount(pod: Pod) -> list[Violation]:
    """/proc Mount Type: procMount unset or Default."""
    return [
        Violation("/proc Mount Type", f"{_name(kind, c)}.securityContext.procMount is {_sc(c)['procMount']}")
        for kind, c in _containers(pod)
        if _sc(c).get("procMount", "Default") != "Default"
    ]


def baseline_seccomp(pod: Pod) -> list[Violation]:
    """Seccomp (baseline): the profile must not be Unconfined."""
    out = []
    if (_pod_sc(pod).get("seccompProfile") or {}).get("type") == "Unconfined":
        out.append(Violation("Seccomp (baseline)", "spec.securityContext.seccompProfile.type is Unconfined"))
    for kind, c in _containers(pod):
        if (_sc(c).get("seccompProfile") or {}).get("type") == "Unconfined":
            out.append(Violation("Seccomp (baseline)", f"{_name(kind, c)} seccompProfile is Unconfined"))
    return out


SAFE_SYSCTLS = frozenset(
    {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
     "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
     "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
     "net.ipv4.tcp_keepalive_probes"}
)


def sysctls(pod: Pod) -> list[Violation]:
    """Sysctls: only the safe subset."""
    return [
        Violation("Sysctls", f"spec.securityContext.sysctls sets {s.get('name')}")
        for s in _pod_sc(pod).get("sysctls") or []
        if s.get("name") not in SAFE_SYSCTLS
    ]


# --- Restricted ---------------------------------------------------------------------------------

RESTRICTED_VOLUME_SOURCES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)


def volume_types(pod: Pod) -> list[Violation]:
    """Volume Types: only configMap, csi, downwardAPI, emptyDir, ephemeral, persistentVolumeClaim,
    projected, secret."""
    out = []
    for v in pod.get("volumes") or []:
        sources = set(v) - {"name"}
        if not sources <= RESTRICTED_VOLUME_SOURCES:
            out.append(Violation("Volume Types", f"volume {v.get('name')!r} is {sorted(sources - RESTRICTED_VOLUME_SOURCES)}"))
    return out


def privilege_escalation(pod: Pod) -> list[Violation]:
    """Privilege Escalation: allowPrivilegeEscalation must be false in every container."""
    return [
        Violation("Privilege Escalation", f"{_name(kind, c)}.securityContext.allowPrivilegeEscalation is not false")
        for kind, c in _containers(pod)
        if _sc(c).get("allowPrivilegeEscalation") is not False
    ]


def running_as_non_root(pod: Pod) -> list[Violation]:
    """Running as Non-root: runAsNonRoot true at the pod, or in every container; never false."""
    out = []
    pod_value = _pod_sc(pod).get("runAsNonRoot")
    if pod_value is False:
        out.append(Violation("Running as Non-root", "spec.securityContext.runAsNonRoot is false"))
    for kind, c in _containers(pod):
        value = _sc(c).get("runAsNonRoot")
        if value is False or (value is None and pod_value is not True):
            out.append(Violation("Running as Non-root", f"{_name(kind, c)} does not set runAsNonRoot: true (nor the pod)"))
    return out


def running_as_non_root_user(pod: Pod) -> list[Violation]:
    """Running as Non-root user: runAsUser must not be 0 (pod and containers)."""
    out = []
    if _pod_sc(pod).get("runAsUser") == 0:
        out.append(Violation("Running as Non-root user", "spec.securityContext.runAsUser is 0"))
    for kind, c in _containers(pod):
        if _sc(c).get("runAsUser") == 0:
            out.append(Violation("Running as Non-root user", f"{_name(kind, c)}.securityContext.runAsUser is 0"))
    return out


SECCOMP_TYPES = {"RuntimeDefault", "Localhost"}


def restricted_seccomp(pod: Pod) -> list[Violation]:
    """Seccomp (restricted): RuntimeDefault or Localhost at the pod, or in every container; a
    container may not override it with anything else."""
    out = []
    pod_type = (_pod_sc(pod).get("seccompProfile") or {}).get("type")
    if pod_type is not None and pod_type not in SECCOMP_TYPES:
        out.append(Violation("Seccomp", f"spec.securityContext.seccompProfile.type is {pod_type}"))
    for kind, c in _containers(pod):
        own = (_sc(c).get("seccompProfile") or {}).get("type")
        if own is not None and own not in SECCOMP_TYPES:
            out.append(Violation("Seccomp", f"{_name(kind, c)} seccompProfile.type is {own}"))
        elif own is None and pod_type not in SECCOMP_TYPES:
            out.append(Violation("Seccomp", f"{_name(kind, c)} has no RuntimeDefault/Localhost profile (nor the pod)"))
    return out


def restricted_capabilities(pod: Pod) -> list[Violation]:
    """Capabilities (restricted): drop ALL, add nothing but NET_BIND_SERVICE."""
    out = []
    for kind, c in _containers(pod):
        caps = _sc(c).get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            out.append(Violation("Capabilities", f"{_name(kind, c)} does not drop ALL"))
        extra = set(caps.get("add") or []) - {"NET_BIND_SERVICE"}
        if extra:
            out.append(Violation("Capabilities", f"{_name(kind, c)} adds {sorted(extra)}"))
    return out


Control = Callable[[Pod], list[Violation]]

BASELINE: tuple[Control, ...] = (
    host_process, host_namespaces, privileged_containers, baseline_capabilities, host_path_volumes,
    host_ports, apparmor, selinux, proc_mount, baseline_seccomp, sysctls,
)
RESTRICTED: tuple[Control, ...] = BASELINE + (
    volume_types, privilege_escalation, running_as_non_root, running_as_non_root_user, restricted_seccomp,
    restricted_capabilities,
)
LEVELS: dict[str, tuple[Control, ...]] = {"privileged": (), "baseline": BASELINE, "restricted": RESTRICTED}


def evaluate(pod: Pod, level: str = "restricted", annotations: Mapping[str, str] | None = None) -> list[Violation]:
    out: list[Violation] = []
    for control in LEVELS[level]:
        out += control(pod, annotations) if control is apparmor else control(pod)
    return out


# --- Where pods come from -----------------------------------------------------------------------

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job")


def object_id(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata", {})
    return "/".join(p for p in (obj.get("kind"), meta.get("namespace"), meta.get("name")) if p)


@dataclass(frozen=True)
class PodOf:
    """A pod some object makes: its namespace, spec and annotations."""

    owner: str
    namespace: str
    spec: Pod
    annotations: Mapping[str, str]


def pod_templates(objects: Iterable[Mapping[str, Any]]) -> list[PodOf]:
    """Pods of the workload kinds and CronJobs."""
    out = []
    for obj in objects:
        kind, ns = obj.get("kind"), obj.get("metadata", {}).get("namespace", "")
        template = None
        if kind in WORKLOAD_KINDS:
            template = obj["spec"]["template"]
        elif kind == "CronJob":
            template = obj["spec"]["jobTemplate"]["spec"]["template"]
        elif kind == "Pod":
            template = {"metadata": obj.get("metadata", {}), "spec": obj["spec"]}
        if template is not None:
            out.append(PodOf(object_id(obj), ns, template["spec"], (template.get("metadata") or {}).get("annotations") or {}))
    return out


# ECK v3.5.0 pkg/controller/elasticsearch/securitycontext/securitycontext.go `For(ver >= 8.8, true)`:
# what ECK gives every container without a securityContext (its own init containers among them).
ECK_DEFAULT_CONTAINER_SECURITY_CONTEXT = {
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
}
# ECK v3.5.0 pkg/controller/elasticsearch/nodespec/podspec.go `BuildPodTemplateSpec`: the pod
# securityContext ECK sets for Elasticsearch >= 8 when the podTemplate sets none.
ECK_DEFAULT_POD_SECURITY_CONTEXT = {"fsGroup": 1000, "seccompProfile": {"type": "RuntimeDefault"}}
# ECK v3.5.0 pkg/controller/elasticsearch/initcontainer: the init containers it adds.
ECK_INIT_CONTAINERS = ("elastic-internal-init-filesystem", "elastic-internal-suspend")

# prometheus-operator v0.93.0 pkg/prometheus/server/statefulset.go, pkg/alertmanager/statefulset.go,
# pkg/operator/config_reloader.go: the containers it creates and the securityContext it sets on each.
OPERATOR_CONTAINER_SECURITY_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}
OPERATOR_CONTAINERS = {
    "Prometheus": (("init-config-reloader",), ("prometheus", "config-reloader", "thanos-sidecar")),
    "Alertmanager": (("init-config-reloader",), ("alertmanager", "config-reloader")),
}


def _merge_by_name(base: list[dict[str, Any]], patches: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The operators' strategic merge of `containers` patches: same name merges, new name appends."""
    merged = {c["name"]: copy.deepcopy(c) for c in base}
    for patch in patches:
        current = merged.setdefault(patch["name"], {"name": patch["name"]})
        for key, value in patch.items():
            if key == "securityContext":
                current["securityContext"] = {**(current.get("securityContext") or {}), **value}
            else:
                current[key] = copy.deepcopy(value)
    return list(merged.values())


# The Trivy Operator's scan Job pods (Standalone `image` mode), from its ConfigMap `trivy-operator`:
# the pod gets scanJob.podTemplatePodSecurityContext, every container (the DB-download init container
# and one scanner per scanned container) scanJob.podTemplateContainerSecurityContext, and the only
# volume is an emptyDir at /tmp. Ref: aquasecurity/trivy-operator@v0.32.0 pkg/plugins/trivy/image.go
# (GetPodSpecForStandaloneMode: volumes, SecurityContext of init and scan containers),
# pkg/vulnerabilityreport/builder.go (WithPodSecurityContext), deploy/helm/templates/configmaps/operator.yaml.
TRIVY_OPERATOR_CONFIGMAP = "trivy-operator"


def _trivy_scan_pod(obj: Mapping[str, Any]) -> Pod:
    data = obj.get("data") or {}
    pod_sc = json.loads(data.get("scanJob.podTemplatePodSecurityContext") or "{}")
    container_sc = json.loads(data.get("scanJob.podTemplateContainerSecurityContext") or "{}")
    return {
        "securityContext": pod_sc,
        "automountServiceAccountToken": data.get("scanJob.automountServiceAccountToken") == "true",
        "initContainers": [{"name": "trivy-db-download", "securityContext": dict(container_sc)}],
        "containers": [{"name": "scan", "securityContext": dict(container_sc)}],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def operator_pods(objects: Iterable[Mapping[str, Any]]) -> list[PodOf]:
    """The pods operators create from the platform's custom resources."""
    out = []
    for obj in objects:
        kind, ns = obj.get("kind"), obj.get("metadata", {}).get("namespace", "")
        spec = obj.get("spec", {})
        if kind == "Elasticsearch":
            for node_set in spec.get("nodeSets", []):
                template = node_set.get("podTemplate", {})
                pod = copy.deepcopy(template.get("spec", {}))
                if pod.get("securityContext") is None:
                    pod["securityContext"] = copy.deepcopy(ECK_DEFAULT_POD_SECURITY_CONTEXT)
                for c in pod.get("containers", []) + pod.get("initContainers", []):
                    c.setdefault("securityContext", dict(ECK_DEFAULT_CONTAINER_SECURITY_CONTEXT))
                pod["initContainers"] = [
                    {"name": n, "securityContext": dict(ECK_DEFAULT_CONTAINER_SECURITY_CONTEXT)} for n in ECK_INIT_CONTAINERS
                ] + pod.get("initContainers", [])
                if "elasticsearch" not in {c["name"] for c in pod.get("containers", [])}:
                    pod.setdefault("containers", []).append(
                        {"name": "elasticsearch", "securityContext": dict(ECK_DEFAULT_CONTAINER_SECURITY_CONTEXT)}
                    )
                annotations = (template.get("metadata") or {}).get("annotations") or {}
                out.append(PodOf(f"{object_id(obj)}[{node_set.get('name')}]", ns, pod, annotations))
        elif kind in OPERATOR_CONTAINERS:
            init_names, names = OPERATOR_CONTAINERS[kind]
            made = lambda ns_: [{"name": n, "securityContext": dict(OPERATOR_CONTAINER_SECURITY_CONTEXT)} for n in ns_]  # noqa: E731
            pod = {
                "securityContext": spec.get("securityContext") or {},
                "hostNetwork": spec.get("hostNetwork", False),
                "automountServiceAccountToken": spec.get("automountServiceAccountToken"),
                "serviceAccountName": spec.get("serviceAccountName"),
                "initContainers": _merge_by_name(made(init_names), spec.get("initContainers") or []),
                "containers": _merge_by_name(made(names), spec.get("containers") or []),
                "volumes": list(spec.get("volumes") or []),
            }
            annotations = (spec.get("podMetadata") or {}).get("annotations") or {}
            out.append(PodOf(object_id(obj), ns, pod, annotations))
        elif kind == "ConfigMap" and obj.get("metadata", {}).get("name") == TRIVY_OPERATOR_CONFIGMAP:
            out.append(PodOf(f"{object_id(obj)}[scan-job]", ns, _trivy_scan_pod(obj), {}))
    return out


def all_pods(objects: Iterable[Mapping[str, Any]]) -> list[PodOf]:
    objects = list(objects)
    return pod_templates(objects) + operator_pods(objects)
