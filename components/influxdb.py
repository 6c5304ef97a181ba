"""InfluxDB 1.x for long-term trends: fed by Prometheus remote_write, downsampled by continuous
queries, read by Grafana through a read-only user.

Chart facts (influxdata `influxdb` 4.12.5, read in its values.yaml and templates): no Helm hooks
(the set-default-user Job was removed in 4.10.7; the admin user is created by the image's init
script from INFLUXDB_ADMIN_* env, only when auth is enabled); the existing Secret must hold the
keys `influxdb-user` and `influxdb-password`; `initScripts` only run on an empty volume, which is
why retention policies and continuous queries are applied by a Job named after a hash of the
InfluxQL: a changed schema is a new Job, so it runs again, and re-running is idempotent.
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
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.chart import child_options, declare_chart
from components.jobs import env_from_secret, plain_env, script_pod
from components.labels import secret, standard_labels
from components.security import NOBODY, restricted_container, restricted_pod, tmp_mount, tmp_volume
from components.versions import INFLUXDB, INFLUXDB_IMAGE, INFLUXDB_IMAGE_TAG
from monitoring.influxdb import apply_script, build_influxql, remote_write_config, remote_write_url, schema_job_name
from stacks.settings import InfluxdbSettings

FULLNAME = "influxdb"
PORT = 8086
AUTH_SECRET = "influxdb-auth"
READER_SECRET = "influxdb-reader"
ADMIN_USER = "admin"
READER_USER = "grafana"
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


@dataclass(frozen=True)
class InfluxdbArgs:
    namespace: str
    storage_class: str | None
    settings: InfluxdbSettings


class Influxdb(pulumi.ComponentResource):
    """InfluxDB, its credentials, and the schema Job (retention policies + continuous queries)."""

    influxql: str
    service_url: str
    reader_password: pulumi.Output[str]

    def __init__(self, name: str, args: InfluxdbArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:Influxdb", name, None, opts)
        child = child_options(self, opts)
        labels = standard_labels("influxdb", name, "trends")
        retention = args.settings.retention

        admin_password = random.RandomPassword(f"{name}-admin-password", length=32, special=False, opts=child)
        # Alphanumeric: the schema Job passes the reader password inside an InfluxQL string literal.
        reader_password = random.RandomPassword(f"{name}-reader-password", length=32, special=False, opts=child)
        self.reader_password = reader_password.result
        auth = secret(
            f"{name}-auth", AUTH_SECRET, args.namespace, labels,
            {"influxdb-user": ADMIN_USER, "influxdb-password": admin_password.result}, child,
        )  # fmt: skip
        reader = secret(
            f"{name}-reader", READER_SECRET, args.namespace, labels,
            {"username": READER_USER, "password": reader_password.result}, child,
        )  # fmt: skip

        self.values = influxdb_values(args.settings, args.storage_class)
        release = self.release = f"{name}-chart"
        # The chart's selector labels (its Service's too). The schema Job's pods carry the same
        # `app.kubernetes.io/name`, so only the release's instance label tells the server apart.
        self.pod_labels = {"app.kubernetes.io/name": INFLUXDB.chart, "app.kubernetes.io/instance": release}
        self.schema_job_labels = labels
        self.chart = declare_chart(
            release,
            INFLUXDB,
            args.namespace,
            self.values,
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[auth])),
            object_patch=influxdb_object_patch,
        )

        self.influxql = build_influxql(retention)
        job_name = schema_job_name(self.influxql)
        host = f"{FULLNAME}.{args.namespace}.svc"
        self.service_url = f"http://{host}:{PORT}"
        schema = k8s.core.v1.ConfigMap(
            f"{name}-schema",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=job_name, namespace=args.namespace, labels=labels),
            data={"schema.iql": self.influxql, "apply-influxql.sh": apply_script()},
            opts=child,
        )

        self.schema_job = k8s.batch.v1.Job(
            f"{name}-schema-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=job_name, namespace=args.namespace, labels=labels),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=10,
                template=script_pod(
                    labels,
                    "apply-schema",
                    f"{INFLUXDB_IMAGE}:{INFLUXDB_IMAGE_TAG}",
                    ["/bin/sh", "/schema/apply-influxql.sh", "/schema/schema.iql"],
                    [
                        *plain_env({"INFLUX_HOST": host, "INFLUX_PORT": str(PORT), "INFLUX_DATABASE": retention.database}),
                        env_from_secret("INFLUX_USERNAME", AUTH_SECRET, "influxdb-user"),
                        env_from_secret("INFLUX_PASSWORD", AUTH_SECRET, "influxdb-password"),
                        env_from_secret("INFLUX_READER_USER", READER_SECRET, "username"),
                        env_from_secret("INFLUX_READER_PASSWORD", READER_SECRET, "password"),
                    ],
                    config_maps={"/schema": job_name},
                ),
            ),
            # Pulumi waits for the Job to complete, so Prometheus (which depends on it) only starts
            # writing once the policies exist.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[self.chart, schema, auth, reader])
            ),
        )
        self.remote_write = remote_write_config(
            remote_write_url(host, PORT, retention.database),
            username_secret=(AUTH_SECRET, "influxdb-user"),
            password_secret=(AUTH_SECRET, "influxdb-password"),
        )
        self.register_outputs({"service_url": self.service_url})


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
        "endpoints": [{"port": "api", "path": "/metrics"}],
    }


def declare_service_monitor(name: str, namespace: str, release: str, opts: pulumi.ResourceOptions) -> k8s.apiextensions.CustomResource:
    """Declared by the platform once the Prometheus Operator CRDs exist (InfluxDB itself comes first:
    Prometheus' remote_write needs its URL)."""
    return k8s.apiextensions.CustomResource(
        f"{name}-service-monitor",
        api_version="monitoring.coreos.com/v1",
        kind="ServiceMonitor",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=FULLNAME, namespace=namespace, labels=standard_labels("influxdb", name, "scrape")
        ),
        spec=service_monitor_spec(release),
        opts=opts,
    )
