"""Fixtures of the alerting tests (helpers live in tests/monitoring/alerting_helpers.py)."""

from __future__ import annotations

import pytest

from monitoring.alerting_spec import AlertingSpec
from tests.monitoring.alerting_helpers import ALL_RECEIVERS, make_spec


@pytest.fixture
def spec() -> AlertingSpec:
    return make_spec()


@pytest.fixture
def full_spec() -> AlertingSpec:
    """Every receiver enabled and one maintenance window."""
    return make_spec(
        receivers=ALL_RECEIVERS,
        maintenanceWindows=[
            {
                "name": "sunday-patching",
                "weekdays": ["sunday"],
                "times": [{"startTime": "02:00", "endTime": "04:00"}],
                "location": "Europe/Berlin",
            }
        ],
    )
