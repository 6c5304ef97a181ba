"""Kubernetes quantities and Prometheus byte sizes, as stack config writes them (durations are
parsed by monitoring.durations).

Pure functions, so validators and the render's resource totals share one definition.
"""

from __future__ import annotations

import re
from decimal import Decimal

# Ref: https://kubernetes.io/docs/reference/kubernetes-api/common-definitions/quantity/
_QUANTITY_RE = re.compile(r"^(?P<number>\d+(?:\.\d+)?)(?P<suffix>m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
_QUANTITY_FACTORS = {
    None: Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}

# Prometheus' retentionSize takes byte units with a B suffix (e.g. 50GB, 8GiB).
# Ref: https://prometheus.io/docs/prometheus/latest/storage/#operational-aspects
_BYTE_SIZE_RE = re.compile(r"^\d+(?:\.\d+)?(?:B|KB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB)$")


def quantity(text: str | int | float) -> Decimal:
    """Numeric value of a Kubernetes quantity (`500m` -> 0.5, `1Gi` -> 1073741824)."""
    match = _QUANTITY_RE.match(str(text))
    if match is None:
        raise ValueError("is not a Kubernetes quantity (e.g. 250m, 1, 512Mi, 2Gi)")
    return Decimal(match["number"]) * _QUANTITY_FACTORS[match["suffix"]]


def is_byte_size(text: str) -> bool:
    return bool(_BYTE_SIZE_RE.match(text))
