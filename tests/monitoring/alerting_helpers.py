"""Helpers of the alerting tests: specs built with overrides, YAML output (real engines: helpers.require_engine).

A module of its own (not conftest): tests import it as `tests.monitoring.alerting_helpers`.
"""

from __future__ import annotations

import socket
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

from monitoring.alerting_spec import AlertingSpec


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line strings (PromQL) as `|` blocks, so written files read like hand-written ones."""


def _str_representer(dumper: yaml.SafeDumper, value: str):
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_LiteralDumper.add_representer(str, _str_representer)


def to_yaml(data: object) -> str:
    return yaml.dump(data, Dumper=_LiteralDumper, sort_keys=False, width=1000, allow_unicode=True)


def write_yaml(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_yaml(data))
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_spec(**overrides) -> AlertingSpec:
    """A valid spec for environment "prod" with the given fields replaced (camelCase or snake)."""
    data = {"environment": "prod"}
    data.update(overrides)
    return AlertingSpec.model_validate(data)


ALL_RECEIVERS = {
    "pagerduty": {"enabled": True},
    "slack": {"enabled": True},
    "email": {
        "enabled": True,
        "to": "oncall@example.org",
        "from": "alertmanager@example.org",
        "smarthost": "smtp.example.org:587",
        "authUsername": "alertmanager",
    },
    "ticket": {"enabled": True, "url": "https://tickets.example.org/hooks/alertmanager"},
    "watchdog": {"enabled": True, "url": "https://deadman.example.org/ping/terrafusion"},
}
