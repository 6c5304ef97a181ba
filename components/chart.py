"""Shared pieces of every chart component: declaring a pinned chart and merging escape-hatch values.
(Request totals come from the objects Helm renders: tools/requests.py.)"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import pulumi
from pulumi_kubernetes.helm import v4 as helm

from plan.values import deep_merge
from plan.versions import ChartRef

# A pure function of one rendered object (apiVersion/kind/metadata/spec...) returning the object to
# apply: for the rare setting a chart has no value for (e.g. a container securityContext). It returns
# its argument itself (`is`) when it does not apply to the object, and never mutates it.
ObjectPatch = Callable[[dict[str, Any]], dict[str, Any]]

# Release name -> its patch, for tools/render.py to apply to `helm template`'s output exactly as the
# Pulumi transform below applies it to the Chart's children. Patches are pure and stack-independent,
# so the registry holds the same function whichever stack declared the release.
OBJECT_PATCHES: dict[str, ObjectPatch] = {}


def patch_objects(release: str, objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The release's objects with its patch applied (unchanged when it has none)."""
    patch = OBJECT_PATCHES.get(release)
    return [patch(o) for o in objects] if patch else objects


def _transform(patch: ObjectPatch) -> pulumi.ResourceTransform:
    """A Pulumi transform applying `patch` to every Kubernetes object the Chart registers (a v4 Chart's
    children receive transforms of the Chart's options; their props are the object's fields).
    Ref: https://www.pulumi.com/docs/iac/concepts/options/transforms/"""

    def transform(args: pulumi.ResourceTransformArgs) -> pulumi.ResourceTransformResult | None:
        if not args.type_.startswith("kubernetes:") or not isinstance(args.props, Mapping):
            return None
        props = dict(args.props)
        patched = patch(props)
        return None if patched is props else pulumi.ResourceTransformResult(props=patched, opts=args.opts)

    return transform


def child_options(parent: pulumi.Resource, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """Options for a component's children: parented, and waiting for whatever the component waits
    for. The engine does not make children wait on their parent's `depends_on`, and the ordering
    matters here (CRDs before custom resources, Secrets before the pods that mount them)."""
    return pulumi.ResourceOptions(parent=parent, depends_on=(opts.depends_on if opts else None) or [])


def declare_chart(
    name: str,
    ref: ChartRef,
    namespace: str,
    values: Mapping[str, Any],
    opts: pulumi.ResourceOptions,
    *,
    extra_values: Mapping[str, Any],
    object_patch: ObjectPatch | None = None,
) -> helm.Chart:
    """A helm v4 Chart, so `pulumi preview` lists every object the chart renders.

    v4 Charts never run Helm hooks; each component's values switch off or replace what its chart
    does in hooks (see the component's docstring). `extra_values` is the `extraValues` of the
    chart's section in the stack file (plan/settings.py ExtraValues), merged here, last, over the
    component's typed values; it is required, so no chart is declared without the escape hatch
    (README, "Escape hatch: extraValues"). `object_patch` changes what no value can: it is applied
    to every object by a Pulumi transform, and by the offline render (OBJECT_PATCHES).
    """
    if object_patch is not None:
        OBJECT_PATCHES[name] = object_patch
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(transforms=[_transform(object_patch)]))
    return helm.Chart(
        name,
        helm.ChartArgs(
            chart=ref.chart,
            version=ref.version,
            repository_opts=helm.RepositoryOptsArgs(repo=ref.repository),
            namespace=namespace,
            name=name,
            values=deep_merge(values, extra_values),
        ),
        opts=opts,
    )
