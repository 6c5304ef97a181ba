"""Shared fixtures: whole-stack runs of the real program under Pulumi mocks (preview=False), and renders.

A run of a stack is deterministic, so dev and prod are run once per session (per xdist worker) and
shared; tests that need a different config call `stack` with overrides (`pulumi config set --path`
style). The render (`make render`, every chart templated) of each stack is made once per test run,
shared read-only by every worker (tests/renders.py); a module that wants the objects gets its own
copy, so no module sees another's edits. Conventions for new tests are in tests/README.md.

The suite runs in parallel (`make test`: pytest-xdist, two workers per core, `--dist loadgroup`): the tests of one
module run on one worker, so module fixtures are built once, unless the module says otherwise
(`pytestmark = pytest.mark.spread`: its tests are independent and each is expensive) or a test
names its own group (`pytest.mark.xdist_group`). Groups marked `heavy(seconds)` are handed out
first, the heaviest first, so that the longest ones do not start last.
"""

from __future__ import annotations

import gc
import os
import resource
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import renders
from tools.mockrun import StackRun, run_stack

STACKS = ("dev", "prod")


# The cyclic garbage collector's thresholds in the test processes. A mock run of the program
# allocates millions of short-lived objects (the SDK's futures and outputs, several per property of
# every resource); at Python's defaults (700, 10, 10) a prod run spent about a third of its time in
# collections that scan the worker's long-lived heap (the shared renders, the session's runs) again
# and again (measured: 0.3-0.6 s of 1.1-1.6 s). At these the young generation is collected 70 times
# less often: tests/test_config_changes.py alone 105 s -> 78 s, its peak memory 250 -> 570 MB.
# Nothing is freed that would not be; cycles are freed later.
# Ref: https://docs.python.org/3.11/library/gc.html#gc.set_threshold
GC_THRESHOLDS = (50_000, 50, 50)

# The Go garbage collector's target for the engines the tests start (promtool, Prometheus,
# Alertmanager, amtool, influxd, Helm, trivy: every Go child inherits the environment). They run
# seconds to minutes on heaps of tens to hundreds of MB, where Go's default (100; Prometheus 3
# defaults to 75 when GOGC is unset) spends a quarter of their CPU collecting: at 400 the promtool
# tests take 74 -> 56 CPU-s and trivy 30 -> 23, for heaps at most about 4x larger (promtool's peak
# 280 -> 620 MB). Pacing only: what a program computes does not depend on when it collects.
# A GOGC already set (a developer's, CI's) is kept.
# Ref: https://tip.golang.org/doc/gc-guide#GOGC ; prometheus@v3.5.3 config/config.go `getGoGC`
# (the GOGC variable, else DefaultGoGCPercentage = 75).
GO_GC_PERCENT = "400"


def pytest_configure(config: pytest.Config) -> None:
    gc.set_threshold(*GC_THRESHOLDS)
    os.environ.setdefault("GOGC", GO_GC_PERCENT)
    config.addinivalue_line("markers", "spread: the module's tests may run on different xdist workers")
    config.addinivalue_line("markers", "heavy(seconds): a long test or group (about that many seconds on its worker, waits included); the heaviest start first")
    config.addinivalue_line("markers", "xdist_group(name): tests of one group run on one xdist worker")


# --- the run's CPU, in the test log ----------------------------------------------------------------
# The suite is CPU-bound on a small machine (issue 10 asks for its time): the line before pytest's
# last says how much CPU the tests and the engines they start used, and so the least wall time that
# much CPU takes on this machine's cores, however the tests are scheduled.

_WORKER_CPU: list[tuple[float, float]] = []  # (test process, its children), per finished xdist worker


def _cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its children that have ended (an engine
    counts once it is stopped and reaped)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def pytest_sessionfinish(session: pytest.Session) -> None:
    workeroutput = getattr(session.config, "workeroutput", None)  # an xdist worker's report to the controller
    if workeroutput is not None:
        workeroutput["cpu_seconds"] = _cpu_seconds()


@pytest.hookimpl(optionalhook=True)  # an xdist hook: not called without xdist
def pytest_testnodedown(node: Any, error: Any) -> None:
    cpu = getattr(node, "workeroutput", {}).get("cpu_seconds")
    if cpu is not None:
        _WORKER_CPU.append(tuple(cpu))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    own, children = _cpu_seconds()  # this process: the whole run without xdist
    if _WORKER_CPU:  # the controller: its children are the workers, whose reports split their CPU
        own += sum(cpu[0] for cpu in _WORKER_CPU)
        children = sum(cpu[1] for cpu in _WORKER_CPU)
    cores = os.cpu_count() or 1
    terminalreporter.write_line(
        f"CPU: {own:.0f} s in the test processes, {children:.0f} s in the engines and tools they ran: "
        f"at least {(own + children) / cores:.0f} s of wall time on {cores} cores"
    )


@pytest.hookimpl(tryfirst=True)  # before xdist's worker reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """One xdist group per module unless told otherwise (see the module docstring); heavy groups first.
    The order is a pure function of the collected items, as xdist requires on every worker."""
    for item in items:
        if item.get_closest_marker("xdist_group") is None and item.get_closest_marker("spread") is None:
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))

    def group(item: pytest.Item) -> str:
        mark = item.get_closest_marker("xdist_group")
        return str(mark.args[0]) if mark else item.nodeid

    if getattr(config.option, "loadgroup", False):  # an xdist worker under --dist loadgroup
        _tell_xdist_the_groups(items, group)
    weight: dict[str, float] = {}
    for item in items:
        mark = item.get_closest_marker("heavy")
        if mark:
            weight[group(item)] = max(weight.get(group(item), 0), float(mark.args[0]) if mark.args else 1)
    items.sort(key=lambda item: -weight.get(group(item), 0))  # stable: collection order otherwise


def _tell_xdist_the_groups(items: list[pytest.Item], group) -> None:
    """Give each item the node id xdist's scheduler reads its group from (`<nodeid>@<group>`).
    xdist 3.8's worker does this by writing `item._nodeid`, which pytest 9 no longer reads (the id
    is `item._id`), so every group was ignored and a module's fixtures were built on both workers.
    Done here, before xdist's own hook, the way pytest 9 stores the id."""
    from _pytest.nodeid import coerce_node_id

    for item in items:
        suffix = f"@{group(item)}"
        if item.get_closest_marker("xdist_group") is not None and not item.nodeid.endswith(suffix):
            item._id = coerce_node_id(item.nodeid + suffix)


@pytest.fixture(scope="session", autouse=True)
def _shared_object_reads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every read of a render's objects (tools.helm.read_objects) parses it once per run (tests/renders.py)."""
    with renders.cache_read_objects(tmp_path_factory):
        yield


@pytest.fixture(scope="session")
def rendered_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """build/<stack>/ of every stack, as `make render` writes it. Read-only: a test that needs a
    variant renders its own (`renders.render_variant`), one that writes into it copies it first."""
    return {stack: renders.shared_render(tmp_path_factory, stack) for stack in STACKS}


@pytest.fixture(scope="module")
def rendered_objects(rendered_dirs) -> dict[str, list[dict[str, Any]]]:
    """Every Kubernetes object of each stack's render (the program's and the charts'), this module's copy."""
    return {stack: renders.objects(out) for stack, out in rendered_dirs.items()}


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

