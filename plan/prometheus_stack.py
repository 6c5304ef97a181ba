"""kube-prometheus-stack: Prometheus Operator, Prometheus (with the Thanos sidecar), Alertmanager,
node-exporter and kube-state-metrics, as planned: the chart values, the Thanos Ruler, and the
endpoints the rest of the platform reaches. components/prometheus_stack.py declares the chart.

Chart facts (kube-prometheus-stack 88.5.3, verified in its values.yaml and templates):
- Helm hooks: the admission-webhook certificate Jobs (create/patch) and the CRD upgrade Job. A v4
  Chart drops hook objects, so with the defaults the operator would wait forever for the
  `<fullname>-admission` Secret. The values turn the webhooks and operator TLS off (the chart's own
  ci/01-provision-crds-values.yaml combination) and leave `crds.upgradeJob` off: Pulumi itself updates
  the CRDs from the chart's crds/ folder when the chart version changes.
- `*SelectorNilUsesHelmValues: false` makes Prometheus select every ServiceMonitor, PodMonitor,
  Probe, ScrapeConfig and PrometheusRule in the cluster, not only those labelled with this release.
- The chart's default rules are on, less the groups whose targets are not scraped and the alerts
  our catalogue duplicates; their severities (critical/warning/info) become P2/P3/P4 in the rendered
  PrometheusRules by the release's object patch (monitoring/upstream_rules.py).
- `thanos.objectStorageConfig.existingSecret` is the only shape that renders; a flat {name, key}
  is silently dropped by the template.

Pod security (the platform namespace is `restricted`, components/security.py):
- Prometheus and Alertmanager pods are made by the operator from the CRs' `securityContext`
  (pod level, set here: non-root 1000/2000 as the chart's default, seccomp RuntimeDefault); the
  operator itself gives each container it creates (prometheus, alertmanager, config-reloader and
  init-config-reloader, thanos-sidecar) allowPrivilegeEscalation: false, readOnlyRootFilesystem:
  true and capabilities drop ALL. Ref: prometheus-operator v0.93.0 pkg/prometheus/server/statefulset.go,
  pkg/alertmanager/statefulset.go, pkg/operator/config_reloader.go (`SecurityContext`).
- Alertmanager never calls the Kubernetes API: no token (CR field and ServiceAccount).
- node-exporter needs the host (hostNetwork, hostPID, host / /proc /sys): it runs in the agents
  namespace through the subchart's `namespaceOverride` (Service, ServiceMonitor and
  ServiceAccount follow it; Prometheus selects ServiceMonitors in every namespace), as nobody with
  no capabilities, read-only, seccomp RuntimeDefault.
- kube-state-metrics does not list Secrets (`collectorsExclude`): no rule or dashboard reads
  `kube_secret_*`, and that drops `secrets` from its ClusterRole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from monitoring.alertmanager import ALERTMANAGER_RECEIVER_SECRET
from monitoring.dashboards.upstream import (
    EXCLUDED_BY_VALUES,
    SIDECAR_LABEL,
    SIDECAR_LABEL_VALUE,
    upstream_dashboard_patch,
)
from monitoring.upstream_rules import default_rules_values, upstream_rule_patch
from monitoring.windows import EVALUATOR_LABEL, THANOS_RULER
from plan.alerting import ALERTMANAGER_CONFIG_SECRET, RULER_ALERTMANAGERS_KEY, RULER_ALERTMANAGERS_SECRET
from plan.endpoints import Endpoint, SecretKeyRef
from plan.pod_security import NOBODY, restricted_container, restricted_pod
from plan.settings import StackSettings
from plan.values import deep_merge
from plan.versions import THANOS_IMAGE_TAG

# fullnameOverride: every object name below derives from it (templates/_helpers.tpl).
FULLNAME = "kps"
PROMETHEUS_SERVICE = f"{FULLNAME}-prometheus"
ALERTMANAGER_SERVICE = f"{FULLNAME}-alertmanager"
THANOS_SIDECAR_SERVICE = f"{FULLNAME}-thanos-discovery"  # headless, grpc 10901
PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
THANOS_GRPC_PORT = 10901
# The Prometheus and Alertmanager custom resources; the operator labels their pods with these names.
PROMETHEUS_NAME = f"{FULLNAME}-prometheus"
ALERTMANAGER_NAME = f"{FULLNAME}-alertmanager"
# Ports of the pods the operator creates. Ref: prometheus-operator v0.93.0 pkg/alertmanager/statefulset.go
# (cluster gossip 9094, TCP and UDP), pkg/operator/config_reloader.go (`reloader-web` 8080),
# pkg/prometheus/server/statefulset.go (Thanos sidecar `http` 10902).
ALERTMANAGER_MESH_PORT = 9094
CONFIG_RELOADER_PORT = 8080
THANOS_SIDECAR_HTTP_PORT = 10902
# Chart defaults, as rendered: the operator's `http` without TLS, kube-state-metrics' `http`,
# node-exporter's `http-metrics` (on the host network).
OPERATOR_PORT = 8080
KUBE_STATE_METRICS_PORT = 8080
NODE_EXPORTER_PORT = 9100
# The operator adds this external label to each replica; Thanos deduplicates on it.
REPLICA_LABEL = "prometheus_replica"
# The ThanosRuler custom resource (kube-prometheus-stack.thanosRuler.crname) and what the operator
# makes of it: label `thanos_ruler_replica` on each replica, governing Service `thanos-ruler-operated`
# with the StoreAPI port `grpc` 10901 and the web port 10902, pods labelled thanos-ruler=<name>.
# Ref: prometheus-operator@v0.93.0 pkg/thanos/statefulset.go (defaultReplicaLabelName,
# governingServiceName, ports), pkg/thanos/operator.go makeSelectorLabels.
THANOS_RULER_NAME = f"{FULLNAME}-thanos-ruler"
THANOS_RULER_REPLICA_LABEL = "thanos_ruler_replica"
THANOS_RULER_GOVERNING_SERVICE = "thanos-ruler-operated"
THANOS_RULER_GRPC_PORT = 10901
THANOS_RULER_HTTP_PORT = 10902
# Local TSDB of the ruler: blocks are uploaded every 2h; two days of slack for a bucket outage.
# (The CRD's pattern allows ms/s/m/h only.) Ref: kube-prometheus-stack@88.5.3 values.yaml
# thanosRuler.thanosRulerSpec.retention.
THANOS_RULER_RETENTION = "48h"
# The budget groups run every 5m (monitoring/slo.py BUDGET_GROUP_INTERVAL sets each group's own).
THANOS_RULER_EVALUATION_INTERVAL = "1m"

# The users kube-prometheus-stack's defaults give Prometheus and Alertmanager (their volumes are
# group-owned by the fsGroup); kept so existing volumes stay readable.
OPERATED_UID, OPERATED_GID = 1000, 2000

# Small, steady workloads the platform sizes itself; `prometheus.extraValues` can still override them.
OPERATOR_RESOURCES = {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
NODE_EXPORTER_RESOURCES = {"requests": {"cpu": "20m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}
KUBE_STATE_METRICS_RESOURCES = {"requests": {"cpu": "20m", "memory": "96Mi"}, "limits": {"memory": "256Mi"}}


# The control-plane targets kube-prometheus-stack scrapes through Services it creates in
# kube-system; each `<key>.enabled` also gates the chart's rules and dashboards that read them.
# A managed control plane (EKS, GKE, AKS) runs etcd, the scheduler and the controller-manager out
# of the cluster's reach (no pods match the Services: the chart's own rules then fire
# `absent(up{job=...})` forever); kube-proxy runs on the nodes but binds its metrics to
# 127.0.0.1:10249 on EKS (up == 0 forever), is replaced by the dataplane on GKE Dataplane V2, and
# the chart's selector does not match AKS's pods. So a managed cluster scrapes none of the four.
# Ref: prometheus-operator/prometheus-operator#2461 ("components that can't be scraped on EKS"),
# prometheus-community/helm-charts#1704 (kube-proxy on AKS) and #3368; kube-prometheus-stack 88.5.3
# values.yaml kubeEtcd/kubeScheduler/kubeControllerManager/kubeProxy, templates/exporters/*,
# templates/prometheus/rules-1.14/{etcd,kube-scheduler.rules,kubernetes-system-*}.yaml.
CONTROL_PLANE_TARGETS = {
    "kubeEtcd": "etcd",
    "kubeScheduler": "kube-scheduler",
    "kubeControllerManager": "kube-controller-manager",
    "kubeProxy": "kube-proxy",
}


def control_plane_values(control_plane: str) -> dict[str, Any]:
    """`cluster.controlPlane`: scrape the control plane only where the cluster exposes it."""
    return {key: {"enabled": control_plane == "self-hosted"} for key in CONTROL_PLANE_TARGETS}


def _volume_claim(storage_class: str | None, size: str) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": str(size)}},
    }
    if storage_class:
        spec["storageClassName"] = storage_class
    return {"volumeClaimTemplate": {"spec": spec}}


def _pdb(replicas: int) -> dict[str, Any]:
    # A PDB on a single replica would block every node drain; only HA sets get one.
    return {"enabled": replicas > 1, "minAvailable": 1}


def _thanos_ruler_values(
    settings: StackSettings,
    objstore_secret: SecretKeyRef,
    query_endpoint: str,
    alertmanagers: SecretKeyRef | None,
    pod_security: Mapping[str, Any],
) -> dict[str, Any]:
    """The operator's ThanosRuler: the groups labelled for it, over Thanos Query, alerts to the
    platform's Alertmanager, blocks to the bucket (so Thanos Query keeps serving them after the
    ruler's local retention). Its container gets the restricted securityContext from the operator
    (pkg/thanos/statefulset.go); the pod's is set here as for Prometheus.
    Ref: kube-prometheus-stack@88.5.3 values.yaml thanosRuler.*, templates/thanos-ruler/ruler.yaml."""
    ruler = settings.thanos.ruler
    if ruler is None:
        return {"enabled": False}
    return {
        "enabled": True,
        "podDisruptionBudget": _pdb(ruler.replicas),
        "thanosRulerSpec": {
            "replicas": ruler.replicas,
            "ruleSelectorNilUsesHelmValues": False,
            "ruleSelector": {"matchLabels": {EVALUATOR_LABEL: THANOS_RULER}},
            "ruleNamespaceSelector": {},
            "queryEndpoints": [query_endpoint],
            "alertmanagersConfig": {
                "existingSecret": {"name": alertmanagers.name, "key": alertmanagers.key} if alertmanagers else {}
            },
            "objectStorageConfig": {
                "existingSecret": {"name": objstore_secret.name, "key": objstore_secret.key}
            },
            # The same external labels as Prometheus: dashboards filter on environment and cluster.
            "labels": {"cluster": settings.cluster.name, "environment": settings.environment},
            "retention": THANOS_RULER_RETENTION,
            "evaluationInterval": THANOS_RULER_EVALUATION_INTERVAL,
            "storage": _volume_claim(settings.storage_class, ruler.storage_size),
            "resources": ruler.resources.to_k8s(),
            "podAntiAffinity": settings.prometheus.pod_anti_affinity,
            "securityContext": dict(pod_security),
        },
    }


def prometheus_stack_values(
    settings: StackSettings,
    objstore_secret: SecretKeyRef,
    remote_write: Sequence[Mapping[str, Any]] = (),
    ruler_query_endpoint: str = "",
    ruler_alertmanagers_secret: SecretKeyRef | None = None,
    alertmanager_config_secret: str = ALERTMANAGER_CONFIG_SECRET,
    alertmanager_secrets: Sequence[str] = (ALERTMANAGER_RECEIVER_SECRET,),
) -> dict[str, Any]:
    """The chart's values. `remote_write`: Prometheus' remote_write entries; the Thanos Ruler
    (monitoring/windows.py) reads through `ruler_query_endpoint` (a dnssrv+ address of Thanos Query)
    and takes its Alertmanager config from `ruler_alertmanagers_secret`; `alertmanager_config_secret`
    holds key alertmanager.yaml, rendered by the program from the alerting strategy, and
    `alertmanager_secrets` are mounted at /etc/alertmanager/secrets/<name>/ (receiver credentials,
    by file)."""
    prom, am = settings.prometheus, settings.alertmanager
    operated_pod = restricted_pod(run_as_user=OPERATED_UID, run_as_group=OPERATED_GID, fs_group=OPERATED_GID)
    values: dict[str, Any] = {
        "fullnameOverride": FULLNAME,
        # Grafana itself is a separate release (components/grafana.py); the chart only renders its
        # dashboards, as ConfigMaps labelled for that Grafana's sidecar, in the platform namespace.
        # Which of them the sidecar loads, and how they are adapted: the release's object patch
        # (monitoring/dashboards/upstream.py). Ref: kube-prometheus-stack 88.5.3 values.yaml
        # `grafana.forceDeployDashboards`, `grafana.defaultDashboardsEnabled`, `grafana.sidecar.dashboards`
        # (label, labelValue); templates/grafana/dashboards-1.14/*.yaml (rendered when
        # `(grafana.enabled or grafana.forceDeployDashboards) and grafana.defaultDashboardsEnabled`, into
        # `grafana.namespaceOverride` or the release namespace).
        "grafana": {
            "enabled": False,
            "forceDeployDashboards": True,
            "defaultDashboardsEnabled": True,
            # Provisioned dashboards are code: edits in the UI would be lost anyway (the sidecar
            # provider's allowUiUpdates is off too).
            "defaultDashboardsEditable": False,
            "sidecar": {"dashboards": {"label": SIDECAR_LABEL, "labelValue": SIDECAR_LABEL_VALUE}},
        },
        # Ref: kube-prometheus-stack 88.5.3 values.yaml `defaultRules` (rules.<group>, disabled.<Alert>,
        # additionalRuleGroupLabels.<group>), templates/prometheus/rules-1.14/*.yaml
        "defaultRules": default_rules_values(),
        "crds": {"enabled": True, "upgradeJob": {"enabled": False}},
        "prometheusOperator": {
            "tls": {"enabled": False},
            "admissionWebhooks": {"enabled": False, "patch": {"enabled": False}},
            "thanosImage": {"tag": THANOS_IMAGE_TAG},
            "resources": OPERATOR_RESOURCES,
        },
        "prometheus": {
            "thanosService": {"enabled": True},
            "thanosServiceMonitor": {"enabled": True},
            "podDisruptionBudget": _pdb(prom.replicas),
            "prometheusSpec": {
                "replicas": prom.replicas,
                "retention": prom.retention,
                "retentionSize": prom.retention_size,
                "scrapeInterval": prom.scrape_interval,
                "evaluationInterval": prom.evaluation_interval,
                "externalLabels": {"cluster": settings.cluster.name, "environment": settings.environment},
                "replicaExternalLabelName": REPLICA_LABEL,
                "podAntiAffinity": prom.pod_anti_affinity,
                "serviceMonitorSelectorNilUsesHelmValues": False,
                "podMonitorSelectorNilUsesHelmValues": False,
                "probeSelectorNilUsesHelmValues": False,
                "ruleSelectorNilUsesHelmValues": False,
                # Every PrometheusRule except those the Thanos Ruler evaluates (monitoring/windows.py):
                # no group is evaluated twice.
                "ruleSelector": {
                    "matchExpressions": [{"key": EVALUATOR_LABEL, "operator": "NotIn", "values": [THANOS_RULER]}]
                },
                "scrapeConfigSelectorNilUsesHelmValues": False,
                "storageSpec": _volume_claim(settings.storage_class, prom.storage_size),
                # Ref: kube-prometheus-stack 88.5.3 values.yaml prometheus.prometheusSpec.securityContext
                "securityContext": operated_pod,
                "resources": prom.resources.to_k8s(),
                "remoteWrite": [dict(rw) for rw in remote_write],
                "thanos": {
                    "objectStorageConfig": {
                        "existingSecret": {
                            "name": objstore_secret.name,
                            "key": objstore_secret.key,
                        }
                    }
                },
            },
        },
        "alertmanager": {
            "podDisruptionBudget": _pdb(am.replicas),
            # Ref: values.yaml alertmanager.serviceAccount.automountServiceAccountToken
            # (templates/alertmanager/serviceaccount.yaml)
            "serviceAccount": {"automountServiceAccountToken": False},
            "alertmanagerSpec": {
                # Ref: values.yaml alertmanager.alertmanagerSpec.securityContext, .automountServiceAccountToken
                # (templates/alertmanager/alertmanager.yaml)
                "securityContext": operated_pod,
                "automountServiceAccountToken": False,
                "replicas": am.replicas,
                "retention": am.retention,
                "podAntiAffinity": am.pod_anti_affinity,
                "storage": _volume_claim(settings.storage_class, am.storage_size),
                "resources": am.resources.to_k8s(),
                # The program renders and owns the whole config Secret (key alertmanager.yaml).
                "useExistingSecret": True,
                "configSecret": alertmanager_config_secret,
                "secrets": list(alertmanager_secrets),
            },
        },
        "thanosRuler": _thanos_ruler_values(settings, objstore_secret, ruler_query_endpoint, ruler_alertmanagers_secret, operated_pod),
        "nodeExporter": {"enabled": True},
        # Ref: charts/prometheus-node-exporter (4.56.1) values.yaml `namespaceOverride`, `securityContext`,
        # `containerSecurityContext`; templates/_helpers.tpl `prometheus-node-exporter.namespace` and
        # `.monitor-namespace` (the ServiceMonitor follows), templates/daemonset.yaml.
        "prometheus-node-exporter": {
            "resources": NODE_EXPORTER_RESOURCES,
            # The node agents' namespace (Pod Security `privileged`): node-exporter runs there.
            "namespaceOverride": settings.agents_namespace,
            "securityContext": restricted_pod(run_as_user=NOBODY, run_as_group=NOBODY, fs_group=NOBODY),
            "containerSecurityContext": restricted_container(),
            # The node a series comes from as `node`: kube-prometheus-stack's node.rules and the
            # k8s-resources-node dashboard aggregate node-exporter series `by (cluster, node)`; without
            # it every node collapses into one series. Ref: charts/prometheus-node-exporter (4.56.1)
            # values.yaml `prometheus.monitor.relabelings`, templates/servicemonitor.yaml; Prometheus
            # kubernetes_sd `endpoints` role meta label `__meta_kubernetes_pod_node_name`.
            "prometheus": {
                "monitor": {
                    "relabelings": [
                        {"action": "replace", "sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node"}
                    ]
                }
            },
        },
        **control_plane_values(settings.cluster.control_plane),
        "kubeStateMetrics": {"enabled": True},
        # Ref: charts/kube-state-metrics (8.4.0) values.yaml `collectorsExclude`; templates/_helpers.tpl
        # (effective collectors) and templates/role.yaml (`secrets` rule only when collected).
        "kube-state-metrics": {"resources": KUBE_STATE_METRICS_RESOURCES, "collectorsExclude": ["secrets"]},
    }
    for toggle in EXCLUDED_BY_VALUES.values():
        values = deep_merge(values, toggle)
    return values


def release_patch(obj: dict[str, Any]) -> dict[str, Any]:
    """The release's object patch: P-levels for the default rules' alerts, the dashboard decisions
    for the dashboard ConfigMaps (each returns the object itself where it does not apply)."""
    return upstream_dashboard_patch(upstream_rule_patch(obj))


@dataclass(frozen=True)
class PrometheusPlan:
    values: Mapping[str, Any]
    extra_values: Mapping[str, Any]
    # The object-storage Secret the sidecar (and the Thanos Ruler) read, and the ruler's
    # Alertmanager config Secret: their content rolls the pods that read them.
    objstore_secret: SecretKeyRef
    ruler_alertmanagers_secret: SecretKeyRef
    # Whether the stack runs the Thanos Ruler (thanos.ruler).
    ruler: bool
    prometheus: Endpoint
    alertmanager: Endpoint
    # Every replica's Thanos sidecar (the headless discovery Service: `srv("grpc")` finds them all),
    # and the Thanos Ruler's replicas over the operator's governing Service.
    thanos_sidecar: Endpoint
    thanos_ruler: Endpoint


def prometheus_endpoint(namespace: str) -> Endpoint:
    return Endpoint(PROMETHEUS_SERVICE, namespace, {"http-web": PROMETHEUS_PORT})


def alertmanager_endpoint(namespace: str) -> Endpoint:
    return Endpoint(ALERTMANAGER_SERVICE, namespace, {"http-web": ALERTMANAGER_PORT})


def thanos_sidecar_endpoint(namespace: str) -> Endpoint:
    return Endpoint(THANOS_SIDECAR_SERVICE, namespace, {"grpc": THANOS_GRPC_PORT, "http": THANOS_SIDECAR_HTTP_PORT})


def thanos_ruler_endpoint(namespace: str) -> Endpoint:
    return Endpoint(
        THANOS_RULER_GOVERNING_SERVICE, namespace, {"grpc": THANOS_RULER_GRPC_PORT, "web": THANOS_RULER_HTTP_PORT}
    )


def prometheus_plan(
    settings: StackSettings,
    objstore_secret: SecretKeyRef,
    remote_write: Sequence[Mapping[str, Any]],
    thanos_query: Endpoint,
) -> PrometheusPlan:
    """Prometheus remote-writes `remote_write` (InfluxDB's entry); the Thanos Ruler reads through
    every replica of `thanos_query` (DNS SRV on its `http` port)."""
    ruler_alertmanagers = SecretKeyRef(RULER_ALERTMANAGERS_SECRET, RULER_ALERTMANAGERS_KEY)
    namespace = settings.namespace
    return PrometheusPlan(
        values=prometheus_stack_values(
            settings,
            objstore_secret,
            remote_write=remote_write,
            ruler_query_endpoint=thanos_query.srv("http"),
            ruler_alertmanagers_secret=ruler_alertmanagers,
        ),
        extra_values=settings.prometheus.extra_values,
        objstore_secret=objstore_secret,
        ruler_alertmanagers_secret=ruler_alertmanagers,
        ruler=settings.thanos.ruler is not None,
        prometheus=prometheus_endpoint(namespace),
        alertmanager=alertmanager_endpoint(namespace),
        thanos_sidecar=thanos_sidecar_endpoint(namespace),
        thanos_ruler=thanos_ruler_endpoint(namespace),
    )
