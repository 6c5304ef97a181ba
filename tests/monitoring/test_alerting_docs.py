"""docs/alerting.md states the severity table as implemented."""

from __future__ import annotations

from tests.monitoring.alerting_helpers import REPO_ROOT

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


def test_docs_list_every_upstream_rule_group_and_disabled_alert():
    from monitoring.severity import UPSTREAM_SEVERITY
    from monitoring.upstream_rules import DUPLICATES, NO_PRODUCER, RULE_GROUPS

    for group in RULE_GROUPS:
        assert f"| `{group.key}` | {'on' if group.enabled else '**off**'} |" in DOC, group.key
    for duplicate in DUPLICATES:
        assert f"| {duplicate.upstream} | {duplicate.ours} |" in DOC, duplicate.upstream
    for off in NO_PRODUCER:
        assert f"| {off.upstream} |" in DOC, off.upstream
    for upstream, level in UPSTREAM_SEVERITY.items():
        assert f"| `{upstream}` | {level.value} |" in DOC, upstream
