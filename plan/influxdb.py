"""InfluxDB 1.x for long-term trends, as planned: the chart values, the schema (retention policies,
continuous queries, users) the schema Job applies, its users and Secrets, and the endpoint
Prometheus writes to and Grafana reads from. components/influxdb.py declares them.

Chart facts (influxdata `influxdb` 4.12.5, read in its values.yaml and templates): no Helm hooks
(the set-default-user Job was removed in 4.10.7; the admin user is created by the image's init
script from INFLUXDB_ADMIN_* env, only when auth is enabled); the existing Secret must hold the
keys `influxdb-user` and `influxdb-password`; `initScripts` only run on an empty volume, which is
why retention policies, continuous queries and users are applied by a Job named after a hash of the
InfluxQL and a digest of the script and of every password it applies: a changed schema or a rotated
password is a new Job, so it runs again, and re-running is idempotent.
The image is pinned to a 1.x tag: `latest` is InfluxDB 3, a different product.

Pod security: the image runs as `USER influxdb` (uid/gid 1500, influxdata-docker
influxdb/1.11/alpine/Dockerfile), a name the kubelet cannot check against runAsNonRoot, so the pod
sets a number: nobody (>= 10000), with the image's group 1500 as fsGroup, which the kubelet makes
read-write on the volume at every mount (data written by 1500 stays writable). The chart only has a pod
`securityContext` and no token setting, so the container's `restricted` fields, an emptyDir /tmp
and `automountServiceAccountToken: false` come from `influxdb_object_patch`, applied by a Pulumi
transform (and by the offline render). InfluxDB writes only /var/lib/influxdb (the PVC).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping

from monitoring.influxdb import apply_script, build_influxql, remote_write_config, remote_write_url, schema_job_name
from plan.context import PlatformContext
from plan.endpoints import Credentials, Endpoint
from plan.labels import standard_labels
from plan.pod_security import NOBODY, restricted_container, restricted_pod, tmp_mount, tmp_volume
from plan.settings import InfluxdbSettings, StackSettings
from plan.versions import INFLUXDB, INFLUXDB_IMAGE, INFLUXDB_IMAGE_TAG

FULLNAME = "influxdb"
PORT = 8086
PORT_NAME = "api"  # the chart's Service port (influxdb 4.12.5 templates/service.yaml)
AUTH_SECRET = "influxdb-auth"
READER_SECRET = "influxdb-reader"
WRITER_SECRET = "influxdb-writer"
# What Prometheus reads: the writer's credentials, written only after the schema Job applied them.
REMOTE_WRITE_SECRET = "influxdb-remote-write"
ADMIN_USER = "admin"
READER_USER = "grafana"
WRITER_USER = "prometheus"
PREVIOUS_PASSWORD_KEY = "previous-password"
INFLUXDB_GID = 1500  # the image's `influxdb` group (and user)


def influxdb_values(settings: InfluxdbSettings, storage_class: str | None) -> dict[str, Any]:
    persistence: dict[str, Any] = {"enabled": True, "size": str(settings.storage_size)}
    if storage_class:
        persistence["storageClass"] = storage_class
    return {
        "fullnameOverride": FULLNAME,
        "image": {"repository": INFLUXDB_IMAGE, "tag": INFLUXDB_IMAGE_TAG},
        "setDefaultUser": {"enabled": True, "user": {"username": ADMIN_USER, "existingSecret": AUTH_SECRET}},
        "config": {
            "reporting_disabled": True,
            # Ref: https://docs.influxdata.com/influxdb/v1/administration/config/#http-endpoints-settings
            "http": {"auth-enabled": True, "flux-enabled": False},
            # Writes that arrive before the schema Job ran must not land in an `autogen` policy that
            # keeps data forever and is never downsampled.
            "meta": {"retention-autocreate": False},
        },
        "persistence": persistence,
        "resources": settings.resources.to_k8s(),
        # Ref: influxdb 4.12.5 values.yaml `securityContext` (pod level: templates/statefulset.yaml).
        "securityContext": restricted_pod(run_as_user=NOBODY, run_as_group=INFLUXDB_GID, fs_group=INFLUXDB_GID),
    }


def influxdb_object_patch(obj: dict[str, Any]) -> dict[str, Any]:
    """What influxdb 4.12.5 has no value for (templates/statefulset.yaml renders no container
    securityContext, no extra volumes, no automountServiceAccountToken): the server's container
    `restricted` with an emptyDir /tmp, and no API token (InfluxDB never calls the API)."""
    if obj.get("kind") != "StatefulSet" or obj.get("metadata", {}).get("name") != FULLNAME:
        return obj
    obj = copy.deepcopy(obj)
    pod = obj["spec"]["template"]["spec"]
    pod["automountServiceAccountToken"] = False
    pod["volumes"] = [*(pod.get("volumes") or []), tmp_volume()]
    for container in pod["containers"]:
        container["securityContext"] = {**(container.get("securityContext") or {}), **restricted_container()}
        container["volumeMounts"] = [*(container.get("volumeMounts") or []), tmp_mount()]
    return obj


def admin_generation(version: int) -> str:
    """Role name of the admin password's RandomPassword for one generation (1 is the original name)."""
    return "admin" if version == 1 else f"admin-v{version}"


def service_monitor_spec(release: str) -> dict[str, Any]:
    """Scrape of InfluxDB's /metrics on the API port: Go runtime metrics only, but its `up` is the one
    signal that the server answers (the operations dashboard's "Platform components up"). InfluxDB 1.x
    serves /metrics without authentication even with auth-enabled (a plain handler, not wrapped in
    `authenticate`). The chart has no ServiceMonitor template.
    Ref: influxdata/influxdb 1.x services/httpd/handler.go (route "prometheus-metrics", AddRoutes);
    influxdb 4.12.5 templates/service.yaml (port `api`); https://docs.influxdata.com/influxdb/v1/supported_protocols/prometheus/
    """
    return {
        "selector": {"matchLabels": {"app.kubernetes.io/name": INFLUXDB.chart, "app.kubernetes.io/instance": release}},
        "endpoints": [{"port": PORT_NAME, "path": "/metrics"}],
    }


def http_endpoint(namespace: str) -> Endpoint:
    """The API (the chart's `influxdb` Service, port `api`), with its two client users: Grafana
    reads as `grafana`, Prometheus writes as `prometheus` from the remote-write Secret (the one
    written after the schema Job set the password)."""
    return Endpoint(
        FULLNAME,
        namespace,
        {PORT_NAME: PORT},
        credentials={
            READER_USER: Credentials(READER_USER, READER_SECRET),
            WRITER_USER: Credentials(WRITER_USER, REMOTE_WRITE_SECRET),
        },
    )


@dataclass(frozen=True)
class InfluxdbPlan:
    # The component's name (`<platform>-influxdb`, the `instance` label of what it declares) and
    # the chart's release.
    name: str
    release: str
    values: Mapping[str, Any]
    extra_values: Mapping[str, Any]
    endpoint: Endpoint
    database: str
    # The schema the Job applies (monitoring/influxdb.py), its script, and the ConfigMap holding both
    # (named after a hash of the InfluxQL).
    influxql: str
    apply_script: str
    schema_name: str
    # The admin password's generations (influxdb.adminPasswordVersion): the RandomPassword role of
    # the current one, and of the one before it, which the Job uses to set the new one.
    admin_role: str
    previous_admin_role: str | None
    # Labels of the objects the component declares (the schema Job's pods among them), and the
    # server pods' labels (the chart's selector labels; its Service's too). The schema Job's pods
    # carry the same `app.kubernetes.io/name`, so only the release's instance label tells the
    # server apart.
    labels: Mapping[str, str]
    pod_labels: Mapping[str, str]
    # Prometheus' remote_write entry (kube-prometheus-stack prometheusSpec.remoteWrite).
    remote_write: Mapping[str, Any]
    service_monitor: Mapping[str, Any]


def influxdb_plan(settings: StackSettings, context: PlatformContext) -> InfluxdbPlan:
    influx = settings.influxdb
    name = f"{context.name}-influxdb"
    release = f"{name}-chart"
    endpoint = http_endpoint(context.namespace)
    database = influx.retention.database
    influxql = build_influxql(influx.retention)
    version = influx.admin_password_version
    writer = endpoint.user(WRITER_USER)
    return InfluxdbPlan(
        name=name,
        release=release,
        values=influxdb_values(influx, context.storage_class),
        extra_values=influx.extra_values,
        endpoint=endpoint,
        database=database,
        influxql=influxql,
        apply_script=apply_script(),
        schema_name=schema_job_name(influxql),
        admin_role=admin_generation(version),
        previous_admin_role=admin_generation(version - 1) if version > 1 else None,
        labels=standard_labels("influxdb", name, "trends"),
        pod_labels={"app.kubernetes.io/name": INFLUXDB.chart, "app.kubernetes.io/instance": release},
        remote_write=remote_write_config(
            remote_write_url(endpoint.host, endpoint.port(PORT_NAME), database),
            username_secret=(writer.secret, writer.username_key),
            password_secret=(writer.secret, writer.password_key),
        ),
        service_monitor=service_monitor_spec(release),
    )
