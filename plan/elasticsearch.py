"""Elasticsearch as the rest of the platform sees it, and as the component deploys it: the cluster's
names (ECK derives its Services and Secrets from the cluster name), its TLS CA, its users, its HTTP
endpoint, and the slice components/elasticsearch.py declares (operator values, the `Elasticsearch`
spec, roles, the lifecycle requests and the vm.max_map_count DaemonSet). Clients take the endpoint.

Pod security of the cluster (ECK v3.5.0 pkg/controller/elasticsearch/nodespec/podspec.go,
`BuildPodTemplateSpec`, and pkg/controller/elasticsearch/securitycontext/securitycontext.go, `For`):
for Elasticsearch >= 8.8 ECK defaults the pod to fsGroup 1000 + seccomp RuntimeDefault *only when
the podTemplate sets no securityContext*, and every container (its own init containers included)
without one to privileged: false, allowPrivilegeEscalation: false, capabilities drop ALL,
runAsNonRoot: true and readOnlyRootFilesystem: true (when the data volume is mounted, as here: ECK
mounts an emptyDir at /tmp and copies config, plugins and bin into emptyDirs). The podTemplate of
`elasticsearch_spec` states the same explicitly, so the pod keeps fsGroup 1000 and is `restricted`
whatever ECK's defaults do. ECK also disables the service-account token unless the podTemplate
enables it (pkg/controller/common/defaults/pod_template.go, `setDefaults`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from monitoring import yaml_text
from monitoring.logs import LogsSpec, es_requests, es_requests_hash
from plan.context import PlatformContext
from plan.endpoints import Credentials, Endpoint, SecretKeyRef, service_dns_names
from plan.labels import standard_labels
from plan.pod_security import NOBODY, RUNTIME_DEFAULT_SECCOMP, restricted_container, restricted_pod
from plan.settings import ElasticsearchSettings, StackSettings
from plan.versions import CURL_IMAGE, ELASTICSEARCH_VERSION, MAX_MAP_COUNT_IMAGE

CLUSTER = "logs"
HTTP_SERVICE = f"{CLUSTER}-es-http"  # created by ECK
HTTP_PORT = 9200
# Node-to-node transport. Ref: ECK v3.5.0 pkg/controller/elasticsearch/network/ports.go
TRANSPORT_PORT = 9300
# The operator's admission webhook (`https-webhook`; eck-operator chart `webhook.port` default).
OPERATOR_WEBHOOK_PORT = 9443
ELASTIC_USER_SECRET = f"{CLUSTER}-es-elastic-user"  # created by ECK, key `elastic`
HTTP_TLS_SECRET = f"{CLUSTER}-es-http-tls"
CA_SECRET = f"{CLUSTER}-es-ca"  # ca.crt only: what clients mount
CA_KEY = "ca.crt"
ROLES_SECRET = f"{CLUSTER}-es-roles"
# Data volume name ECK expects. Ref: ECK pkg/controller/elasticsearch/volume/names.go
DATA_VOLUME = "elasticsearch-data"
# The Elasticsearch image's user (`USER 1000:0`) and ECK's default fsGroup (podspec.go `defaultFsGroup`).
ES_UID = 1000
# Elasticsearch 8.16+ wants vm.max_map_count >= 1048576 (262144 before).
# Ref: https://www.elastic.co/docs/deploy-manage/deploy/cloud-on-k8s/virtual-memory
MAX_MAP_COUNT = 1048576
MAX_MAP_COUNT_DAEMONSET = "elasticsearch-max-map-count"

# The HTTP certificate's CA (ours, see components/elasticsearch.py): its subject and lifetimes.
CA_COMMON_NAME = f"{CLUSTER} Elasticsearch CA"
CA_ORGANIZATION = "TerraFusion"
CA_VALIDITY_HOURS = 10 * 365 * 24
HTTP_CERT_VALIDITY_HOURS = 365 * 24
# Renewed by the first `pulumi up` in its last 30 days; ECK reloads the Secret.
HTTP_CERT_EARLY_RENEWAL_HOURS = 30 * 24
# The lifecycle Job's mounts (its script, _APPLY_SCRIPT, reads them there).
LIFECYCLE_REQUESTS_DIR = "/requests"
LIFECYCLE_CA_DIR = "/ca"

_SMALL_RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}}


@dataclass(frozen=True)
class EsUser:
    username: str
    role: str
    secret_name: str


FLUENT_BIT_USER = EsUser("fluentbit", "terrafusion_log_writer", f"{CLUSTER}-es-user-fluentbit")
JAEGER_USER = EsUser("jaeger", "terrafusion_trace_writer", f"{CLUSTER}-es-user-jaeger")
GRAFANA_USER = EsUser("grafana", "terrafusion_reader", f"{CLUSTER}-es-user-grafana")
EXPORTER_USER = EsUser("exporter", "terrafusion_monitor", f"{CLUSTER}-es-user-exporter")
USERS = (FLUENT_BIT_USER, JAEGER_USER, GRAFANA_USER, EXPORTER_USER)
# The clients in the agents namespace (the Fluent Bit DaemonSet): their CA and user Secrets are
# copied there, since a pod can only mount Secrets of its own namespace.
AGENTS_CLIENT_USERS = (FLUENT_BIT_USER,)


def http_endpoint(namespace: str) -> Endpoint:
    """The cluster's HTTPS API (ECK's `<cluster>-es-http` Service), with the CA clients trust and
    one user per client (each in its own Secret, keys `username` and `password`)."""
    return Endpoint(
        HTTP_SERVICE,
        namespace,
        {"https": HTTP_PORT},
        scheme="https",
        ca=SecretKeyRef(CA_SECRET, CA_KEY),
        credentials={user.username: Credentials(user.username, user.secret_name) for user in USERS},
    )


def http_dns_names(endpoint: Endpoint) -> list[str]:
    """The names the HTTP certificate is valid for: every way a pod resolves the Service."""
    return service_dns_names(endpoint)


def es_roles(trace_index_prefix: str) -> dict[str, Any]:
    """roles.yml: least privilege per client.
    Ref: https://www.elastic.co/docs/reference/elasticsearch/security-privileges
    """
    traces = f"{trace_index_prefix}-jaeger-*"
    return {
        # Data streams: create_doc to append, auto_configure to create the stream from its template.
        FLUENT_BIT_USER.role: {
            "cluster": ["monitor"],
            "indices": [{"names": ["logs-*"], "privileges": ["create_doc", "auto_configure"]}],
        },
        # Jaeger creates its own daily indices and their templates (create_mappings: true).
        JAEGER_USER.role: {
            "cluster": ["monitor", "manage_index_templates"],
            "indices": [{"names": [traces], "privileges": ["all"]}],
        },
        GRAFANA_USER.role: {
            "cluster": ["monitor"],
            "indices": [{"names": ["logs-*", traces], "privileges": ["read", "view_index_metadata"]}],
        },
        # elasticsearch_exporter with its default collectors (cluster health, node stats) and no
        # index/shard/snapshot collectors: `monitor` on the cluster is all it reads.
        # Ref: prometheus-community/elasticsearch_exporter@v1.11.0 README.md "security privileges"
        EXPORTER_USER.role: {"cluster": ["monitor"]},
    }


def operator_values(namespace: str) -> dict[str, Any]:
    return {
        "managedNamespaces": [namespace],
        "installCRDs": True,
        # The chart's default pod context has no seccomp profile (not `restricted`); the image's
        # user is 1001 (build/Dockerfile `USER 1001`), any user works (it writes nothing: its
        # webhook certificate is a mounted Secret), so nobody (>= 10000).
        # Ref: eck-operator 3.5.0 values.yaml `podSecurityContext`, `securityContext`;
        # templates/statefulset.yaml (pod and `manager` container securityContext).
        "podSecurityContext": restricted_pod(run_as_user=NOBODY, run_as_group=NOBODY),
        "securityContext": restricted_container(),
    }


def max_map_count_wait_container() -> dict[str, Any]:
    """Init container of the Elasticsearch pods (`daemonset` mode): waits, unprivileged, until the
    node's vm.max_map_count is high enough (reading /proc/sys needs no privilege). ECK gives it the
    Elasticsearch image. Ref: the "max-map-count-check" container of ECK's Virtual memory page."""
    script = (
        f'until [ "$(cat /proc/sys/vm/max_map_count)" -ge {MAX_MAP_COUNT} ]; do '
        f'echo "waiting for vm.max_map_count >= {MAX_MAP_COUNT} (set by the {MAX_MAP_COUNT_DAEMONSET} DaemonSet)"; '
        "sleep 5; done"
    )
    return {
        "name": "max-map-count-wait",
        "command": ["sh", "-c", script],
        "resources": _SMALL_RESOURCES,
        "securityContext": restricted_container(),
    }


def elasticsearch_spec(settings: ElasticsearchSettings, storage_class: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {"node.roles": ["master", "data", "ingest"]}
    pod_spec: dict[str, Any] = {
        # Elasticsearch never calls the Kubernetes API (ECK's default too, stated here).
        "automountServiceAccountToken": False,
        # runAsGroup stays the image's (0): its files are group-0 owned.
        "securityContext": restricted_pod(run_as_user=ES_UID, fs_group=ES_UID),
        "containers": [
            {
                "name": "elasticsearch",
                "resources": settings.resources.to_k8s(),
                "securityContext": restricted_container(),
            }
        ],
    }
    if settings.max_map_count == "disable-mmap":
        config["node.store.allow_mmap"] = False
    else:
        pod_spec["initContainers"] = [max_map_count_wait_container()]
    if settings.nodes > 1:
        # One node per host: losing a host must not take two copies of a shard with it.
        pod_spec["affinity"] = {
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": {"elasticsearch.k8s.elastic.co/cluster-name": CLUSTER}},
                        "topologyKey": "kubernetes.io/hostname",
                    }
                ]
            }
        }
        pod_spec["topologySpreadConstraints"] = [
            {
                "maxSkew": 1,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"elasticsearch.k8s.elastic.co/cluster-name": CLUSTER}},
            }
        ]
    claim: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": str(settings.storage_size)}},
    }
    if storage_class:
        claim["storageClassName"] = storage_class
    return {
        "version": ELASTICSEARCH_VERSION,
        "http": {"tls": {"certificate": {"secretName": HTTP_TLS_SECRET}}},
        "auth": {
            "roles": [{"secretName": ROLES_SECRET}],
            "fileRealm": [{"secretName": user.secret_name} for user in USERS],
        },
        "nodeSets": [
            {
                "name": "default",
                "count": settings.nodes,
                "config": config,
                "podTemplate": {"spec": pod_spec},
                "volumeClaimTemplates": [{"metadata": {"name": DATA_VOLUME}, "spec": claim}],
            }
        ],
    }


def lifecycle_job_files(logs: LogsSpec, index_replicas: int) -> dict[str, str]:
    """ConfigMap files of the lifecycle Job: one JSON body per request and an ordered plan."""
    files: dict[str, str] = {}
    plan = []
    for index, (method, path, body) in enumerate(es_requests(logs, index_replicas)):
        name = f"{index:03d}.json"
        files[name] = json.dumps(body, sort_keys=True, indent=2)
        plan.append(f"{method} {path} {name}")
    files["plan.txt"] = "\n".join(plan) + "\n"
    files["apply.sh"] = _APPLY_SCRIPT
    return files


# Waits for the cluster, then sends each planned request; any non-2xx answer fails the Job.
_APPLY_SCRIPT = """#!/bin/sh
set -eu
cd /requests
for i in $(seq 1 60); do
  if curl -sS --fail --cacert /ca/ca.crt -u "elastic:$ELASTIC_PASSWORD" \\
      "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=10s" >/dev/null; then break; fi
  [ "$i" -eq 60 ] && { echo "Elasticsearch not ready" >&2; exit 1; }
  sleep 5
done
while read -r method path file; do
  [ -n "$method" ] || continue
  echo "> $method $path"
  curl -sS --fail-with-body --cacert /ca/ca.crt -u "elastic:$ELASTIC_PASSWORD" \\
    -X "$method" -H 'Content-Type: application/json' --data-binary "@$file" "$ES_URL$path"
  echo
done < plan.txt
echo "lifecycle applied"
"""


def max_map_count_script() -> str:
    """Raises (never lowers) the node's vm.max_map_count; run by the DaemonSet's init container."""
    return (
        "current=$(cat /proc/sys/vm/max_map_count); "
        f'if [ "$current" -lt {MAX_MAP_COUNT} ]; then echo {MAX_MAP_COUNT} > /proc/sys/vm/max_map_count; fi; '
        'echo "vm.max_map_count=$(cat /proc/sys/vm/max_map_count)"'
    )


def _max_map_count_probe(period: int) -> dict[str, Any]:
    check = f'[ "$(cat /proc/sys/vm/max_map_count)" -ge {MAX_MAP_COUNT} ]'
    return {"exec": {"command": ["/usr/local/bin/bash", "-c", check]}, "periodSeconds": period, "failureThreshold": 3}


def max_map_count_pod_spec() -> dict[str, Any]:
    """The DaemonSet's pod: vm.max_map_count is not a namespaced sysctl, so only a privileged
    container can write it (/proc/sys is read-only otherwise). That container is an init container
    that exits after one write; what keeps running is a restricted `sleep`. No API token, no host
    namespaces, no host paths. Ref: ECK's Virtual memory page, "Using a DaemonSet"."""
    return {
        "automountServiceAccountToken": False,
        # Pod level: seccomp only; the init container must run as root, the main one does not.
        "securityContext": {"seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP)},
        "initContainers": [
            {
                "name": "set-max-map-count",
                "image": MAX_MAP_COUNT_IMAGE,
                "command": ["/usr/local/bin/bash", "-e", "-c", max_map_count_script()],
                "resources": _SMALL_RESOURCES,
                "securityContext": {
                    "privileged": True, "runAsUser": 0, "runAsNonRoot": False, "readOnlyRootFilesystem": True,
                },
            }
        ],
        "containers": [
            {
                "name": "sleep",
                "image": MAX_MAP_COUNT_IMAGE,
                "command": ["sleep", "infinity"],
                # Ready only once the node has the value; a node where something lowered it again
                # fails liveness, and the restarted pod's init container raises it again.
                "readinessProbe": _max_map_count_probe(period=10),
                "livenessProbe": _max_map_count_probe(period=60),
                "resources": {"requests": {"cpu": "1m", "memory": "8Mi"}, "limits": {"memory": "16Mi"}},
                "securityContext": restricted_container(runAsUser=NOBODY),
            }
        ],
    }


@dataclass(frozen=True)
class MaxMapCountPlan:
    """The `daemonset` mode's setter, in the agents namespace."""

    name: str
    namespace: str
    # Its pods' labels (a NetworkPolicies input) and selector.
    labels: Mapping[str, str]
    pod_spec: Mapping[str, Any]


@dataclass(frozen=True)
class LifecycleJobPlan:
    """The Job applying ILM policies and index templates; named after a hash of its requests (Jobs
    are immutable: a changed retention is a new Job, an unchanged one is left alone)."""

    name: str
    # Its pods' labels: a client of the cluster's HTTP port (a NetworkPolicies input).
    labels: Mapping[str, str]
    # (method, path, body), in order (monitoring/logs.py es_requests).
    requests: tuple[tuple[str, str, Mapping[str, Any]], ...]
    # The ConfigMap the Job mounts at LIFECYCLE_REQUESTS_DIR: a body per request, plan.txt, apply.sh.
    files: Mapping[str, str]
    image: str
    command: tuple[str, ...]
    env: Mapping[str, str]
    # ELASTIC_PASSWORD: the `elastic` superuser's password, from ECK's Secret.
    password_env: str
    password: SecretKeyRef


@dataclass(frozen=True)
class ElasticsearchPlan:
    operator_values: Mapping[str, Any]
    extra_values: Mapping[str, Any]
    # The `Elasticsearch` resource's name and spec.
    cluster: str
    spec: Mapping[str, Any]
    http: Endpoint
    # The CA Secret clients mount (the public half of the HTTP certificate's CA; http.ca).
    ca: SecretKeyRef
    # The HTTP certificate's subject and names (the Service's DNS names).
    tls_common_name: str
    tls_dns_names: tuple[str, ...]
    roles_yaml: str
    users: tuple[EsUser, ...]
    # Users whose credentials (and the CA) are copied to the agents namespace.
    agents_client_users: tuple[EsUser, ...]
    # Replica shards of each log index (StackSettings.index_replicas, as for the trace indices).
    index_replicas: int
    # The labels of the objects the component declares in the platform's / the agents namespace.
    labels: Mapping[str, str]
    agents_client_labels: Mapping[str, str]
    lifecycle: LifecycleJobPlan
    max_map_count: MaxMapCountPlan | None

    @property
    def lifecycle_requests(self) -> tuple[tuple[str, str, Mapping[str, Any]], ...]:
        return self.lifecycle.requests


def elasticsearch_plan(settings: StackSettings, context: PlatformContext) -> ElasticsearchPlan:
    es = settings.elasticsearch
    # The component's objects carry `<platform>-elasticsearch` as their instance label.
    instance = f"{context.name}-elasticsearch"
    labels = standard_labels("elasticsearch", instance, "logs")
    http = http_endpoint(settings.namespace)
    logs, replicas = settings.logs, settings.index_replicas
    max_map_count = None
    if es.max_map_count == "daemonset":
        max_map_count = MaxMapCountPlan(
            name=MAX_MAP_COUNT_DAEMONSET,
            namespace=settings.agents_namespace,
            labels=standard_labels("elasticsearch", instance, "max-map-count"),
            pod_spec=max_map_count_pod_spec(),
        )
    return ElasticsearchPlan(
        operator_values=operator_values(settings.namespace),
        extra_values=es.extra_values,
        cluster=CLUSTER,
        spec=elasticsearch_spec(es, settings.storage_class),
        http=http,
        ca=SecretKeyRef(CA_SECRET, CA_KEY),
        tls_common_name=http.service,
        tls_dns_names=tuple(http_dns_names(http)),
        roles_yaml=yaml_text.dump(es_roles(settings.jaeger.index_prefix)),
        users=USERS,
        agents_client_users=AGENTS_CLIENT_USERS,
        index_replicas=replicas,
        labels=labels,
        agents_client_labels=standard_labels("elasticsearch", instance, "agents-client"),
        lifecycle=LifecycleJobPlan(
            name=f"es-lifecycle-{es_requests_hash(logs, replicas)}",
            labels=labels,
            requests=tuple(es_requests(logs, replicas)),
            files=lifecycle_job_files(logs, replicas),
            image=CURL_IMAGE,
            command=("/bin/sh", f"{LIFECYCLE_REQUESTS_DIR}/apply.sh"),
            env={"ES_URL": http.url()},
            password_env="ELASTIC_PASSWORD",
            password=SecretKeyRef(ELASTIC_USER_SECRET, "elastic"),
        ),
        max_map_count=max_map_count,
    )
