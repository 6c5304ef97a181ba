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
from components.rollout import ContentDigests, ObjectRef
from plan.context import PlatformContext
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
        env = [*plain_env(plan.retention_env), *es_user_env(plan)]
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
        pod = script_pod(
            labels,
            "spark-dependencies",
            job.image,
            ["/bin/sh", f"/script/{DEPENDENCIES_SCRIPT_KEY}"],
            [*plain_env(job.env), *es_user_env(plan)],
            config_maps={"/script": job.name},
            secrets={CA_DIR: plan.es.ca.name},
            resources=k8s.core.v1.ResourceRequirementsArgs(**job.resources),
            # Never: a failed pod stays for `kubectl logs`; the Job retries with a new one.
            restart_policy="Never",
            # Every run is a new pod that reads the current ConfigMap anyway; the digest makes a
            # change of the script visible on the CronJob in `pulumi preview`.
            annotations=digests.annotations([ObjectRef("ConfigMap", ns, job.name)]),
            # Spark's scratch space (shuffle files of one day's spans) and the truststore.
            tmp_size=DEPENDENCIES_TMP_SIZE,
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


def es_user_env(plan: TracingPlan) -> list[k8s.core.v1.EnvVarArgs]:
    """Jaeger's Elasticsearch user by Secret reference, as the trace CronJobs' scripts read it."""
    user = plan.es_user
    return [
        env_from_secret(USER_ENV, user.secret, user.username_key),
        env_from_secret(PASSWORD_ENV, user.secret, user.password_key),
    ]
