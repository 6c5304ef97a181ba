"""Least privilege as rendered: every pod in a namespace labelled Pod Security `restricted`
satisfies the `restricted` profile (tests/pod_security_evaluator.py, written from the standard's
tables), only the node agents run in the `privileged` namespace and they give up everything they
do not need, pods that never call the Kubernetes API mount no token, and the Fluent Bit DaemonSet
has everything it reads in its own namespace.

Evaluated over the objects the offline render writes for dev and prod: the program's own objects
and every object real Helm renders from the pinned charts with the program's values (and object
patches), plus the pods the operators create from the custom resources."""

from __future__ import annotations

import copy
from typing import Any, Mapping

import pytest
from tests.pod_security_evaluator import (
    OPERATOR_CONTAINERS,
    PodOf,
    all_pods,
    evaluate,
    object_id,
    operator_pods,
    pod_templates,
)

from plan import pod_security as security
from plan.elasticsearch import CA_SECRET, FLUENT_BIT_USER, MAX_MAP_COUNT, MAX_MAP_COUNT_DAEMONSET
from plan.fluent_bit import NODE_FULLNAME
from stacks.config import ConfigError
from plan.settings import AGENTS_NAMESPACE_SUFFIX
from tools import helm

STACKS = ("dev", "prod")
PSA = "pod-security.kubernetes.io"
NAMESPACE, AGENTS = "monitoring", f"monitoring{AGENTS_NAMESPACE_SUFFIX}"

NODE_EXPORTER = f"DaemonSet/{AGENTS}/terrafusion-prometheus-chart-prometheus-node-exporter"
FLUENT_BIT_NODE = f"DaemonSet/{AGENTS}/{NODE_FULLNAME}"
MAX_MAP_COUNT_SETTER = f"DaemonSet/{AGENTS}/{MAX_MAP_COUNT_DAEMONSET}"
# What each node agent may fail of `restricted`, and why (docs/security.md, "Least privilege").
NODE_AGENT_NEEDS = {
    # Host network (node network metrics), host PID (per-process stats), host /, /proc, /sys.
    NODE_EXPORTER: {"Host Namespaces", "HostPath Volumes", "Volume Types"},
    # Root-owned container logs and a buffer on the node.
    FLUENT_BIT_NODE: {"HostPath Volumes", "Volume Types", "Running as Non-root", "Running as Non-root user"},
    # vm.max_map_count is not namespaced: one privileged root write from an init container.
    MAX_MAP_COUNT_SETTER: {
        "Privileged Containers", "Privilege Escalation", "Running as Non-root", "Running as Non-root user",
        "Capabilities",
    },
}
# Pods that call the Kubernetes API and so keep a service-account token.
API_CLIENTS = {
    f"Deployment/{NAMESPACE}/kps-operator",  # the Prometheus Operator
    f"Deployment/{NAMESPACE}/terrafusion-prometheus-chart-kube-state-metrics",
    f"Prometheus/{NAMESPACE}/kps-prometheus",  # Kubernetes service discovery
    f"StatefulSet/{NAMESPACE}/elastic-operator",  # ECK
    FLUENT_BIT_NODE,  # kubernetes filter (pod metadata)
    f"Deployment/{NAMESPACE}/fluent-bit-events",  # kubernetes_events input
    f"Deployment/{NAMESPACE}/otel-collector",  # k8sattributes processor
    f"Deployment/{NAMESPACE}/grafana",  # its dashboard sidecar only (a projected token in that container)
    f"Deployment/{NAMESPACE}/trivy-operator",  # watches workloads, writes reports and scan Jobs
    f"Deployment/{NAMESPACE}/opencost",  # watches nodes, pods, volumes and its pricing ConfigMap
    f"Deployment/{NAMESPACE}/opentelemetry-operator",  # reads pods' namespaces, owners and Instrumentations
}


@pytest.fixture(scope="module")
def objects(rendered_objects) -> dict[str, list[dict[str, Any]]]:
    return rendered_objects


@pytest.fixture(params=STACKS)
def stack_objects(request, objects) -> list[dict[str, Any]]:
    return objects[request.param]


def _namespaces(objs) -> dict[str, Mapping[str, str]]:
    return {o["metadata"]["name"]: o["metadata"].get("labels") or {} for o in objs if o["kind"] == "Namespace"}


def _levels(objs) -> dict[str, str]:
    return {name: labels.get(f"{PSA}/enforce", "privileged") for name, labels in _namespaces(objs).items()}


def _pods_by_owner(objs) -> dict[str, PodOf]:
    return {p.owner: p for p in all_pods(objs)}


def _find(objs, kind: str, namespace: str, name: str) -> dict[str, Any]:
    (found,) = [
        o for o in objs
        if o["kind"] == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
    ]
    return found


# --- Namespaces ---------------------------------------------------------------------------------


def test_the_platform_namespace_enforces_warns_and_audits_restricted(stack_objects):
    labels = _namespaces(stack_objects)[NAMESPACE]
    for mode in ("enforce", "warn", "audit"):
        assert labels[f"{PSA}/{mode}"] == "restricted", mode
    assert labels[f"{PSA}/enforce-version"] == security.ENFORCE_VERSION


def test_the_agents_namespace_is_the_only_privileged_one(stack_objects):
    levels = _levels(stack_objects)
    assert {ns for ns, level in levels.items() if level != "restricted"} == {AGENTS}
    labels = _namespaces(stack_objects)[AGENTS]
    assert labels[f"{PSA}/enforce"] == "privileged"
    # Each privileged pod is on record: warned and audited against baseline.
    assert labels[f"{PSA}/warn"] == labels[f"{PSA}/audit"] == "baseline"


def test_enforce_version_is_the_oldest_supported_kubernetes():
    # Every supported cluster admits the same pods; raise both together.
    assert security.ENFORCE_VERSION == f"v{helm.OLDEST_KUBERNETES}"


def test_the_agents_namespace_derives_from_the_platform_namespace(stack):
    run = stack("dev", {"namespace": "observability"})
    names = {r.plain_inputs["metadata"]["name"] for r in run.of_type("kubernetes:core/v1:Namespace")}
    assert names == {"observability", "observability-agents"}
    assert run.result.plan.settings.agents_namespace == "observability-agents"


def test_a_namespace_too_long_for_its_agents_namespace_is_refused(stack):
    with pytest.raises(ConfigError) as raised:
        stack("dev", {"namespace": "n" * 60})
    assert "terrafusion-monitoring:namespace:" in str(raised.value) and "63" in str(raised.value)


def test_every_pod_is_in_a_namespace_the_program_labels(stack_objects):
    levels = _levels(stack_objects)
    assert {p.namespace for p in all_pods(stack_objects)} <= set(levels)


# --- Restricted ---------------------------------------------------------------------------------


def test_every_pod_in_a_restricted_namespace_satisfies_restricted(stack_objects):
    levels = _levels(stack_objects)
    checked, problems = [], []
    for pod in all_pods(stack_objects):
        if levels.get(pod.namespace) != "restricted":
            continue
        checked.append(pod.owner)
        problems += [f"{pod.owner}: {v}" for v in evaluate(pod.spec, "restricted", pod.annotations)]
    assert problems == []
    # The evaluation covered the operators' pods and the program's own Jobs, not only chart pods.
    kinds = {owner.split("/")[0] for owner in checked}
    assert {"Deployment", "StatefulSet", "Job", "CronJob", "Elasticsearch", "Prometheus", "Alertmanager"} <= kinds


def test_every_container_in_the_platform_namespace_has_a_read_only_root(stack_objects):
    levels = _levels(stack_objects)
    writable = [
        f"{pod.owner}[{c['name']}]"
        for pod in all_pods(stack_objects)
        if levels.get(pod.namespace) == "restricted"
        for c in (pod.spec.get("initContainers") or []) + pod.spec["containers"]
        if (c.get("securityContext") or {}).get("readOnlyRootFilesystem") is not True
    ]
    assert writable == []


def test_images_whose_user_is_root_or_a_name_run_as_a_numeric_user(stack_objects):
    """The kubelet can only check runAsNonRoot against a number: images whose USER is root
    (Fluent Bit, distroless) or a name (influxdb, curlimages/curl, thanos `nobody`) get one."""
    pods = _pods_by_owner(stack_objects)
    for owner in (
        f"Deployment/{NAMESPACE}/fluent-bit-events",
        f"StatefulSet/{NAMESPACE}/influxdb",
        f"CronJob/{NAMESPACE}/jaeger-trace-retention",
        f"Deployment/{NAMESPACE}/thanos-query",
    ):
        assert isinstance(pods[owner].spec["securityContext"].get("runAsUser"), int), owner
    jobs = [p for p in pods.values() if p.owner.startswith("Job/")]
    assert jobs and all(p.spec["securityContext"]["runAsUser"] == security.NOBODY for p in jobs)


# --- The privileged namespace -------------------------------------------------------------------


def test_only_the_node_agents_run_in_the_privileged_namespace(objects):
    for stack, objs in objects.items():
        owners = {p.owner for p in all_pods(objs) if p.namespace == AGENTS}
        expected = {NODE_EXPORTER, FLUENT_BIT_NODE} | ({MAX_MAP_COUNT_SETTER} if stack == "prod" else set())
        assert owners == expected, stack


def test_node_agents_fail_only_the_controls_they_need(stack_objects):
    for pod in all_pods(stack_objects):
        if pod.namespace != AGENTS:
            continue
        failed = {v.control for v in evaluate(pod.spec, "restricted", pod.annotations)}
        assert failed <= NODE_AGENT_NEEDS[pod.owner], (pod.owner, failed - NODE_AGENT_NEEDS[pod.owner])


def test_the_max_map_count_setter_is_privileged_only_in_its_one_shot_init_container(objects):
    pod = _pods_by_owner(objects["prod"])[MAX_MAP_COUNT_SETTER].spec
    (init,) = pod["initContainers"]
    assert init["securityContext"]["privileged"] is True
    assert str(MAX_MAP_COUNT) in init["command"][-1]
    running = {**pod, "initContainers": []}
    assert evaluate(running, "restricted") == []
    assert "hostPath" not in str(pod.get("volumes")) and pod["automountServiceAccountToken"] is False
    (sleep,) = pod["containers"]
    assert str(MAX_MAP_COUNT) in sleep["readinessProbe"]["exec"]["command"][-1]


def test_node_agents_drop_every_capability_and_escalation(stack_objects):
    for pod in all_pods(stack_objects):
        if pod.namespace == AGENTS and pod.owner != MAX_MAP_COUNT_SETTER:
            for c in pod.spec["containers"]:
                sc = c["securityContext"]
                assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"], pod.owner
                assert sc["readOnlyRootFilesystem"] is True, pod.owner


def test_fluent_bit_reads_the_node_logs_read_only(stack_objects):
    pod = _pods_by_owner(stack_objects)[FLUENT_BIT_NODE].spec
    (container,) = pod["containers"]
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    assert mounts["/var/log"]["readOnly"] is True
    assert not mounts["/var/fluent-bit/state"].get("readOnly")


# --- max_map_count: one setting, two modes -------------------------------------------------------


def test_prod_waits_for_the_daemonset_and_dev_disables_mmap(objects):
    (prod_es,) = [o for o in objects["prod"] if o["kind"] == "Elasticsearch"]
    (dev_es,) = [o for o in objects["dev"] if o["kind"] == "Elasticsearch"]
    (prod_set,), (dev_set,) = prod_es["spec"]["nodeSets"], dev_es["spec"]["nodeSets"]
    (wait,) = prod_set["podTemplate"]["spec"]["initContainers"]
    assert str(MAX_MAP_COUNT) in wait["command"][-1] and not wait["securityContext"]["privileged"]
    assert "node.store.allow_mmap" not in prod_set["config"]
    assert dev_set["config"]["node.store.allow_mmap"] is False
    assert "initContainers" not in dev_set["podTemplate"]["spec"]
    assert not any(p.owner == MAX_MAP_COUNT_SETTER for p in all_pods(objects["dev"]))


def test_the_old_privileged_init_container_value_is_refused(stack):
    with pytest.raises(ConfigError) as raised:
        stack("prod", {"elasticsearch.maxMapCount": "sysctl-init-container"})
    assert "terrafusion-monitoring:elasticsearch.maxMapCount:" in str(raised.value)


def test_elasticsearch_pods_keep_ecks_volume_group(stack_objects):
    # Setting the podTemplate's securityContext replaces ECK's default (fsGroup 1000): it must
    # carry fsGroup itself or the data volume is not writable.
    (es,) = [o for o in stack_objects if o["kind"] == "Elasticsearch"]
    pod = es["spec"]["nodeSets"][0]["podTemplate"]["spec"]
    assert pod["securityContext"]["fsGroup"] == 1000 and pod["securityContext"]["runAsUser"] == 1000


# --- Service-account tokens ---------------------------------------------------------------------


def _projects_a_token(pod: PodOf) -> bool:
    return any(
        "serviceAccountToken" in source
        for volume in pod.spec.get("volumes") or []
        for source in (volume.get("projected") or {}).get("sources") or []
    )


def _mounts_token(pod: PodOf, objs) -> bool:
    if _projects_a_token(pod):
        return True
    own = pod.spec.get("automountServiceAccountToken")
    if own is not None:
        return bool(own)
    name = pod.spec.get("serviceAccountName") or "default"
    accounts = [
        o for o in objs
        if o["kind"] == "ServiceAccount" and o["metadata"]["name"] == name and o["metadata"].get("namespace") == pod.namespace
    ]
    if accounts and accounts[0].get("automountServiceAccountToken") is not None:
        return bool(accounts[0]["automountServiceAccountToken"])
    return True  # the Kubernetes default


def test_only_pods_that_call_the_api_mount_a_token(stack_objects):
    with_token = {p.owner for p in all_pods(stack_objects) if _mounts_token(p, stack_objects)}
    assert with_token == {owner for owner in API_CLIENTS if owner in {p.owner for p in all_pods(stack_objects)}}


def test_pods_without_a_token_have_no_rbac_either(stack_objects):
    """A token-less pod's ServiceAccount is bound to nothing (Grafana's and postgres_exporter's
    empty roles are not rendered)."""
    tokenless = {
        (p.namespace, p.spec.get("serviceAccountName")) for p in all_pods(stack_objects) if not _mounts_token(p, stack_objects)
    }
    for binding in (o for o in stack_objects if o["kind"] in ("RoleBinding", "ClusterRoleBinding")):
        for subject in binding.get("subjects") or []:
            if subject.get("kind") == "ServiceAccount":
                assert (subject.get("namespace"), subject["name"]) not in tokenless, object_id(binding)


def test_kube_state_metrics_does_not_read_secrets(stack_objects):
    (role,) = [o for o in stack_objects if o["kind"] == "ClusterRole" and o["metadata"]["name"].endswith("kube-state-metrics")]
    assert not any("secrets" in (rule.get("resources") or []) for rule in role["rules"])
    (deployment,) = [o for o in stack_objects if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("kube-state-metrics")]
    args = " ".join(deployment["spec"]["template"]["spec"]["containers"][0]["args"])
    assert "--resources=" in args and "secrets" not in args.split("--resources=")[1].split()[0].split(",")


# --- The agents namespace is self-contained -----------------------------------------------------


def _references(pod: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every ConfigMap and Secret a pod spec reads."""
    refs = set()
    for volume in pod.get("volumes") or []:
        if "secret" in volume:
            refs.add(("Secret", volume["secret"]["secretName"]))
        if "configMap" in volume:
            refs.add(("ConfigMap", volume["configMap"]["name"]))
        for source in (volume.get("projected") or {}).get("sources") or []:
            if "secret" in source:
                refs.add(("Secret", source["secret"]["name"]))
            if "configMap" in source:
                refs.add(("ConfigMap", source["configMap"]["name"]))
    for c in (pod.get("initContainers") or []) + (pod.get("containers") or []):
        for env in c.get("env") or []:
            source = env.get("valueFrom") or {}
            if "secretKeyRef" in source:
                refs.add(("Secret", source["secretKeyRef"]["name"]))
            if "configMapKeyRef" in source:
                refs.add(("ConfigMap", source["configMapKeyRef"]["name"]))
        for env_from in c.get("envFrom") or []:
            if "secretRef" in env_from:
                refs.add(("Secret", env_from["secretRef"]["name"]))
            if "configMapRef" in env_from:
                refs.add(("ConfigMap", env_from["configMapRef"]["name"]))
    return refs


# Created at runtime by an operator, in the platform namespace.
RUNTIME_OBJECTS = {
    ("Secret", NAMESPACE, "logs-es-elastic-user"),  # ECK: the `elastic` user
    # kube-controller-manager's root-ca-cert-publisher, in every namespace (Grafana's sidecar token volume).
    ("ConfigMap", NAMESPACE, "kube-root-ca.crt"),
}


def test_every_secret_and_config_map_a_pod_reads_exists_in_its_namespace(stack_objects):
    present = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in stack_objects}
    missing = [
        f"{pod.owner} reads {kind} {name}"
        for pod in pod_templates(stack_objects)
        for kind, name in sorted(_references(pod.spec))
        if (kind, pod.namespace, name) not in present | RUNTIME_OBJECTS
    ]
    assert missing == []


def test_fluent_bit_node_reads_the_ca_and_user_copies_in_its_namespace(stack_objects):
    refs = _references(_pods_by_owner(stack_objects)[FLUENT_BIT_NODE].spec)
    assert {("Secret", CA_SECRET), ("Secret", FLUENT_BIT_USER.secret_name), ("ConfigMap", f"{NODE_FULLNAME}-pipeline")} <= refs
    copy_ = _find(stack_objects, "Secret", AGENTS, FLUENT_BIT_USER.secret_name)
    assert set(copy_["stringData"]) == {"username", "password"}  # no file-realm roles outside ES' namespace
    assert _find(stack_objects, "ServiceAccount", AGENTS, NODE_FULLNAME)
    (binding,) = [o for o in stack_objects if o["kind"] == "ClusterRoleBinding" and o["metadata"]["name"] == NODE_FULLNAME]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": NODE_FULLNAME, "namespace": AGENTS}]


def test_prometheus_scrapes_the_node_agents_in_their_namespace(stack_objects):
    (prometheus,) = [o for o in stack_objects if o["kind"] == "Prometheus"]
    assert prometheus["spec"]["serviceMonitorNamespaceSelector"] == {}
    assert prometheus["spec"]["serviceMonitorSelector"] == {}
    monitors = [o for o in stack_objects if o["kind"] == "ServiceMonitor" and o["metadata"]["namespace"] == AGENTS]
    assert len(monitors) == 2
    services = [o for o in stack_objects if o["kind"] == "Service" and o["metadata"]["namespace"] == AGENTS]
    for monitor in monitors:
        selector = monitor["spec"].get("namespaceSelector") or {}
        assert selector.get("matchNames", [AGENTS]) == [AGENTS] and not selector.get("any")
        wanted = monitor["spec"]["selector"]["matchLabels"]
        assert any(wanted.items() <= (s["metadata"].get("labels") or {}).items() for s in services), object_id(monitor)


# --- The evaluator itself: one mutation per control must fail it --------------------------------


def _good_pod() -> dict[str, Any]:
    return {
        "securityContext": security.restricted_pod(run_as_user=security.NOBODY),
        "containers": [
            {"name": "app", "securityContext": security.restricted_container(), "ports": [{"containerPort": 8080}]}
        ],
        "initContainers": [{"name": "init", "securityContext": security.restricted_container()}],
        "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "config", "configMap": {"name": "c"}}],
    }


def _set(path: str, value: Any):
    def mutate(pod: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = pod
        for key in parents:
            node = node[int(key)] if key.isdigit() else node.setdefault(key, {})
        node[int(last) if last.isdigit() else last] = value

    return mutate


def _drop(path: str):
    def mutate(pod: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = pod
        for key in parents:
            node = node[int(key)] if key.isdigit() else node[key]
        node.pop(last)

    return mutate


MUTATIONS = {
    "HostProcess": _set("securityContext.windowsOptions", {"hostProcess": True}),
    "Host Namespaces": _set("hostPID", True),
    "Privileged Containers": _set("containers.0.securityContext.privileged", True),
    "Capabilities (baseline)": _set("containers.0.securityContext.capabilities.add", ["SYS_ADMIN"]),
    "HostPath Volumes": _set("volumes.0", {"name": "root", "hostPath": {"path": "/"}}),
    "Host Ports": _set("containers.0.ports.0.hostPort", 8080),
    "AppArmor": _set("containers.0.securityContext.appArmorProfile", {"type": "Unconfined"}),
    "SELinux": _set("securityContext.seLinuxOptions", {"type": "spc_t"}),
    "/proc Mount Type": _set("containers.0.securityContext.procMount", "Unmasked"),
    "Seccomp (baseline)": _set("securityContext.seccompProfile", {"type": "Unconfined"}),
    "Sysctls": _set("securityContext.sysctls", [{"name": "vm.max_map_count", "value": "1048576"}]),
    "Volume Types": _set("volumes.1", {"name": "nfs", "nfs": {"server": "x", "path": "/"}}),
    "Privilege Escalation": _drop("initContainers.0.securityContext.allowPrivilegeEscalation"),
    "Running as Non-root": _set("initContainers.0.securityContext.runAsNonRoot", False),
    "Running as Non-root user": _set("containers.0.securityContext.runAsUser", 0),
    "Seccomp": _drop("securityContext.seccompProfile"),
    "Capabilities": _set("containers.0.securityContext.capabilities", {"drop": ["NET_RAW"]}),
}


def test_the_reference_pod_is_restricted():
    assert evaluate(_good_pod(), "restricted") == []


@pytest.mark.parametrize("control", sorted(MUTATIONS))
def test_each_control_fails_a_pod_that_breaks_it(control):
    pod = copy.deepcopy(_good_pod())
    if control == "Seccomp":  # only the pod sets nothing then; the containers' own profiles go too
        for c in pod["containers"] + pod["initContainers"]:
            c["securityContext"].pop("seccompProfile")
    MUTATIONS[control](pod)
    failed = {v.control for v in evaluate(pod, "restricted")}
    assert control in failed, failed


def test_container_level_settings_satisfy_the_pod_level_controls():
    # runAsNonRoot and seccomp may be set per container instead of on the pod.
    pod = _good_pod()
    pod["securityContext"] = {}
    assert evaluate(pod, "restricted") == []
    pod["initContainers"][0]["securityContext"].pop("runAsNonRoot")
    assert {v.control for v in evaluate(pod, "restricted")} == {"Running as Non-root"}


def test_apparmor_annotations_are_checked():
    annotations = {"container.apparmor.security.beta.kubernetes.io/app": "unconfined"}
    assert {v.control for v in evaluate(_good_pod(), "restricted", annotations)} == {"AppArmor"}


def test_baseline_admits_what_only_restricted_forbids():
    pod = _good_pod()
    MUTATIONS["Running as Non-root user"](pod)
    MUTATIONS["Privilege Escalation"](pod)
    assert evaluate(pod, "baseline") == [] and evaluate(pod, "restricted")


def test_operator_pods_get_the_operators_container_defaults(objects):
    pods = {p.owner: p for p in operator_pods(objects["prod"])}
    for kind, (init_names, names) in OPERATOR_CONTAINERS.items():
        (pod,) = [p for owner, p in pods.items() if owner.startswith(f"{kind}/")]
        assert [c["name"] for c in pod.spec["containers"]] == list(names)
        assert [c["name"] for c in pod.spec["initContainers"]] == list(init_names)
    # A CR patch that weakened an operator container would be seen.
    (prometheus,) = [copy.deepcopy(o) for o in objects["prod"] if o["kind"] == "Prometheus"]
    prometheus["spec"]["containers"] = [{"name": "prometheus", "securityContext": {"allowPrivilegeEscalation": True}}]
    (pod,) = operator_pods([prometheus])
    assert "Privilege Escalation" in {v.control for v in evaluate(pod.spec)}


# --- The one chart setting no value reaches (InfluxDB's container securityContext) ---------------


def test_the_influxdb_patch_reaches_only_its_statefulset_and_the_pulumi_transform_applies_it():
    import pulumi

    from components.chart import _transform
    from plan.influxdb import influxdb_object_patch

    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "influxdb"}}
    assert influxdb_object_patch(service) is service
    statefulset = {
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "influxdb"},
        "spec": {"template": {"spec": {"containers": [{"name": "influxdb", "volumeMounts": []}], "volumes": []}}},
    }
    patched = influxdb_object_patch(statefulset)
    assert statefulset["spec"]["template"]["spec"]["containers"][0] == {"name": "influxdb", "volumeMounts": []}
    pod = patched["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["containers"][0]["securityContext"] == security.RESTRICTED_CONTAINER
    transform = _transform(influxdb_object_patch)
    args = lambda props: pulumi.ResourceTransformArgs(True, "kubernetes:apps/v1:StatefulSet", "x", props, pulumi.ResourceOptions())  # noqa: E731
    assert transform(args(service)) is None
    assert transform(args(statefulset)).props == patched


def test_the_render_applies_the_influxdb_patch(objects):
    from components.chart import OBJECT_PATCHES
    from plan.influxdb import influxdb_object_patch

    assert OBJECT_PATCHES["terrafusion-influxdb-chart"] is influxdb_object_patch
    for objs in objects.values():
        pod = _find(objs, "StatefulSet", NAMESPACE, "influxdb")["spec"]["template"]["spec"]
        assert pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
        assert pod["automountServiceAccountToken"] is False
