"""InfluxDB as deployed: Prometheus remote-writes the long-term subset to it as a write-only user,
the schema Job is named after its InfluxQL and the digest of what it applies, credentials stay in
Secrets, Grafana reads with a read-only user, and clients get a password only after the Job set it."""

from __future__ import annotations

import json
import re

import pytest

from plan.versions import INFLUXDB_IMAGE_TAG
from monitoring.datasources import INFLUXDB_TRENDS_UID
from monitoring.influxdb import build_influxql, schema_job_name
from stacks.config import ConfigError
from tools.mockrun import is_secret

JOB_TYPE = "kubernetes:batch/v1:Job"


def _influx_values(run):
    return run.chart("influxdb").plain_inputs["values"]


def _remote_write(run):
    (entry,) = run.chart("kube-prometheus-stack").plain_inputs["values"]["prometheus"]["prometheusSpec"]["remoteWrite"]
    return entry


def test_prometheus_remote_writes_to_the_influxdb_service(prod):
    assert _remote_write(prod)["url"] == "http://influxdb.monitoring.svc:8086/api/v1/prom/write?db=prometheus"


def test_only_slo_and_business_series_are_remote_written(prod):
    (rule,) = _remote_write(prod)["writeRelabelConfigs"]
    assert rule == {"sourceLabels": ["__name__"], "regex": "slo:.*|terrafusion_.*", "action": "keep"}


def test_remote_write_authenticates_as_the_writer_not_the_admin(prod):
    auth = _remote_write(prod)["basicAuth"]
    assert auth["username"] == {"name": "influxdb-remote-write", "key": "username"}
    assert auth["password"] == {"name": "influxdb-remote-write", "key": "password"}
    remote = prod.one("kubernetes:core/v1:Secret", "terrafusion-influxdb-remote-write")
    writer = prod.one("kubernetes:core/v1:Secret", "terrafusion-influxdb-writer")
    assert is_secret(remote.inputs["stringData"])
    assert remote.plain_inputs["stringData"] == writer.plain_inputs["stringData"]
    assert remote.plain_inputs["stringData"]["username"] == "prometheus"


def test_prometheus_gets_a_writer_password_only_after_the_job_applied_it(prod):
    job = prod.one(JOB_TYPE, "terrafusion-influxdb-schema-job")
    remote = prod.one("kubernetes:core/v1:Secret", "terrafusion-influxdb-remote-write")
    assert job.urn in remote.depends_on
    assert remote.urn in prod.chart("kube-prometheus-stack").depends_on


def test_the_admin_secret_holds_the_current_generation_only_at_first(prod):
    secret = prod.one("kubernetes:core/v1:Secret", "terrafusion-influxdb-auth")
    assert is_secret(secret.inputs["stringData"])
    assert set(secret.plain_inputs["stringData"]) == {"influxdb-user", "influxdb-password"}


def test_raising_the_admin_generation_keeps_the_previous_password_for_the_job(prod, stack):
    rotated = stack("prod", {"influxdb.adminPasswordVersion": 2})
    data = rotated.one("kubernetes:core/v1:Secret", "terrafusion-influxdb-auth").plain_inputs["stringData"]
    before = prod.one("kubernetes:core/v1:Secret", "terrafusion-influxdb-auth").plain_inputs["stringData"]
    # Generation 1 keeps its resource (and so its password); generation 2 is new.
    assert data["previous-password"] == before["influxdb-password"] != data["influxdb-password"]
    env = rotated.one(JOB_TYPE, "terrafusion-influxdb-schema-job").plain_inputs["spec"]["template"]["spec"]["containers"][0]["env"]
    previous = next(e for e in env if e["name"] == "INFLUX_PREVIOUS_PASSWORD")
    assert previous["valueFrom"]["secretKeyRef"] == {"name": "influxdb-auth", "key": "previous-password"}
    # A new Job: it runs, and sets the new password with the previous one.
    name = lambda run: run.one(JOB_TYPE, "terrafusion-influxdb-schema-job").plain_inputs["metadata"]["name"]  # noqa: E731
    assert name(rotated) != name(prod)


def test_a_rotated_reader_password_is_a_new_schema_job(prod, stack):
    rotated = stack("prod", rotate=frozenset({"terrafusion-influxdb-reader-password"}))
    name = lambda run: run.one(JOB_TYPE, "terrafusion-influxdb-schema-job").plain_inputs["metadata"]["name"]  # noqa: E731
    assert name(rotated) != name(prod)


def test_grafana_gets_the_reader_password_only_after_the_job_applied_it(prod):
    job = prod.one(JOB_TYPE, "terrafusion-influxdb-schema-job")
    ds = prod.one("grafana:oss/dataSource:DataSource", f"terrafusion-grafana-content-datasource-{INFLUXDB_TRENDS_UID}")
    assert job.urn in ds.depends_on


def test_image_is_pinned_to_influxdb_1x(dev):
    image = _influx_values(dev)["image"]
    assert image["tag"] == INFLUXDB_IMAGE_TAG and image["tag"].startswith("1.")


def test_auth_is_on_and_no_autogen_policy_is_created(dev):
    config = _influx_values(dev)["config"]
    assert config["http"]["auth-enabled"] is True
    assert config["meta"]["retention-autocreate"] is False


def test_prod_influxdb_is_persistent_and_protected(prod):
    assert _influx_values(prod)["persistence"] == {"enabled": True, "size": "100Gi", "storageClass": "gp3-retain"}
    assert prod.chart("influxdb").protect


def test_schema_job_is_named_after_the_influxql_it_applies(prod):
    job = prod.one(JOB_TYPE, "terrafusion-influxdb-schema-job").plain_inputs
    config_map = prod.one("kubernetes:core/v1:ConfigMap", "terrafusion-influxdb-schema").plain_inputs
    influxql = config_map["data"]["schema.iql"]
    assert influxql == build_influxql(prod.result.plan.settings.influxdb.retention)
    assert config_map["metadata"]["name"] == schema_job_name(influxql)
    # ...then the digest of its script and of every password it applies.
    assert re.fullmatch(schema_job_name(influxql) + "-[0-9a-f]{16}", job["metadata"]["name"])


def test_changing_a_retention_replaces_the_schema_job(prod, stack):
    longer = stack("prod", {"influxdb.retention.rawRetention": "60d"})
    assert longer.one(JOB_TYPE, "terrafusion-influxdb-schema-job").plain_inputs["metadata"]["name"] != prod.one(JOB_TYPE, "terrafusion-influxdb-schema-job").plain_inputs["metadata"]["name"]


def test_schema_job_takes_every_credential_from_secrets(prod):
    container = prod.one(JOB_TYPE, "terrafusion-influxdb-schema-job").plain_inputs["spec"]["template"]["spec"]["containers"][0]
    credential_vars = {e["name"]: e for e in container["env"] if "USER" in e["name"] or "PASSWORD" in e["name"]}
    assert set(credential_vars) == {
        "INFLUX_USERNAME", "INFLUX_PASSWORD", "INFLUX_READER_USER", "INFLUX_READER_PASSWORD",
        "INFLUX_WRITER_USER", "INFLUX_WRITER_PASSWORD",
    }  # fmt: skip
    assert all("valueFrom" in e and "value" not in e for e in credential_vars.values())


def test_prometheus_waits_for_the_schema_job(prod):
    assert prod.one(JOB_TYPE, "terrafusion-influxdb-schema-job").urn in prod.chart("kube-prometheus-stack").depends_on


def test_grafana_reads_trends_with_the_read_only_user(prod):
    ds = prod.one("grafana:oss/dataSource:DataSource", f"terrafusion-grafana-content-datasource-{INFLUXDB_TRENDS_UID}")
    assert ds.plain_inputs["type"] == "influxdb"
    assert ds.plain_inputs["username"] == "grafana"
    assert json.loads(ds.plain_inputs["jsonDataEncoded"])["dbName"] == "prometheus"
    assert is_secret(ds.inputs["secureJsonDataEncoded"])
    reader = prod.one("kubernetes:core/v1:Secret", "terrafusion-influxdb-reader").plain_inputs["stringData"]
    assert json.loads(ds.plain_inputs["secureJsonDataEncoded"]) == {"password": reader["password"]}


def test_bad_influx_retention_names_the_key(stack):
    with pytest.raises(ConfigError) as raised:
        stack("dev", {"influxdb.retention.rawRetention": "10m"})
    assert str(raised.value).startswith("terrafusion-monitoring:influxdb.retention.rawRetention:")


def test_an_admin_generation_below_one_names_the_key(stack):
    with pytest.raises(ConfigError) as raised:
        stack("dev", {"influxdb.adminPasswordVersion": 0})
    assert str(raised.value).startswith("terrafusion-monitoring:influxdb.adminPasswordVersion:")
