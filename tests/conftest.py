"""Shared fixtures: whole-stack runs of the real program under Pulumi mocks (preview=False).

A run of a stack is deterministic, so dev and prod are run once per session and shared; tests
that need a different config call `run_stack` with overrides (`pulumi config set --path` style).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.mockrun import StackRun, run_stack  # noqa: E402


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


def require_tool(name: str, hint: str) -> str:
    """Path of a real tool. Missing: a failure under CI (CI=true), a skip with the hint elsewhere."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed ({hint})"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must not skip real-tool checks")
    pytest.skip(message)
