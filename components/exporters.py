"""The exporters the SLOs and rules need beyond kube-prometheus-stack, as deployed objects: the
blackbox exporter and its Probes, postgres_exporter, elasticsearch_exporter and the Pushgateway.
Their values, Probe specs, names and endpoints are the plan's (plan/exporters.py, with the chart
facts and the pod security of each)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options, declare_chart
from components.labels import secret, standard_labels
from components.rollout import ContentDigests, ObjectRef
from plan.context import PlatformContext
from plan.exporters import (
    ElasticsearchExporterPlan,
    ExportersPlan,
    PushgatewayPlan,
    elasticsearch_exporter_object_patch,
)
from plan.versions import (
    BLACKBOX_EXPORTER,
    ELASTICSEARCH_EXPORTER,
    POSTGRES_EXPORTER,
    PUSHGATEWAY,
)


class Exporters(pulumi.ComponentResource):
    """Blackbox exporter + Probes when there are targets; postgres_exporter when enabled."""

    def __init__(
        self,
        name: str,
        plan: ExportersPlan,
        ctx: PlatformContext,
        postgres_dsn: pulumi.Output[str] | None,
        digests: ContentDigests,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`postgres_dsn`: the value of the secret config key `plan.postgres_dsn_key`, when it is set."""
        super().__init__("terrafusion:monitoring:Exporters", name, None, opts)
        child = child_options(self, opts)
        ns = ctx.namespace
        self.charts: dict[str, dict[str, Any]] = {}

        if plan.blackbox_values is not None:
            values = dict(plan.blackbox_values)
            chart = declare_chart(
                f"{name}-blackbox", BLACKBOX_EXPORTER, ns, values, child,
                extra_values=plan.blackbox_extra_values,
            )  # fmt: skip
            self.charts[BLACKBOX_EXPORTER.chart] = values
            for probe_name, spec in plan.probes.items():
                k8s.apiextensions.CustomResource(
                    f"{name}-probe-{probe_name}",
                    api_version="monitoring.coreos.com/v1",
                    kind="Probe",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=probe_name,
                        namespace=ns,
                        labels=standard_labels("blackbox-exporter", name, "probe"),
                    ),
                    spec=spec,
                    opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[chart])),
                )

        if plan.postgres_values is not None:
            if postgres_dsn is None:
                # stacks/config.py required_secrets makes postgresDsn required before any resource exists.
                raise AssertionError("Exporters: postgres_dsn is required when postgres is enabled")
            dsn_secret = plan.postgres_dsn_secret
            dsn = secret(
                f"{name}-postgres-dsn",
                dsn_secret.name,
                ns,
                standard_labels("postgres-exporter", name, "credentials"),
                {dsn_secret.key: postgres_dsn},
                child,
                digests,
            )
            # The DSN is an env var (DATA_SOURCE_NAME from the Secret); the chart's `checksum/secrets`
            # hashes its own secrets.yaml, empty with `config.datasourceSecret` (8.2.0
            # templates/deployment.yaml l.31-33). Ref: values.yaml `annotations` (pod template).
            values = {**plan.postgres_values, "annotations": digests.annotations([ObjectRef("Secret", ns, dsn_secret.name)])}
            declare_chart(
                f"{name}-postgres",
                POSTGRES_EXPORTER,
                ns,
                values,
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[dsn])),
                extra_values=plan.postgres_extra_values,
            )
            self.charts[POSTGRES_EXPORTER.chart] = values
        self.register_outputs({})


class ElasticsearchExporter(pulumi.ComponentResource):
    """elasticsearch_exporter + its ServiceMonitor: the producer of the Elasticsearch alerts and panels.
    Its opts must wait for the Elasticsearch component (CA and user Secrets) and the Operator CRDs."""

    def __init__(
        self,
        name: str,
        plan: ElasticsearchExporterPlan,
        ctx: PlatformContext,
        digests: ContentDigests,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`digests`: the exporter user's and the CA's Secrets are env and a mount: their content rolls the pod."""
        super().__init__("terrafusion:monitoring:ElasticsearchExporter", name, None, opts)
        ns = ctx.namespace
        # Ref: prometheus-elasticsearch-exporter 7.4.0 values.yaml `podAnnotations`
        # (templates/deployment.yaml l.33); the chart has no checksum of Secrets it does not render.
        self.values = {
            **plan.values,
            "podAnnotations": digests.annotations(
                [ObjectRef("Secret", ns, plan.es_user.secret), ObjectRef("Secret", ns, plan.es.ca.name)]
            ),
        }
        self.chart = declare_chart(
            f"{name}-chart", ELASTICSEARCH_EXPORTER, ns, self.values, child_options(self, opts),
            extra_values=plan.extra_values, object_patch=elasticsearch_exporter_object_patch,
        )  # fmt: skip
        self.register_outputs({})


class Pushgateway(pulumi.ComponentResource):
    """The Pushgateway and its ServiceMonitor (opts must wait for the Operator CRDs)."""

    def __init__(
        self,
        name: str,
        plan: PushgatewayPlan,
        ctx: PlatformContext,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("terrafusion:monitoring:Pushgateway", name, None, opts)
        self.values = plan.values
        self.chart = declare_chart(
            f"{name}-chart", PUSHGATEWAY, ctx.namespace, self.values, child_options(self, opts),
            extra_values=plan.extra_values,
        )  # fmt: skip
        self.register_outputs({})
