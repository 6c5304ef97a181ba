"""Reading a stack's Pulumi config into StackSettings and StackSecrets, once, before any resource.

Plain values are read with `get_object` (YAML objects arrive as JSON) and validated as a whole; a
bad value stops the program with one message per problem, each naming the config key. Secrets are
read with `require_secret`/`get_secret` only, because `get_object` drops the secret flag.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import pulumi
import pydantic
from pulumi.runtime import config as runtime_config

from monitoring.errors import SpecError
from plan import Plan, PlanError, build_plan
from plan.secrets import SecretKey, all_secrets
from plan.settings import StackSettings, stack_file_key

PROJECT = "terrafusion-monitoring"


class ConfigError(pulumi.RunError):
    """A stack config problem; Pulumi prints RunError messages without a traceback."""


@dataclass(frozen=True)
class StackSecrets:
    """Secret config values, kept as secret Outputs from the moment they are read."""

    values: Mapping[str, pulumi.Output[str]]

    def __getitem__(self, key: str) -> pulumi.Output[str]:
        return self.values[key]

    def get(self, key: str) -> pulumi.Output[str] | None:
        return self.values.get(key)


def _secret_key_names() -> set[str]:
    return {s.key for s in all_secrets()}


_NAMED_MESSAGE = re.compile(r"^(?P<key>[A-Za-z0-9_.-]+(\[\d+\])?): (?P<rest>.*)$", re.DOTALL)

SETTINGS_KEYS = frozenset(
    field.alias or name for name, field in StackSettings.model_fields.items()
)
SECRET_KEYS = frozenset(_secret_key_names())


def format_validation_error(error: pydantic.ValidationError) -> str:
    """One line per problem, each starting with the full config key, e.g.

    terrafusion-monitoring:prometheus.retention: '-3d' is not a duration (e.g. 15d, 36h, 1w)
    """
    lines = []
    for problem in error.errors(include_url=False):
        # A monitoring spec names the key inside itself; the settings models know where it sits.
        if isinstance(spec_error := (problem.get("ctx") or {}).get("error"), SpecError):
            lines.append(f"{PROJECT}:{stack_file_key(problem['loc'], spec_error.key)}: {spec_error.message}")
            continue
        path = [str(part) for part in problem["loc"]]
        message = problem["msg"].removeprefix("Value error, ")
        # Cross-field validators name the offending sub-key first ("retentionRaw: ...").
        if problem["type"] == "value_error" and (named := _NAMED_MESSAGE.match(message)):
            # A message may name its key from the section root ("alerting.receivers...").
            if path and named["key"].split(".")[0] == path[0]:
                path = [named["key"]]
            else:
                path.append(named["key"])
            message = named["rest"]
        key = f"{PROJECT}:{'.'.join(path)}"
        if problem["type"] == "missing":
            lines.append(f"{key}: is required but not set")
        elif not isinstance(problem.get("input"), (dict, list, tuple)) and problem["type"] != "value_error":
            lines.append(f"{key}: {problem['input']!r} {message[0].lower()}{message[1:]}")
        elif problem["type"] == "value_error" and not named and "input" in problem and not isinstance(problem["input"], (dict, list)):
            lines.append(f"{key}: {problem['input']!r} {message}")
        else:
            lines.append(f"{key}: {message}")
    return "\n".join(lines)


def parse_settings(raw: Mapping[str, Any]) -> StackSettings:
    """Validate raw config (top-level key -> value, project namespace stripped)."""
    unknown = sorted(set(raw) - SETTINGS_KEYS - SECRET_KEYS)
    if unknown:
        raise ConfigError(
            "\n".join(f"{PROJECT}:{key}: unknown config key (typo?)" for key in unknown)
        )
    if not raw:
        # An empty stack file: one line, not one per required section.
        raise ConfigError(
            f"{PROJECT}:environment: is required but not set; the stack has no settings at all "
            "(an empty stack file? start from Pulumi.dev.yaml)"
        )
    plain = {k: v for k, v in raw.items() if k in SETTINGS_KEYS}
    try:
        key = json.dumps(plain, sort_keys=True)
    except (TypeError, ValueError):  # not JSON (Pulumi's config always is): validated uncached
        return _validate(plain)
    return _validated(key)


# The same settings are validated once per process (StackSettings is frozen): the mock harness
# parses a stack twice per run (required secrets, then the program), tests many times.
@functools.lru_cache(maxsize=32)
def _validated(raw_json: str) -> StackSettings:
    return _validate(json.loads(raw_json))


def _validate(plain: Mapping[str, Any]) -> StackSettings:
    try:
        return StackSettings.model_validate(plain)
    except pydantic.ValidationError as error:
        raise ConfigError(format_validation_error(error)) from None


def _project_keys_present() -> set[str]:
    """Keys set in the project namespace, from wherever the runtime got its config."""
    keys = set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())
    prefix = f"{PROJECT}:"
    return {k.removeprefix(prefix) for k in keys if k.startswith(prefix)}


def _plain_text_secrets(keys: set[str]) -> list[str]:
    """Secret keys set without `--secret`: readable by anyone with the stack file, and in the state.
    The CLI's language host lists the secret keys in PULUMI_CONFIG_SECRET_KEYS; the mocks and the
    Automation API set them with set_all_config, which is_config_secret reads.
    Ref: pulumi/pulumi sdk/python/lib/pulumi/runtime/config.py (get_config_secret_keys_env, is_config_secret)"""
    secret = set(runtime_config.get_config_secret_keys_env())
    return sorted(
        k for k in keys & SECRET_KEYS
        if f"{PROJECT}:{k}" not in secret and not runtime_config.is_config_secret(f"{PROJECT}:{k}")
    )


def load_settings(config: pulumi.Config | None = None) -> StackSettings:
    config = config or pulumi.Config(PROJECT)
    present = _project_keys_present()
    if plain_secrets := _plain_text_secrets(present):
        raise ConfigError("\n".join(
            f"{PROJECT}:{key}: is set in plain text but is a secret; set it with "
            f"`pulumi config set --secret {key} <value>`"
            for key in plain_secrets
        ))  # fmt: skip
    raw: dict[str, Any] = {}
    for key in sorted(present):
        if key in SECRET_KEYS:
            continue
        try:
            raw[key] = config.get_object(key)
        except pulumi.ConfigTypeError:
            # Scalars such as `environment: dev` are not JSON; take them as strings.
            raw[key] = config.get(key)
    return parse_settings(raw)


def plan_stack(settings: StackSettings) -> Plan:
    """The stack's plan (plan/__init__.py); what it cannot be built from is a ConfigError, one line
    per problem with its key, like a settings error: raised before any resource exists."""
    try:
        key = settings.model_dump_json()
        if (plan := _PLANS.get(key)) is None:
            plan = build_plan(settings)
            if len(_PLANS) >= 32:
                _PLANS.pop(next(iter(_PLANS)))
            _PLANS[key] = plan
        return plan
    except PlanError as error:
        raise ConfigError("\n".join(f"{PROJECT}:{problem}" for problem in error.problems)) from None


# One plan per settings value and process, like `_validated` (the plan is immutable data); keyed by
# the settings' JSON, since a model holding dicts (extraValues) has no hash.
_PLANS: dict[str, Plan] = {}


def load_secrets(needed: Sequence[SecretKey], config: pulumi.Config | None = None) -> StackSecrets:
    """Read the secrets the stack needs (its plan's `secrets`); a missing one is a ConfigError that
    says how to set it."""
    config = config or pulumi.Config(PROJECT)
    missing = [s for s in needed if config.get_secret(s.key) is None]
    if missing:
        raise ConfigError(
            "\n".join(
                f"{PROJECT}:{s.key}: is required ({s.description}); "
                f"set it with `pulumi config set --secret {s.key} <value>`"
                for s in missing
            )
        )
    # A value set in plain text was refused by load_settings (`_plain_text_secrets`), which runs first.
    values = {s.key: config.require_secret(s.key) for s in needed}
    return StackSecrets(values=values)
