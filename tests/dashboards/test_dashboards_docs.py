"""docs/dashboards.md stays in step with the code: every dashboard, folder and external metric."""

from __future__ import annotations

from tests.dashboards.dashboard_queries import EXTERNAL_OPERATOR_METRICS
from tests.helpers import ROOT

from monitoring.dashboards import FOLDER_PERMISSIONS, FOLDERS, upstream

DOC = (ROOT / "docs" / "dashboards.md").read_text()


def test_docs_table_lists_every_dashboard_by_uid(dashboards):
    for built in dashboards:
        assert f"`{built.uid}`" in DOC, built.uid


def test_docs_permission_table_matches_folder_permissions():
    header = next(line for line in DOC.splitlines() if line.startswith("| Folder (uid) |"))
    teams = [cell.strip() for cell in header.strip("|").split("|")][1:]
    for folder in FOLDERS:
        row = next(line for line in DOC.splitlines() if line.startswith(f"| {folder.title} (`{folder.uid}`) |"))
        cells = [cell.strip() for cell in row.strip("|").split("|")][1:]
        documented = {team: level for team, level in zip(teams, cells) if level}
        assert documented == FOLDER_PERMISSIONS[folder.uid], folder.uid


def test_docs_name_every_metric_of_the_optional_security_producers_and_their_settings():
    for metric, operator in EXTERNAL_OPERATOR_METRICS.items():
        assert f"`{metric}" in DOC and operator in DOC, metric
    assert "`security.trivyOperator.enabled`" in DOC and "`cluster.cni: cilium | other`" in DOC


def test_docs_name_the_pinned_sdk_version():
    pin = next(line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("grafana-foundation-sdk"))
    assert pin.split()[0] in DOC


def test_docs_tables_name_every_kept_and_excluded_upstream_dashboard_with_its_reason():
    for name, what in upstream.KEPT.items():
        row = next((line for line in DOC.splitlines() if line.startswith(f"| `{name}` (`kps-{name}`) |")), "")
        assert row.endswith(f"| {what} |"), name
    for name, why in upstream.EXCLUDED.items():
        row = next((line for line in DOC.splitlines() if line.startswith(f"| `{name}` |")), "")
        assert row.endswith(f"| {why} |"), name
