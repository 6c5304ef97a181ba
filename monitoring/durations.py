"""Prometheus-style durations ("5m", "1d", "30d"): parse, format, scale.

Rules and Alertmanager accept the same syntax; keeping one parser means a window written as "24h"
and one written as "1d" are recognised as the same window.
"""

from __future__ import annotations

import re

# Ref: https://prometheus.io/docs/prometheus/latest/querying/basics/#time-durations
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_WHOLE = re.compile(r"^(?:\d+(?:ms|s|m|h|d|w|y))+$")


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as "1h30m"; ValueError on anything else."""
    if not isinstance(text, str) or not _WHOLE.match(text):
        raise ValueError(f"not a Prometheus duration: {text!r} (expected e.g. '5m', '24h', '30d')")
    return float(sum(int(n) * _UNIT_SECONDS[u] for n, u in _PART.findall(text)))


def format_duration(seconds: float) -> str:
    """Shortest canonical form, largest unit first: 86400 -> "1d", 5400 -> "1h30m"."""
    if seconds <= 0:
        return "0s"
    remaining = int(round(seconds))
    parts = []
    # Weeks and years are left out on purpose: "30d" reads better than "4w2d" for SLO windows.
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{int(count)}{unit}")
    return "".join(parts) or "0s"


def canonical(text: str) -> str:
    """Canonical spelling of a duration: "24h" -> "1d"."""
    return format_duration(parse_duration(text))
