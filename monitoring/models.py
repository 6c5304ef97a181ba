"""The one base of every settings model in monitoring/: frozen, unknown keys rejected, camelCase
keys as stack files write them (snake_case accepted too, for Python callers and tests)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class SpecModel(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        defer_build=True,  # as plan/settings.py Model: built on first use, not at import
    )
