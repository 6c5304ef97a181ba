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


def dump(data: Any, *, sort_keys: bool = True, width: int | None = None) -> str:
    """Block-style YAML of plain data (dicts, lists, scalars)."""
    return yaml.dump(data, Dumper=SafeDumper, sort_keys=sort_keys, default_flow_style=False, width=width)


def load(text: str) -> Any:
    return yaml.load(text, Loader=SafeLoader)
