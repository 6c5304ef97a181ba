"""Shared pieces of every chart component: declaring a pinned chart and merging escape-hatch values.
(Request totals come from the objects Helm renders: tools/requests.py.)"""

from __future__ import annotations

import copy
from typing import Any, Mapping

import pulumi
from pulumi_kubernetes.helm import v4 as helm

from components.versions import ChartRef


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Values merged the way Helm merges `-f` files: maps recursively, everything else replaced."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


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
) -> helm.Chart:
    """A helm v4 Chart, so `pulumi preview` lists every object the chart renders.

    v4 Charts never run Helm hooks; each component's values switch off or replace what its chart
    does in hooks (see the component's docstring).
    """
    return helm.Chart(
        name,
        helm.ChartArgs(
            chart=ref.chart,
            version=ref.version,
            repository_opts=helm.RepositoryOptsArgs(repo=ref.repository),
            namespace=namespace,
            name=name,
            values=dict(values),
        ),
        opts=opts,
    )
