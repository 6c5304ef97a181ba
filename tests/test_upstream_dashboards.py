"""Issue 9, class 6: kube-prometheus-stack's node/pod/namespace dashboards are in our Grafana, as the
pinned chart renders them. (The metrics contract checks their queries: tests/test_metrics_contract.py.)"""

from __future__ import annotations

import json

from monitoring.dashboards import (
    FOLDER_PERMISSIONS,
    KUBERNETES,
    build_upstream_dashboards,
    upstream,
)
from monitoring.datasources import THANOS_UID
from tools import upstream_dashboards

DASHBOARD = "grafana:oss/dashboard:Dashboard"


def test_vendored_dashboards_are_what_the_pinned_chart_renders():
    assert upstream_dashboards.stale() == []


def test_every_dashboard_of_the_chart_is_kept_or_excluded_with_a_reason():
    rendered = set(upstream_dashboards.render_dashboards())
    assert set(upstream.KEPT) | set(upstream.EXCLUDED) == rendered
    assert not set(upstream.KEPT) & set(upstream.EXCLUDED)
    assert all(upstream.EXCLUDED.values())


def test_the_foundational_views_are_kept():
    titles = {d.title for d in build_upstream_dashboards()}
    for view in ("Cluster", "Node (Pods)", "Namespace (Pods)", "Namespace (Workloads)", "Workload", "Pod"):
        assert f"Kubernetes / Compute Resources / {view}" in titles, view
    assert {"Node Exporter / Nodes", "Kubernetes / Persistent Volumes"} <= titles


def test_their_datasource_variable_defaults_to_thanos():
    for built in build_upstream_dashboards():
        (variable,) = [v for v in built.model["templating"]["list"] if v["type"] == "datasource"]
        assert variable["current"]["value"] == THANOS_UID, built.uid


def test_queries_of_series_the_stack_drops_are_left_out():
    for built in build_upstream_dashboards():
        assert not upstream.DROPPED_SERIES.search(json.dumps(built.model)), built.uid
    # ... and only those: the pod dashboard still has its memory panels.
    pod = next(d for d in build_upstream_dashboards() if d.title == "Kubernetes / Compute Resources / Pod")
    assert "container_memory_working_set_bytes" in json.dumps(pod.model)


def test_they_live_in_the_kubernetes_folder_which_operations_and_developers_view():
    assert {d.folder_uid for d in build_upstream_dashboards()} == {KUBERNETES.uid}
    assert FOLDER_PERMISSIONS[KUBERNETES.uid] == {"Operations": "View", "Developers": "View"}


def test_the_program_provisions_them_through_the_grafana_provider(prod):
    deployed = {json.loads(d.plain_inputs["configJson"])["uid"]: d.plain_inputs["folder"] for d in prod.of_type(DASHBOARD)}
    for built in build_upstream_dashboards():
        assert deployed.get(built.uid) == KUBERNETES.uid, built.title
