"""Traces: Jaeger v2 storing in Elasticsearch with per-endpoint remote sampling, its daily
retention and dependency-links CronJobs, and the OpenTelemetry Collector as the OTLP gateway for
services and browsers, as deployed objects. Their values, configs, scripts and endpoints are the
plan's (plan/tracing.py, with the chart facts and the pod security of each)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options, declare_chart
from components.jobs import env_from_secret, plain_env, scheduled_job, script_pod
from components.labels import config_map, standard_labels
from components.security import (
    container_security_context_args,
    pod_security_context_args,
    tmp_mount_args,
    tmp_volume_args,
)
from components.rollout import ContentDigests, ObjectRef
from plan.context import PlatformContext
from plan.pod_security import NOBODY
from plan.tracing import (
    CA_DIR,
    DEPENDENCIES_ACTIVE_DEADLINE_SECONDS,
    DEPENDENCIES_SCRIPT_KEY,
    DEPENDENCIES_STARTING_DEADLINE_SECONDS,
    DEPENDENCIES_TMP_SIZE,
    JAEGER_FULLNAME,
    PASSWORD_ENV,
    RETENTION_NAME,
    RETENTION_SCHEDULE,
    RETENTION_SCRIPT_KEY,
    SAMPLING_CONFIG_MAP,
    SAMPLING_FILE,
    USER_CONFIG_MAP,
    USER_ENV,
    DependenciesJobPlan,
    TracingPlan,
    jaeger_pod_labels,
)
from plan.versions import CURL_IMAGE, JAEGER, OTEL_COLLECTOR


class Tracing(pulumi.ComponentResource):
    """Jaeger (storage, query, sampling) and the OTLP gateway in front of it."""

    def __init__(
        self,
        name: str,
        plan: TracingPlan,
        ctx: PlatformContext,
        digests: ContentDigests,
        opts: pulumi.ResourceOptions | None = None,
    ):
        """`digests`: Jaeger's config is recorded here; its ES user and CA Secrets were
        (components/elasticsearch.py)."""
        super().__init__("terrafusion:monitoring:Tracing", name, None, opts)
        child = child_options(self, opts)
        ns = ctx.namespace
        sampling = k8s.core.v1.ConfigMap(
            f"{name}-sampling",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SAMPLING_CONFIG_MAP, namespace=ns, labels=standard_labels("jaeger", name, "sampling")
            ),
            data={SAMPLING_FILE: plan.sampling_json},
            opts=child,
        )
        jaeger_release = f"{name}-jaeger"
        # The chart renders `userconfig` into ConfigMap `user-config`, mounted by subPath (never
        # updated in a running pod), and its pod annotations are fixed: no checksum, no annotation
        # value (jaeger 4.11.1 templates/jaeger/jaeger-deploy.yaml l.35-40, 111-114, 129-131). A pod
        # label is the one pod-template field its values reach (`jaeger.podLabels`); the selector
        # does not include it. The sampling ConfigMap is left out: Jaeger reloads it
        # (components/rollout.py SELF_RELOADING).
        digests.record("ConfigMap", ns, USER_CONFIG_MAP, plan.jaeger_values["userconfig"])
        digest = digests.annotations(
            [
                ObjectRef("ConfigMap", ns, USER_CONFIG_MAP),
                ObjectRef("Secret", ns, plan.es_user.secret),
                ObjectRef("Secret", ns, plan.es.ca.name),
            ]
        )
        jaeger = declare_chart(
            jaeger_release,
            JAEGER,
            ns,
            {**plan.jaeger_values, "jaeger": {**plan.jaeger_values["jaeger"], "podLabels": digest}},
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[sampling])),
            extra_values=plan.jaeger_extra_values,
        )
        if plan.jaeger_replicas > 1:
            # The chart has no PodDisruptionBudget template; a drain then evicts one replica at a
            # time, the same rule as the other components' chart PDBs (none on a single replica,
            # where it would block every drain).
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-jaeger-pdb",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=JAEGER_FULLNAME, namespace=ns, labels=standard_labels("jaeger", name, "all-in-one")
                ),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    max_unavailable=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=jaeger_pod_labels(jaeger_release)),
                ),
                opts=child,
            )
        collector_after = [jaeger]
        if plan.servicegraph_values is not None and plan.servicegraph_release is not None:
            # The service graph tier first: the gateway's loadbalancing exporter resolves its
            # headless Service from the start.
            collector_after.append(
                declare_chart(
                    plan.servicegraph_release,
                    OTEL_COLLECTOR,
                    ns,
                    plan.servicegraph_values,
                    child,
                    extra_values=plan.servicegraph_extra_values,
                )
            )
        declare_chart(
            plan.collector_release,
            OTEL_COLLECTOR,
            ns,
            plan.collector_values,
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=collector_after)),
            extra_values=plan.collector_extra_values,
        )
        self._trace_retention(name, plan, ns, child)
        if plan.dependencies is not None:
            self._dependency_links_job(name, plan, plan.dependencies, ns, child, digests)
        self.register_outputs({})

    def _trace_retention(self, name: str, plan: TracingPlan, ns: str, child: pulumi.ResourceOptions) -> None:
        """Daily deletion of trace indices older than jaeger.retentionDays (Jaeger never deletes)."""
        labels = dict(plan.retention_labels)
        script = k8s.core.v1.ConfigMap(
            f"{name}-retention-script",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=RETENTION_NAME, namespace=ns, labels=labels),
            data={RETENTION_SCRIPT_KEY: plan.retention_script},
            opts=child,
        )
        user = plan.es_user
        env = [
            *plain_env(plan.retention_env),
            env_from_secret(USER_ENV, user.secret, user.username_key),
            env_from_secret(PASSWORD_ENV, user.secret, user.password_key),
        ]
        k8s.batch.v1.CronJob(
            f"{name}-retention",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=RETENTION_NAME, namespace=ns, labels=labels),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule=RETENTION_SCHEDULE,
                concurrency_policy="Forbid",
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    spec=k8s.batch.v1.JobSpecArgs(
                        backoff_limit=3,
                        template=script_pod(
                            labels,
                            "cleanup",
                            CURL_IMAGE,
                            ["/bin/sh", f"/script/{RETENTION_SCRIPT_KEY}"],
                            env,
                            config_maps={"/script": RETENTION_NAME},
                            secrets={CA_DIR: plan.es.ca.name},
                        ),
                    )
                ),
            ),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[script])),
        )

    def _dependency_links_job(
        self,
        name: str,
        plan: TracingPlan,
        job: DependenciesJobPlan,
        ns: str,
        child: pulumi.ResourceOptions,
        digests: ContentDigests,
    ) -> None:
        """The daily dependency-links CronJob (plan/tracing.py DependenciesJobPlan)."""
        labels = dict(job.labels)
        files = config_map(
            f"{name}-dependencies-script",
            job.name,
            ns,
            labels,
            {DEPENDENCIES_SCRIPT_KEY: job.script},
            child,
            digests,
        )
        user = plan.es_user
        env = [
            *plain_env(job.env),
            env_from_secret(USER_ENV, user.secret, user.username_key),
            env_from_secret(PASSWORD_ENV, user.secret, user.password_key),
        ]
        script_dir = "/script"
        pod = k8s.core.v1.PodTemplateSpecArgs(
            # Every run is a new pod that reads the current ConfigMap anyway; the digest makes a
            # change of the script visible on the CronJob in `pulumi preview`.
            metadata=k8s.meta.v1.ObjectMetaArgs(
                labels=labels, annotations=digests.annotations([ObjectRef("ConfigMap", ns, job.name)])
            ),
            spec=k8s.core.v1.PodSpecArgs(
                # Never: a failed pod stays for `kubectl logs`; the Job retries with a new one.
                restart_policy="Never",
                automount_service_account_token=False,
                security_context=pod_security_context_args(NOBODY, NOBODY),
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name="spark-dependencies",
                        image=job.image,
                        command=["/bin/sh", f"{script_dir}/{DEPENDENCIES_SCRIPT_KEY}"],
                        env=env,
                        resources=k8s.core.v1.ResourceRequirementsArgs(**job.resources),
                        security_context=container_security_context_args(),
                        volume_mounts=[
                            tmp_mount_args(),
                            k8s.core.v1.VolumeMountArgs(name="script", mount_path=script_dir, read_only=True),
                            k8s.core.v1.VolumeMountArgs(name="es-ca", mount_path=CA_DIR, read_only=True),
                        ],
                    )
                ],
                volumes=[
                    # Spark's scratch space (shuffle files of one day's spans) and the truststore.
                    tmp_volume_args(size_limit=DEPENDENCIES_TMP_SIZE),
                    k8s.core.v1.VolumeArgs(
                        name="script",
                        config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=job.name),
                    ),
                    k8s.core.v1.VolumeArgs(name="es-ca", secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=plan.es.ca.name)),
                ],
            ),
        )
        scheduled_job(
            f"{name}-dependencies",
            job.name,
            ns,
            labels,
            pod,
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[files])),
            schedule=job.schedule,
            time_zone=job.time_zone,
            starting_deadline_seconds=DEPENDENCIES_STARTING_DEADLINE_SECONDS,
            active_deadline_seconds=DEPENDENCIES_ACTIVE_DEADLINE_SECONDS,
            backoff_limit=2,
        )
