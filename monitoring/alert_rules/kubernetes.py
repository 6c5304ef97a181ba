"""Infrastructure and Kubernetes: nodes, pods, deployments, PVCs, autoscaling, capacity.

Metrics: node-exporter (`node_*`), kube-state-metrics (`kube_*`), kubelet volume stats and cAdvisor
(`container_*`). Ref: https://github.com/kubernetes/kube-state-metrics/tree/main/docs/metrics
"""

from __future__ import annotations

from monitoring.alert_rules._rule import AlertRule, RuleGroup
from monitoring.severity import Severity

NODES = RuleGroup(
    "infrastructure-nodes",
    (
        AlertRule(
            name="NodeNotReady",
            expr='kube_node_status_condition{condition="Ready",status="true"} == 0',
            for_="5m",
            severity=Severity.P2,
            component="node",
            summary="Node {{ $labels.node }} is not Ready",
            description="Kubernetes has reported node {{ $labels.node }} as not Ready for more than 5 "
            "minutes; its pods are being evicted or cannot be scheduled there.",
        ),
        AlertRule(
            name="NodeFilesystemAlmostFull",
            expr=(
                "(\n"
                '  node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"}\n'
                '  / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"}\n'
                ") < 0.10\n"
                'and node_filesystem_readonly{fstype!~"tmpfs|overlay|squashfs"} == 0'
            ),
            for_="15m",
            severity=Severity.P2,
            component="node",
            summary="Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} is almost full",
            description="Only {{ $value | humanizePercentage }} of {{ $labels.mountpoint }} on "
            "{{ $labels.instance }} is free. Under 10% the kubelet starts image garbage collection "
            "and then evicts pods.",
        ),
        AlertRule(
            name="NodeFilesystemFillingUp",
            expr=(
                'predict_linear(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"}[6h], 24 * 3600) < 0\n'
                "and\n"
                '(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"}\n'
                ' / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"}) < 0.25'
            ),
            for_="1h",
            severity=Severity.P3,
            component="node",
            summary="Filesystem {{ $labels.mountpoint }} on {{ $labels.instance }} fills up within 24h",
            description="At the growth rate of the last 6 hours, {{ $labels.mountpoint }} on "
            "{{ $labels.instance }} runs out of space within a day.",
        ),
        AlertRule(
            name="NodeMemoryPressure",
            expr="node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes < 0.10",
            for_="15m",
            severity=Severity.P3,
            component="node",
            summary="Node {{ $labels.instance }} has less than 10% memory available",
            description="{{ $labels.instance }} has {{ $value | humanizePercentage }} of its memory "
            "available; the kubelet will start evicting pods and the OOM killer may fire.",
        ),
        AlertRule(
            name="NodeCpuSaturated",
            expr='1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])) > 0.90',
            for_="30m",
            severity=Severity.P4,
            component="node",
            summary="Node {{ $labels.instance }} CPU is more than 90% busy",
            description="{{ $labels.instance }} has been {{ $value | humanizePercentage }} busy for 30 "
            "minutes; latency of everything scheduled there suffers.",
        ),
    ),
)

WORKLOADS = RuleGroup(
    "kubernetes-workloads",
    (
        AlertRule(
            name="KubePodCrashLooping",
            expr='max_over_time(kube_pod_container_status_waiting_reason{reason="CrashLoopBackOff"}[5m]) >= 1',
            for_="15m",
            severity=Severity.P3,
            component="kubernetes",
            summary="Container {{ $labels.container }} of {{ $labels.namespace }}/{{ $labels.pod }} is crash looping",
            description="{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) has been in "
            "CrashLoopBackOff for 15 minutes.",
        ),
        AlertRule(
            name="KubePodNotReady",
            expr=(
                "sum by (namespace, pod) (\n"
                '  max by (namespace, pod) (kube_pod_status_phase{phase=~"Pending|Unknown|Failed"})\n'
                ") > 0"
            ),
            for_="15m",
            severity=Severity.P3,
            component="kubernetes",
            summary="Pod {{ $labels.namespace }}/{{ $labels.pod }} has not been ready for 15 minutes",
            description="{{ $labels.namespace }}/{{ $labels.pod }} is Pending, Unknown or Failed.",
        ),
        AlertRule(
            name="KubeDeploymentUnavailable",
            expr=(
                "kube_deployment_status_replicas_available == 0\n"
                "and kube_deployment_spec_replicas > 0"
            ),
            for_="5m",
            severity=Severity.P2,
            component="kubernetes",
            summary="Deployment {{ $labels.namespace }}/{{ $labels.deployment }} has no available replica",
            description="Every replica of {{ $labels.namespace }}/{{ $labels.deployment }} has been "
            "unavailable for 5 minutes.",
        ),
        AlertRule(
            name="KubeDeploymentReplicasMismatch",
            expr=(
                "kube_deployment_spec_replicas != kube_deployment_status_replicas_available\n"
                "and changes(kube_deployment_status_replicas_updated[10m]) == 0"
            ),
            for_="15m",
            severity=Severity.P3,
            component="kubernetes",
            summary="Deployment {{ $labels.namespace }}/{{ $labels.deployment }} is missing replicas",
            description="{{ $labels.namespace }}/{{ $labels.deployment }} has had fewer available "
            "replicas than desired for 15 minutes, without rollout progress.",
        ),
        AlertRule(
            name="KubeDeploymentRolloutStuck",
            expr='kube_deployment_status_condition{condition="Progressing",status="false"} == 1',
            for_="15m",
            severity=Severity.P3,
            component="kubernetes",
            summary="Rollout of {{ $labels.namespace }}/{{ $labels.deployment }} is stuck",
            description="The Progressing condition of {{ $labels.namespace }}/{{ $labels.deployment }} "
            "is false: the rollout exceeded its progress deadline.",
        ),
    ),
)

STORAGE = RuleGroup(
    "kubernetes-storage",
    (
        AlertRule(
            name="KubePersistentVolumeFillingUp",
            expr=(
                "kubelet_volume_stats_available_bytes / kubelet_volume_stats_capacity_bytes < 0.10\n"
                "and kubelet_volume_stats_used_bytes > 0"
            ),
            for_="5m",
            severity=Severity.P2,
            component="storage",
            summary="PVC {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is almost full",
            description="{{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} has "
            "{{ $value | humanizePercentage }} free space left.",
        ),
        AlertRule(
            name="KubePersistentVolumeClaimPending",
            expr='kube_persistentvolumeclaim_status_phase{phase="Pending"} == 1',
            for_="15m",
            severity=Severity.P3,
            component="storage",
            summary="PVC {{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} is Pending",
            description="{{ $labels.namespace }}/{{ $labels.persistentvolumeclaim }} has not been bound "
            "for 15 minutes; the pod that needs it cannot start.",
        ),
    ),
)

CAPACITY = RuleGroup(
    "kubernetes-capacity",
    (
        AlertRule(
            name="KubeHpaMaxedOut",
            expr=(
                "kube_horizontalpodautoscaler_status_current_replicas\n"
                ">= kube_horizontalpodautoscaler_spec_max_replicas"
            ),
            for_="15m",
            severity=Severity.P3,
            component="autoscaling",
            summary="HPA {{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} is at max replicas",
            description="{{ $labels.namespace }}/{{ $labels.horizontalpodautoscaler }} has run at its "
            "maximum replica count for 15 minutes: it cannot absorb more load.",
        ),
        AlertRule(
            name="KubeContainerNearMemoryLimit",
            expr=(
                'sum by (namespace, pod, container) (container_memory_working_set_bytes{container!="", container!="POD"})\n'
                "/\n"
                'sum by (namespace, pod, container) (kube_pod_container_resource_limits{resource="memory"})\n'
                "> 0.90"
            ),
            for_="15m",
            severity=Severity.P3,
            component="kubernetes",
            summary="{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) uses over 90% of its memory limit",
            description="The working set is at {{ $value | humanizePercentage }} of the memory limit; "
            "the container is close to being OOM-killed.",
        ),
        AlertRule(
            name="KubeContainerCpuThrottled",
            expr=(
                'sum by (namespace, pod, container) (rate(container_cpu_cfs_throttled_periods_total{container!=""}[5m]))\n'
                "/\n"
                'sum by (namespace, pod, container) (rate(container_cpu_cfs_periods_total{container!=""}[5m]))\n'
                "> 0.25"
            ),
            for_="30m",
            severity=Severity.P4,
            component="kubernetes",
            summary="{{ $labels.namespace }}/{{ $labels.pod }} ({{ $labels.container }}) is CPU throttled",
            description="{{ $value | humanizePercentage }} of CFS periods were throttled over the last "
            "5 minutes: the CPU limit is too low for the load.",
        ),
        AlertRule(
            name="KubeClusterRequestsOvercommitted",
            expr=(
                'sum by (resource) (kube_pod_container_resource_requests{resource=~"cpu|memory"})\n'
                "/\n"
                'sum by (resource) (kube_node_status_allocatable{resource=~"cpu|memory"})\n'
                "> 0.90"
            ),
            for_="30m",
            severity=Severity.P3,
            component="capacity",
            summary="Cluster {{ $labels.resource }} requests exceed 90% of allocatable",
            description="Pods request {{ $value | humanizePercentage }} of the allocatable "
            "{{ $labels.resource }}; new pods and rollouts will soon stay Pending.",
        ),
    ),
)

GROUPS = (NODES, WORKLOADS, STORAGE, CAPACITY)
