"""The Pod Security `restricted` profile as the Kubernetes SDK's Args, for the program's own pods
(Jobs, the max_map_count DaemonSet). The profile itself, as chart values take it, has its one home
in plan/pod_security.py; this module only converts it."""

from __future__ import annotations

from typing import Any

import pulumi_kubernetes as k8s

from plan.pod_security import TMP_SIZE_LIMIT, TMP_VOLUME, restricted_container, restricted_pod


def pod_security_context_args(
    run_as_user: int, run_as_group: int | None = None, fs_group: int | None = None
) -> k8s.core.v1.PodSecurityContextArgs:
    pod = restricted_pod(run_as_user, run_as_group, fs_group)
    return k8s.core.v1.PodSecurityContextArgs(
        run_as_non_root=pod["runAsNonRoot"],
        run_as_user=pod.get("runAsUser"),
        run_as_group=pod.get("runAsGroup"),
        fs_group=pod.get("fsGroup"),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type=pod["seccompProfile"]["type"]),
    )


def container_security_context_args(**overrides: Any) -> k8s.core.v1.SecurityContextArgs:
    """RESTRICTED_CONTAINER as Args; `overrides` use the camelCase keys of the dict."""
    c = restricted_container(**overrides)
    return k8s.core.v1.SecurityContextArgs(
        allow_privilege_escalation=c["allowPrivilegeEscalation"],
        capabilities=k8s.core.v1.CapabilitiesArgs(drop=list(c["capabilities"]["drop"])),
        privileged=c["privileged"],
        read_only_root_filesystem=c["readOnlyRootFilesystem"],
        run_as_non_root=c["runAsNonRoot"],
        run_as_user=c.get("runAsUser"),
        seccomp_profile=k8s.core.v1.SeccompProfileArgs(type=c["seccompProfile"]["type"]),
    )


def tmp_volume_args(name: str = TMP_VOLUME, size_limit: str = TMP_SIZE_LIMIT) -> k8s.core.v1.VolumeArgs:
    return k8s.core.v1.VolumeArgs(name=name, empty_dir=k8s.core.v1.EmptyDirVolumeSourceArgs(size_limit=size_limit))


def tmp_mount_args(name: str = TMP_VOLUME, path: str = "/tmp") -> k8s.core.v1.VolumeMountArgs:
    return k8s.core.v1.VolumeMountArgs(name=name, mount_path=path)
