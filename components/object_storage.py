"""The object-storage Secret (objstore.yml), declared by the platform before every reader of the
bucket: the plan (plan/object_storage.py) holds the document less its credentials, which are secret
Outputs filled in here."""

from __future__ import annotations

from typing import Mapping

import pulumi
import pulumi_kubernetes as k8s

from components.labels import secret
from components.rollout import ContentDigests
from plan.context import PlatformContext
from plan.object_storage import ObjectStoragePlan


def objstore_secret(
    name: str,
    plan: ObjectStoragePlan,
    ctx: PlatformContext,
    secrets: Mapping[str, pulumi.Output[str]],
    digests: ContentDigests,
    opts: pulumi.ResourceOptions,
) -> k8s.core.v1.Secret:
    """The Secret `plan.secret` with objstore.yml; its content is recorded (`digests`), so the
    bucket's readers roll when the bucket or a credential changes."""
    credentials = {key: secrets[key] for key in plan.credential_keys}
    return secret(
        f"{name}-objstore",
        plan.secret.name,
        ctx.namespace,
        ctx.labels("thanos", "object-storage"),
        {plan.secret.key: pulumi.Output.all(**credentials).apply(plan.objstore_yaml)},
        opts,
        digests,
    )
