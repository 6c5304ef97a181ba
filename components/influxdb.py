"""InfluxDB 1.x for long-term trends: fed by Prometheus remote_write, downsampled by continuous
queries, read by Grafana through a read-only user.

Chart facts (influxdata `influxdb` 4.12.5, read in its values.yaml and templates): no Helm hooks
(the set-default-user Job was removed in 4.10.7; the admin user is created by the image's init
script from INFLUXDB_ADMIN_* env, only when auth is enabled); the existing Secret must hold the
keys `influxdb-user` and `influxdb-password`; `initScripts` only run on an empty volume, which is
why retention policies, continuous queries and users are applied by a Job named after a hash of the
InfluxQL and a digest of the script and of every password it applies: a changed schema or a rotated
password is a new Job, so it runs again, and re-running is idempotent.

Credentials (docs/operations.md "Secrets"): the admin (`influxdb-auth`) is only used by the schema
Job; Prometheus writes as `prometheus` (GRANT WRITE), Grafana reads as `grafana` (GRANT READ). The
Job sets both users' passwords to their Secrets' on every run. The image creates the admin only on an
empty volume, so the admin password has generations (`influxdb.adminPasswordVersion`): the Secret
also holds the previous generation, which the Job uses to set the new one. Clients switch to a new
password only once the Job applied it: the remote-write Secret Prometheus reads, and the reader
password Grafana's datasource gets, are declared after the Job.
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
from components.labels import config_map, secret, standard_labels
from components.rollout import ContentDigests, ObjectRef
from plan.pod_security import NOBODY, restricted_container, restricted_pod, tmp_mount, tmp_volume
from plan.versions import INFLUXDB, INFLUXDB_IMAGE, INFLUXDB_IMAGE_TAG
from monitoring.influxdb import apply_script, build_influxql, remote_write_config, remote_write_url, schema_job_name
from plan.settings import InfluxdbSettings

FULLNAME = "influxdb"
PORT = 8086
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


@dataclass(frozen=True)
class InfluxdbArgs:
    namespace: str
    storage_class: str | None
    settings: InfluxdbSettings
    digests: ContentDigests


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

        # Alphanumeric: the schema Job passes every password inside an InfluxQL string literal.
        def password(role: str) -> random.RandomPassword:
            return random.RandomPassword(f"{name}-{role}-password", length=32, special=False, opts=child)

        # One RandomPassword per admin generation; generation 1 keeps the original resource name, so
        # existing stacks keep their password. Raising the version adds the next generation and keeps
        # the one before (older ones are deleted).
        version = args.settings.admin_password_version
        admin_password = password(admin_generation(version))
        auth_data: dict[str, pulumi.Input[str]] = {"influxdb-user": ADMIN_USER, "influxdb-password": admin_password.result}
        if version > 1:
            auth_data[PREVIOUS_PASSWORD_KEY] = password(admin_generation(version - 1)).result
        reader_password = password("reader")
        writer_password = password("writer")
        auth = secret(f"{name}-auth", AUTH_SECRET, args.namespace, labels, auth_data, child, args.digests)
        reader = secret(
            f"{name}-reader", READER_SECRET, args.namespace, labels,
            {"username": READER_USER, "password": reader_password.result}, child, args.digests,
        )  # fmt: skip
        writer = secret(
            f"{name}-writer", WRITER_SECRET, args.namespace, labels,
            {"username": WRITER_USER, "password": writer_password.result}, child, args.digests,
        )  # fmt: skip

        self.values = influxdb_values(args.settings, args.storage_class)
        # The chart renders `config` into ConfigMap `influxdb` and no checksum of it (influxdb 4.12.5
        # templates/statefulset.yaml l.24 renders only `podAnnotations`); the admin env only matters
        # on an empty volume, but it is content the pod reads, so it is in the digest too.
        args.digests.record("ConfigMap", args.namespace, FULLNAME, self.values["config"])
        self.values["podAnnotations"] = args.digests.annotations(
            [ObjectRef("ConfigMap", args.namespace, FULLNAME), ObjectRef("Secret", args.namespace, AUTH_SECRET)]
        )
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
            extra_values=args.settings.extra_values,
            object_patch=influxdb_object_patch,
        )

        self.influxql = build_influxql(retention)
        schema_name = schema_job_name(self.influxql)
        host = f"{FULLNAME}.{args.namespace}.svc"
        self.service_url = f"http://{host}:{PORT}"
        schema = config_map(
            f"{name}-schema", schema_name, args.namespace, labels,
            {"schema.iql": self.influxql, "apply-influxql.sh": apply_script()}, child, args.digests,
        )  # fmt: skip
        # A Job runs once: a new name (a new script, or any password it applies) is what runs it again.
        job_name = args.digests.digest(
            [ObjectRef("ConfigMap", args.namespace, schema_name)]
            + [ObjectRef("Secret", args.namespace, s) for s in (AUTH_SECRET, READER_SECRET, WRITER_SECRET)]
        ).apply(lambda digest: f"{schema_name}-{digest}")
        previous_env = (
            [env_from_secret("INFLUX_PREVIOUS_PASSWORD", AUTH_SECRET, PREVIOUS_PASSWORD_KEY)] if version > 1 else []
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
                        *previous_env,
                        env_from_secret("INFLUX_READER_USER", READER_SECRET, "username"),
                        env_from_secret("INFLUX_READER_PASSWORD", READER_SECRET, "password"),
                        env_from_secret("INFLUX_WRITER_USER", WRITER_SECRET, "username"),
                        env_from_secret("INFLUX_WRITER_PASSWORD", WRITER_SECRET, "password"),
                    ],
                    config_maps={"/schema": schema_name},
                ),
            ),
            # Pulumi waits for the Job to complete, so Prometheus (which depends on it) only starts
            # writing once the policies exist.
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=[self.chart, schema, auth, reader, writer])
            ),
        )
        # Clients get a password only once InfluxDB has it: otherwise a rotation would give them the
        # new one while the server still knows the old (the operator re-reads the remote-write Secret
        # within seconds; 401s are not retried, so samples would be lost).
        after_job = pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.schema_job]))
        self.remote_write_secret = secret(
            f"{name}-remote-write", REMOTE_WRITE_SECRET, args.namespace, labels,
            {"username": WRITER_USER, "password": writer_password.result}, after_job, args.digests,
        )  # fmt: skip
        self.reader_password = pulumi.Output.all(self.schema_job.id, reader_password.result).apply(lambda v: v[1])
        self.remote_write = remote_write_config(
            remote_write_url(host, PORT, retention.database),
            username_secret=(REMOTE_WRITE_SECRET, "username"),
            password_secret=(REMOTE_WRITE_SECRET, "password"),
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
