"""Small PromQL helpers shared by the SLO builder and the rule catalogue."""

from __future__ import annotations

import re


def le_matcher(bound: float) -> str:
    """Label matcher for a histogram bucket bound that works on Prometheus 2.42 and 3.x.

    Prometheus 3 normalises bucket bounds on ingestion, so a whole-number bound scraped as `le="1"`
    is stored as `le="1.0"`; matching both spellings keeps one rule valid on both versions.
    Ref: https://prometheus.io/docs/prometheus/latest/migration/#le-and-quantile-label-values
    """
    if float(bound).is_integer():
        return f'le=~"{int(bound)}(\\\\.0)?"'
    return f'le="{format_number(bound)}"'


def format_number(value: float) -> str:
    """Shortest exact-looking decimal for a float: 0.001 not 0.0010000000000000009."""
    text = format(value, ".12g")
    return text


def camel(identifier: str) -> str:
    """"api-availability" -> "ApiAvailability"."""
    return "".join(part.capitalize() for part in re.split(r"[-_]", identifier) if part)


def kebab(alert_name: str) -> str:
    """"ApiAvailabilityBudgetBurn" -> "api-availability-budget-burn" (runbook page names)."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", alert_name)
    return text.lower()
