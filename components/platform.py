"""The composition: namespace, shared secrets, and every system of the platform wired together."""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.object_storage import objstore_secret as declare_objstore_secret
from components.alerting import AlertingConfig, AlertRules
from plan.elasticsearch import GRAFANA_USER as ES_GRAFANA_USER
from components.elasticsearch import Elasticsearch
from components.exporters import ElasticsearchExporter, Exporters, Pushgateway
from components.fluent_bit import FluentBit
from components.tracing import Tracing
from components.trivy_operator import TrivyOperator
from components.cni import CniMonitors
from plan.influxdb import READER_USER as INFLUX_READER_USER
from components.influxdb import declare_service_monitor as influxdb_service_monitor
from components.influxdb import Influxdb
from components.grafana import Grafana
from components.grafana_content import GrafanaContent
from components.labels import standard_labels
from plan.pod_security import namespace_labels
from components.network_policies import NetworkPolicies, NetworkPoliciesArgs
from components.prometheus_stack import PrometheusStack
from components.rollout import ContentDigests
from components.thanos import Thanos
from plan.versions import BLACKBOX_EXPORTER, POSTGRES_EXPORTER
from monitoring.datasources import (
    ELASTICSEARCH_LOGS_UID,
    INFLUXDB_TRENDS_UID,
    logs_datasource,
    metrics_datasources,
    traces_datasource,
    trends_datasource,
)
from plan import Plan


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
        name = plan.context.name
        super().__init__("terrafusion:monitoring:MonitoringPlatform", name, None, opts)
        settings = self.settings = plan.settings
        ns_name = settings.namespace
        # Where the environment says so (prod), data must survive a mistaken `pulumi destroy`: the
        # namespace (whose deletion takes every volume claim with it) and every chart with state.
        stateful = pulumi.ResourceOptions(parent=self, protect=settings.protect)

        # Pod Security: every platform pod is `restricted` (components/security.py); only the node
        # agents that need the host run in the agents namespace, the one `privileged` namespace
        # (audited and warned at `baseline`, so each of its pods is on record). docs/security.md.
        # Ref: https://kubernetes.io/docs/concepts/security/pod-security-admission/
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=ns_name,
                labels={
                    **standard_labels("monitoring", name, "namespace"),
                    **namespace_labels(enforce="restricted", warn="restricted", audit="restricted"),
                },
            ),
            opts=stateful,
        )
        agents_ns_name = settings.agents_namespace
        # Holds no data (Fluent Bit's buffer is on the nodes): not protected.
        agents_ns = k8s.core.v1.Namespace(
            f"{name}-agents-namespace",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=agents_ns_name,
                labels={
                    **standard_labels("monitoring", name, "agents-namespace"),
                    **namespace_labels(enforce="privileged", warn="baseline", audit="baseline"),
                },
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        namespaces = [namespace, agents_ns]
        in_namespace = pulumi.ResourceOptions(parent=self, depends_on=namespaces)

        # The key of every content digest (components/rollout.py): a secret of this stack, so a
        # digest on a pod template says nothing about the content it was computed from.
        digest_key = random.RandomPassword(f"{name}-content-digest-key", length=64, special=False, opts=in_namespace)
        digests = ContentDigests(digest_key.result)
        self.digests = digests

        objstore_secret = declare_objstore_secret(name, plan.object_storage, plan.context, secrets, digests, in_namespace)
        self.alerting = AlertingConfig(f"{name}-alerting", plan.alerting, ns_name, secrets, digests, opts=in_namespace)
        self.influxdb = Influxdb(
            plan.influxdb.name, plan.influxdb, plan.context, digests,
            opts=pulumi.ResourceOptions.merge(stateful, pulumi.ResourceOptions(depends_on=[namespace])),
        )  # fmt: skip

        # Remote-writes into InfluxDB (plan.influxdb.remote_write); the Thanos Ruler reads through
        # Thanos Query (plan.thanos.query) and sends to the Alertmanager config of plan.alerting.
        self.prometheus_stack = PrometheusStack(
            f"{name}-prometheus", plan.prometheus, plan.context, digests,
            # Prometheus remote-writes into InfluxDB only once the schema Job created the policies.
            opts=pulumi.ResourceOptions.merge(
                stateful,
                pulumi.ResourceOptions(
                    depends_on=[
                        *namespaces,
                        objstore_secret,
                        self.alerting,
                        self.influxdb.schema_job,
                        self.influxdb.remote_write_secret,
                    ]
                ),
            ),
        )
        # PrometheusRule is an Operator CRD: the rules wait for the chart that installs it.
        self.alert_rules = AlertRules(
            f"{name}-rules", plan.alerting, ns_name,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.prometheus_stack]),
        )  # fmt: skip
        self.thanos = Thanos(
            f"{name}-thanos", plan.thanos, plan.context, digests,
            # The chart's ServiceMonitors need the Prometheus Operator CRDs to exist first.
            opts=pulumi.ResourceOptions.merge(
                stateful, pulumi.ResourceOptions(depends_on=[objstore_secret, self.prometheus_stack])
            ),
        )
        self.elasticsearch = Elasticsearch(
            f"{name}-elasticsearch", plan.elasticsearch, plan.context, digests,
            opts=pulumi.ResourceOptions.merge(stateful, pulumi.ResourceOptions(depends_on=namespaces)),
        )  # fmt: skip
        # Shippers start once the lifecycle Job has put the templates in place, and once the
        # Operator CRDs exist (their charts declare ServiceMonitors).
        after_es = pulumi.ResourceOptions(
            parent=self, depends_on=[self.elasticsearch.lifecycle_job, self.prometheus_stack]
        )
        self.fluent_bit = FluentBit(
            f"{name}-fluent-bit", plan.fluent_bit, plan.context, digests,
            # The node DaemonSet mounts the CA and user Secret copies of its own namespace.
            opts=pulumi.ResourceOptions.merge(
                after_es, pulumi.ResourceOptions(depends_on=self.elasticsearch.agents_client_secrets)
            ),
        )
        self.tracing = Tracing(f"{name}-tracing", plan.tracing, plan.context, digests, opts=after_es)
        dsn_key = plan.exporters.postgres_dsn_key
        self.exporters = Exporters(
            f"{name}-exporters",
            plan.exporters,
            plan.context,
            secrets[dsn_key] if dsn_key is not None else None,
            digests,
            # Probe and ServiceMonitor are Operator CRDs.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.prometheus_stack]),
        )
        influxdb_service_monitor(
            plan.influxdb.name, plan.influxdb, plan.context,
            pulumi.ResourceOptions(parent=self.influxdb, depends_on=[self.prometheus_stack]),
        )  # fmt: skip
        # Producers of the Elasticsearch alerts/panels and of the CI delivery panels (metrics contract).
        self.elasticsearch_exporter = ElasticsearchExporter(
            f"{name}-elasticsearch-exporter", plan.elasticsearch_exporter, plan.context, digests, opts=after_es
        )
        self.pushgateway = Pushgateway(
            f"{name}-pushgateway", plan.pushgateway, plan.context,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.prometheus_stack]),
        )  # fmt: skip
        # The Security dashboard's producers: the Trivy Operator (optional) and the CNI's metrics.
        self.trivy_operator = (
            TrivyOperator(
                f"{name}-trivy-operator", plan.trivy_operator, plan.context,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.prometheus_stack]),
            )  # fmt: skip
            if plan.trivy_operator is not None
            else None
        )
        if plan.cni is not None:
            CniMonitors(
                f"{name}-cni", plan.cni, plan.context,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[self.prometheus_stack]),
            )  # fmt: skip
        self.grafana = Grafana(
            f"{name}-grafana", plan.grafana, plan.context, secrets, digests,
            opts=pulumi.ResourceOptions.merge(
                stateful, pulumi.ResourceOptions(depends_on=[namespace, self.prometheus_stack])
            ),
        )  # fmt: skip
        self.grafana_content = GrafanaContent(
            f"{name}-grafana-content",
            plan.grafana_content,
            datasources=[
                *metrics_datasources(
                    thanos_url=self.thanos.query_frontend_url,
                    alertmanager_url=self.prometheus_stack.alertmanager_url,
                    scrape_interval=settings.prometheus.scrape_interval,
                ),
                trends_datasource(self.influxdb.service_url, settings.influxdb.retention.database, INFLUX_READER_USER),
                logs_datasource(self.elasticsearch.url, ES_GRAFANA_USER.username),
                traces_datasource(self.tracing.jaeger_query_url),
            ],
            datasource_secure_json={
                INFLUXDB_TRENDS_UID: {"password": self.influxdb.reader_password},
                ELASTICSEARCH_LOGS_UID: {
                    "basicAuthPassword": self.elasticsearch.user_passwords[ES_GRAFANA_USER.username],
                    "tlsCACert": self.elasticsearch.ca_pem,
                },
            },
            provider=self.grafana.provider,
            grafana_ready=[self.grafana.chart],
            opts=pulumi.ResourceOptions(parent=self),
        )

        # Ingress into every platform pod: exactly the flows of docs/network-policies.md.
        self.network_policies = NetworkPolicies(
            f"{name}-network-policies",
            NetworkPoliciesArgs(
                namespace=ns_name,
                agents_namespace=agents_ns_name,
                settings=settings.network_policy,
                influxdb_labels=self.influxdb.pod_labels,
                influxdb_schema_job_labels=self.influxdb.schema_job_labels,
                elasticsearch_lifecycle_job_labels=self.elasticsearch.lifecycle_job_labels,
                jaeger_retention_job_labels=self.tracing.retention_job_labels,
                max_map_count_labels=self.elasticsearch.max_map_count_labels,
                blackbox_exporter=BLACKBOX_EXPORTER.chart in self.exporters.charts,
                postgres_exporter=POSTGRES_EXPORTER.chart in self.exporters.charts,
                thanos_ruler=self.prometheus_stack.values["thanosRuler"]["enabled"],
                trivy_operator=self.trivy_operator is not None,
            ),
            opts=in_namespace,
        )

        self.grafana_url = self.grafana.url
        self.datasource_uids = self.grafana_content.datasource_uids
        self.endpoints = pulumi.Output.from_input(
            {
                "prometheus": self.prometheus_stack.prometheus_url,
                "alertmanager": self.prometheus_stack.alertmanager_url,
                "thanos_query": self.thanos.query_url,
                "thanos_query_frontend": self.thanos.query_frontend_url,
                "grafana_in_cluster": self.grafana.in_cluster_url,
                "influxdb": self.influxdb.service_url,
                "elasticsearch": self.elasticsearch.url,
                "jaeger_query": self.tracing.jaeger_query_url,
                "otlp_grpc": self.tracing.otlp_grpc_endpoint,
                "otlp_http": self.tracing.otlp_http_endpoint,
                # Browsers' OTLP/HTTP endpoint (otelCollector.ingress), when the stack has one.
                **({"otlp_http_public": url} if (url := self.tracing.otlp_http_public_url) else {}),
                "pushgateway": self.pushgateway.url,
            }
        )
        self.register_outputs(
            {"grafana_url": self.grafana_url, "endpoints": self.endpoints, "datasource_uids": self.datasource_uids}
        )
