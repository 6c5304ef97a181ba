"""The Grafana, Grafana content, Trivy Operator and CNI slices of the plan (plan/grafana.py,
plan/grafana_content.py, plan/trivy_operator.py, plan/cni.py): the endpoints they define are what
the charts render, and the objects the program declares are the plan's."""

from __future__ import annotations

import json
from typing import Any

import pytest

STACKS = ("dev", "prod")


def _one(objects: list[dict[str, Any]], kind: str, namespace: str, name: str) -> dict[str, Any]:
    (found,) = [
        o for o in objects
        if o.get("kind") == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
    ]  # fmt: skip
    return found


@pytest.mark.parametrize("stack", STACKS)
def test_grafana_endpoint_is_the_charts_service(stack, dev, prod, rendered_objects):
    run = {"dev": dev, "prod": prod}[stack]
    endpoint = run.result.plan.grafana.endpoint
    service = _one(rendered_objects[stack], "Service", endpoint.namespace, endpoint.service)
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == dict(endpoint.ports)
    assert service["spec"]["type"] == "ClusterIP" and endpoint.scheme == "http"
    # The pods behind it carry the labels the plan says other parts select Grafana by.
    deployment = _one(rendered_objects[stack], "Deployment", endpoint.namespace, endpoint.service)
    assert dict(run.result.plan.grafana.pod_labels).items() <= deployment["spec"]["template"]["metadata"]["labels"].items()
    # The stack's in-cluster Grafana address is exactly the endpoint's.
    assert run.outputs["endpoints"]["grafana_in_cluster"] == endpoint.url()


def test_trivy_operator_metrics_endpoint_is_the_charts_headless_service(prod, rendered_objects):
    trivy = prod.result.plan.trivy_operator
    endpoint = trivy.metrics
    service = _one(rendered_objects["prod"], "Service", endpoint.namespace, endpoint.service)
    # Headless: the name resolves to the pods, so a client reaches the container port itself.
    assert service["spec"]["clusterIP"] == "None"
    (port_name,) = endpoint.ports
    (service_port,) = [p for p in service["spec"]["ports"] if p["name"] == port_name]
    deployment = _one(rendered_objects["prod"], "Deployment", endpoint.namespace, endpoint.service)
    pod = deployment["spec"]["template"]
    container_ports = {p["name"]: p["containerPort"] for c in pod["spec"]["containers"] for p in c.get("ports", [])}
    assert container_ports[service_port["targetPort"]] == endpoint.port(port_name)
    assert dict(trivy.pod_labels).items() <= pod["metadata"]["labels"].items()
    # The chart's ServiceMonitor scrapes it by that port name.
    monitor = _one(rendered_objects["prod"], "ServiceMonitor", endpoint.namespace, endpoint.service)
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == [port_name]


def test_trivy_operator_and_cni_slices_exist_exactly_when_deployed(dev, prod, stack):
    assert dev.result.plan.trivy_operator is None and prod.result.plan.trivy_operator is not None
    assert dev.result.plan.cni is None and prod.result.plan.cni is None
    cilium = stack("prod", {"cluster.cni": "cilium"})
    monitors = {
        r.plain_inputs["metadata"]["name"]: r.plain_inputs["spec"]
        for r in cilium.of_type("kubernetes:monitoring.coreos.com/v1:PodMonitor")
    }
    assert monitors == {name: dict(spec) for name, spec in cilium.result.plan.cni.pod_monitors.items()}


@pytest.mark.parametrize("stack", STACKS)
def test_grafana_content_declares_the_plans_teams_folders_and_dashboards(stack, dev, prod):
    run = {"dev": dev, "prod": prod}[stack]
    content = run.result.plan.grafana_content
    assert sorted(t.inputs["name"] for t in run.of_type("grafana:oss/team:Team")) == sorted(t.name for t in content.teams)
    assert sorted(f.inputs["uid"] for f in run.of_type("grafana:oss/folder:Folder")) == sorted(f.uid for f in content.folders)
    permissions = {p.inputs["folderUid"] for p in run.of_type("grafana:oss/folderPermission:FolderPermission")}
    assert permissions == set(content.folder_permissions)
    deployed = {json.loads(d.plain_inputs["configJson"])["uid"] for d in run.of_type("grafana:oss/dashboard:Dashboard")}
    assert deployed == {d.uid for d in content.dashboards}
