"""The Thanos object-storage config (objstore.yml), shared by the sidecar and the Thanos chart.

The plan holds everything of it but the credentials, which are secret Outputs: the settings it is
built from, the Secret it goes in, and which secret config keys fill it. The component
(components/object_storage.py) fills them in and declares the Secret.

Ref: https://thanos.io/tip/thanos/storage.md/ (S3, GCS and AZURE config keys)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from monitoring import yaml_text
from plan.endpoints import SecretKeyRef
from plan.secrets import OBJECT_STORAGE_SECRETS
from plan.settings import ObjectStorageSettings, StackSettings

SECRET_NAME = "thanos-objstore"
SECRET_KEY = "objstore.yml"


def objstore_config(settings: ObjectStorageSettings, credentials: Mapping[str, str]) -> dict[str, Any]:
    """The objstore.yml document; `credentials` are the stack's object-storage secrets by key."""
    if settings.type == "S3":
        config: dict[str, Any] = {
            "bucket": settings.bucket,
            "endpoint": settings.endpoint,
            "access_key": credentials["objectStorageAccessKey"],
            "secret_key": credentials["objectStorageSecretKey"],
            "insecure": settings.insecure,
        }
        if settings.region:
            config["region"] = settings.region
    elif settings.type == "GCS":
        config = {"bucket": settings.bucket, "service_account": credentials["objectStorageServiceAccount"]}
    else:
        config = {
            "storage_account": settings.storage_account,
            "storage_account_key": credentials["objectStorageAccountKey"],
            "container": settings.bucket,
        }
    return {"type": settings.type, "config": config}


def objstore_yaml(settings: ObjectStorageSettings, credentials: Mapping[str, str]) -> str:
    return yaml_text.dump(objstore_config(settings, credentials))


@dataclass(frozen=True)
class ObjectStoragePlan:
    # The bucket (stack file `objectStorage`): objstore.yml less its credentials.
    bucket: ObjectStorageSettings
    # The Secret (and key) holding objstore.yml, which Prometheus' sidecar, the Thanos Ruler and the
    # Thanos chart read.
    secret: SecretKeyRef
    # The secret config keys whose values fill objstore.yml (plan/secrets.py OBJECT_STORAGE_SECRETS).
    credential_keys: tuple[str, ...]

    def objstore_yaml(self, credentials: Mapping[str, str]) -> str:
        """objstore.yml with `credentials` (the values of `credential_keys`) filled in."""
        return objstore_yaml(self.bucket, credentials)


def object_storage_plan(settings: StackSettings) -> ObjectStoragePlan:
    bucket = settings.object_storage
    return ObjectStoragePlan(
        bucket=bucket,
        secret=SecretKeyRef(SECRET_NAME, SECRET_KEY),
        credential_keys=tuple(s.key for s in OBJECT_STORAGE_SECRETS[bucket.type]),
    )
