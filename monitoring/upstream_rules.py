"""kube-prometheus-stack's default rules, kept under the alert contract (issue 9, class 6).

The chart's rules (generated from the kubernetes, node-exporter, Prometheus and Alertmanager mixins)
are well kept: kubelet, API server, StatefulSet/DaemonSet/Job, quotas, certificate expiry, disks.
They are turned on here with three changes, each from one table below:

- `RULE_GROUPS`: every `defaultRules.rules.<key>` of the chart, on or off with the reason. Groups
  whose targets the platform does not scrape are off (they could only fire `absent()`/`up == 0`
  alerts forever, or never at all).
- `DUPLICATES`: single upstream alerts our catalogue (monitoring/alert_rules/) already covers, with
  our alert and why ours is kept (`defaultRules.disabled.<AlertName>: true`).
- `upstream_rule_patch`: the rendered PrometheusRules get P1-P4 severities (the map lives in
  monitoring/severity.py, UPSTREAM_SEVERITY), applied to each rule object by the chart's object
  patch, so the rule files Prometheus loads already carry the P-level: ALERTS, the Prometheus UI,
  the dashboards' `ALERTS{severity=...}` panels and Alertmanager agree. (An alert relabelling in
  Prometheus would change only what is sent, and `customRules.<Alert>.severity` cannot tell the two
  tiers of one alert name apart, e.g. KubeAPIErrorBudgetBurn critical/warning.)

Every upstream alert also gets a `component` label per group (`additionalRuleGroupLabels`), which
the routing `group_by` and the P1 inhibit rule (monitoring/alertmanager.py) rely on, and keeps its
upstream `runbook_url` (runbooks.prometheus-operator.dev, one page per alert); our own alerts'
runbooks live in docs/runbooks.

Ref: kube-prometheus-stack 88.5.3 values.yaml `defaultRules` (l.165-330) and
templates/prometheus/rules-1.14/*.yaml (`.Values.defaultRules.rules.<key>`,
`.Values.defaultRules.disabled.<AlertName>`, `.Values.defaultRules.additionalRuleGroupLabels.<key>`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from monitoring.severity import UPSTREAM_SEVERITY

# The chart's PrometheusRules are named `<fullnameOverride>-<file>` (plan/prometheus_stack.py
# FULLNAME "kps"); ours are `terrafusion-<stem>`. Ref: templates/prometheus/rules-1.14/*.yaml metadata.name.
UPSTREAM_RULE_PREFIX = "kps-"

@dataclass(frozen=True)
class RuleGroupChoice:
    """One `defaultRules.rules.<key>` of the chart: on or off, why, and the `component` its alerts get."""

    key: str
    enabled: bool
    reason: str
    component: str | None = None  # None: a recording-only group (no alert to label)


# The control plane's groups are on, and the chart renders them only where it scrapes their target:
# each file is gated on `kubeEtcd/kubeScheduler/kubeControllerManager.enabled` too, which
# `cluster.controlPlane` sets (plan/prometheus_stack.py control_plane_values): on a managed
# control plane (EKS, GKE, AKS), which exposes none of them, they are not rendered.
# Ref: kube-prometheus-stack 88.5.3 templates/prometheus/rules-1.14/etcd.yaml,
# kube-scheduler.rules.yaml, kubernetes-system-scheduler.yaml, kubernetes-system-controller-manager.yaml (l.1)
_CP = True
_CP_REASON = "rendered by the chart only where cluster.controlPlane is self-hosted (the file is gated on its scrape target)"

# The four split k8s.rules files record exactly the series of k8s.rules.container_resource; values.yaml
# does not list their keys (so they are off by default), only the templates read them.
_SAME_RECORDS = "records the same series as k8sContainerResource (two rules writing one series collide)"

# Every `defaultRules.rules.<key>` the 88.5.3 templates read. A key missing here is a test failure,
# so a chart bump that adds a group is decided on, not silently inherited.
RULE_GROUPS: tuple[RuleGroupChoice, ...] = (
    RuleGroupChoice("alertmanager", True, "Alertmanager is deployed by this chart", "alertmanager"),
    RuleGroupChoice("etcd", _CP, _CP_REASON, "etcd"),
    RuleGroupChoice("configReloaders", True, "the operator's config-reloader sidecars run in every Prometheus and Alertmanager pod", "prometheus-operator"),
    RuleGroupChoice(
        "general", False,
        "Watchdog: ours (monitoring/alert_rules/platform.py) feeds the dead man's switch route; "
        "InfoInhibitor: fires whenever any info alert fires, with severity none, and needs an inhibit "
        "rule we do not use (info is P4, ticket-only, never an interruption); TargetDown: duplicated "
        "by PrometheusTargetDown. (Disabling all three one by one renders `rules: null`, which the "
        "CRD rejects, so the group is off.)",
        "prometheus",
    ),
    RuleGroupChoice("k8sContainerCpuLimits", False, _SAME_RECORDS),
    RuleGroupChoice("k8sContainerCpuRequests", False, _SAME_RECORDS),
    RuleGroupChoice("k8sContainerMemoryLimits", False, _SAME_RECORDS),
    RuleGroupChoice("k8sContainerMemoryRequests", False, _SAME_RECORDS),
    RuleGroupChoice("k8sContainerCpuUsageSecondsTotal", True, "recording rules of the upstream dashboards"),
    RuleGroupChoice("k8sContainerMemoryCache", True, "recording rules of the upstream dashboards"),
    RuleGroupChoice("k8sContainerMemoryRss", True, "recording rules of the upstream dashboards"),
    RuleGroupChoice(
        "k8sContainerMemorySwap", False,
        "reads container_memory_swap, which the chart's own kubelet ServiceMonitor drops "
        "(kubelet.serviceMonitor.cAdvisorMetricRelabelings: container_memory_(mapped_file|swap))",
    ),
    RuleGroupChoice("k8sContainerResource", True, "recording rules of the upstream dashboards and kubernetes-resources"),
    RuleGroupChoice("k8sContainerMemoryWorkingSetBytes", True, "recording rules of the upstream dashboards"),
    RuleGroupChoice("k8sPodOwner", True, "recording rules (pod -> workload) of the upstream dashboards"),
    RuleGroupChoice(
        "kubeApiserverAvailability", False,
        "30-day API server availability, recorded over [30d] where Prometheus keeps 15d (prod) or 2d (dev); "
        "only the API server dashboard, not provisioned, reads it",
    ),
    RuleGroupChoice("kubeApiserverBurnrate", True, "recording rules of KubeAPIErrorBudgetBurn"),
    RuleGroupChoice("kubeApiserverHistogram", True, "recording rules of the API server dashboard"),
    RuleGroupChoice("kubeApiserverSlos", True, "API server error-budget burn: a real symptom of every workload's deploys", "kubernetes"),
    RuleGroupChoice("kubeControllerManager", _CP, _CP_REASON, "kubernetes"),
    RuleGroupChoice("kubelet", True, "recording rules (PLEG quantiles) of KubeletPlegDurationHigh"),
    RuleGroupChoice(
        "kubeProxy", False,
        "kube-proxy binds its metrics to 127.0.0.1 on EKS and is absent with eBPF dataplanes (GKE "
        "Dataplane V2): KubeProxyDown would fire forever",
        "kubernetes",
    ),
    RuleGroupChoice("kubePrometheusGeneral", True, "count:up1 / count:up0 recording rules (cheap)"),
    RuleGroupChoice("kubePrometheusNodeRecording", True, "recording rules of the upstream dashboards"),
    RuleGroupChoice("kubernetesApps", True, "StatefulSet, DaemonSet, Job, HPA and container-waiting alerts", "kubernetes"),
    RuleGroupChoice("kubernetesResources", True, "quota alerts", "capacity"),
    RuleGroupChoice("kubernetesStorage", True, "PV inode exhaustion, PV errors", "storage"),
    RuleGroupChoice("kubernetesSystem", True, "kubelet, API server, client certificate expiry, version skew", "kubernetes"),
    RuleGroupChoice("kubeSchedulerAlerting", _CP, _CP_REASON, "kubernetes"),
    RuleGroupChoice("kubeSchedulerRecording", _CP, _CP_REASON),
    RuleGroupChoice("kubeStateMetrics", True, "kube-state-metrics is deployed by this chart", "kube-state-metrics"),
    RuleGroupChoice("network", True, "NodeNetworkInterfaceFlapping (node-exporter)", "node"),
    RuleGroupChoice("node", True, "node recording rules of the upstream dashboards"),
    RuleGroupChoice("nodeExporterAlerting", True, "node-exporter is deployed by this chart", "node"),
    RuleGroupChoice("nodeExporterRecording", True, "recording rules of the node dashboards"),
    RuleGroupChoice("prometheus", True, "Prometheus is deployed by this chart", "prometheus"),
    RuleGroupChoice("prometheusOperator", True, "the operator is deployed by this chart", "prometheus-operator"),
    RuleGroupChoice("windows", False, "no Windows nodes (windowsMonitoring is off)"),
)


@dataclass(frozen=True)
class Duplicate:
    """An upstream alert switched off because an alert of our catalogue covers the same condition."""

    upstream: str
    ours: str
    reason: str


_SAME_NAME = "same alert name as ours: two rules of one name would notify twice with different labels"

# Ours is kept in every case: it has its runbook in docs/runbooks, a P-level chosen for this
# platform, and is what the dashboards and docs/alerting.md name.
DUPLICATES: tuple[Duplicate, ...] = (
    Duplicate("KubePodCrashLooping", "KubePodCrashLooping", _SAME_NAME),
    Duplicate("KubePodNotReady", "KubePodNotReady", _SAME_NAME),
    Duplicate("KubeDeploymentRolloutStuck", "KubeDeploymentRolloutStuck", _SAME_NAME),
    Duplicate("KubeDeploymentReplicasMismatch", "KubeDeploymentReplicasMismatch", _SAME_NAME),
    Duplicate("KubeHpaMaxedOut", "KubeHpaMaxedOut", _SAME_NAME),
    Duplicate("KubePersistentVolumeFillingUp", "KubePersistentVolumeFillingUp", _SAME_NAME + " (both upstream tiers)"),
    Duplicate("KubeNodeNotReady", "NodeNotReady", "same condition: kube_node_status_condition Ready != true"),
    Duplicate("NodeFilesystemAlmostOutOfSpace", "NodeFilesystemAlmostFull", "same condition: free space below a threshold"),
    Duplicate("NodeFilesystemSpaceFillingUp", "NodeFilesystemFillingUp", "same condition: predict_linear of free space"),
    Duplicate("NodeMemoryHighUtilization", "NodeMemoryPressure", "same condition: MemAvailable / MemTotal low"),
    Duplicate("NodeCPUHighUsage", "NodeCpuSaturated", "same condition: non-idle CPU above 90%"),
    Duplicate("CPUThrottlingHigh", "KubeContainerCpuThrottled", "same condition: CFS throttled periods ratio"),
    Duplicate("KubeCPUOvercommit", "KubeClusterRequestsOvercommitted", "same condition: cluster requests vs allocatable"),
    Duplicate("KubeMemoryOvercommit", "KubeClusterRequestsOvercommitted", "same condition: cluster requests vs allocatable"),
    Duplicate("PrometheusRuleFailures", "PrometheusRuleEvaluationFailures", "same series: prometheus_rule_evaluation_failures_total"),
    Duplicate("PrometheusMissingRuleEvaluations", "PrometheusRuleGroupSlow", "same cause: a group slower than its interval"),
    Duplicate("PrometheusBadConfig", "PrometheusConfigReloadFailed", "same series: prometheus_config_last_reload_successful"),
    Duplicate("PrometheusTSDBCompactionsFailing", "PrometheusTsdbCompactionsFailing", "same series: prometheus_tsdb_compactions_failed_total"),
    Duplicate("PrometheusRemoteStorageFailures", "InfluxDbWriteErrors", "the one remote_write target is InfluxDB, watched end to end"),
    Duplicate(
        "PrometheusErrorSendingAlertsToSomeAlertmanagers", "PrometheusNotificationsFailing",
        "same series: prometheus_notifications_errors_total",
    ),
    Duplicate("AlertmanagerFailedReload", "AlertmanagerConfigReloadFailed", "same series: alertmanager_config_last_reload_successful"),
    Duplicate("AlertmanagerFailedToSendAlerts", "AlertmanagerNotificationsFailing", "same series: alertmanager_notifications_failed_total"),
)


@dataclass(frozen=True)
class NoProducer:
    """An upstream alert switched off because nothing in the stack emits what it reads."""

    upstream: str
    reason: str


_NO_SYSTEMD = (
    "node-exporter's systemd collector is off by default (it needs the host's D-Bus socket, which the "
    "restricted node-exporter does not mount): node_systemd_* has no producer. "
    "Ref: prometheus/node_exporter@v1.12.1 README.md (systemd: disabled by default)"
)
NO_PRODUCER: tuple[NoProducer, ...] = (
    NoProducer("NodeSystemdServiceFailed", _NO_SYSTEMD),
    NoProducer("NodeSystemdServiceCrashlooping", _NO_SYSTEMD),
)


def disabled_alerts() -> dict[str, str]:
    """Upstream alert name -> why it is off (DUPLICATES and NO_PRODUCER)."""
    off = {d.upstream: f"duplicated by our {d.ours}: {d.reason}" for d in DUPLICATES}
    off.update({n.upstream: n.reason for n in NO_PRODUCER})
    return off


def default_rules_values() -> dict[str, Any]:
    """The chart's `defaultRules` value: the groups of RULE_GROUPS, less the disabled alerts, labelled."""
    return {
        "create": True,
        "rules": {g.key: g.enabled for g in RULE_GROUPS},
        "disabled": {name: True for name in disabled_alerts()},
        "additionalRuleGroupLabels": {
            g.key: {"component": g.component} for g in RULE_GROUPS if g.enabled and g.component
        },
    }


class UpstreamSeverityError(AssertionError):
    """An upstream alert whose severity has no P-level (e.g. a chart bump added one)."""


def upstream_rule_patch(obj: dict[str, Any]) -> dict[str, Any]:
    """A kube-prometheus-stack object with its alerts' severities mapped to P1-P4 (UPSTREAM_SEVERITY).

    Returns `obj` itself for anything but a PrometheusRule with alerts (components/chart.py ObjectPatch).
    """
    if obj.get("kind") != "PrometheusRule":
        return obj
    groups = (obj.get("spec") or {}).get("groups") or []
    if not any("alert" in rule for group in groups for rule in group.get("rules") or []):
        return obj
    patched = copy.deepcopy(obj)
    for group in patched["spec"]["groups"]:
        for rule in group.get("rules") or []:
            if "alert" not in rule:
                continue
            labels = rule.setdefault("labels", {})
            severity = labels.get("severity")
            if severity not in UPSTREAM_SEVERITY:
                raise UpstreamSeverityError(
                    f"kube-prometheus-stack alert {rule['alert']} (group {group['name']}): severity "
                    f"{severity!r} has no P-level in monitoring/severity.py UPSTREAM_SEVERITY"
                )
            labels["severity"] = UPSTREAM_SEVERITY[severity].value
    return patched
