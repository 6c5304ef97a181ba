"""Fixtures of the logs and traces builder tests (monitoring/logs.py, fluentbit.py, tracing.py, otel.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # helper module beside the tests (logs_traces_helpers.py)
    sys.path.insert(0, str(HERE))

from logs_traces_helpers import (  # noqa: E402
    CA_FILE,
    CORS_ORIGINS,
    ES_HOST,
    ES_PASSWORD_ENV,
    ES_PORT,
    ES_URL,
    ES_USER_ENV,
    JAEGER_OTLP,
    SAMPLING_FILE,
)

from monitoring.fluentbit import fluentbit_config, fluentbit_events_config  # noqa: E402
from monitoring.logs import LogsSpec  # noqa: E402
from monitoring.otel import OtelCollectorSpec, otel_collector_config  # noqa: E402
from monitoring.tracing import SamplingSpec, jaeger_user_config  # noqa: E402


@pytest.fixture
def logs_spec() -> LogsSpec:
    return LogsSpec()


@pytest.fixture
def fluentbit(logs_spec: LogsSpec) -> dict[str, Any]:
    """The node DaemonSet config, parsed back from the rendered YAML text."""
    text = fluentbit_config(logs_spec, ES_HOST, ES_PORT, ES_USER_ENV, ES_PASSWORD_ENV, CA_FILE)
    return yaml.safe_load(text)


@pytest.fixture
def fluentbit_events() -> dict[str, Any]:
    return yaml.safe_load(fluentbit_events_config(ES_HOST, ES_PORT, ES_USER_ENV, ES_PASSWORD_ENV, CA_FILE))


@pytest.fixture
def checkout_sampling() -> SamplingSpec:
    return SamplingSpec(
        environment="prod",
        overrides=[
            {"service": "checkout", "operation": "POST /api/checkout", "probability": 1.0},
            {"service": "payment", "operation": "POST /api/payments", "probability": 0.9},
            {"service": "catalog", "operation": "GET /api/products", "probability": 0.05},
        ],
    )


@pytest.fixture
def jaeger() -> dict[str, Any]:
    return jaeger_user_config(ES_URL, ES_USER_ENV, ES_PASSWORD_ENV, CA_FILE, SAMPLING_FILE, "terrafusion")


@pytest.fixture
def otel() -> dict[str, Any]:
    return otel_collector_config(OtelCollectorSpec(), JAEGER_OTLP, CORS_ORIGINS)
