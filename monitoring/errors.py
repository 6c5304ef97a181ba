"""The error a monitoring spec raises for a bad value: the key inside the spec, and what is wrong.

A spec does not know where it sits in a stack file (`SamplingSpec` is `jaeger.sampling`, but that is
the stack file's business): it names the key relative to itself, camelCase as stack files write it
(`overrides[0].probability`), and plan/settings.py, where settings are validated, puts the
stack-file prefix in front. A SpecError is a ValueError, so pydantic validators may raise it like
any other validation error.
"""

from __future__ import annotations


class SpecError(ValueError):
    """`key` relative to the spec that raised it ("" for the spec as a whole); `message` without it."""

    def __init__(self, key: str, message: str):
        super().__init__(f"{key}: {message}" if key else message)
        self.key = key
        self.message = message

    def under(self, prefix: str) -> SpecError:
        """The same error, its key seen from `prefix` (the enclosing section)."""
        return SpecError(join_key(prefix, self.key), self.message)


def join_key(prefix: str, key: str) -> str:
    """`prefix` and `key` as one key path: "a" + "b" is "a.b", "a" + "[0]" is "a[0]"."""
    if not prefix or not key:
        return prefix or key
    return f"{prefix}{key}" if key.startswith("[") else f"{prefix}.{key}"
