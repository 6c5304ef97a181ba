"""The Trivy Operator slice of the plan (components/trivy_operator.py declares it). The Trivy
Operator: the producer of the Security dashboard's trivy_* series (vulnerabilities and exposed
secrets per running image, failing config audit checks per resource, compliance reports).

Chart facts (trivy-operator 0.34.0, appVersion 0.32.0, read in its values.yaml and templates):
no Helm hooks; CRDs in `crds/` (installed by the v4 Chart like `helm template --include-crds`); the
ServiceMonitor is off by default (`serviceMonitor.enabled`, honorLabels: true so the series keep
the scanned workload's `namespace`); metrics on container port `metrics` (8080) behind a headless
Service on port 80; the Deployment rolls on `checksum/config` of trivy-operator-config only.

Production choices:
- Scan Jobs run in the operator's namespace (`scanJobsInSameNamespace: false`), the platform's
  `restricted` one, so their pods get restricted security contexts here (the chart's
  `scanJobPodTemplate*SecurityContext`): Trivy in Standalone `image` mode pulls the image layers
  from the registry itself and needs no root, no host path and no token.
- Off, because they need what a restricted namespace refuses or what we do not use: the infra
  assessment (node-collector Jobs mount host paths), SBOM reports (nothing reads them), the
  `accessGlobalSecretsAndServiceAccount` RBAC (cluster-wide create/get/update of Secrets and
  nodes/proxy, for private-registry pull credentials: images from private registries are not
  scanned; docs/security.md), the trivy-server (Standalone mode).
- Compliance reports: only the Pod Security Standards specs, which consist of config audit checks;
  the CIS and NSA specs also need the infra assessment switched off above.
Ref: aquasecurity/trivy-operator@v0.32.0 deploy/helm/values.yaml, templates/deployment.yaml,
templates/configmaps/operator.yaml, templates/rbac/clusterrole.yaml, templates/specs/,
templates/monitor/servicemonitor.yaml; pkg/operator/etc/config.go (OPERATOR_METRICS_BIND_ADDRESS :8080).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from plan.endpoints import Endpoint
from plan.pod_security import NOBODY, restricted_container, restricted_pod
from plan.settings import StackSettings, TrivyOperatorSettings
from plan.versions import TRIVY_OPERATOR

FULLNAME = "trivy-operator"
METRICS_PORT = 8080  # the container's `metrics` port (chart deployment.yaml; config.go :8080)
# The chart's metrics Service (templates/service.yaml) is headless: its name resolves to the pods,
# so clients (the chart's ServiceMonitor, by the port name `metrics`) reach the container port.
METRICS_PORT_NAME = "metrics"
# Label the operator puts on its scan Jobs' pods. Ref: trivy-operator@v0.32.0
# pkg/trivyoperator/constants.go (LabelK8SAppManagedBy, AppTrivyOperator), pkg/vulnerabilityreport/builder.go
SCAN_JOB_LABELS = {"app.kubernetes.io/managed-by": "trivy-operator"}
# Ref: deploy/helm/templates/specs/k8s-pss-*.yaml (only AVD-KSV config audit checks).
COMPLIANCE_SPECS = ("k8s-pss-baseline-0.1", "k8s-pss-restricted-0.1")


def trivy_operator_values(settings: TrivyOperatorSettings) -> dict[str, Any]:
    return {
        "fullnameOverride": FULLNAME,
        "resources": settings.resources.to_k8s(),
        "operator": {
            "scanJobsConcurrentLimit": settings.concurrent_scan_jobs,
            "infraAssessmentScannerEnabled": False,
            "sbomGenerationEnabled": False,
            "accessGlobalSecretsAndServiceAccount": False,
            "builtInTrivyServer": False,
            # The dashboard's series: trivy_image_vulnerabilities, trivy_image_exposedsecrets,
            # trivy_resource_configaudits, trivy_cluster_compliance (pkg/metrics/collector.go).
            "metricsFindingsEnabled": True,
        },
        "trivyOperator": {
            "scanJobsInSameNamespace": False,
            "scanJobAutomountServiceAccountToken": False,
            "scanJobPodTemplatePodSecurityContext": restricted_pod(
                run_as_user=NOBODY, run_as_group=NOBODY, fs_group=NOBODY
            ),
            "scanJobPodTemplateContainerSecurityContext": restricted_container(runAsUser=NOBODY, runAsGroup=NOBODY),
        },
        "trivy": {"mode": "Standalone", "resources": settings.scan_job_resources.to_k8s()},
        "compliance": {"specs": list(COMPLIANCE_SPECS)},
        "podSecurityContext": restricted_pod(run_as_user=NOBODY, run_as_group=NOBODY),
        "securityContext": restricted_container(),
        "serviceMonitor": {"enabled": True},
    }


@dataclass(frozen=True)
class TrivyOperatorPlan:
    values: Mapping[str, Any]
    extra_values: Mapping[str, Any]
    # The operator's metrics Service (headless: the pods' port; the chart's ServiceMonitor scrapes it).
    metrics: Endpoint
    # The labels the chart gives the operator's pods (`app.kubernetes.io/name`), and those the
    # operator gives its scan Jobs' pods.
    pod_labels: Mapping[str, str]
    scan_job_labels: Mapping[str, str]


def metrics_endpoint(namespace: str) -> Endpoint:
    return Endpoint(FULLNAME, namespace, {METRICS_PORT_NAME: METRICS_PORT})


def trivy_operator_plan(settings: StackSettings) -> TrivyOperatorPlan | None:
    """The operator's slice; None when the stack does not deploy it (security.trivyOperator.enabled)."""
    trivy = settings.security.trivy_operator
    if not trivy.enabled:
        return None
    return TrivyOperatorPlan(
        values=trivy_operator_values(trivy),
        extra_values=trivy.extra_values,
        metrics=metrics_endpoint(settings.namespace),
        pod_labels={"app.kubernetes.io/name": TRIVY_OPERATOR.chart},
        scan_job_labels=dict(SCAN_JOB_LABELS),
    )
