"""Fixtures of the dashboard tests (helpers live in dashboard_queries.py and dashboard_live.py)."""

from __future__ import annotations

import pytest

from monitoring.dashboards import BuiltDashboard, build_dashboards


@pytest.fixture(scope="session")
def dashboards() -> list[BuiltDashboard]:
    """The dev stack's dashboards, built once: builders are pure, so sharing them is safe."""
    return build_dashboards("dev")
