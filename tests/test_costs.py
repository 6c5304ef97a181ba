"""OpenCost (`costs`): the stack file's prices reach the chart's pricing ConfigMap, OpenCost queries
the platform's Thanos Query Service and is scraped through its ServiceMonitor, and a stack with
`costs.enabled: false` has neither OpenCost nor its records nor the cost panels. The cost arithmetic
itself runs on real Prometheus engines in tests/dashboards/test_costs_live.py."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from plan import build_plan
from plan.settings import CostSettings
from plan.opencost import custom_pricing
from stacks.config import parse_settings
from tools import render
from tools.mockrun import read_stack_file

KEY = "terrafusion-monitoring"
STACKS = ("dev", "prod")
PRICE_KEYS = {"cpuCoreHourly": "CPU", "ramGiBHourly": "RAM", "storageGiBHourly": "storage", "gpuHourly": "GPU"}


def _raw(stack: str) -> dict[str, Any]:
    return {k.removeprefix(f"{KEY}:"): copy.deepcopy(v) for k, v in read_stack_file(stack).items()}


def _find(objects, kind: str, name: str | None = None, namespace: str | None = None) -> list[dict[str, Any]]:
    return [
        o
        for o in objects
        if o.get("kind") == kind
        and (name is None or o["metadata"]["name"] == name)
        and (namespace is None or o["metadata"].get("namespace") == namespace)
    ]


@pytest.fixture(scope="module", params=STACKS)
def stack(request, rendered_dirs) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render.read_objects(rendered_dirs[request.param])


def _opencost(objects) -> tuple[dict[str, Any], dict[str, str]]:
    (deployment,) = _find(objects, "Deployment", "opencost")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container, {e["name"]: e.get("value") for e in container["env"]}


def test_the_pricing_configmap_holds_the_stack_files_prices(stack):
    name, objects = stack
    costs = _raw(name)["costs"]
    _, env = _opencost(objects)
    (pricing,) = _find(objects, "ConfigMap", env["PRICING_CONFIGMAP_NAME"], env["INSTALL_NAMESPACE"])
    data = pricing["data"]
    assert {PRICE_KEYS[k]: float(data[PRICE_KEYS[k]]) for k in PRICE_KEYS} == {PRICE_KEYS[k]: float(costs[k]) for k in PRICE_KEYS}
    assert data["currencyCode"] == costs["currency"] and data["provider"] == "custom"
    # On-premises: no spot market, no per-GiB traffic bill.
    assert (data["spotCPU"], data["spotRAM"]) == (data["CPU"], data["RAM"])
    assert {data[k] for k in ("zoneNetworkEgress", "regionNetworkEgress", "internetNetworkEgress")} == {"0"}


def test_the_stack_prices_apply_even_on_a_cloud_cluster(stack):
    # prod runs on EKS: without the custom provider OpenCost would price nodes from AWS' list prices.
    _, env = _opencost(stack[1])
    assert env["USE_CUSTOM_PROVIDER"] == "true"


def test_opencost_queries_the_platforms_thanos_query_service(stack):
    _, objects = stack
    _, env = _opencost(objects)
    scheme, rest = env["PROMETHEUS_SERVER_ENDPOINT"].split("://")
    host, port = rest.split(":")
    service_name, namespace, _svc = host.split(".")
    (service,) = _find(objects, "Service", service_name, namespace)
    assert scheme == "http" and int(port) in {p["port"] for p in service["spec"]["ports"]}
    assert service["spec"]["selector"]["app.kubernetes.io/component"] == "query"


def test_prometheus_scrapes_opencost_keeping_the_allocated_containers_labels(stack):
    _, objects = stack
    container, _ = _opencost(objects)
    (monitor,) = _find(objects, "ServiceMonitor", "opencost")
    (endpoint,) = monitor["spec"]["endpoints"]
    (service,) = _find(objects, "Service", "opencost")
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == endpoint["port"]]
    assert port["targetPort"] in {p["containerPort"] for p in container["ports"]}
    assert endpoint["path"] == "/metrics" and endpoint["honorLabels"] is True
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()


def test_opencost_runs_alone_without_ui_mcp_or_kube_state_metrics_copies(stack):
    _, objects = stack
    container, env = _opencost(objects)
    (deployment,) = _find(objects, "Deployment", "opencost")
    assert [c["name"] for c in deployment["spec"]["template"]["spec"]["containers"]] == ["opencost"]
    assert [p["name"] for p in container["ports"]] == ["http"]
    assert (env["MCP_SERVER_ENABLED"], env["EMIT_KSM_V1_METRICS"], env["EMIT_KSM_V1_METRICS_ONLY"]) == ("false", "false", "false")
    assert not _find(objects, "ConfigMap", "opencost-ui-nginx-config")


def test_prices_reach_the_configmap_as_plain_decimals():
    # Helm would print 5.479e-05; OpenCost parses either, people read the ConfigMap.
    pricing = custom_pricing(CostSettings(storage_gib_hourly=5.479e-05, cpu_core_hourly=1e-07))
    assert (pricing["storage"], pricing["CPU"]) == ("0.00005479", "0.0000001")


def test_a_stack_without_opencost_has_no_cost_records_or_cost_panels():
    raw = _raw("dev")
    raw["costs"]["enabled"] = False
    plan = build_plan(parse_settings(raw))
    assert plan.opencost is None
    assert plan.alerting.rule_files["costs"] == {"groups": []}
    executive = next(d for d in plan.grafana_content.dashboards if d.uid == "tf-executive-overview")
    titles = {p["title"] for p in executive.model["panels"]}
    assert "Cost" not in titles and "Monthly cost (run rate)" not in titles
    assert "CPU reserved by workloads" in titles  # the rest of the dashboard stays


def test_the_plans_api_endpoint_is_the_charts_service(stack):
    name, objects = stack
    api = build_plan(parse_settings(_raw(name))).opencost.api
    (service,) = _find(objects, "Service", api.service, api.namespace)
    assert {p["name"]: p["port"] for p in service["spec"]["ports"]} == dict(api.ports)
