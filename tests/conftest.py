"""Shared fixtures: whole-stack runs of the real program under Pulumi mocks (preview=False).

A run of a stack is deterministic, so dev and prod are run once per session and shared; tests
that need a different config call `run_stack` with overrides (`pulumi config set --path` style).
The same holds for the render (`make render`, every chart templated): once per session, shared
read-only; a module that wants the objects gets its own copy, so no module sees another's edits.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tools import render
from tools.mockrun import StackRun, run_stack

STACKS = ("dev", "prod")


@pytest.fixture(scope="session")
def rendered_dirs(tmp_path_factory) -> dict[str, Path]:
    """build/<stack>/ of every stack, as `make render` writes it. Read-only: a test that needs a
    variant renders its own (tools.render.render with overrides)."""
    root = tmp_path_factory.mktemp("render")
    return {stack: render.render(stack, root)[0] for stack in STACKS}


@pytest.fixture(scope="session")
def _rendered_objects(rendered_dirs) -> dict[str, list[dict[str, Any]]]:
    return {stack: render.read_objects(out) for stack, out in rendered_dirs.items()}


@pytest.fixture(scope="module")
def rendered_objects(_rendered_objects) -> dict[str, list[dict[str, Any]]]:
    """Every Kubernetes object of each stack's render (the program's and the charts'), this module's copy."""
    return copy.deepcopy(_rendered_objects)


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
