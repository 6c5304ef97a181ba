"""Issue 9, class 6: kube-prometheus-stack's node/pod/namespace dashboards reach our Grafana the way
the chart intends: as its ConfigMaps, labelled for Grafana's dashboard sidecar, with nothing of them
in this repository. Checked on the objects the offline render writes (real `helm template` of the
pinned charts with the program's values and object patches). (The metrics contract checks their
queries: tests/test_metrics_contract.py.)"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from plan.grafana import SERVICE_ACCOUNT_DIR, SIDECAR_ROLE
from monitoring.dashboards import (
    FOLDER_PERMISSIONS,
    KUBERNETES,
    PROVISIONED_FOLDERS,
    upstream,
)
from monitoring.datasources import THANOS_UID

STACKS = ("dev", "prod")
NAMESPACE = "monitoring"
GRAFANA = ("Deployment", NAMESPACE, "grafana")
FOLDER = "grafana:oss/folder:Folder"
DASHBOARD = "grafana:oss/dashboard:Dashboard"
PERMISSION = "grafana:oss/folderPermission:FolderPermission"


@pytest.fixture(scope="module")
def objects(rendered_objects) -> dict[str, list[dict[str, Any]]]:
    return rendered_objects


@pytest.fixture(params=STACKS)
def stack_objects(request, objects) -> list[dict[str, Any]]:
    return objects[request.param]


def _one(objs, kind: str, namespace: str, name: str) -> dict[str, Any]:
    (found,) = [
        o for o in objs
        if o["kind"] == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
    ]
    return found


def _dashboard_maps(objs) -> dict[str, dict[str, Any]]:
    """The chart's dashboard ConfigMaps, by dashboard name, whether labelled or not."""
    return {name: o for o in objs if (name := upstream.dashboard_name(o)) is not None}


def _labelled(objs) -> list[dict[str, Any]]:
    return [
        o for o in objs
        if o["kind"] == "ConfigMap" and (o["metadata"].get("labels") or {}).get(upstream.SIDECAR_LABEL) is not None
    ]


def _model(config_map: dict[str, Any]) -> dict[str, Any]:
    ((_, text),) = config_map["data"].items()
    return json.loads(text)


def _sidecar(objs) -> dict[str, Any]:
    pod = _one(objs, *GRAFANA)["spec"]["template"]["spec"]
    (container,) = [c for c in pod["containers"] if c["name"] == "grafana-sc-dashboard"]
    return container


# --- (1) which ConfigMaps the sidecar sees ----------------------------------------------------


def test_every_dashboard_the_chart_renders_is_kept_or_excluded_with_a_reason(stack_objects):
    rendered = set(_dashboard_maps(stack_objects))
    # Both stacks run on managed control planes (Pulumi.<stack>.yaml cluster.controlPlane).
    expected = set(upstream.KEPT) | (set(upstream.EXCLUDED) - set(upstream.EXCLUDED_BY_VALUES))
    assert rendered == expected - set(upstream.CONTROL_PLANE_DASHBOARDS)
    assert set(upstream.CONTROL_PLANE_DASHBOARDS) <= set(upstream.EXCLUDED)
    assert not set(upstream.KEPT) & set(upstream.EXCLUDED)
    assert set(upstream.EXCLUDED_BY_VALUES) <= set(upstream.EXCLUDED)
    assert all(upstream.KEPT.values()) and all(upstream.EXCLUDED.values())


def test_kept_dashboards_carry_the_sidecar_label_and_no_other_config_map_does(stack_objects):
    maps = _dashboard_maps(stack_objects)
    for name in upstream.KEPT:
        assert maps[name]["metadata"]["labels"][upstream.SIDECAR_LABEL] == upstream.SIDECAR_LABEL_VALUE, name
        assert maps[name]["metadata"]["namespace"] == NAMESPACE, name
    for name in set(upstream.EXCLUDED) & set(maps):
        assert upstream.SIDECAR_LABEL not in maps[name]["metadata"]["labels"], name
    # Nothing else in the cluster is labelled for the sidecar (another chart's dashboards, ours).
    assert {o["metadata"]["name"] for o in _labelled(stack_objects)} == {maps[name]["metadata"]["name"] for name in upstream.KEPT}


def test_the_foundational_views_are_kept(stack_objects):
    titles = {_model(o)["title"] for o in _labelled(stack_objects)}
    for view in ("Cluster", "Node (Pods)", "Namespace (Pods)", "Namespace (Workloads)", "Workload", "Pod"):
        assert f"Kubernetes / Compute Resources / {view}" in titles, view
    assert {"Node Exporter / Nodes", "Kubernetes / Persistent Volumes"} <= titles


def test_the_patch_fails_on_a_dashboard_nobody_decided_on(stack_objects):
    some = copy.deepcopy(_dashboard_maps(stack_objects)["nodes"])
    some["data"] = {"brand-new.json": some["data"]["nodes.json"]}
    with pytest.raises(upstream.UndecidedDashboardError, match="brand-new"):
        upstream.upstream_dashboard_patch(some)
    other = {"kind": "ConfigMap", "metadata": {"name": "x", "labels": {}}, "data": {"a.json": "{}"}}
    assert upstream.upstream_dashboard_patch(other) is other


# --- (4) what the kept dashboards query -------------------------------------------------------


def test_no_kept_dashboard_queries_a_series_the_stack_drops(stack_objects):
    for config_map in _labelled(stack_objects):
        assert not upstream.DROPPED_SERIES.search(json.dumps(_model(config_map))), config_map["metadata"]["name"]
    # ... and only those go: the pod dashboard still has its memory panels.
    pod = _model(_dashboard_maps(stack_objects)["k8s-resources-pod"])
    assert "container_memory_working_set_bytes" in json.dumps(pod)


def test_the_patch_removes_exactly_the_swap_queries():
    model = {
        "panels": [{"type": "row", "panels": [{"targets": [
            {"expr": "sum(container_memory_swap{})", "refId": "A"},
            {"expr": "sum(container_memory_rss{})", "refId": "B"},
        ]}]}],
        "templating": {"list": [{"type": "datasource", "query": "prometheus", "current": {"value": "default"}}]},
    }
    adapted = upstream.adapted_model(model)
    assert [t["refId"] for t in adapted["panels"][0]["panels"][0]["targets"]] == ["B"]
    assert adapted["templating"]["list"][0]["current"]["value"] == THANOS_UID


def test_their_datasource_variable_defaults_to_thanos(stack_objects):
    for config_map in _labelled(stack_objects):
        (variable,) = [v for v in _model(config_map)["templating"]["list"] if v["type"] == "datasource"]
        assert variable["query"] == "prometheus"
        assert variable["current"]["value"] == THANOS_UID, config_map["metadata"]["name"]


# --- (2) the sidecar loads exactly those, into the Kubernetes folder --------------------------


def test_grafanas_sidecar_watches_that_label_in_the_platform_namespace_only(stack_objects):
    env = {e["name"]: e.get("value") for e in _sidecar(stack_objects)["env"]}
    assert env["LABEL"] == upstream.SIDECAR_LABEL and env["LABEL_VALUE"] == upstream.SIDECAR_LABEL_VALUE
    assert env["NAMESPACE"] == NAMESPACE
    assert env["RESOURCE"] == "configmap"  # not Secrets
    # No reload call, so no admin credentials in the sidecar.
    assert not {"REQ_URL", "REQ_USERNAME", "REQ_PASSWORD"} & set(env)


def test_the_provider_puts_them_in_the_kubernetes_folder_read_only(stack_objects):
    import yaml

    provider = yaml.safe_load(_one(stack_objects, "ConfigMap", NAMESPACE, "grafana-config-dashboards")["data"]["provider.yaml"])
    (only,) = provider["providers"]
    assert (only["folder"], only["folderUid"]) == (KUBERNETES.title, KUBERNETES.uid)
    assert only["allowUiUpdates"] is False and only["options"]["foldersFromFilesStructure"] is False
    sidecar_dir = {m["mountPath"] for m in _sidecar(stack_objects)["volumeMounts"] if m["name"] == "sc-dashboard-volume"}
    assert sidecar_dir == {only["options"]["path"]}


def test_the_kubernetes_folder_is_grafanas_and_its_permissions_the_programs(prod):
    folders = {f.plain_inputs["uid"] for f in prod.of_type(FOLDER)}
    assert KUBERNETES in PROVISIONED_FOLDERS and KUBERNETES.uid not in folders
    (permission,) = [p for p in prod.of_type(PERMISSION) if p.plain_inputs["folderUid"] == KUBERNETES.uid]
    assert len(permission.plain_inputs["permissions"]) == len(FOLDER_PERMISSIONS[KUBERNETES.uid]) == 2
    assert {p["permission"] for p in permission.plain_inputs["permissions"]} == {"View"}
    # No kube-prometheus-stack dashboard goes through the Grafana provider any more.
    assert not any(json.loads(d.plain_inputs["configJson"])["uid"] == "6581e46e4e5c7ba40a07646395ef7b23" for d in prod.of_type(DASHBOARD))


# --- (3) what the sidecar may do with the API -------------------------------------------------


def _bindings_of_grafana(objs) -> list[dict[str, Any]]:
    return [
        o for o in objs
        if o["kind"] in ("RoleBinding", "ClusterRoleBinding")
        and any(s.get("kind") == "ServiceAccount" and s["name"] == "grafana" for s in o.get("subjects") or [])
    ]


def test_grafanas_service_account_reads_config_maps_of_its_namespace_and_nothing_more(stack_objects):
    (binding,) = _bindings_of_grafana(stack_objects)
    assert binding["kind"] == "RoleBinding" and binding["metadata"]["namespace"] == NAMESPACE
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": SIDECAR_ROLE}
    role = _one(stack_objects, "Role", NAMESPACE, SIDECAR_ROLE)
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}]
    # The chart's own Role/ClusterRole (configmaps *and secrets*) is not rendered.
    assert not [o for o in stack_objects if o["kind"] in ("Role", "ClusterRole") and o["metadata"]["name"].startswith("grafana")
                and o["metadata"]["name"] != SIDECAR_ROLE]


def test_only_the_sidecar_container_gets_a_token(stack_objects):
    pod = _one(stack_objects, *GRAFANA)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    token_volumes = {v["name"] for v in pod["volumes"] if any("serviceAccountToken" in s for s in (v.get("projected") or {}).get("sources", []))}
    (volume,) = token_volumes
    # What an in-cluster client reads there: token, CA, and the namespace (k8s-sidecar opens it).
    (projected,) = [v["projected"] for v in pod["volumes"] if v["name"] == volume]
    paths = {item["path"] for source in projected["sources"] for part in source.values() for item in part.get("items", [part])}
    assert paths == {"token", "ca.crt", "namespace"}
    for container in pod["containers"] + pod.get("initContainers", []):
        mounts = {m["name"]: m for m in container.get("volumeMounts") or []}
        if container["name"] == "grafana-sc-dashboard":
            assert mounts[volume]["mountPath"] == SERVICE_ACCOUNT_DIR and mounts[volume]["readOnly"] is True
        else:
            assert volume not in mounts, container["name"]
