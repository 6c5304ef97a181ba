"""docs/logs-and-traces.md states the retention table and the ports as implemented."""

from __future__ import annotations

import re
from pathlib import Path

from monitoring.fluentbit import FAMILY_LABEL
from monitoring.logs import LogFamily, LogsSpec, data_stream_name
from monitoring.otel import OTLP_GRPC_PORT, OTLP_HTTP_PORT
from monitoring.environments import POLICIES
from monitoring.tracing import SAMPLING_HTTP_PORT

DOC = (Path(__file__).resolve().parents[2] / "docs" / "logs-and-traces.md").read_text()


def _row(family: LogFamily) -> str:
    (row,) = [line for line in DOC.splitlines() if line.startswith(f"| `{family.value}` |")]
    return row


def test_docs_retention_table_matches_the_defaults():
    spec = LogsSpec()
    for family in LogFamily:
        settings = spec.family(family)
        cells = [c.strip() for c in _row(family).split("|")[1:-1]]
        assert f"`{data_stream_name(family)}`" == cells[1]
        assert cells[3] == f"{settings.rollover_max_age} / {settings.rollover_max_primary_shard_size}"
        assert re.match(rf"^(none|{settings.warm_after}\b)", cells[4]) and (settings.warm_after is None) == (cells[4] == "none")
        assert settings.delete_after in cells[5]


def test_docs_name_the_ports_label_and_default_probabilities():
    for text in (f":{OTLP_GRPC_PORT}", f":{OTLP_HTTP_PORT}", f":{SAMPLING_HTTP_PORT}", FAMILY_LABEL):
        assert text in DOC
    for policy in POLICIES.values():
        assert f"{policy.name} {policy.default_sampling_probability:g}" in DOC.replace("1.0", "1")
