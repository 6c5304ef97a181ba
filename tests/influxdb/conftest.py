"""Fixtures of the InfluxDB tests: one authenticated influxd per session (each test uses its own
database), the sample retention spec, and the harness module beside the tests (influx_harness.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitoring.influxdb import InfluxRetentionSpec
from tests.helpers import require_tool
from tests.influxdb.influx_harness import InfluxServer, make_spec


@pytest.fixture
def spec() -> InfluxRetentionSpec:
    return make_spec()


@pytest.fixture(scope="session")
def influxd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InfluxServer]:
    """influxd 1.6 on 127.0.0.1 with auth enabled and an admin user, stopped at the end of the session."""
    influxd_bin = require_tool("influxd", "apt-get install influxdb")
    influx_bin = require_tool("influx", "apt-get install influxdb-client")
    with InfluxServer(influxd_bin, influx_bin, tmp_path_factory.mktemp("influxd")) as server:
        yield server
