"""Chart values as data: the merge every chart's values go through (the plan's typed values with the
`extraValues` escape hatch, and values built from parts)."""

from __future__ import annotations

from typing import Any, Mapping


def _copy_tree(value: Any) -> Any:
    """Maps and lists copied, leaves shared: values hold pulumi Outputs (the content digests), which
    `copy.deepcopy` refuses, and every leaf is immutable."""
    if isinstance(value, Mapping):
        return {key: _copy_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy_tree(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_copy_tree(item) for item in value)
    return value


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Values merged the way Helm merges `-f` files: maps recursively, everything else replaced.
    A new tree: neither argument is changed by the merge or by edits of its result."""
    merged = _copy_tree(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = _copy_tree(value)
    return merged
