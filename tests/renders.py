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
- `helm template` of a release and the parse of its output are kept for the run as well, keyed by
  everything Helm is given (release, chart archive, namespace, values, API versions) and by the
  text: a variant render, or the first-deploy check that templates every chart again, runs Helm
  only for the charts whose values changed, and parses only the documents not seen before.
  Failures are not kept. `uncached()` turns all of this off, for the render from scratch
  (`shared_render(..., from_scratch=True)`) that the tests of reproducible renders compare.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tools import helm, render

_READ_OBJECTS = helm.read_objects  # the real parse
_TEMPLATE_TEXT = helm._template_text  # the real `helm template`
_PARSE_DOCUMENTS = helm.parse_documents
_PARSED: dict[str, str] = {}  # fingerprint -> JSON text of the objects (this process)
_DOCUMENTS: dict[str, str] = {}  # a YAML document's text -> JSON text of its parse (this process)
_SHARED_ROOT: Path | None = None
_ENABLED = True


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


def shared_render(
    tmp_path_factory: pytest.TempPathFactory, stack: str, overrides: dict[str, Any] | None = None, *, from_scratch: bool = False
) -> Path:
    """build/<stack>/ of a stack (with `pulumi config set --path` style overrides), made once per run.
    `from_scratch`: a second render of its own, made with every cache off (`uncached`), for the
    tests that two renders are identical (one render for all of them, whichever worker needs it first)."""
    global _SHARED_ROOT
    _SHARED_ROOT = common_temp_dir(tmp_path_factory)
    key = hashlib.sha256(json.dumps([stack, overrides or {}, from_scratch], sort_keys=True).encode()).hexdigest()[:12]
    root = _SHARED_ROOT / f"render-{stack}-{key}"
    with _locked(_SHARED_ROOT / f"render-{stack}-{key}.lock"):
        if not (root / "done").exists():
            shutil.rmtree(root, ignore_errors=True)
            with uncached() if from_scratch else contextlib.nullcontext():
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
    if not _ENABLED:
        return _READ_OBJECTS(Path(out))
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


def _keep(path: Path, text: str) -> None:
    """Write a cache entry whole or not at all (another worker may read it at any time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    partial.write_text(text)
    partial.replace(path)


def _template_text(release: helm.Release, api_versions, *, crds: bool = True) -> str:
    if not _ENABLED or _SHARED_ROOT is None:
        return _TEMPLATE_TEXT(release, api_versions, crds=crds)
    try:
        given = [release.name, release.ref.chart, release.ref.version, str(helm.chart_archive(release.ref)),
                 release.namespace, release.values, list(api_versions), helm.NEWEST_KUBERNETES, helm.helm_binary(), crds]  # fmt: skip
        key = hashlib.sha256(json.dumps(given, sort_keys=True).encode()).hexdigest()
    except (TypeError, ValueError, helm.HelmError):  # not JSON, or no chart: Helm says what is wrong
        return _TEMPLATE_TEXT(release, api_versions, crds=crds)
    path = _SHARED_ROOT / "helm" / f"{key}.yaml"
    if path.exists():
        return path.read_text()
    text = _TEMPLATE_TEXT(release, api_versions, crds=crds)
    _keep(path, text)
    return text


def _parse_documents(texts):
    if not _ENABLED or _SHARED_ROOT is None:
        return _PARSE_DOCUMENTS(texts)
    paths = [_SHARED_ROOT / "parsed" / f"{hashlib.sha256(t.encode()).hexdigest()}.json" for t in texts]
    result: list[Any] = [json.loads(p.read_text()) if p.exists() else None for p in paths]
    missing = [i for i, docs in enumerate(result) if docs is None]
    if missing:
        for i, docs in zip(missing, _parse_by_document([texts[i] for i in missing])):
            result[i] = docs
            text = json.dumps(docs, default=str)
            if json.loads(text) == docs:  # kept only where JSON gives back the same values
                _keep(paths[i], text)
    return result


def _parse_by_document(texts: list[str]) -> list[list[Any]]:
    """The parse of each stream from the parses of its documents, each document parsed once per
    process: a variant's chart output differs from the base's in a few documents (an annotation, a
    config), not in its megabytes of CRD schemas."""
    split = [helm.split_documents(text) for text in texts]
    unkept: dict[str, list[Any]] = {}
    new = list(dict.fromkeys(d for documents in split for d in documents if d not in _DOCUMENTS))
    for document, parsed in zip(new, _PARSE_DOCUMENTS(new)):
        text = json.dumps(parsed, default=str)
        if json.loads(text) == parsed:  # kept only where JSON gives back the same values
            _DOCUMENTS[document] = text
        else:
            unkept[document] = parsed
    return [
        [obj for d in documents for obj in (json.loads(_DOCUMENTS[d]) if d in _DOCUMENTS else copy.deepcopy(unkept[d]))]
        for documents in split
    ]


@contextlib.contextmanager
def cache_read_objects(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`tools.helm.read_objects` (and `tools.render.read_objects`) answered by `objects`, and
    `helm template` and its parse kept (see the module docstring), while open."""
    global _SHARED_ROOT
    _SHARED_ROOT = common_temp_dir(tmp_path_factory)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(helm, "read_objects", objects)
        patch.setattr(render, "read_objects", objects)
        patch.setattr(helm, "_template_text", _template_text)
        patch.setattr(helm, "parse_documents", _parse_documents)
        yield


@contextlib.contextmanager
def uncached() -> Iterator[None]:
    """Every render, Helm run and parse from scratch while open."""
    global _ENABLED
    _ENABLED, before = False, _ENABLED
    try:
        yield
    finally:
        _ENABLED = before
