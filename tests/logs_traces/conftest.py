"""Fixtures of the logs and traces builder tests (monitoring/logs.py, fluentbit.py, tracing.py, otel.py)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.logs_traces.logs_traces_helpers import (
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

from monitoring.fluentbit import fluentbit_config, fluentbit_events_config
from monitoring.logs import LogsSpec
from monitoring.otel import OtelCollectorSpec, otel_collector_config
from monitoring.tracing import SamplingSpec, jaeger_user_config


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
