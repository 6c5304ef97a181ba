"""Real amtool: the built Alertmanager config loads, and every severity reaches exactly the
receivers the severity table names (derived from SEVERITIES, the table the builder uses too).

Every test runs with amtool 0.25 (bookworm) and 0.33.1 (what the charts deploy): the `amtool` fixture.
"""

from __future__ import annotations

import subprocess

import pytest
from tests.monitoring.alerting_helpers import ALL_RECEIVERS, enabled_receivers, make_spec, write_yaml
from tests.helpers import engine_params, require_engine

from monitoring.alertmanager import NULL_RECEIVER, WATCHDOG_RECEIVER, build_alertmanager_config
from monitoring.severity import SEVERITIES, ReceiverKind, Severity, expected_receivers


@pytest.fixture(params=engine_params("amtool"))
def amtool(request) -> str:
    return require_engine("amtool", request.param)


def _amtool(amtool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([amtool, *args], capture_output=True, text=True, timeout=30, check=False)


def _config_file(tmp_path, spec):
    return str(write_yaml(tmp_path / "alertmanager.yml", build_alertmanager_config(spec)))


def _route_test(amtool: str, config: str, receivers: list[str], *labels: str) -> subprocess.CompletedProcess:
    return _amtool(amtool, "config", "routes", "test", f"--config.file={config}", f"--verify.receivers={','.join(receivers)}", *labels)


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
    result = _amtool(amtool, "check-config", _config_file(tmp_path, make_spec(**spec_overrides)))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("severity", list(SEVERITIES))
def test_each_severity_reaches_the_receivers_of_its_table_row(amtool, tmp_path, severity):
    config = _config_file(tmp_path, make_spec(receivers=ALL_RECEIVERS))
    expected = expected_receivers(severity)
    result = _route_test(amtool, config, expected, f"severity={severity.value}", "service=checkout", "environment=prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ",".join(expected)


@pytest.mark.parametrize("severity", list(SEVERITIES))
def test_platform_alerts_route_like_service_alerts(amtool, tmp_path, severity):
    config = _config_file(tmp_path, make_spec(receivers=ALL_RECEIVERS))
    result = _route_test(amtool, config, expected_receivers(severity), f"severity={severity.value}", "component=thanos", "environment=prod")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("severity", list(SEVERITIES))
def test_disabled_receiver_kinds_are_left_out_of_each_route(amtool, tmp_path, severity):
    enabled = {"slack": ALL_RECEIVERS["slack"], "ticket": ALL_RECEIVERS["ticket"]}
    config = _config_file(tmp_path, make_spec(receivers=enabled))
    expected = enabled_receivers(severity, frozenset({ReceiverKind.SLACK, ReceiverKind.TICKET})) or [NULL_RECEIVER]
    result = _route_test(amtool, config, expected, f"severity={severity.value}", "service=checkout", "environment=prod")
    assert result.returncode == 0, result.stdout + result.stderr


def test_without_receivers_every_severity_reaches_only_null(amtool, tmp_path):
    config = _config_file(tmp_path, make_spec())
    for severity in Severity:
        result = _route_test(amtool, config, [NULL_RECEIVER], f"severity={severity.value}", "service=checkout")
        assert result.returncode == 0, result.stdout + result.stderr


def test_watchdog_reaches_only_its_own_receiver(amtool, tmp_path):
    config = _config_file(tmp_path, make_spec(receivers=ALL_RECEIVERS))
    result = _route_test(amtool, config, [WATCHDOG_RECEIVER], "alertname=Watchdog", "severity=P4", "component=alerting-pipeline")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_with_a_foreign_severity_is_handled_like_p3(amtool, tmp_path):
    config = _config_file(tmp_path, make_spec(receivers=ALL_RECEIVERS))
    result = _route_test(amtool, config, expected_receivers(Severity.P3), "severity=critical", "service=checkout")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_wrong_expectation_is_reported_by_amtool(amtool, tmp_path):
    """Guards the test itself: amtool must fail when the receivers differ."""
    config = _config_file(tmp_path, make_spec(receivers=ALL_RECEIVERS))
    result = _route_test(amtool, config, ["ticket-p4"], "severity=P1", "service=checkout")
    assert result.returncode != 0
