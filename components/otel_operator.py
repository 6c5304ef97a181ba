"""The OpenTelemetry Operator: its chart, the webhook certificate (a CA of our own and the
certificate it signs, as for Elasticsearch), the Mutating- and ValidatingWebhookConfiguration
carrying that CA, and the platform's `Instrumentation` (plan/otel_operator.py says why the
webhooks are the program's and not the chart's).

Order: the certificate Secret before the chart (the manager mounts it), the webhook
configurations after it (so the API server never calls a webhook with no pod behind it), the
Instrumentation last: its CRD is a chart object, and its creation goes through the operator's
mutating and validating webhooks (failurePolicy Fail)."""

from __future__ import annotations

import base64

import pulumi
import pulumi_kubernetes as k8s
import pulumi_tls as tls

from components.certificates import Validity, serving_certificate
from components.chart import child_options, declare_chart
from components.labels import secret
from plan.context import PlatformContext
from plan.elasticsearch import CA_ORGANIZATION
from plan.otel_operator import (
    CA_COMMON_NAME,
    CA_VALIDITY_HOURS,
    CERT_EARLY_RENEWAL_HOURS,
    CERT_VALIDITY_HOURS,
    INSTRUMENTATION_API_VERSION,
    MUTATING_WEBHOOK_CONFIGURATION,
    VALIDATING_WEBHOOK_CONFIGURATION,
    WEBHOOK_TLS_SECRET,
    OtelOperatorPlan,
)
from plan.versions import OTEL_OPERATOR


def _b64(pem: str) -> str:
    return base64.b64encode(pem.encode()).decode()


class OtelOperator(pulumi.ComponentResource):
    """The operator, its webhooks and the Instrumentation opted-in pods are configured from."""

    ca_pem: pulumi.Output[str]

    def __init__(
        self, name: str, plan: OtelOperatorPlan, ctx: PlatformContext, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("terrafusion:monitoring:OtelOperator", name, None, opts)
        child = child_options(self, opts)
        ns = ctx.namespace
        labels = dict(plan.labels)

        certificate = serving_certificate(
            name, "webhook",
            ca_subject=tls.SelfSignedCertSubjectArgs(common_name=CA_COMMON_NAME, organization=CA_ORGANIZATION),
            common_name=plan.webhook.host, dns_names=plan.tls_dns_names,
            validity=Validity(CA_VALIDITY_HOURS, CERT_VALIDITY_HOURS, CERT_EARLY_RENEWAL_HOURS), opts=child,
        )  # fmt: skip
        ca = certificate.ca
        self.ca_pem = ca.cert_pem
        tls_secret = secret(
            f"{name}-webhook-tls", WEBHOOK_TLS_SECRET, ns, labels,
            certificate.secret_data(), child, type_="kubernetes.io/tls",
        )  # fmt: skip

        self.chart = declare_chart(
            f"{name}-chart", OTEL_OPERATOR, ns, plan.values,
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[tls_secret])),
            extra_values=plan.extra_values,
        )  # fmt: skip

        # The CA is public: the caBundle is plain (base64 of the PEM, as the API expects).
        ca_bundle = ca.cert_pem.apply(_b64)
        after_chart = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.chart]))
        mutating = k8s.admissionregistration.v1.MutatingWebhookConfiguration(
            f"{name}-mutating-webhooks",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=MUTATING_WEBHOOK_CONFIGURATION, labels=labels),
            webhooks=[_with_ca(w, ca_bundle) for w in plan.mutating_webhooks],
            opts=after_chart,
        )
        validating = k8s.admissionregistration.v1.ValidatingWebhookConfiguration(
            f"{name}-validating-webhooks",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=VALIDATING_WEBHOOK_CONFIGURATION, labels=labels),
            webhooks=[_with_ca(w, ca_bundle) for w in plan.validating_webhooks],
            opts=after_chart,
        )
        self.instrumentation = k8s.apiextensions.CustomResource(
            f"{name}-instrumentation",
            api_version=INSTRUMENTATION_API_VERSION,
            kind="Instrumentation",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=plan.instrumentation_name, namespace=ns, labels=labels),
            spec=plan.instrumentation_spec,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[self.chart, mutating, validating])
            ),
        )
        self.register_outputs({})


def _with_ca(webhook, ca_bundle: pulumi.Output[str]) -> dict:
    """The planned webhook with the CA's caBundle in its clientConfig."""
    return {**webhook, "clientConfig": {**webhook["clientConfig"], "caBundle": ca_bundle}}
