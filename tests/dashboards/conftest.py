"""Fixtures of the dashboard tests (helpers live in dashboard_queries.py and dashboard_live.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # helper modules beside the tests (dashboard_*.py)
    sys.path.insert(0, str(HERE))

from monitoring.dashboards import BuiltDashboard, build_dashboards  # noqa: E402


@pytest.fixture(scope="session")
def dashboards() -> list[BuiltDashboard]:
    """The dev stack's dashboards, built once: builders are pure, so sharing them is safe."""
    return build_dashboards("dev")
