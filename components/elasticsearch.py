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
- vm.max_map_count: a privileged init container (needs the namespace's `privileged` Pod Security
  level, which node-exporter needs anyway) or `node.store.allow_mmap: false` (no privilege).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls
import yaml

from components.chart import child_options, declare_chart
from components.jobs import env_from_secret, plain_env, script_pod
from components.labels import secret, standard_labels
from components.versions import CURL_IMAGE, ECK_OPERATOR, ELASTICSEARCH_VERSION
from monitoring.logs import LogsSpec, es_requests, es_requests_hash
from stacks.settings import ElasticsearchSettings

CLUSTER = "logs"
HTTP_SERVICE = f"{CLUSTER}-es-http"  # created by ECK
HTTP_PORT = 9200
ELASTIC_USER_SECRET = f"{CLUSTER}-es-elastic-user"  # created by ECK, key `elastic`
HTTP_TLS_SECRET = f"{CLUSTER}-es-http-tls"
CA_SECRET = f"{CLUSTER}-es-ca"  # ca.crt only: what clients mount
CA_KEY = "ca.crt"
ROLES_SECRET = f"{CLUSTER}-es-roles"
# Data volume name ECK expects. Ref: ECK pkg/controller/elasticsearch/volume/names.go
DATA_VOLUME = "elasticsearch-data"


@dataclass(frozen=True)
class EsUser:
    username: str
    role: str
    secret_name: str


FLUENT_BIT_USER = EsUser("fluentbit", "terrafusion_log_writer", f"{CLUSTER}-es-user-fluentbit")
JAEGER_USER = EsUser("jaeger", "terrafusion_trace_writer", f"{CLUSTER}-es-user-jaeger")
GRAFANA_USER = EsUser("grafana", "terrafusion_reader", f"{CLUSTER}-es-user-grafana")
USERS = (FLUENT_BIT_USER, JAEGER_USER, GRAFANA_USER)


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
    }


def elasticsearch_spec(settings: ElasticsearchSettings, storage_class: str | None) -> dict[str, Any]:
    config: dict[str, Any] = {"node.roles": ["master", "data", "ingest"]}
    pod_spec: dict[str, Any] = {
        "containers": [{"name": "elasticsearch", "resources": settings.resources.to_k8s()}],
    }
    if settings.max_map_count == "disable-mmap":
        config["node.store.allow_mmap"] = False
    else:
        # Ref: https://www.elastic.co/docs/deploy-manage/deploy/cloud-on-k8s/virtual-memory
        pod_spec["initContainers"] = [
            {
                "name": "sysctl",
                "securityContext": {"privileged": True, "runAsUser": 0},
                "command": ["sh", "-c", "sysctl -w vm.max_map_count=262144"],
            }
        ]
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


def lifecycle_job_files(logs: LogsSpec) -> dict[str, str]:
    """ConfigMap files of the lifecycle Job: one JSON body per request and an ordered plan."""
    files: dict[str, str] = {}
    plan = []
    for index, (method, path, body) in enumerate(es_requests(logs)):
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


@dataclass(frozen=True)
class ElasticsearchArgs:
    namespace: str
    storage_class: str | None
    settings: ElasticsearchSettings
    logs: LogsSpec
    trace_index_prefix: str


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

        operator_values = {"managedNamespaces": [ns], "installCRDs": True}
        operator = declare_chart(f"{name}-operator", ECK_OPERATOR, ns, operator_values, child)
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
        ca_secret = secret(f"{name}-ca-public", CA_SECRET, ns, labels, {CA_KEY: ca.cert_pem}, child)

        roles = secret(
            f"{name}-roles", ROLES_SECRET, ns, labels,
            {"roles.yml": yaml.safe_dump(es_roles(args.trace_index_prefix), sort_keys=True)}, child,
        )  # fmt: skip
        self.user_passwords: dict[str, pulumi.Output[str]] = {}
        user_secrets = []
        for user in USERS:
            password = random.RandomPassword(f"{name}-{user.username}-password", length=32, special=False, opts=child)
            self.user_passwords[user.username] = password.result
            user_secrets.append(
                k8s.core.v1.Secret(
                    f"{name}-user-{user.username}",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=user.secret_name, namespace=ns, labels=labels),
                    type="kubernetes.io/basic-auth",
                    string_data={"username": user.username, "password": password.result, "roles": user.role},
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
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[operator, tls_secret, roles, *user_secrets])
            ),
        )

        self.lifecycle_requests = es_requests(args.logs)
        job_name = f"es-lifecycle-{es_requests_hash(args.logs)}"
        files = lifecycle_job_files(args.logs)
        requests_map = k8s.core.v1.ConfigMap(
            f"{name}-lifecycle",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=job_name, namespace=ns, labels=labels),
            data=files,
            opts=child,
        )
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
