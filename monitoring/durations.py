"""Prometheus-style durations: one parser for the whole project (stack settings, SLO windows,
rule catalogue), so a window written "24h" and one written "1d" are the same window.

Ref: https://prometheus.io/docs/prometheus/latest/configuration/configuration/#duration
(units largest first, each at most once).
"""

from __future__ import annotations

import re

_DURATION_RE = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$"
)
UNIT_SECONDS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus duration such as `15d` or `1h30m`; ValueError if it is not one."""
    match = _DURATION_RE.match(text) if isinstance(text, str) else None
    if not text or match is None or not any(match.groupdict().values()):
        raise ValueError("is not a duration (e.g. 15d, 36h, 1w)")
    return float(sum(int(v) * UNIT_SECONDS[unit] for unit, v in match.groupdict().items() if v))


def format_duration(seconds: float) -> str:
    """Shortest canonical form, largest unit first: 86400 -> "1d", 5400 -> "1h30m"."""
    remaining = int(round(seconds))
    parts = []
    # Weeks and years are left out on purpose: "30d" reads better than "4w2d" for SLO windows.
    for unit in ("d", "h", "m", "s"):
        count, remaining = divmod(remaining, UNIT_SECONDS[unit])
        if count:
            parts.append(f"{int(count)}{unit}")
    return "".join(parts) or "0s"


def canonical(text: str) -> str:
    """Canonical spelling of a duration: "24h" -> "1d"."""
    return format_duration(parse_duration(text))
