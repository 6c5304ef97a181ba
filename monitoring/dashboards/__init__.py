"""Dashboards as code: one module per audience, built with grafana-foundation-sdk.

Pure builders (no Pulumi import): the Pulumi side creates, from what this package returns,
- one Grafana folder per audience (`FOLDERS`),
- the teams (`TEAMS`, already declared in the stack files) and the folder permissions
  (`FOLDER_PERMISSIONS`: role-based access, folder uid -> team -> View/Edit/Admin),
- the dashboards of `build_dashboards(environment)`, each in its folder, `model` as config_json.

Panels refer to datasources only by the stable UIDs of monitoring/datasources.py.
Catalogue of dashboards and what each answers: docs/dashboards.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from monitoring.dashboards import _grafana, developer, executive, operational, security
from monitoring.dashboards import slos as slo_dashboard
from monitoring.slo_catalogue import SLO_CATALOGUE, Slo


@dataclass(frozen=True)
class FolderSpec:
    uid: str
    title: str
    audience: str


@dataclass(frozen=True)
class BuiltDashboard:
    uid: str
    title: str
    folder_uid: str
    model: dict


EXECUTIVE = FolderSpec(uid="tf-executive", title="Executive", audience="executives")
OPERATIONS = FolderSpec(uid="tf-operations", title="Operations", audience="operations")
DEVELOPERS = FolderSpec(uid="tf-developers", title="Developers", audience="developers")
SECURITY = FolderSpec(uid="tf-security", title="Security", audience="security")
SLO = FolderSpec(uid="tf-slo", title="Service level objectives", audience="everyone who owns or reports on an SLO")
# kube-prometheus-stack's node/pod/namespace/workload dashboards (monitoring/dashboards/upstream.py),
# loaded by Grafana's dashboard sidecar, whose provisioning creates this folder (plan/grafana.py).
KUBERNETES = FolderSpec(uid="tf-kubernetes", title="Kubernetes", audience="operations and developers")

FOLDERS: tuple[FolderSpec, ...] = (EXECUTIVE, OPERATIONS, DEVELOPERS, SECURITY, SLO, KUBERNETES)
# Folders Grafana's provisioning creates, not the Grafana provider: created by both, whichever came
# second would fail on the taken uid (provisioning creates its folder on every scan, files or not).
PROVISIONED_FOLDERS: tuple[FolderSpec, ...] = (KUBERNETES,)

# Team names as declared in the stack files (grafana.teams).
TEAMS: tuple[str, ...] = ("Executives", "Operations", "Developers", "Security")

# Role-based access, least privilege: each team edits the folder of its own audience (to try out
# panels before they move into code; provisioned dashboards are overwritten on the next deploy) and
# views only what its role needs. Operations runs the platform, so it may read every folder. No team
# gets Admin: folder administration stays with Grafana admins and this code. The Pulumi side sets
# these as the folder's *only* permissions, which removes Grafana's default Viewer/Editor role
# grants on the folder.
# Ref: https://grafana.com/docs/grafana/latest/administration/roles-and-permissions/#folder-permissions
FOLDER_PERMISSIONS: dict[str, dict[str, str]] = {
    EXECUTIVE.uid: {"Executives": "View", "Operations": "View"},
    OPERATIONS.uid: {"Operations": "Edit", "Developers": "View"},
    DEVELOPERS.uid: {"Developers": "Edit", "Operations": "View"},
    SECURITY.uid: {"Security": "Edit", "Operations": "View"},
    # SLOs are the shared language: executives report on them, developers own them, operations run them.
    SLO.uid: {"Operations": "Edit", "Developers": "View", "Executives": "View"},
    # Upstream dashboards, provisioned from the chart's ConfigMaps: nobody edits them here.
    KUBERNETES.uid: {"Operations": "View", "Developers": "View"},
}


def build_dashboards(
    environment: str,
    *,
    slos: Sequence[Slo] = SLO_CATALOGUE,
    without: frozenset[str] = frozenset(),
    costs_view: executive.CostView = executive.CostView(),
) -> list[BuiltDashboard]:
    """Every dashboard of a stack, in folder order; `environment` is the environment variable's default;
    `without`: optional producers the stack does not deploy (pass `effective_slos(spec, without)` too);
    `costs_view`: the currency and platform namespaces of the executive cost panels.

    Deterministic: the same arguments give byte-identical models (json.dumps with sort_keys).
    """
    builders = (
        (executive.UID, executive.TITLE, EXECUTIVE, executive.build(environment, without, costs_view)),
        (operational.UID, operational.TITLE, OPERATIONS, operational.build(environment, without)),
        (developer.UID, developer.TITLE, DEVELOPERS, developer.build(environment, without)),
        (security.UID, security.TITLE, SECURITY, security.build(environment, without)),
        (slo_dashboard.UID, slo_dashboard.TITLE, SLO, slo_dashboard.build(environment, slos)),
    )
    return [
        BuiltDashboard(uid=uid, title=title, folder_uid=folder.uid, model=_grafana.to_model(builder))
        for uid, title, folder, builder in builders
    ]
