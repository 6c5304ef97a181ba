"""The plan (plan/__init__.py): built from the settings alone, before the first resource, and what
the program deploys."""

from __future__ import annotations

import subprocess
import sys

import pytest

from stacks.config import ConfigError
from tools.mockrun import ROOT, StackRun

# Builds prod's plan from its stack file in a fresh interpreter and lists the Pulumi modules loaded.
PURE_PLAN = """
import sys, yaml
from plan import build_plan
from plan.settings import StackSettings
raw = yaml.safe_load(open("Pulumi.prod.yaml"))["config"]
plain = {k.split(":", 1)[1]: v for k, v in raw.items() if not (isinstance(v, dict) and set(v) == {"secure"})}
plan = build_plan(StackSettings.model_validate(plain))
assert plan.alerting.rule_parts and plan.grafana_content.dashboards
print(sorted(m for m in sys.modules if m.split(".")[0].startswith("pulumi")))
"""


def test_the_plan_is_built_without_pulumi():
    done = subprocess.run([sys.executable, "-c", PURE_PLAN], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_a_plan_error_is_a_config_error_before_any_resource():
    run = StackRun("dev", overrides={"prometheus.retention": "1d"})
    with pytest.raises(ConfigError) as error:
        run.execute()
    assert run.registered_at_failure == 0
    assert str(error.value).splitlines() == [
        "terrafusion-monitoring:prometheus.retention: 1d is shorter than the 1d window of "
        "AuthenticationFailureSpike (group security)"
    ]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_program_deploys_the_plan_it_was_given(stack, dev, prod):
    run = {"dev": dev, "prod": prod}[stack]
    assert run.result.plan.context.namespace == run.outputs["namespace"]
    secret = run.one("kubernetes:core/v1:Secret", "terrafusion-alerting-config").plain_inputs
    assert secret["stringData"]["alertmanager.yaml"] == run.result.plan.alerting.alertmanager_config_yaml
