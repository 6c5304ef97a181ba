"""Shared fixtures: whole-stack runs of the real program under Pulumi mocks (preview=False).

A run of a stack is deterministic, so dev and prod are run once per session and shared; tests
that need a different config call `run_stack` with overrides (`pulumi config set --path` style).
"""

from __future__ import annotations

import pytest

from tools.mockrun import StackRun, run_stack


@pytest.fixture(scope="session")
def dev() -> StackRun:
    return run_stack("dev")


@pytest.fixture(scope="session")
def prod() -> StackRun:
    return run_stack("prod")


@pytest.fixture
def stack():
    """Run a stack with config overrides: stack("dev", {"prometheus.retention": "-3d"})."""
    return run_stack
