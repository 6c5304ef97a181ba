"""Helpers shared by every test package (importable as `helpers`: pytest's pythonpath has tests/)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def require_tool(name: str, hint: str) -> str:
    """Path of a real tool. Missing: a failure under CI (CI=true), a skip with the hint elsewhere."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed ({hint})"
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must not skip real-tool checks")
    pytest.skip(message)
