"""Fixtures of the alerting tests (helpers live in alerting_helpers.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # helper modules beside the tests (alerting_*.py)
    sys.path.insert(0, str(HERE))

from alerting_helpers import ALL_RECEIVERS, make_spec  # noqa: E402

from monitoring.alerting_spec import AlertingSpec  # noqa: E402


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
