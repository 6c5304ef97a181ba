"""The weekly SLO report and alert review as deployed objects: the report code and config as a
ConfigMap, a ServiceAccount without a token, and the CronJob (plan/reports.py holds every value;
its NetworkPolicies are the platform's, plan/network_policies.py)."""

from __future__ import annotations

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options
from components.jobs import env_from_secret, plain_env, scheduled_job
from components.labels import config_map
from components.rollout import ContentDigests, ObjectRef
from components.security import container_security_context_args, pod_security_context_args
from plan.context import PlatformContext
from plan.reports import (
    ACTIVE_DEADLINE_SECONDS,
    BACKOFF_LIMIT,
    CODE_DIR,
    CONTAINER,
    RUN_AS_USER,
    STARTING_DEADLINE_SECONDS,
    ReportJobPlan,
)
from monitoring.report_job import EXIT_DELIVERY_FAILED

CODE_VOLUME = "report"


class ReportJob(pulumi.ComponentResource):
    """The CronJob posting each team's weekly report to its Slack channel."""

    def __init__(
        self,
        name: str,
        plan: ReportJobPlan,
        ctx: PlatformContext,
        digests: ContentDigests,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("terrafusion:monitoring:ReportJob", name, None, opts)
        child = child_options(self, opts)
        ns, labels = plan.namespace, dict(plan.labels)
        code = config_map(f"{name}-code", plan.name, ns, labels, plan.config_map_data, child, digests)
        account = k8s.core.v1.ServiceAccount(
            f"{name}-service-account",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=plan.name, namespace=ns, labels=labels),
            # The report talks to Thanos Query and Slack, never to the Kubernetes API.
            automount_service_account_token=False,
            opts=child,
        )
        # Every scheduled run is a new pod that reads the current ConfigMap anyway; the digest makes
        # a change of the code or the config visible on the CronJob in `pulumi preview`.
        annotations = digests.annotations([ObjectRef("ConfigMap", ns, plan.name)])
        env = [*plain_env(plan.env), env_from_secret(plan.webhook_env, plan.webhook.name, plan.webhook.key)]
        pod = k8s.core.v1.PodTemplateSpecArgs(
            metadata=k8s.meta.v1.ObjectMetaArgs(labels=labels, annotations=annotations),
            spec=k8s.core.v1.PodSpecArgs(
                # Never: a failed pod stays for `kubectl logs`, and podFailurePolicy sees its exit code.
                restart_policy="Never",
                service_account_name=plan.name,
                automount_service_account_token=False,
                security_context=pod_security_context_args(RUN_AS_USER, RUN_AS_USER),
                containers=[
                    k8s.core.v1.ContainerArgs(
                        name=CONTAINER,
                        image=plan.image,
                        command=list(plan.command),
                        env=env,
                        volume_mounts=[k8s.core.v1.VolumeMountArgs(name=CODE_VOLUME, mount_path=CODE_DIR, read_only=True)],
                        resources=k8s.core.v1.ResourceRequirementsArgs(**plan.resources),
                        security_context=container_security_context_args(),
                    )
                ],
                volumes=[
                    k8s.core.v1.VolumeArgs(
                        name=CODE_VOLUME,
                        config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(
                            name=plan.name,
                            items=[
                                k8s.core.v1.KeyToPathArgs(key=key, path=path) for key, (path, _) in sorted(plan.files.items())
                            ],
                        ),
                    )
                ],
            ),
        )
        self.cron_job = scheduled_job(
            f"{name}-cron-job",
            plan.name,
            ns,
            labels,
            pod,
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[code, account])),
            schedule=plan.schedule,
            time_zone=plan.time_zone,
            starting_deadline_seconds=STARTING_DEADLINE_SECONDS,
            active_deadline_seconds=ACTIVE_DEADLINE_SECONDS,
            backoff_limit=BACKOFF_LIMIT,
            pod_failure_policy=k8s.batch.v1.PodFailurePolicyArgs(
                rules=[
                    k8s.batch.v1.PodFailurePolicyRuleArgs(
                        action="FailJob",
                        on_exit_codes=k8s.batch.v1.PodFailurePolicyOnExitCodesRequirementArgs(
                            container_name=CONTAINER, operator="In", values=[EXIT_DELIVERY_FAILED]
                        ),
                    )
                ]
            ),
        )
        self.register_outputs({})
