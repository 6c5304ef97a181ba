"""Small pieces shared by the program's own Jobs and CronJobs (schema, lifecycle, retention):
credentials by Secret reference, and a one-container script pod that satisfies Pod Security
`restricted` (components/security.py): a numeric non-root user, read-only root filesystem with an
emptyDir /tmp, no service-account token (the scripts talk to Elasticsearch or InfluxDB, never to
the Kubernetes API)."""

from __future__ import annotations

from typing import Mapping, Sequence

import pulumi
import pulumi_kubernetes as k8s

from plan.pod_security import NOBODY, TMP_SIZE_LIMIT
from components.security import (
    container_security_context_args,
    pod_security_context_args,
    tmp_mount_args,
    tmp_volume_args,
)

# A script that talks to one API over HTTP: a few MiB of memory is plenty.
SCRIPT_RESOURCES = k8s.core.v1.ResourceRequirementsArgs(requests={"cpu": "10m", "memory": "16Mi"}, limits={"memory": "64Mi"})


def env_from_secret(var: str, secret_name: str, key: str) -> k8s.core.v1.EnvVarArgs:
    """An env var read from a Secret by the kubelet: the value never enters the Pod spec."""
    return k8s.core.v1.EnvVarArgs(
        name=var,
        value_from=k8s.core.v1.EnvVarSourceArgs(
            secret_key_ref=k8s.core.v1.SecretKeySelectorArgs(name=secret_name, key=key)
        ),
    )


def plain_env(values: Mapping[str, str]) -> list[k8s.core.v1.EnvVarArgs]:
    return [k8s.core.v1.EnvVarArgs(name=name, value=value) for name, value in values.items()]


def script_pod(
    labels: Mapping[str, str],
    container: str,
    image: str,
    command: Sequence[str],
    env: Sequence[k8s.core.v1.EnvVarArgs],
    config_maps: Mapping[str, str],
    secrets: Mapping[str, str] | None = None,
    run_as_user: int = NOBODY,
    *,
    resources: k8s.core.v1.ResourceRequirementsArgs = SCRIPT_RESOURCES,
    restart_policy: str = "OnFailure",
    annotations: Mapping[str, str] | None = None,
    tmp_size: str = TMP_SIZE_LIMIT,
) -> k8s.core.v1.PodTemplateSpecArgs:
    """One container running `command`, with ConfigMaps and Secrets mounted read-only at the given
    paths (mount path -> object name). By default retried in place on failure (`restart_policy`
    Never: a failed pod stays for `kubectl logs` and the Job retries with a new one).

    `run_as_user`: the scripts write nothing but /tmp, so any non-root user works; the images'
    own users are names (curlimages/curl `curl_user`, influxdb `influxdb`), which the kubelet
    cannot check against runAsNonRoot, hence a number.
    """
    volumes, mounts = [tmp_volume_args(size_limit=tmp_size)], [tmp_mount_args()]
    for index, (path, name) in enumerate(sorted(config_maps.items())):
        volumes.append(k8s.core.v1.VolumeArgs(name=f"config-{index}", config_map=k8s.core.v1.ConfigMapVolumeSourceArgs(name=name)))
        mounts.append(k8s.core.v1.VolumeMountArgs(name=f"config-{index}", mount_path=path, read_only=True))
    for index, (path, name) in enumerate(sorted((secrets or {}).items())):
        volumes.append(k8s.core.v1.VolumeArgs(name=f"secret-{index}", secret=k8s.core.v1.SecretVolumeSourceArgs(secret_name=name)))
        mounts.append(k8s.core.v1.VolumeMountArgs(name=f"secret-{index}", mount_path=path, read_only=True))
    return k8s.core.v1.PodTemplateSpecArgs(
        metadata=k8s.meta.v1.ObjectMetaArgs(labels=dict(labels), annotations=dict(annotations) if annotations else None),
        spec=k8s.core.v1.PodSpecArgs(
            restart_policy=restart_policy,
            automount_service_account_token=False,
            security_context=pod_security_context_args(run_as_user, run_as_user),
            containers=[
                k8s.core.v1.ContainerArgs(
                    name=container,
                    image=image,
                    command=list(command),
                    env=list(env),
                    volume_mounts=mounts,
                    resources=resources,
                    security_context=container_security_context_args(),
                )
            ],
            volumes=volumes,
        ),
    )


# The last run of each outcome stays for `kubectl logs`; a failed one keeps KubeJobFailed firing
# until somebody looked (the upstream runbook: "Removing failed job after investigation").
HISTORY_LIMIT = 1


def scheduled_job(
    resource_name: str,
    name: str,
    namespace: str,
    labels: Mapping[str, str],
    pod: k8s.core.v1.PodTemplateSpecArgs,
    opts: pulumi.ResourceOptions,
    *,
    schedule: str,
    time_zone: str,
    starting_deadline_seconds: int,
    active_deadline_seconds: int,
    backoff_limit: int,
    pod_failure_policy: k8s.batch.v1.PodFailurePolicyArgs | None = None,
) -> k8s.batch.v1.CronJob:
    """A CronJob of the program's own with a schedule in an explicit zone: never two runs at once
    (Forbid), a missed run started late up to `starting_deadline_seconds`, a run still going after
    `active_deadline_seconds` failed (which fires KubeJobFailed).
    Ref: https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones (GA in 1.27)"""
    return k8s.batch.v1.CronJob(
        resource_name,
        metadata=k8s.meta.v1.ObjectMetaArgs(name=name, namespace=namespace, labels=dict(labels)),
        spec=k8s.batch.v1.CronJobSpecArgs(
            schedule=schedule,
            time_zone=time_zone,
            concurrency_policy="Forbid",
            starting_deadline_seconds=starting_deadline_seconds,
            successful_jobs_history_limit=HISTORY_LIMIT,
            failed_jobs_history_limit=HISTORY_LIMIT,
            job_template=k8s.batch.v1.JobTemplateSpecArgs(
                metadata=k8s.meta.v1.ObjectMetaArgs(labels=dict(labels)),
                spec=k8s.batch.v1.JobSpecArgs(
                    backoff_limit=backoff_limit,
                    active_deadline_seconds=active_deadline_seconds,
                    pod_failure_policy=pod_failure_policy,
                    template=pod,
                ),
            ),
        ),
        opts=opts,
    )
