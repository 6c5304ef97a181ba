"""remote_write_config / remote_write_url: what Prometheus sends to InfluxDB, and how it authenticates."""

from __future__ import annotations

import re

from monitoring.influxdb import REMOTE_WRITE_KEEP_REGEX, remote_write_config, remote_write_url

URL = "http://influxdb.monitoring.svc:8086/api/v1/prom/write?db=prometheus"


def _entry() -> dict:
    return remote_write_config(URL, ("influxdb-auth", "username"), ("influxdb-auth", "password"))


def _kept(name: str) -> bool:
    # Prometheus anchors relabel regexes at both ends.
    return re.fullmatch(REMOTE_WRITE_KEEP_REGEX, name) is not None


def test_url_points_at_the_prometheus_write_endpoint_of_the_database():
    assert remote_write_url("influxdb.monitoring.svc", 8086, "prometheus") == URL


def test_entry_authenticates_with_basic_auth_from_secret_references():
    assert _entry()["basicAuth"] == {
        "username": {"name": "influxdb-auth", "key": "username"},
        "password": {"name": "influxdb-auth", "key": "password"},
    }


def test_entry_has_no_credentials_in_the_url():
    assert "u=" not in _entry()["url"] and "p=" not in _entry()["url"]


def test_only_one_relabel_rule_keeps_by_metric_name():
    assert _entry()["writeRelabelConfigs"] == [
        {"sourceLabels": ["__name__"], "regex": REMOTE_WRITE_KEEP_REGEX, "action": "keep"}
    ]


def test_slo_recording_series_are_kept():
    assert _kept("slo:sli_error:ratio_rate5m") and _kept("slo:error_budget_remaining:ratio")


def test_business_series_are_kept():
    assert _kept("terrafusion_active_users") and _kept("terrafusion_deployments_total")


def test_platform_and_http_series_are_dropped():
    for name in ("node_cpu_seconds_total", "up", "http_server_request_duration_seconds_bucket", "xslo:a", "my_terrafusion_x"):
        assert not _kept(name), name


def test_queue_uses_operator_field_names_and_few_shards():
    queue = _entry()["queueConfig"]
    assert set(queue) <= {"capacity", "minShards", "maxShards", "maxSamplesPerSend", "batchSendDeadline", "minBackoff", "maxBackoff"}
    assert queue["maxShards"] <= 4


def test_metadata_is_not_sent():
    assert _entry()["metadataConfig"] == {"send": False}
