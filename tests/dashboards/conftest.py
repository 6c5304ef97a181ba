"""Fixtures of the dashboard tests (query helpers live in dashboard_queries.py; real engines in tests/engines.py)."""

from __future__ import annotations

import pytest

from monitoring.dashboards import BuiltDashboard, build_dashboards


@pytest.fixture(scope="session")
def dashboards() -> list[BuiltDashboard]:
    """The dev stack's dashboards, built once: builders are pure, so sharing them is safe."""
    return build_dashboards("dev")
