"""The Pulumi program as a function: `__main__.py`, the tests and the render tool all call `run`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.platform import MonitoringPlatform
from plan import Plan
from stacks.config import StackSecrets, load_secrets, load_settings, plan_stack


class ProgramBug(Exception):
    """A check failed while resources were being declared: either a check on user input that
    settings validation (plan/settings.py) and the plan (plan/__init__.py) miss, or a broken invariant. Not user guidance:
    by then the engine may already be creating resources."""


@dataclass(frozen=True)
class ProgramResult:
    plan: Plan
    platform: MonitoringPlatform
    outputs: dict[str, Any]


def run(plan: Plan, secrets: StackSecrets) -> ProgramResult:
    """Declare the whole platform for one stack from its plan; returns the stack outputs (not yet exported)."""
    settings = plan.settings
    # An explicit provider pins the kube context per stack, so `pulumi up --stack prod` cannot
    # land on whatever context happens to be current.
    kubernetes = k8s.Provider("kubernetes", context=settings.cluster.context)
    platform = MonitoringPlatform(
        plan,
        secrets.values,
        opts=pulumi.ResourceOptions(providers=[kubernetes]),
    )
    outputs = {
        "environment": settings.environment,
        "namespace": settings.namespace,
        "grafanaUrl": platform.grafana_url,
        "endpoints": platform.endpoints,
        "datasourceUids": platform.datasource_uids,
        # Secret output: readable with `pulumi stack output grafanaAdminPassword --show-secrets`.
        "grafanaAdminPassword": pulumi.Output.secret(platform.grafana.admin_password),
    }
    return ProgramResult(plan=plan, platform=platform, outputs=outputs)


def main() -> ProgramResult:
    """Validate the config and build the plan first: a bad value stops here, before any resource exists."""
    settings = load_settings()
    plan = plan_stack(settings)
    secrets = load_secrets(plan.secrets)
    for warning in plan.warnings:
        pulumi.log.warn(warning)
    try:
        result = run(plan, secrets)
    except (ValueError, AssertionError) as error:
        # Chained, so Pulumi prints the traceback a bug report needs.
        raise ProgramBug(
            f"bug: {type(error).__name__}: {error} (raised while declaring resources; bad config must be "
            "rejected by the settings validation (plan/settings.py) or the plan (plan/__init__.py) before any resource exists: please report)"
        ) from error
    for key, value in result.outputs.items():
        pulumi.export(key, value)
    return result

