"""The weekly report slice of the plan (docs/reports.md): a CronJob that runs monitoring/report_job.py
against Thanos Query and posts each team's SLO report and alert review to the team's Slack channel.

No image of our own (no registry): the official Python image (plan/versions.py PYTHON_IMAGE) runs
the report code from a ConfigMap that holds the repository's own files (RUNTIME_FILES, read from
the source tree here, so the code has one home) and the report config this slice computes from the
stack (monitoring/reports.py). `python -S` starts without site-packages: the job can only import
the standard library and what the ConfigMap mounts (tests/test_reports_job.py runs it so).

The webhook is the Alertmanager Slack receivers' (secret slackWebhookUrl in Secret
alertmanager-receivers, monitoring/alertmanager.py RECEIVER_SECRET_KEYS), read by the kubelet into
the container's environment by reference: the URL never enters the plan, the ConfigMap or the Pod spec.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import monitoring
from monitoring import report_job
from monitoring.alertmanager import ALERTMANAGER_RECEIVER_SECRET, RECEIVER_SECRET_KEYS
from monitoring.report_job import ReportConfig
from monitoring.reports import report_config
from monitoring.severity import ReceiverKind
from plan.alerting import AlertingPlan
from plan.context import PlatformContext
from plan.endpoints import Endpoint, SecretKeyRef
from plan.settings import StackSettings
from plan.versions import PYTHON_IMAGE

NAME = "weekly-report"  # the CronJob, its ConfigMap and its ServiceAccount
CONTAINER = "report"
CODE_DIR = "/opt/report"
CONFIG_FILE = "report.json"
# The repository's files the job imports (monitoring/report_job.py: the standard library and
# monitoring/durations.py only), at the same paths under CODE_DIR.
RUNTIME_FILES = ("monitoring/__init__.py", "monitoring/durations.py", "monitoring/report_job.py")
SOURCE_ROOT = Path(monitoring.__file__).resolve().parent.parent
# The report asks a few dozen instant queries and one range query per 10,000 steps: seconds. A run
# still going after 15 minutes hangs on something; failing it fires KubeJobFailed.
ACTIVE_DEADLINE_SECONDS = 900
# A run the controller missed (controller down at 08:00) still starts within the morning.
STARTING_DEADLINE_SECONDS = 6 * 3600
# Retries for a failed query (exit 2, nothing posted yet); a failed post (exit 1) fails the Job at
# once (podFailurePolicy), so a retry never posts the teams that got theirs a second time.
# Ref: https://kubernetes.io/docs/concepts/workloads/controllers/job/#pod-failure-policy (GA in 1.31)
BACKOFF_LIMIT = 2
# The image's user is root; the job writes nothing (no bytecode, no temp files), any user will do.
RUN_AS_USER = 65534


def configmap_key(path: str) -> str:
    """A ConfigMap key of a file (keys have no `/`): monitoring/durations.py -> monitoring.durations.py."""
    return path.replace("/", ".")


@dataclass(frozen=True)
class ReportJobPlan:
    name: str
    namespace: str
    # Labels of every object and of the job's pods (the NetworkPolicies select them).
    labels: Mapping[str, str]
    schedule: str
    time_zone: str
    image: str
    command: tuple[str, ...]
    # Plain environment; the webhook URL comes from `webhook` into `webhook_env`.
    env: Mapping[str, str]
    webhook_env: str
    webhook: SecretKeyRef
    config: ReportConfig
    # ConfigMap key -> (path under CODE_DIR, content): the runtime files and the config.
    files: Mapping[str, tuple[str, str]]
    resources: Mapping[str, Any]
    thanos_query: Endpoint

    @property
    def config_map_data(self) -> dict[str, str]:
        return {key: content for key, (_, content) in self.files.items()}


def runtime_files() -> dict[str, tuple[str, str]]:
    return {configmap_key(path): (path, (SOURCE_ROOT / path).read_text(encoding="utf-8")) for path in RUNTIME_FILES}


def report_job_plan(
    settings: StackSettings, context: PlatformContext, alerting: AlertingPlan, thanos_query: Endpoint
) -> ReportJobPlan | None:
    """None where the stack does not run the job (reports.enabled)."""
    reports = settings.reports
    if not reports.enabled:
        return None
    zone = settings.report_time_zone
    config = report_config(
        f"TerraFusion {settings.environment}", alerting.slos, alerting.owners, reports.period, reports.step, zone
    )
    files = {**runtime_files(), CONFIG_FILE: (CONFIG_FILE, config.to_json())}
    return ReportJobPlan(
        name=NAME,
        namespace=context.namespace,
        labels=context.labels("weekly-report", "report-job"),
        schedule=reports.schedule,
        time_zone=zone,
        image=PYTHON_IMAGE,
        command=(
            "python", "-S", "-m", "monitoring.report_job",
            "--config", f"{CODE_DIR}/{CONFIG_FILE}", "--url", thanos_query.url("http"),
        ),  # fmt: skip
        env={"PYTHONPATH": CODE_DIR, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"},
        webhook_env=report_job.WEBHOOK_ENV,
        webhook=SecretKeyRef(ALERTMANAGER_RECEIVER_SECRET, RECEIVER_SECRET_KEYS[ReceiverKind.SLACK.value]),
        config=config,
        files=files,
        resources=reports.resources.to_k8s(),
        thanos_query=thanos_query,
    )
