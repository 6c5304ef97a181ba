"""YAML text: the config files the program writes into ConfigMaps and Secrets, and the stack files
it reads. libyaml's C emitter and parser when PyYAML was built with it (it is, in the pinned wheel),
the pure-Python ones otherwise: same documents, about ten times faster, which matters because every
`pulumi preview`, test run and render evaluates the whole program.
Ref: yaml/pyyaml@6.0.3 lib/yaml/cyaml.py (CSafeLoader, CSafeDumper)
"""

from __future__ import annotations

from typing import Any

import yaml

SafeLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
SafeDumper: type = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class KubernetesLoader(SafeLoader):  # type: ignore[misc,valid-type]
    """Safe YAML as Kubernetes reads it: YAML 1.1's `=` "value" tag is an ordinary string (to the
    API server and to Helm's Go parser), and real CRDs hold a bare `=` in enums (e.g.
    kube-prometheus-stack's label-matcher operators), which PyYAML's safe loader rejects."""


KubernetesLoader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: loader.construct_scalar(node))


def dump(data: Any, *, sort_keys: bool = True, width: int | None = None) -> str:
    """Block-style YAML of plain data (dicts, lists, scalars)."""
    return yaml.dump(data, Dumper=SafeDumper, sort_keys=sort_keys, default_flow_style=False, width=width)


def load(text: str) -> Any:
    return yaml.load(text, Loader=SafeLoader)


def load_documents(text: str) -> list[Any]:
    """The non-empty documents of a Kubernetes YAML stream (`helm template` output, manifests)."""
    return [d for d in yaml.load_all(text, Loader=KubernetesLoader) if d]
