"""Helpers of the alerting tests: specs built with overrides, YAML output (real engines: helpers.require_engine).

A module of its own (not conftest): tests import it as `tests.monitoring.alerting_helpers`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]

from monitoring.alertmanager import DEFAULT_SECRETS_DIR, RouteOwner
from monitoring.alerting_spec import BUSINESS_HOURS_INTERVAL, AlertingSpec
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


def with_for(rule_files: dict[str, dict], duration: str, overrides: Mapping[str, str] | None = None) -> dict[str, dict]:
    """The rule files with every alert's `for:` replaced, so that a live test's alerts fire at once;
    `overrides`: alert name -> its own `for` instead (a test of pending state)."""
    files = copy.deepcopy(rule_files)
    for content in files.values():
        for group in content["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["for"] = (overrides or {}).get(rule["alert"], duration)
    return files


def always_active(config: dict) -> dict:
    """A built alertmanager.yml whose business hours are every hour of every day and whose
    maintenance windows lie in the past, so that a live test's P3/P4 leave at any time and nothing
    is muted (the routes keep naming both intervals)."""
    config = copy.deepcopy(config)
    for interval in config.get("time_intervals", []):
        if interval["name"] == BUSINESS_HOURS_INTERVAL:
            interval["time_intervals"] = [{"weekdays": ["sunday:saturday"], "times": [{"start_time": "00:00", "end_time": "24:00"}]}]
        else:
            interval["time_intervals"] = [{**t, "years": ["2000"]} for t in interval["time_intervals"]]
    return config


def recorded_receivers(config: dict, recorder_url: str, smtp_address: str, secrets_dir: Path) -> dict:
    """A built alertmanager.yml with every receiver pointed at the local recorders, each under its
    own name, so that what arrives says which receiver sent it: PagerDuty and webhooks (tickets,
    Watchdog) post to `<recorder>/<kind>/<receiver>` (a ticket URL keeps its queue parameter), Slack
    to the URL in a secret file of its own, `<recorder>/slack/<receiver>`, and email goes to the SMTP
    recorder as `<receiver>@example.org` (without TLS: the recorder has none). Run
    live_alertmanager_config first (it moves the other secret files to the test's directory)."""
    config = copy.deepcopy(config)
    secrets_dir.mkdir(parents=True, exist_ok=True)
    for receiver in config["receivers"]:
        name = receiver["name"]
        for pagerduty in receiver.get("pagerduty_configs", []):
            pagerduty["url"] = f"{recorder_url}/pagerduty/{name}"
        for slack in receiver.get("slack_configs", []):
            url_file = secrets_dir / f"slack-url-{name}"
            url_file.write_text(f"{recorder_url}/slack/{name}")
            slack["api_url_file"] = str(url_file)
        for mail in receiver.get("email_configs", []):
            mail.update(smarthost=smtp_address, require_tls=False, to=f"{name}@example.org")
        for webhook in receiver.get("webhook_configs", []):
            query = urlsplit(webhook["url"]).query
            webhook["url"] = f"{recorder_url}/webhook/{name}" + (f"?{query}" if query else "")
    return config


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
