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
- Pod security: the podTemplate (plan/elasticsearch.py `elasticsearch_spec`, which says why) states
  ECK's restricted defaults explicitly, so the Elasticsearch pods are `restricted` whatever ECK does.
- Clients in the agents namespace (the Fluent Bit DaemonSet) get copies of the CA Secret and of
  their user's credentials there: a pod can only mount Secrets of its own namespace.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls

from components.certificates import Validity, serving_certificate
from components.chart import child_options, declare_chart
from components.jobs import env_from_secret, plain_env, script_pod
from components.labels import config_map, secret
from components.rollout import ContentDigests
from plan.context import PlatformContext
from plan.elasticsearch import (
    CA_COMMON_NAME,
    CA_ORGANIZATION,
    CA_VALIDITY_HOURS,
    HTTP_CERT_EARLY_RENEWAL_HOURS,
    HTTP_CERT_VALIDITY_HOURS,
    HTTP_TLS_SECRET,
    LIFECYCLE_CA_DIR,
    LIFECYCLE_REQUESTS_DIR,
    ROLES_SECRET,
    ElasticsearchPlan,
)
from plan.versions import ECK_OPERATOR


class Elasticsearch(pulumi.ComponentResource):
    """ECK operator + the `logs` cluster, TLS, users and the index lifecycle."""

    ca_pem: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        plan: ElasticsearchPlan,
        ctx: PlatformContext,
        digests: ContentDigests,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`digests` records the CA and user Secrets, so the clients that read them roll on a change."""
        super().__init__("terrafusion:monitoring:Elasticsearch", name, None, opts)
        child = child_options(self, opts)
        ns = ctx.namespace
        labels = dict(plan.labels)
        ca_ref = plan.ca

        operator = declare_chart(
            f"{name}-operator", ECK_OPERATOR, ns, plan.operator_values, child, extra_values=plan.extra_values
        )

        # TLS: a CA of our own and the HTTP certificate it signs, for the Service's DNS names.
        certificate = serving_certificate(
            name, "http",
            ca_subject=tls.SelfSignedCertSubjectArgs(common_name=CA_COMMON_NAME, organization=CA_ORGANIZATION),
            common_name=plan.tls_common_name, dns_names=plan.tls_dns_names,
            validity=Validity(CA_VALIDITY_HOURS, HTTP_CERT_VALIDITY_HOURS, HTTP_CERT_EARLY_RENEWAL_HOURS), opts=child,
        )  # fmt: skip
        ca = certificate.ca
        self.ca_pem = ca.cert_pem
        tls_secret = secret(
            f"{name}-http-tls", HTTP_TLS_SECRET, ns, labels,
            certificate.secret_data(), child,
        )  # fmt: skip
        ca_secret = secret(f"{name}-ca-public", ca_ref.name, ns, labels, {ca_ref.key: ca.cert_pem}, child, digests)

        roles = secret(f"{name}-roles", ROLES_SECRET, ns, labels, {"roles.yml": plan.roles_yaml}, child)
        self.user_passwords: dict[str, pulumi.Output[str]] = {}
        user_secrets = []
        for user in plan.users:
            password = random.RandomPassword(f"{name}-{user.username}-password", length=32, special=False, opts=child)
            self.user_passwords[user.username] = password.result
            user_secrets.append(
                secret(
                    f"{name}-user-{user.username}", user.secret_name, ns, labels,
                    {"username": user.username, "password": password.result, "roles": user.role},
                    child, digests, type_="kubernetes.io/basic-auth",
                )  # fmt: skip
            )

        # The Fluent Bit DaemonSet runs in the agents namespace and can only mount Secrets there:
        # copies of the public CA and of its user's credentials (no `roles`: only ECK's file realm,
        # in this namespace, reads those).
        agents_labels = dict(plan.agents_client_labels)
        self.agents_client_secrets = [
            secret(
                f"{name}-agents-ca-public", ca_ref.name, ctx.agents_namespace, agents_labels,
                {ca_ref.key: ca.cert_pem}, child, digests,
            ),
            *(
                secret(
                    f"{name}-agents-user-{user.username}", user.secret_name, ctx.agents_namespace, agents_labels,
                    {"username": user.username, "password": self.user_passwords[user.username]},
                    child, digests, type_="kubernetes.io/basic-auth",
                )
                for user in plan.agents_client_users
            ),
        ]  # fmt: skip

        cluster_dependencies: list[pulumi.Resource] = [operator, tls_secret, roles, *user_secrets]
        if (setter := plan.max_map_count) is not None:
            setter_labels = dict(setter.labels)
            cluster_dependencies.append(
                k8s.apps.v1.DaemonSet(
                    f"{name}-max-map-count",
                    metadata=k8s.meta.v1.ObjectMetaArgs(name=setter.name, namespace=setter.namespace, labels=setter_labels),
                    spec=k8s.apps.v1.DaemonSetSpecArgs(
                        selector=k8s.meta.v1.LabelSelectorArgs(match_labels=setter_labels),
                        template=k8s.core.v1.PodTemplateSpecArgs(
                            metadata=k8s.meta.v1.ObjectMetaArgs(labels=setter_labels),
                            spec=setter.pod_spec,
                        ),
                    ),
                    opts=child,
                )
            )

        self.cluster = k8s.apiextensions.CustomResource(
            f"{name}-cluster",
            api_version="elasticsearch.k8s.elastic.co/v1",
            kind="Elasticsearch",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=plan.cluster, namespace=ns, labels=labels),
            spec=plan.spec,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=cluster_dependencies)),
        )

        job = plan.lifecycle
        self.lifecycle_job_labels = dict(job.labels)  # its pods' labels: a client of the cluster's HTTP port
        requests_map = config_map(f"{name}-lifecycle", job.name, ns, labels, job.files, child, digests)
        self.lifecycle_job = k8s.batch.v1.Job(
            f"{name}-lifecycle-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=job.name, namespace=ns, labels=labels),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=10,
                template=script_pod(
                    self.lifecycle_job_labels,
                    "apply-lifecycle",
                    job.image,
                    job.command,
                    [*plain_env(job.env), env_from_secret(job.password_env, job.password.name, job.password.key)],
                    config_maps={LIFECYCLE_REQUESTS_DIR: job.name},
                    secrets={LIFECYCLE_CA_DIR: ca_ref.name},
                ),
            ),
            # Log shippers wait for this Job (see platform.py): a data stream created before its
            # template would take Elasticsearch's built-in logs template and no lifecycle.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[self.cluster, requests_map, ca_secret])
            ),
        )
        self.register_outputs({})
