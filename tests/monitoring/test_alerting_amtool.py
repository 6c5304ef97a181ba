"""Real amtool: the built Alertmanager config loads, and every alert reaches exactly the receivers
of its owner at its severity: the `config routes test` cases are generated from each stack's
ownership model (plan/alerting.py route_tests: every area's services, and the platform area's
components, at every severity), and the receivers they expect from the severity table.

Every test runs with amtool 0.25 (bookworm) and 0.33.1 (what the charts deploy): the `amtool` fixture.
"""

from __future__ import annotations

import subprocess

import pytest
from tests.helpers import engine_params, require_engine, stack_plan
from tests.monitoring.alerting_helpers import ALL_RECEIVERS, API, DATABASE, OWNERS, make_spec, write_yaml

from monitoring.alertmanager import NULL_RECEIVER, build_alertmanager_config, owner_receivers
from monitoring.severity import Severity
from plan.alerting import route_tests
from tools.checks import route_test


@pytest.fixture(params=engine_params("amtool"))
def amtool(request) -> str:
    return require_engine("amtool", request.param)


def _config_file(tmp_path, spec, owners=OWNERS):
    return write_yaml(tmp_path / "alertmanager.yml", build_alertmanager_config(spec, owners))


def _failures(amtool, config, cases) -> list[str]:
    failed = []
    for case in cases:
        result = route_test(amtool, config, dict(case.labels), list(case.receivers))
        if result.returncode != 0:
            failed.append(f"{case.what}: {(result.stdout + result.stderr).strip()}")
    return failed


@pytest.mark.parametrize(
    "spec_overrides",
    [
        pytest.param({}, id="no-receivers"),
        pytest.param({"receivers": ALL_RECEIVERS}, id="all-receivers"),
        pytest.param(
            {
                "receivers": ALL_RECEIVERS,
                "maintenanceWindows": [
                    {"name": "patching", "weekdays": ["sunday"], "times": [{"startTime": "02:00", "endTime": "04:00"}]},
                    {"name": "year-end", "daysOfMonth": ["24:31"], "months": ["december"], "location": "Europe/Berlin"},
                ],
            },
            id="maintenance-windows",
        ),
    ],
)
def test_amtool_check_config_accepts_the_built_config(amtool, tmp_path, spec_overrides):
    config = _config_file(tmp_path, make_spec(**spec_overrides))
    result = subprocess.run([amtool, "check-config", str(config)], capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_teams_alerts_at_every_severity_reach_their_owners_receivers(amtool, tmp_path, stack):
    alerting = stack_plan(stack).alerting
    config = tmp_path / "alertmanager.yml"
    config.write_text(alerting.alertmanager_config_yaml)
    teams = {o.team for o in alerting.owners}
    cased = {(case.labels.get("severity"), case.team) for case in alerting.route_tests}
    # The cases cover every team at every severity, and amtool agrees with each.
    assert {(s.value, t) for s in Severity for t in teams} <= cased
    assert _failures(amtool, config, alerting.route_tests) == []


def test_an_alert_of_one_team_reaches_no_other_teams_receivers(amtool, tmp_path):
    """Guards the cases themselves: amtool fails when the receivers are another owner's."""
    spec = make_spec(receivers=ALL_RECEIVERS)
    config = _config_file(tmp_path, spec)
    for severity in Severity:
        labels = {"severity": severity.value, "service": "postgres", "environment": "prod"}
        for other in (API, OWNERS[-1]):
            assert route_test(amtool, config, labels, owner_receivers(spec, severity, other)).returncode != 0
        assert route_test(amtool, config, labels, owner_receivers(spec, severity, DATABASE)).returncode == 0


def test_the_cases_of_a_model_with_every_receiver_pass(amtool, tmp_path):
    spec = make_spec(receivers=ALL_RECEIVERS)
    assert _failures(amtool, _config_file(tmp_path, spec), route_tests(spec, OWNERS, ("thanos", "prometheus"))) == []


def test_disabled_receiver_kinds_are_left_out_of_each_route(amtool, tmp_path):
    spec = make_spec(receivers={"slack": ALL_RECEIVERS["slack"], "ticket": ALL_RECEIVERS["ticket"]})
    cases = route_tests(spec, OWNERS, ("thanos",))
    assert not any(r.startswith(("pagerduty", "email")) for case in cases for r in case.receivers)
    assert _failures(amtool, _config_file(tmp_path, spec), cases) == []


def test_without_receivers_every_severity_reaches_only_null(amtool, tmp_path):
    spec = make_spec()
    cases = route_tests(spec, OWNERS, ("thanos",))
    assert {case.receivers for case in cases if "alertname" not in case.labels} == {(NULL_RECEIVER,)}
    assert _failures(amtool, _config_file(tmp_path, spec), cases) == []
