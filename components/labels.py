"""The one source of Kubernetes labels (and labelled Secrets) for objects the program declares directly."""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s
from pulumi import Input

from components.rollout import ContentDigests
from plan.labels import standard_labels  # noqa: F401  (re-exported: components label what they declare)

def secret(
    resource_name: str,
    name: str,
    namespace: str,
    labels: dict[str, str],
    string_data: Mapping[str, Input[str]],
    opts: pulumi.ResourceOptions,
    digests: ContentDigests | None = None,
    type_: str | None = None,
) -> k8s.core.v1.Secret:
    """A Secret with an explicit name and the standard labels. The Kubernetes SDK marks
    `stringData` secret in state and in the engine, whatever its inputs. With `digests`, its content
    is recorded so the pods that read it roll when it changes (components/rollout.py)."""
    if digests is not None:
        digests.record("Secret", namespace, name, dict(string_data))
    return k8s.core.v1.Secret(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels),
        string_data=dict(string_data),
        type=type_,
        opts=opts,
    )


def config_map(
    resource_name: str,
    name: str,
    namespace: str,
    labels: dict[str, str],
    data: Mapping[str, Input[str]],
    opts: pulumi.ResourceOptions,
    digests: ContentDigests | None = None,
) -> k8s.core.v1.ConfigMap:
    """A ConfigMap with an explicit name and the standard labels; with `digests`, recorded like `secret`."""
    if digests is not None:
        digests.record("ConfigMap", namespace, name, dict(data))
    return k8s.core.v1.ConfigMap(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=labels),
        data=dict(data),
        opts=opts,
    )
