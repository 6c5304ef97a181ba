"""Helpers shared by every test package (`from tests.helpers import ...`: tests/ is a package)."""

from __future__ import annotations

import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tools import engines

ROOT = Path(__file__).resolve().parent.parent


def _missing(message: str) -> NoReturn:
    """A missing real tool: a failure under CI (CI=true), a skip with the message elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(message + "; CI must not skip real-tool checks")
    pytest.skip(message)


def require_tool(name: str, hint: str) -> str:
    """Path of a real tool. Missing: a failure under CI (CI=true), a skip with the hint elsewhere."""
    path = shutil.which(name)
    if path:
        return path
    _missing(f"{name} is not installed ({hint})")


def require_engine(tool: str, generation: str) -> str:
    """Path of prometheus/promtool/prometheus-alertmanager/amtool of one generation ("2": 2.42/0.25
    on PATH, "3": 3.5.3/0.33.1 in .tools; tools/engines.py); missing is handled like require_tool."""
    path = engines.find(tool, generation)
    if path:
        return path
    _missing(engines.missing_message(tool, generation))


def engine_params(*tools: str) -> list:
    """One pytest.param per engine generation, its id naming the versions of `tools`:
    test_x[prometheus-3.5.3+alertmanager-0.33.1] reads better than test_x[3]."""

    def test_id(generation: str) -> str:
        engine = engines.ENGINES[generation]
        return "+".join(f"{tool.removeprefix('prometheus-')}-{engine.version(tool)}" for tool in tools)

    return [pytest.param(g, id=test_id(g)) for g in engines.GENERATIONS]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (servers under test bind only to loopback)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "condition") -> Any:
    """Poll `predicate` until it returns a truthy value; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def stack_settings_raw(stack: str) -> dict[str, Any]:
    """The plain (non-secret) settings of `Pulumi.<stack>.yaml`, keys without the project prefix: a
    fresh copy each call, for tests that edit it."""
    from tools.mockrun import plain_settings

    return plain_settings(stack)


def stack_plan(stack: str, **overrides: Any):
    """The plan (plan/__init__.py build_plan) of a stack file, with top-level keys replaced."""
    from plan import build_plan
    from stacks.config import parse_settings

    return build_plan(parse_settings({**stack_settings_raw(stack), **overrides}))


def config_error(stack: str, overrides: dict[str, Any]) -> str:
    """What a run of `stack` with `pulumi config set --path` style `overrides` stops with: a
    ConfigError of one line, before any resource (checked here)."""
    from stacks.config import ConfigError
    from tools.mockrun import run_stack

    with pytest.raises(ConfigError) as raised:
        run_stack(stack, overrides)
    message = str(raised.value)
    assert "\n" not in message, message
    return message
