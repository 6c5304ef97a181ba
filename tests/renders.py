"""Renders for the tests (tools.render), each made once and shared.

- `shared_render(tmp_path_factory, stack, overrides)`: one render per test run, whichever xdist
  worker needs it first makes it (under a file lock in the run's common temp dir), the others wait
  for it and read the same directory. Read-only: a test that writes into a render copies it first
  (`private_copy`).
- `objects(out)`: `tools.helm.read_objects` of a render, parsed once per test run (the parse is
  kept as JSON in the common temp dir) and returned as a fresh copy each call, so a test may edit
  what it gets. Keyed by every object file's path, size and mtime: a rewritten render is parsed again.
  `cache_read_objects` puts it behind `tools.helm.read_objects` (and its alias
  `tools.render.read_objects`) for the whole session, so the checks that read a render
  (tools.checks) share it too.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools import helm, render

_READ_OBJECTS = helm.read_objects  # the real parse
_PARSED: dict[str, str] = {}  # fingerprint -> JSON text of the objects (this process)
_SHARED_ROOT: Path | None = None


def common_temp_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory every xdist worker of this test run sees (the parent of the workers' basetemps);
    the session's own basetemp without xdist."""
    base = tmp_path_factory.getbasetemp()
    root = base.parent if base.name.startswith("popen-gw") else base
    return root / "shared"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def shared_render(tmp_path_factory: pytest.TempPathFactory, stack: str, overrides: dict[str, Any] | None = None) -> Path:
    """build/<stack>/ of a stack (with `pulumi config set --path` style overrides), made once per run."""
    global _SHARED_ROOT
    _SHARED_ROOT = common_temp_dir(tmp_path_factory)
    key = hashlib.sha256(json.dumps([stack, overrides or {}], sort_keys=True).encode()).hexdigest()[:12]
    root = _SHARED_ROOT / f"render-{stack}-{key}"
    with _locked(_SHARED_ROOT / f"render-{stack}-{key}.lock"):
        if not (root / "done").exists():
            shutil.rmtree(root, ignore_errors=True)
            render.render(stack, root, overrides=overrides)
            (root / "done").touch()
    return root / stack


def private_copy(out: Path, destination: Path) -> Path:
    """A copy of a render that a test may write into."""
    return Path(shutil.copytree(out, destination / out.name))


def _fingerprint(out: Path) -> str:
    paths = sorted((out / "manifests").glob("*.yaml")) + sorted((out / "objects").glob("*/*.yaml"))
    digest = hashlib.sha256(str(out.resolve()).encode())
    for path in paths:
        stat = path.stat()
        digest.update(f"{path.relative_to(out)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def objects(out: Path) -> list[dict[str, Any]]:
    """Every Kubernetes object of a render (tools.helm.read_objects), a fresh copy."""
    key = _fingerprint(Path(out))
    if key not in _PARSED:
        cached = _SHARED_ROOT / f"objects-{key}.json" if _SHARED_ROOT else None
        if cached is not None:
            with _locked(cached.with_suffix(".lock")):
                if not cached.exists():
                    cached.write_text(json.dumps(_READ_OBJECTS(Path(out)), default=str))
                _PARSED[key] = cached.read_text()
        else:
            _PARSED[key] = json.dumps(_READ_OBJECTS(Path(out)), default=str)
    return json.loads(_PARSED[key])


@contextlib.contextmanager
def cache_read_objects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`tools.helm.read_objects` (and `tools.render.read_objects`) answered by `objects` while open."""
    global _SHARED_ROOT
    _SHARED_ROOT = common_temp_dir(tmp_path_factory)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(helm, "read_objects", objects)
        patch.setattr(render, "read_objects", objects)
        yield
