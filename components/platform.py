"""The composition: every system of the platform, each deploying its slice of the plan, wired in
the order the cluster needs them. The plan (plan/__init__.py) already holds every value, config,
endpoint and label; what is wired here is only what exists at run time: namespaces, generated
passwords and certificates, content digests, and the order of creation."""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.alerting import AlertingConfig, AlertRules
from components.cni import CniMonitors
from components.elasticsearch import Elasticsearch
from components.exporters import ElasticsearchExporter, Exporters, Pushgateway
from components.fluent_bit import FluentBit
from components.grafana import Grafana
from components.grafana_content import GrafanaContent
from components.influxdb import Influxdb
from components.influxdb import declare_service_monitor as influxdb_service_monitor
from components.network_policies import NetworkPolicies
from components.pagerduty import PagerDuty
from components.object_storage import objstore_secret as declare_objstore_secret
from components.prometheus_stack import PrometheusStack
from components.reports import ReportJob
from components.rollout import ContentDigests
from components.thanos import Thanos
from components.tracing import Tracing
from components.opencost import Opencost
from components.otel_operator import OtelOperator
from components.trivy_operator import TrivyOperator
from monitoring.datasources import ELASTICSEARCH_LOGS_UID, INFLUXDB_TRENDS_UID
from plan import Plan
from plan.context import PlatformContext
from plan.elasticsearch import GRAFANA_USER as ES_GRAFANA_USER
from plan.pod_security import namespace_labels


class MonitoringPlatform(pulumi.ComponentResource):
    """Everything one environment runs to observe TerraFusionProfessional."""

    grafana_url: pulumi.Output[str]
    endpoints: pulumi.Output[dict[str, str]]
    datasource_uids: pulumi.Output[list[str]]

    def __init__(
        self,
        plan: Plan,
        secrets: Mapping[str, pulumi.Output[str]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        ctx = plan.context
        name = ctx.name
        super().__init__("terrafusion:monitoring:MonitoringPlatform", name, None, opts)
        namespace, agents_namespace = self._namespaces(ctx)
        namespaces = [namespace, agents_namespace]
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=namespaces)

        def stateful(*after: pulumi.Resource) -> pulumi.ResourceOptions:
            """A system with data: protected where the environment says so (prod)."""
            return pulumi.ResourceOptions(parent=self, protect=ctx.protect, depends_on=list(after))

        def after(*resources: pulumi.Resource) -> pulumi.ResourceOptions:
            return pulumi.ResourceOptions(parent=self, depends_on=list(resources))

        # The key of every content digest (components/rollout.py): a secret of this stack, so a
        # digest on a pod template says nothing about the content it was computed from.
        digest_key = random.RandomPassword(f"{name}-content-digest-key", length=64, special=False, opts=in_namespace)
        digests = self.digests = ContentDigests(digest_key.result)

        # Metrics: the bucket, alerting config, trends store, then Prometheus (it remote-writes into
        # InfluxDB once the schema Job made the policies) and what needs the Operator's CRDs.
        objstore = declare_objstore_secret(name, plan.object_storage, ctx, secrets, digests, in_namespace)
        # PagerDuty first: its services' integration keys are the routing keys of the receivers.
        # Protected where the environment protects data: `pulumi destroy` (or a replacement) must not
        # take the paging path away; a re-created service has new integration keys, and people's
        # accounts and contact methods are theirs.
        self.pagerduty = (
            PagerDuty(f"{name}-pagerduty", plan.pagerduty, secrets[plan.pagerduty.token_key], opts=pulumi.ResourceOptions(parent=self, protect=ctx.protect))
            if plan.pagerduty is not None
            else None
        )
        self.alerting = AlertingConfig(
            f"{name}-alerting", plan.alerting, ctx, secrets, digests,
            integration_keys=self.pagerduty.integration_keys if self.pagerduty else None, opts=in_namespace,
        )  # fmt: skip
        self.influxdb = Influxdb(plan.influxdb.name, plan.influxdb, ctx, digests, opts=stateful(namespace))
        self.prometheus_stack = prometheus = PrometheusStack(
            f"{name}-prometheus", plan.prometheus, ctx, digests,
            opts=stateful(*namespaces, objstore, self.alerting, self.influxdb.schema_job, self.influxdb.remote_write_secret),
        )
        self.alert_rules = AlertRules(f"{name}-rules", plan.alerting, ctx, opts=after(prometheus))
        self.thanos = Thanos(f"{name}-thanos", plan.thanos, ctx, digests, opts=stateful(objstore, prometheus))
        influxdb_service_monitor(
            plan.influxdb.name, plan.influxdb, ctx, pulumi.ResourceOptions(parent=self.influxdb, depends_on=[prometheus])
        )

        # Logs and traces: Elasticsearch, then its clients once the lifecycle Job has put the index
        # templates in place (and the Operator CRDs exist: their charts declare ServiceMonitors).
        self.elasticsearch = es = Elasticsearch(
            f"{name}-elasticsearch", plan.elasticsearch, ctx, digests, opts=stateful(*namespaces)
        )
        after_es = after(es.lifecycle_job, prometheus)
        # The node DaemonSet mounts the CA and user Secret copies of its own namespace.
        self.fluent_bit = FluentBit(
            f"{name}-fluent-bit", plan.fluent_bit, ctx, digests,
            opts=pulumi.ResourceOptions.merge(after_es, after(*es.agents_client_secrets)),
        )  # fmt: skip
        self.tracing = Tracing(plan.tracing.name, plan.tracing, ctx, digests, opts=after_es)
        # Auto-instrumentation: pods that opt in by annotation send to the collector (no CRD of
        # another chart is needed: the operator's own are in its chart).
        self.otel_operator = (
            OtelOperator(f"{name}-otel-operator", plan.otel_operator, ctx, opts=in_namespace)
            if plan.otel_operator is not None
            else None
        )
        self.elasticsearch_exporter = ElasticsearchExporter(
            f"{name}-elasticsearch-exporter", plan.elasticsearch_exporter, ctx, digests, opts=after_es
        )

        # Producers the SLOs, the delivery panels and the Security dashboard read (their Probes,
        # ServiceMonitors and PodMonitors are Operator CRDs).
        dsn_key = plan.exporters.postgres_dsn_key
        self.exporters = Exporters(
            f"{name}-exporters", plan.exporters, ctx, secrets[dsn_key] if dsn_key is not None else None, digests,
            opts=after(prometheus),
        )  # fmt: skip
        self.pushgateway = Pushgateway(f"{name}-pushgateway", plan.pushgateway, ctx, opts=after(prometheus))
        self.trivy_operator = (
            TrivyOperator(f"{name}-trivy-operator", plan.trivy_operator, ctx, opts=after(prometheus))
            if plan.trivy_operator is not None
            else None
        )
        self.opencost = (
            Opencost(f"{name}-opencost", plan.opencost, ctx, opts=after(prometheus))
            if plan.opencost is not None
            else None
        )
        if plan.cni is not None:
            CniMonitors(f"{name}-cni", plan.cni, ctx, opts=after(prometheus))

        # Grafana, then its content through the Grafana provider: the datasources' passwords and CA
        # are the run-time half of plan.grafana_content.datasources.
        self.grafana = Grafana(
            f"{name}-grafana", plan.grafana, ctx, secrets, digests, opts=stateful(namespace, prometheus)
        )
        self.grafana_content = GrafanaContent(
            f"{name}-grafana-content",
            plan.grafana_content,
            datasource_secure_json={
                INFLUXDB_TRENDS_UID: {"password": self.influxdb.reader_password},
                ELASTICSEARCH_LOGS_UID: {
                    "basicAuthPassword": es.user_passwords[ES_GRAFANA_USER.username],
                    "tlsCACert": es.ca_pem,
                },
            },
            provider=self.grafana.provider,
            grafana_ready=[self.grafana.chart],
            opts=pulumi.ResourceOptions(parent=self),
        )

        # The weekly SLO report: it reads the Slack webhook from the receivers Secret and asks Thanos Query.
        self.reports = (
            ReportJob(f"{name}-reports", plan.reports, ctx, digests, opts=after(self.alerting, self.thanos))
            if plan.reports is not None
            else None
        )

        # Ingress into every platform pod: exactly the flows of docs/network-policies.md.
        self.network_policies = NetworkPolicies(plan.network_policies, opts=in_namespace)

        self.grafana_url = self.grafana.url
        self.datasource_uids = self.grafana_content.datasource_uids
        self.endpoints = pulumi.Output.from_input(plan.endpoints())
        self.register_outputs(
            {"grafana_url": self.grafana_url, "endpoints": self.endpoints, "datasource_uids": self.datasource_uids}
        )

    def _namespaces(self, ctx: PlatformContext) -> tuple[k8s.core.v1.Namespace, k8s.core.v1.Namespace]:
        """Pod Security: every platform pod is `restricted` (plan/pod_security.py); only the node agents
        that need the host run in the agents namespace, the one `privileged` namespace (audited and
        warned at `baseline`, so each of its pods is on record). docs/security.md.
        Ref: https://kubernetes.io/docs/concepts/security/pod-security-admission/"""
        # Where the environment says so (prod), the namespace must survive a mistaken `pulumi destroy`:
        # its deletion takes every volume claim with it.
        platform = k8s.core.v1.Namespace(
            f"{ctx.name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ctx.namespace,
                labels={
                    **ctx.labels("monitoring", "namespace"),
                    **namespace_labels(enforce="restricted", warn="restricted", audit="restricted"),
                },
            ),
            opts=pulumi.ResourceOptions(parent=self, protect=ctx.protect),
        )
        # Holds no data (Fluent Bit's buffer is on the nodes): not protected.
        agents = k8s.core.v1.Namespace(
            f"{ctx.name}-agents-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ctx.agents_namespace,
                labels={
                    **ctx.labels("monitoring", "agents-namespace"),
                    **namespace_labels(enforce="privileged", warn="baseline", audit="baseline"),
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return platform, agents
