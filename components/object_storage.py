"""The Thanos object-storage config (objstore.yml), shared by the sidecar and the Thanos chart.

Ref: https://thanos.io/tip/thanos/storage.md/ (S3, GCS and AZURE config keys)
"""

from __future__ import annotations

from typing import Any, Mapping

from monitoring import yaml_text
from plan.settings import ObjectStorageSettings

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
