"""Helpers of the alerting tests: specs built with overrides, YAML output (real engines: helpers.require_engine).

A module of its own (not conftest): tests import it as `tests.monitoring.alerting_helpers`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

from monitoring.alertmanager import DEFAULT_SECRETS_DIR, RouteOwner
from monitoring.alerting_spec import AlertingSpec
from monitoring.severity import RouteTiming, Severity


class _LiteralDumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """Multi-line strings (PromQL) as `|` blocks, so written files read like hand-written ones.
    libyaml's emitter when PyYAML has it: the promtool cases hold long series strings, which the
    pure-Python emitter scans character by character."""


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



# Three areas of two teams: the API team owns two areas (one Slack channel and queue for both), the
# platform area is the fallback (components, and services nobody owns).
API = RouteOwner("api", "api-team", ("checkout", "search"), "#team-api", "API")
PAYMENTS = RouteOwner("payments", "api-team", ("payments",), "#team-api", "API")
DATABASE = RouteOwner("database", "data-team", ("postgres",), "#team-data", "DATA")
PLATFORM = RouteOwner("platform", "platform-team", (), "#team-platform", "PLAT", fallback=True)
OWNERS = (API, PAYMENTS, DATABASE, PLATFORM)


# --- the live tests' knobs (they change built output; the builders know nothing of them) -------------


def with_for(rule_files: dict[str, dict], duration: str) -> dict[str, dict]:
    """The rule files with every alert's `for:` replaced, so that a live test's alerts fire at once."""
    files = copy.deepcopy(rule_files)
    for content in files.values():
        for group in content["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["for"] = duration
    return files


def live_alertmanager_config(
    config: dict, secrets_dir: str | None = None, timing: Mapping[Severity, RouteTiming] | None = None
) -> dict:
    """A built alertmanager.yml with the receivers' secret files read from `secrets_dir` instead of
    the mounted Secret, and the grouping timers of the severities in `timing` replaced (the top route
    and the catch-all carry P3's, as the builder gives them)."""
    config = copy.deepcopy(config)

    def move(node):
        if isinstance(node, dict):
            return {k: move(v) for k, v in node.items()}
        if isinstance(node, list):
            return [move(v) for v in node]
        if secrets_dir and isinstance(node, str) and node.startswith(DEFAULT_SECRETS_DIR + "/"):
            return secrets_dir.rstrip("/") + node[len(DEFAULT_SECRETS_DIR):]
        return node

    config = move(config)
    timers = {s: t for s, t in (timing or {}).items()}

    def set_timers(route: dict, severity: Severity) -> None:
        if severity in timers:
            t = timers[severity]
            route.update(group_wait=t.group_wait, group_interval=t.group_interval, repeat_interval=t.repeat_interval)

    set_timers(config["route"], Severity.P3)
    for route in config["route"]["routes"]:
        matchers = route.get("matchers")
        if matchers is None:
            set_timers(route, Severity.P3)
        for matcher in matchers or []:
            if matcher.startswith("severity="):
                set_timers(route, Severity(matcher.split('"')[1]))
    return config
