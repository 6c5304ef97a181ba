"""docs/alerting.md states the severity table as implemented."""

from __future__ import annotations

from alerting_helpers import REPO_ROOT

from monitoring.severity import SEVERITIES

DOC = (REPO_ROOT / "docs" / "alerting.md").read_text()


def test_docs_severity_table_matches_the_code():
    for severity, policy in SEVERITIES.items():
        row = next(line for line in DOC.splitlines() if line.startswith(f"| {severity.value} | {policy.meaning}"))
        assert policy.response_time in row and policy.escalation in row and policy.hours.value in row


def test_docs_grouping_table_matches_the_code():
    for severity, policy in SEVERITIES.items():
        t = policy.timing
        assert f"| {severity.value} | {t.group_wait} | {t.group_interval} | {t.repeat_interval} |" in DOC


def test_docs_link_the_runbook_index():
    assert "runbooks/index.md" in DOC
