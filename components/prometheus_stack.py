"""kube-prometheus-stack: Prometheus Operator, Prometheus (with the Thanos sidecar), Alertmanager,
node-exporter and kube-state-metrics. The chart with the plan's values (plan/prometheus_stack.py,
where its chart and pod-security facts are), the release's object patch, and the digests of the
Secrets the operated pods read through env vars."""

from __future__ import annotations

import pulumi

from components.chart import child_options, declare_chart
from components.rollout import ContentDigests, ObjectRef
from plan.context import PlatformContext
from plan.prometheus_stack import PrometheusPlan, release_patch
from plan.values import deep_merge
from plan.versions import KUBE_PROMETHEUS_STACK


class PrometheusStack(pulumi.ComponentResource):
    """Prometheus, Alertmanager and the cluster exporters from kube-prometheus-stack."""

    def __init__(
        self,
        name: str,
        plan: PrometheusPlan,
        ctx: PlatformContext,
        digests: ContentDigests,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("terrafusion:monitoring:PrometheusStack", name, None, opts)
        namespace = ctx.namespace
        objstore = ObjectRef("Secret", namespace, plan.objstore_secret.name)
        # The Thanos sidecar reads objstore.yml from an env var the operator sets from the Secret
        # (prometheus-operator@v0.93.0 pkg/prometheus/server/statefulset.go, OBJSTORE_CONFIG
        # secretKeyRef), and the operator's input hash does not cover that Secret: the digest goes
        # on the pods through `podMetadata` (kube-prometheus-stack 88.5.3 values.yaml
        # prometheus.prometheusSpec.podMetadata, "propagated to the prometheus pods"). remote_write
        # credentials need none (components/rollout.py SELF_RELOADING).
        pod_metadata = {"prometheus": {"prometheusSpec": {"podMetadata": {"annotations": digests.annotations([objstore])}}}}
        # The Thanos Ruler reads both its Secrets from env vars the operator sets the same way
        # (prometheus-operator@v0.93.0 pkg/thanos/statefulset.go: OBJSTORE_CONFIG, ALERTMANAGERS_CONFIG
        # secretKeyRefs): the same digest, through thanosRulerSpec.podMetadata (kube-prometheus-stack
        # 88.5.3 templates/thanos-ruler/ruler.yaml l.134).
        if plan.ruler:
            ruler_reads = [objstore, ObjectRef("Secret", namespace, plan.ruler_alertmanagers_secret.name)]
            pod_metadata["thanosRuler"] = {
                "thanosRulerSpec": {"podMetadata": {"annotations": digests.annotations(ruler_reads)}}
            }
        self.values = deep_merge(plan.values, pod_metadata)
        self.chart = declare_chart(
            f"{name}-chart",
            KUBE_PROMETHEUS_STACK,
            namespace,
            self.values,
            child_options(self, opts),
            extra_values=plan.extra_values,
            # Upstream severities -> P1-P4 in the PrometheusRules themselves (monitoring/upstream_rules.py);
            # the dashboard ConfigMaps as monitoring/dashboards/upstream.py decides.
            object_patch=release_patch,
        )
        # Its addresses are the plan's endpoints (plan.prometheus), not outputs of this component.
        self.register_outputs({})
