"""The recommended Kubernetes labels every object the program declares carries: one home, for the
plan (chart values) and the components (objects declared directly)."""

from __future__ import annotations

PART_OF = "terrafusion-monitoring"
MANAGED_BY = "pulumi"


def standard_labels(name: str, instance: str, component: str) -> dict[str, str]:
    """Recommended labels; `version` is deliberately absent so selectors survive upgrades.

    Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/
    """
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
    }
