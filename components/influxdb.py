"""InfluxDB 1.x for long-term trends: fed by Prometheus remote_write, downsampled by continuous
queries, read by Grafana through a read-only user. The values, schema, users and endpoint are the
plan's (plan/influxdb.py); this declares them, with the passwords and the schema Job.

Credentials (docs/operations.md "Secrets"): the admin (`influxdb-auth`) is only used by the schema
Job; Prometheus writes as `prometheus` (GRANT WRITE), Grafana reads as `grafana` (GRANT READ). The
Job sets both users' passwords to their Secrets' on every run. The image creates the admin only on an
empty volume, so the admin password has generations (`influxdb.adminPasswordVersion`): the Secret
also holds the previous generation, which the Job uses to set the new one. Clients switch to a new
password only once the Job applied it: the remote-write Secret Prometheus reads, and the reader
password Grafana's datasource gets, are declared after the Job.
"""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.chart import child_options, declare_chart
from components.jobs import env_from_secret, plain_env, script_pod
from components.labels import config_map, secret, standard_labels
from components.rollout import ContentDigests, ObjectRef
from plan.context import PlatformContext
from plan.influxdb import (
    ADMIN_USER,
    AUTH_SECRET,
    FULLNAME,
    PORT_NAME,
    PREVIOUS_PASSWORD_KEY,
    READER_SECRET,
    READER_USER,
    REMOTE_WRITE_SECRET,
    WRITER_SECRET,
    WRITER_USER,
    InfluxdbPlan,
    influxdb_object_patch,
)
from plan.versions import INFLUXDB, INFLUXDB_IMAGE, INFLUXDB_IMAGE_TAG


class Influxdb(pulumi.ComponentResource):
    """InfluxDB, its credentials, and the schema Job (retention policies + continuous queries)."""

    reader_password: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        plan: InfluxdbPlan,
        ctx: PlatformContext,
        digests: ContentDigests,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("terrafusion:monitoring:Influxdb", name, None, opts)
        child = child_options(self, opts)
        namespace = ctx.namespace
        labels = dict(plan.labels)

        # Alphanumeric: the schema Job passes every password inside an InfluxQL string literal.
        def password(role: str) -> random.RandomPassword:
            return random.RandomPassword(f"{name}-{role}-password", length=32, special=False, opts=child)

        # One RandomPassword per admin generation; generation 1 keeps the original resource name, so
        # existing stacks keep their password. Raising the version adds the next generation and keeps
        # the one before (older ones are deleted).
        admin_password = password(plan.admin_role)
        auth_data: dict[str, pulumi.Input[str]] = {"influxdb-user": ADMIN_USER, "influxdb-password": admin_password.result}
        if plan.previous_admin_role is not None:
            auth_data[PREVIOUS_PASSWORD_KEY] = password(plan.previous_admin_role).result
        reader_password = password("reader")
        writer_password = password("writer")
        auth = secret(f"{name}-auth", AUTH_SECRET, namespace, labels, auth_data, child, digests)
        reader = secret(
            f"{name}-reader", READER_SECRET, namespace, labels,
            {"username": READER_USER, "password": reader_password.result}, child, digests,
        )  # fmt: skip
        writer = secret(
            f"{name}-writer", WRITER_SECRET, namespace, labels,
            {"username": WRITER_USER, "password": writer_password.result}, child, digests,
        )  # fmt: skip

        # The chart renders `config` into ConfigMap `influxdb` and no checksum of it (influxdb 4.12.5
        # templates/statefulset.yaml l.24 renders only `podAnnotations`); the admin env only matters
        # on an empty volume, but it is content the pod reads, so it is in the digest too.
        digests.record("ConfigMap", namespace, FULLNAME, plan.values["config"])
        self.values = {
            **plan.values,
            "podAnnotations": digests.annotations(
                [ObjectRef("ConfigMap", namespace, FULLNAME), ObjectRef("Secret", namespace, AUTH_SECRET)]
            ),
        }
        self.release = plan.release
        self.chart = declare_chart(
            plan.release,
            INFLUXDB,
            namespace,
            self.values,
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[auth])),
            extra_values=plan.extra_values,
            object_patch=influxdb_object_patch,
        )

        schema_name = plan.schema_name
        endpoint = plan.endpoint
        schema = config_map(
            f"{name}-schema", schema_name, namespace, labels,
            {"schema.iql": plan.influxql, "apply-influxql.sh": plan.apply_script}, child, digests,
        )  # fmt: skip
        # A Job runs once: a new name (a new script, or any password it applies) is what runs it again.
        job_name = digests.digest(
            [ObjectRef("ConfigMap", namespace, schema_name)]
            + [ObjectRef("Secret", namespace, s) for s in (AUTH_SECRET, READER_SECRET, WRITER_SECRET)]
        ).apply(lambda digest: f"{schema_name}-{digest}")
        previous_env = (
            [env_from_secret("INFLUX_PREVIOUS_PASSWORD", AUTH_SECRET, PREVIOUS_PASSWORD_KEY)]
            if plan.previous_admin_role is not None
            else []
        )

        self.schema_job = k8s.batch.v1.Job(
            f"{name}-schema-job",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=job_name, namespace=namespace, labels=labels),
            spec=k8s.batch.v1.JobSpecArgs(
                backoff_limit=10,
                template=script_pod(
                    labels,
                    "apply-schema",
                    f"{INFLUXDB_IMAGE}:{INFLUXDB_IMAGE_TAG}",
                    ["/bin/sh", "/schema/apply-influxql.sh", "/schema/schema.iql"],
                    [
                        *plain_env(
                            {
                                "INFLUX_HOST": endpoint.host,
                                "INFLUX_PORT": str(endpoint.port(PORT_NAME)),
                                "INFLUX_DATABASE": plan.database,
                            }
                        ),
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
            f"{name}-remote-write", REMOTE_WRITE_SECRET, namespace, labels,
            {"username": WRITER_USER, "password": writer_password.result}, after_job, digests,
        )  # fmt: skip
        self.reader_password = pulumi.Output.all(self.schema_job.id, reader_password.result).apply(lambda v: v[1])
        self.register_outputs({})


def declare_service_monitor(
    name: str, plan: InfluxdbPlan, ctx: PlatformContext, opts: pulumi.ResourceOptions
) -> k8s.apiextensions.CustomResource:
    """Declared by the platform once the Prometheus Operator CRDs exist (InfluxDB itself comes first:
    Prometheus' remote_write needs its URL)."""
    return k8s.apiextensions.CustomResource(
        f"{name}-service-monitor",
        api_version="monitoring.coreos.com/v1",
        kind="ServiceMonitor",
        metadata=k8s.meta.v1.ObjectMetaArgs(
            name=FULLNAME, namespace=ctx.namespace, labels=standard_labels("influxdb", name, "scrape")
        ),
        spec=dict(plan.service_monitor),
        opts=opts,
    )
