"""The documented InfluxDB rotations converge, against the real influxd 1.6 (issue 9, class 4).

InfluxDB keeps the admin it was first created with (the image creates it only on an empty volume),
so rotating the admin Secret must be applied by the schema Job: with the previous generation when
the server refuses the current one. The writer (Prometheus remote_write) and the reader (Grafana)
are set to their Secrets' passwords on every run. Each test starts its own influxd, with admin
password A, because it changes that password.
"""

from __future__ import annotations

import base64
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.influxdb.influx_harness import ADMIN_USER, InfluxServer, make_spec

from tests.helpers import require_tool
from monitoring.influxdb import build_influxql, remote_write_url

A, B = "passwordA1", "passwordB2"
DATABASE = "prometheus"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[InfluxServer]:
    influxd_bin = require_tool("influxd", "apt-get install influxdb")
    influx_bin = require_tool("influx", "apt-get install influxdb-client")
    (tmp_path / "server").mkdir()
    with InfluxServer(influxd_bin, influx_bin, tmp_path / "server", admin_password=A) as running:
        yield running


def _status(server: InfluxServer, method: str, path: str, user: str, password: str, body: bytes | None = None) -> int:
    request = urllib.request.Request(f"{server.url}{path}", data=body, method=method)
    request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (127.0.0.1)
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _admin_status(server: InfluxServer, password: str) -> int:
    return _status(server, "GET", "/query?" + urllib.parse.urlencode({"q": "SHOW USERS"}), ADMIN_USER, password)


def _write_status(server: InfluxServer, user: str, password: str) -> int:
    path = "/write?" + urllib.parse.urlencode({"db": DATABASE, "rp": "raw", "precision": "s"})
    # Now: a point older than the raw policy's 30 days would be refused (400) whoever writes it.
    return _status(server, "POST", path, user, password, f"terrafusion_rotation_probe value=1 {int(time.time())}".encode())


def _prom_write_status(server: InfluxServer, user: str, password: str) -> int:
    # The endpoint Prometheus remote-writes to; past authentication an empty body is a 400 (not snappy).
    path = remote_write_url("127.0.0.1", server.port, DATABASE).split(str(server.port), 1)[1]
    return _status(server, "POST", path, user, password, b"")


def _job(server: InfluxServer, workdir: Path, admin: str, previous: str | None, writer: str, reader: str = "reader1"):
    env = {
        "INFLUX_PASSWORD": admin,
        "INFLUX_DATABASE": DATABASE,
        "INFLUX_WRITER_USER": "prometheus",
        "INFLUX_WRITER_PASSWORD": writer,
        "INFLUX_READER_USER": "grafana",
        "INFLUX_READER_PASSWORD": reader,
    }
    if previous is not None:
        env["INFLUX_PREVIOUS_PASSWORD"] = previous
    workdir.mkdir(exist_ok=True)
    return server.run_schema_job(build_influxql(make_spec(database=DATABASE)), workdir, extra_env=env)


def test_admin_rotation_sets_the_new_password_with_the_previous_one(server, tmp_path):
    assert _admin_status(server, A) == 200
    run = _job(server, tmp_path / "job", admin=B, previous=A, writer="writer1")
    assert run.returncode == 0, run.output
    assert "setting the current one" in run.output
    assert _admin_status(server, B) == 200
    assert _admin_status(server, A) == 401


def test_after_an_admin_rotation_the_writer_writes_with_its_password(server, tmp_path):
    run = _job(server, tmp_path / "job", admin=B, previous=A, writer="writer1")
    assert run.returncode == 0, run.output
    assert _write_status(server, "prometheus", "writer1") == 204
    assert _prom_write_status(server, "prometheus", "writer1") == 400  # authenticated
    assert _prom_write_status(server, "prometheus", "wrong") == 401


def test_writer_rotation_converges_and_the_old_password_stops_working(server, tmp_path):
    assert _job(server, tmp_path / "first", admin=A, previous=None, writer="writer1").returncode == 0
    run = _job(server, tmp_path / "second", admin=B, previous=A, writer="writer2")
    assert run.returncode == 0, run.output
    assert _write_status(server, "prometheus", "writer2") == 204
    assert _write_status(server, "prometheus", "writer1") == 401


def test_the_writer_can_not_read_or_administer(server, tmp_path):
    assert _job(server, tmp_path / "job", admin=A, previous=None, writer="writer1").returncode == 0
    query = "/query?" + urllib.parse.urlencode({"q": f'DROP DATABASE "{DATABASE}"', "db": DATABASE})
    # influxd answers an unauthorised statement with 403 (authenticated, not allowed).
    assert _status(server, "POST", query, "prometheus", "writer1") == 403


def test_rerun_after_the_rotation_is_idempotent(server, tmp_path):
    assert _job(server, tmp_path / "first", admin=B, previous=A, writer="writer1").returncode == 0
    run = _job(server, tmp_path / "second", admin=B, previous=A, writer="writer1")
    assert run.returncode == 0, run.output
    assert "setting the current one" not in run.output
    assert _admin_status(server, B) == 200


def test_a_job_whose_passwords_the_server_refuses_fails_and_says_why(server, tmp_path):
    server_env_wait = {"INFLUX_WAIT_SECONDS": "4"}
    workdir = tmp_path / "job"
    workdir.mkdir()
    run = server.run_schema_job(
        build_influxql(make_spec(database=DATABASE)), workdir,
        extra_env={"INFLUX_PASSWORD": "neither", "INFLUX_PREVIOUS_PASSWORD": "nor", **server_env_wait},
    )  # fmt: skip
    assert run.returncode != 0
    assert "accepts neither the current nor the previous admin password" in run.output
    assert _admin_status(server, A) == 200
