"""Least privilege in one place: the Pod Security `restricted` profile as every pod of the
platform applies it, the namespace labels that enforce it, and the few users pods run as.

Ref: https://kubernetes.io/docs/concepts/security/pod-security-standards/ (the `restricted`
profile: runAsNonRoot, allowPrivilegeEscalation: false, capabilities drop ALL, seccomp
RuntimeDefault or Localhost, no host namespaces/paths/ports, restricted volume types).
`readOnlyRootFilesystem` is not part of the standard; the platform adds it everywhere a writable
path can be an emptyDir or a volume (trivy KSV014, checkov CKV_K8S_22).

Chart values take the dicts (through `restricted_pod` / `restricted_container`, which return
fresh copies); the program's own pods take the `*_args` builders. Never edit the module-level
dicts in place: they are shared by every component.
"""

from __future__ import annotations

import copy
from typing import Any

RUNTIME_DEFAULT_SECCOMP: dict[str, str] = {"type": "RuntimeDefault"}

# Pod level: what the standard checks on the pod (containers inherit runAsNonRoot and seccomp).
RESTRICTED_POD: dict[str, Any] = {
    "runAsNonRoot": True,
    "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
}

# Container level: the fields the standard only accepts per container, plus runAsNonRoot and
# seccomp again (scanners that read only the container, e.g. checkov CKV_K8S_23/CKV_K8S_31).
RESTRICTED_CONTAINER: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "seccompProfile": dict(RUNTIME_DEFAULT_SECCOMP),
}

# "nobody": for images that write nothing outside their volumes and run as any user.
# >= 10000 so it cannot collide with a host account (checkov CKV_K8S_40).
NOBODY = 65534

# Pod Security Admission labels. Ref: https://kubernetes.io/docs/concepts/security/pod-security-admission/
PSA_PREFIX = "pod-security.kubernetes.io"
# `enforce-version` is pinned to the oldest supported Kubernetes minor (tools/helm.OLDEST_KUBERNETES;
# tests/test_pod_security.py keeps them equal): every supported cluster admits exactly the same pods,
# and a cluster upgrade cannot start rejecting the platform's pods. `warn`/`audit` follow `latest`,
# so a control added by a newer standard shows up as a warning before the pin is raised.
ENFORCE_VERSION = "v1.32"


def restricted_pod(
    run_as_user: int | None = None,
    run_as_group: int | None = None,
    fs_group: int | None = None,
) -> dict[str, Any]:
    """RESTRICTED_POD with a numeric user (required when the image's USER is root or a name: the
    kubelet can only verify runAsNonRoot against a number), group and volume group."""
    pod = copy.deepcopy(RESTRICTED_POD)
    for key, value in (("runAsUser", run_as_user), ("runAsGroup", run_as_group), ("fsGroup", fs_group)):
        if value is not None:
            if key == "runAsUser" and value == 0:
                raise AssertionError("restricted pods never run as root (runAsUser 0)")
            pod[key] = value
    return pod


def restricted_container(**overrides: Any) -> dict[str, Any]:
    """RESTRICTED_CONTAINER, optionally with extra fields (runAsUser=..., ...)."""
    container = copy.deepcopy(RESTRICTED_CONTAINER)
    container.update(overrides)
    return container


def node_agent_container(**overrides: Any) -> dict[str, Any]:
    """For a node agent in the privileged namespace that must run as root (reads root-owned host
    files): everything of RESTRICTED_CONTAINER except the non-root user."""
    return restricted_container(runAsNonRoot=False, runAsUser=0, **overrides)


def namespace_labels(enforce: str, warn: str, audit: str) -> dict[str, str]:
    """Pod Security Admission labels for a namespace (levels: privileged, baseline, restricted)."""
    return {
        f"{PSA_PREFIX}/enforce": enforce,
        f"{PSA_PREFIX}/enforce-version": ENFORCE_VERSION,
        f"{PSA_PREFIX}/warn": warn,
        f"{PSA_PREFIX}/warn-version": "latest",
        f"{PSA_PREFIX}/audit": audit,
        f"{PSA_PREFIX}/audit-version": "latest",
    }


# An emptyDir for the few paths a read-only container still writes (/tmp for shells and runtimes).
TMP_VOLUME = "tmp"
TMP_SIZE_LIMIT = "64Mi"


def tmp_volume(name: str = TMP_VOLUME, size_limit: str = TMP_SIZE_LIMIT) -> dict[str, Any]:
    return {"name": name, "emptyDir": {"sizeLimit": size_limit}}


def tmp_mount(name: str = TMP_VOLUME, path: str = "/tmp") -> dict[str, Any]:
    return {"name": name, "mountPath": path}


# --- builders for the program's own pods (pulumi_kubernetes Args) ------------------------------
