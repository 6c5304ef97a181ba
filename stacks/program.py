"""The Pulumi program as a function: `__main__.py`, the tests and the render tool all call `run`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.exporters import exporter_warnings
from components.platform import MonitoringPlatform
from monitoring.alertmanager import missing_receivers_warning
from stacks.config import StackSecrets, load_secrets, load_settings
from stacks.settings import StackSettings


class ProgramBug(Exception):
    """A check failed while resources were being declared: either a check on user input that
    settings validation (stacks/settings.py) misses, or a broken invariant. Not user guidance:
    by then the engine may already be creating resources."""


@dataclass(frozen=True)
class ProgramResult:
    platform: MonitoringPlatform
    outputs: dict[str, Any]


def run(settings: StackSettings, secrets: StackSecrets) -> ProgramResult:
    """Declare the whole platform for one stack; returns the stack outputs (not yet exported)."""
    # An explicit provider pins the kube context per stack, so `pulumi up --stack prod` cannot
    # land on whatever context happens to be current.
    kubernetes = k8s.Provider("kubernetes", context=settings.cluster.context)
    platform = MonitoringPlatform(
        "terrafusion",
        settings,
        secrets,
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
    return ProgramResult(platform=platform, outputs=outputs)


def main() -> ProgramResult:
    """Load and validate config first: a bad value stops here, before any resource exists."""
    settings = load_settings()
    secrets = load_secrets(settings)
    warnings = exporter_warnings(settings.exporters.blackbox, settings.exporters.postgres)
    if receivers_warning := missing_receivers_warning(settings.alerting_spec, "alerting"):
        warnings.append(receivers_warning)
    for warning in warnings:
        pulumi.log.warn(warning)
    try:
        result = run(settings, secrets)
    except (ValueError, AssertionError) as error:
        # Chained, so Pulumi prints the traceback a bug report needs.
        raise ProgramBug(
            f"bug: {type(error).__name__}: {error} (raised while declaring resources; bad config must be "
            "rejected by the settings validation in stacks/settings.py before any resource exists: please report)"
        ) from error
    for key, value in result.outputs.items():
        pulumi.export(key, value)
    return result

