"""Elasticsearch for logs and traces: the ECK operator, one `Elasticsearch` cluster, its TLS,
its users, and the Job that applies ILM policies and index templates through the ES API.

Why each piece is here (ECK 3.5.0, read in deploy/eck-operator and pkg/apis):
- The operator chart has no Helm hooks; its webhook certificates are made by the operator itself.
- The HTTP certificate is ours (pulumi_tls), not ECK's self-signed one, so its CA is known before
  the cluster exists: Fluent Bit, Jaeger and the Grafana datasource trust it from the first deploy.
- Users are file-realm Secrets (`username`, `password`, `roles`), one per writer/reader, each with
  a least-privilege role from the `roles.yml` Secret; only the lifecycle Job uses `elastic`.
- ILM and templates go through the API by a Job named after a hash of the requests: the Basic
  licence has no StackConfigPolicy, Jobs are immutable, and every request is an idempotent PUT.
- vm.max_map_count (`elasticsearch.maxMapCount`): `daemonset` raises it on every node from a small
  DaemonSet in the agents namespace (a privileged init container, then a restricted `sleep`), and
  the Elasticsearch pods wait for it in an unprivileged init container; `disable-mmap` sets
  `node.store.allow_mmap: false`. Either way the Elasticsearch pods themselves are `restricted`.
  Ref: https://www.elastic.co/docs/deploy-manage/deploy/cloud-on-k8s/virtual-memory
- Pod security (ECK v3.5.0 pkg/controller/elasticsearch/nodespec/podspec.go, `BuildPodTemplateSpec`,
  and pkg/controller/elasticsearch/securitycontext/securitycontext.go, `For`): for Elasticsearch
  >= 8.8 ECK defaults the pod to fsGroup 1000 + seccomp RuntimeDefault *only when the podTemplate
  sets no securityContext*, and every container (its own init containers included) without one to
  privileged: false, allowPrivilegeEscalation: false, capabilities drop ALL, runAsNonRoot: true and
  readOnlyRootFilesystem: true (when the data volume is mounted, as here: ECK mounts an emptyDir
  at /tmp and copies config, plugins and bin into emptyDirs). The podTemplate below states the
  same explicitly, so the pod keeps fsGroup 1000 and is `restricted` whatever ECK's defaults do.
  ECK also disables the service-account token unless the podTemplate enables it
  (pkg/controller/common/defaults/pod_template.go, `setDefaults`).
- Clients in the agents namespace (the Fluent Bit DaemonSet) get copies of the CA Secret and of
  their user's credentials there: a pod can only mount Secrets of its own namespace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls

from components.chart import child_options, declare_chart
from components.jobs import env_from_secret, plain_env, script_pod
from components.labels import config_map, secret, standard_labels
from components.rollout import ContentDigests
from components.security import container_security_context_args
from plan.pod_security import NOBODY, RUNTIME_DEFAULT_SECCOMP, restricted_container, restricted_pod
from plan.versions import (
    CURL_IMAGE,
    ECK_OPERATOR,
    ELASTICSEARCH_VERSION,
    MAX_MAP_COUNT_IMAGE,
)
from monitoring import yaml_text
from plan.elasticsearch import (
    CA_KEY,
    CA_SECRET,
    CLUSTER,
    DATA_VOLUME,
    ELASTIC_USER_SECRET,
    ES_UID,
    EXPORTER_USER,
    EsUser,
    FLUENT_BIT_USER,
    GRAFANA_USER,
    HTTP_PORT,
    HTTP_SERVICE,
    HTTP_TLS_SECRET,
    JAEGER_USER,
    MAX_MAP_COUNT,
    MAX_MAP_COUNT_DAEMONSET,
    OPERATOR_WEBHOOK_PORT,
    ROLES_SECRET,
    TRANSPORT_PORT,
    USERS,
)
from monitoring.logs import LogsSpec, es_requests, es_requests_hash
from plan.settings import ElasticsearchSettings

_SMALL_RESOURCES = {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "32Mi"}}


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


def _max_map_count_probe(period: int) -> k8s.core.v1.ProbeArgs:
    check = f'[ "$(cat /proc/sys/vm/max_map_count)" -ge {MAX_MAP_COUNT} ]'
    return k8s.core.v1.ProbeArgs(
        exec_=k8s.core.v1.ExecActionArgs(command=["/usr/local/bin/bash", "-c", check]),
        period_seconds=period,
        failure_threshold=3,
    )


def max_map_count_pod_spec() -> k8s.core.v1.PodSpecArgs:
    """The DaemonSet's pod: vm.max_map_count is not a namespaced sysctl, so only a privileged
    container can write it (/proc/sys is read-only otherwise). That container is an init container
    that exits after one write; what keeps running is a restricted `sleep`. No API token, no host
    namespaces, no host paths. Ref: ECK's Virtual memory page, "Using a DaemonSet"."""
    resources = k8s.core.v1.ResourceRequirementsArgs(
        requests=_SMALL_RESOURCES["requests"], limits=_SMALL_RESOURCES["limits"]
    )
    return k8s.core.v1.PodSpecArgs(
        automount_service_account_token=False,
        # Pod level: seccomp only; the init container must run as root, the main one does not.
        security_context=k8s.core.v1.PodSecurityContextArgs(
            seccomp_profile=k8s.core.v1.SeccompProfileArgs(type=RUNTIME_DEFAULT_SECCOMP["type"])
        ),
        init_containers=[
            k8s.core.v1.ContainerArgs(
                name="set-max-map-count",
                image=MAX_MAP_COUNT_IMAGE,
                command=["/usr/local/bin/bash", "-e", "-c", max_map_count_script()],
                resources=resources,
                security_context=k8s.core.v1.SecurityContextArgs(
                    privileged=True, run_as_user=0, run_as_non_root=False, read_only_root_filesystem=True
                ),
            )
        ],
        containers=[
            k8s.core.v1.ContainerArgs(
                name="sleep",
                image=MAX_MAP_COUNT_IMAGE,
                command=["sleep", "infinity"],
                # Ready only once the node has the value; a node where something lowered it again
                # fails liveness, and the restarted pod's init container raises it again.
                readiness_probe=_max_map_count_probe(period=10),
                liveness_probe=_max_map_count_probe(period=60),
                resources=k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "1m", "memory": "8Mi"}, limits={"memory": "16Mi"}),
                security_context=container_security_context_args(runAsUser=NOBODY),
            )
        ],
    )


@dataclass(frozen=True)
class ElasticsearchArgs:
    namespace: str
    storage_class: str | None
    settings: ElasticsearchSettings
    logs: LogsSpec
    # Replica shards of each log index (StackSettings.index_replicas, as for the trace indices).
    index_replicas: int
    trace_index_prefix: str
    # Node agents' namespace: the max_map_count DaemonSet and the Fluent Bit DaemonSet's Secret copies.
    agents_namespace: str
    # Records the CA and user Secrets, so the clients that read them roll on a change.
    digests: ContentDigests


class Elasticsearch(pulumi.ComponentResource):
    """ECK operator + the `logs` cluster, TLS, users and the index lifecycle."""

    url: str
    ca_pem: pulumi.Output[str]

    def __init__(self, name: str, args: ElasticsearchArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:Elasticsearch", name, None, opts)
        child = child_options(self, opts)
        ns = args.namespace
        labels = standard_labels("elasticsearch", name, "logs")
        self.url = f"https://{HTTP_SERVICE}.{ns}.svc:{HTTP_PORT}"

        operator_values = {
            "managedNamespaces": [ns],
            "installCRDs": True,
            # The chart's default pod context has no seccomp profile (not `restricted`); the image's
            # user is 1001 (build/Dockerfile `USER 1001`), any user works (it writes nothing: its
            # webhook certificate is a mounted Secret), so nobody (>= 10000).
            # Ref: eck-operator 3.5.0 values.yaml `podSecurityContext`, `securityContext`;
            # templates/statefulset.yaml (pod and `manager` container securityContext).
            "podSecurityContext": restricted_pod(run_as_user=NOBODY, run_as_group=NOBODY),
            "securityContext": restricted_container(),
        }
        operator = declare_chart(
            f"{name}-operator", ECK_OPERATOR, ns, operator_values, child, extra_values=args.settings.extra_values
        )
        self.charts = {ECK_OPERATOR.chart: operator_values}

        # TLS: a CA of our own and the HTTP certificate it signs, for the Service's DNS names.
        ca_key = tls.PrivateKey(f"{name}-ca-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        ca = tls.SelfSignedCert(
            f"{name}-ca",
            private_key_pem=ca_key.private_key_pem,
            is_ca_certificate=True,
            subject=tls.SelfSignedCertSubjectArgs(common_name=f"{CLUSTER} Elasticsearch CA", organization="TerraFusion"),
            validity_period_hours=10 * 365 * 24,
            allowed_uses=["cert_signing", "crl_signing"],
            opts=child,
        )
        http_key = tls.PrivateKey(f"{name}-http-key", algorithm="ECDSA", ecdsa_curve="P256", opts=child)
        dns_names = [HTTP_SERVICE, f"{HTTP_SERVICE}.{ns}", f"{HTTP_SERVICE}.{ns}.svc", f"{HTTP_SERVICE}.{ns}.svc.cluster.local"]
        csr = tls.CertRequest(
            f"{name}-http-csr",
            private_key_pem=http_key.private_key_pem,
            subject=tls.CertRequestSubjectArgs(common_name=HTTP_SERVICE),
            dns_names=dns_names,
            opts=child,
        )
        http_cert = tls.LocallySignedCert(
            f"{name}-http-cert",
            cert_request_pem=csr.cert_request_pem,
            ca_private_key_pem=ca_key.private_key_pem,
            ca_cert_pem=ca.cert_pem,
            validity_period_hours=365 * 24,
            # Renewed by the first `pulumi up` in its last 30 days; ECK reloads the Secret.
            early_renewal_hours=30 * 24,
            allowed_uses=["digital_signature", "key_encipherment", "server_auth"],
            opts=child,
        )
        self.ca_pem = ca.cert_pem
        tls_secret = secret(
            f"{name}-http-tls", HTTP_TLS_SECRET, ns, labels,
            {"tls.crt": http_cert.cert_pem, "tls.key": http_key.private_key_pem, "ca.crt": ca.cert_pem}, child,
        )  # fmt: skip
        ca_secret = secret(f"{name}-ca-public", CA_SECRET, ns, labels, {CA_KEY: ca.cert_pem}, child, args.digests)

        roles = secret(
            f"{name}-roles", ROLES_SECRET, ns, labels,
            {"roles.yml": yaml_text.dump(es_roles(args.trace_index_prefix))}, child,
        )  # fmt: skip
        self.user_passwords: dict[str, pulumi.Output[str]] = {}
        user_secrets = []
        for user in USERS:
            password = random.RandomPassword(f"{name}-{user.username}-password", length=32, special=False, opts=child)
            self.user_passwords[user.username] = password.result
            user_secrets.append(
                secret(
                    f"{name}-user-{user.username}", user.secret_name, ns, labels,
                    {"username": user.username, "password": password.result, "roles": user.role},
                    child, args.digests, type_="kubernetes.io/basic-auth",
                )  # fmt: skip
            )

        # The Fluent Bit DaemonSet runs in the agents namespace and can only mount Secrets there:
        # copies of the public CA and of its user's credentials (no `roles`: only ECK's file realm,
        # in this namespace, reads those).
        agents_labels = standard_labels("elasticsearch", name, "agents-client")
        self.agents_client_secrets = [
            secret(
                f"{name}-agents-ca-public", CA_SECRET, args.agents_namespace, agents_labels,
                {CA_KEY: ca.cert_pem}, child, args.digests,
            ),
            secret(
                f"{name}-agents-user-{FLUENT_BIT_USER.username}", FLUENT_BIT_USER.secret_name,
                args.agents_namespace, agents_labels,
                {"username": FLUENT_BIT_USER.username, "password": self.user_passwords[FLUENT_BIT_USER.username]},
                child, args.digests, type_="kubernetes.io/basic-auth",
            ),
        ]

        cluster_dependencies: list[pulumi.Resource] = [operator, tls_secret, roles, *user_secrets]
        # Pod labels of the vm.max_map_count setter, when there is one (a NetworkPolicies input).
        self.max_map_count_labels: dict[str, str] | None = None
        if args.settings.max_map_count == "daemonset":
            setter_labels = standard_labels("elasticsearch", name, "max-map-count")
            self.max_map_count_labels = setter_labels
            cluster_dependencies.append(
                k8s.apps.v1.DaemonSet(
                    f"{name}-max-map-count",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=MAX_MAP_COUNT_DAEMONSET, namespace=args.agents_namespace, labels=setter_labels
                    ),
                    spec=k8s.apps.v1.DaemonSetSpecArgs(
                        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=setter_labels),
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            metadata=k8s.meta.v1.ObjectMetaArgs(labels=setter_labels),
                            spec=max_map_count_pod_spec(),
                        ),
                    ),
                    opts=child,
                )
            )

        self.spec = elasticsearch_spec(args.settings, args.storage_class)
        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="elasticsearch.k8s.elastic.co/v1",
            kind="Elasticsearch",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=CLUSTER, namespace=ns, labels=labels),
            spec=self.spec,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=cluster_dependencies)),
        )

        self.lifecycle_requests = es_requests(args.logs, args.index_replicas)
        job_name = f"es-lifecycle-{es_requests_hash(args.logs, args.index_replicas)}"
        self.lifecycle_job_labels = labels  # its pods' labels: a client of the cluster's HTTP port
        files = lifecycle_job_files(args.logs, args.index_replicas)
        requests_map = config_map(f"{name}-lifecycle", job_name, ns, labels, files, child, args.digests)
        self.lifecycle_job = k8s.batch.v1.Job(
            f"{name}-lifecycle-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=job_name, namespace=ns, labels=labels),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=10,
                template=script_pod(
                    labels,
                    "apply-lifecycle",
                    CURL_IMAGE,
                    ["/bin/sh", "/requests/apply.sh"],
                    [*plain_env({"ES_URL": self.url}), env_from_secret("ELASTIC_PASSWORD", ELASTIC_USER_SECRET, "elastic")],
                    config_maps={"/requests": job_name},
                    secrets={"/ca": CA_SECRET},
                ),
            ),
            # Log shippers wait for this Job (see platform.py): a data stream created before its
            # template would take Elasticsearch's built-in logs template and no lifecycle.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[self.cluster, requests_map, ca_secret])
            ),
        )
        self.register_outputs({"url": self.url})
