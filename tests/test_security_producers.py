"""The Security dashboard's producers: the Trivy Operator (`security.trivyOperator.enabled`) and the
cluster's Cilium CNI (`cluster.cni`). Each is deployed/scraped exactly when its setting says so, its
panels exist exactly then, and the rendered objects are what production needs (restricted scan Jobs,
ServiceMonitor on, least RBAC, a NetworkPolicy flow for the scrape)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from monitoring import metrics_contract as mc
from stacks.config import ConfigError, parse_settings
from tools import render
from tools.mockrun import read_stack_file

from tests import pod_security_evaluator as pse
from tests import renders

KEY = "terrafusion-monitoring"
TRIVY_SERIES = ("trivy_image_vulnerabilities", "trivy_image_exposedsecrets", "trivy_resource_configaudits", "trivy_cluster_compliance")
DROPS_PANEL = "Packets dropped by network policy"


@pytest.fixture(scope="module")
def stacks(rendered_dirs, tmp_path_factory) -> dict[str, Path]:
    """dev and prod as they are (cni other; Trivy off in dev, on in prod), and prod on Cilium."""
    return {**rendered_dirs, "prod-cilium": renders.shared_render(tmp_path_factory, "prod", {"cluster.cni": "cilium"})}


def _objects(out: Path) -> list[dict[str, Any]]:
    return render.read_objects(out)


def _find(objects, kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objects if o.get("kind") == kind and o["metadata"]["name"] == name]
    return found


def _panel_titles(out: Path) -> set[str]:
    model = json.loads((out / "grafana" / "dashboards" / "tf-security.json").read_text())
    return {p["title"] for p in model["panels"]}


def _raw(stack: str) -> dict[str, Any]:
    return {k.removeprefix(f"{KEY}:"): copy.deepcopy(v) for k, v in read_stack_file(stack).items()}


# --- cluster.cni -----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_stack_says_which_cni_it_has(stack):
    raw = _raw(stack)
    assert raw["cluster"]["cni"] in ("cilium", "other")
    del raw["cluster"]["cni"]
    with pytest.raises(ConfigError) as error:
        parse_settings(raw)
    assert str(error.value) == f"{KEY}:cluster.cni: is required but not set"


def test_an_unknown_cni_is_one_line_naming_the_key():
    raw = _raw("dev")
    raw["cluster"]["cni"] = "calico"
    with pytest.raises(ConfigError) as error:
        parse_settings(raw)
    assert str(error.value).startswith(f"{KEY}:cluster.cni: 'calico' ") and "\n" not in str(error.value)


def test_cilium_is_scraped_and_its_panel_shown_only_when_declared(stacks):
    objects = _objects(stacks["prod-cilium"])
    monitors = {o["metadata"]["name"]: o["spec"] for o in objects if o.get("kind") == "PodMonitor"}
    assert {n: (m["namespaceSelector"], m["selector"], [e["port"] for e in m["podMetricsEndpoints"]]) for n, m in monitors.items()} == {
        "cilium-agent": ({"matchNames": ["kube-system"]}, {"matchLabels": {"k8s-app": "cilium"}}, ["prometheus"]),
        "hubble": ({"matchNames": ["kube-system"]}, {"matchLabels": {"k8s-app": "cilium"}}, ["hubble-metrics"]),
    }
    assert {"cilium-agent", "hubble"} <= mc.inventory_from_render(stacks["prod-cilium"]).producers
    assert DROPS_PANEL in _panel_titles(stacks["prod-cilium"])
    for stack in ("dev", "prod"):
        assert not [o for o in _objects(stacks[stack]) if o.get("kind") == "PodMonitor"]
        assert not {"cilium-agent", "hubble"} & mc.inventory_from_render(stacks[stack]).producers
        assert DROPS_PANEL not in _panel_titles(stacks[stack])


def test_on_cilium_every_expression_still_has_its_producer(stacks):
    _, _, problems = mc.check_stack("prod", stacks["prod-cilium"])
    assert problems == [], mc.format_problems(problems)


# --- the Trivy Operator ------------------------------------------------------------------------------


def _trivy_panels(out: Path) -> list[str]:
    return [e.name for e in mc.collect_expressions("x", out) if e.source == "panel" and any(s in e.expr for s in TRIVY_SERIES)]


def test_trivy_operator_is_deployed_and_read_exactly_where_enabled(stacks):
    prod, dev = _objects(stacks["prod"]), _objects(stacks["dev"])
    assert _find(prod, "Deployment", "trivy-operator")
    assert not [o for o in dev if o["metadata"]["name"].startswith("trivy-operator")]
    assert "trivy-operator" in mc.inventory_from_render(stacks["prod"]).producers
    assert "trivy-operator" not in mc.inventory_from_render(stacks["dev"]).producers
    assert len(_trivy_panels(stacks["prod"])) == 8 and _trivy_panels(stacks["dev"]) == []


def test_trivy_operator_is_scraped_through_its_service_monitor_and_a_network_policy(stacks):
    objects = _objects(stacks["prod"])
    monitor = _find(objects, "ServiceMonitor", "trivy-operator")
    assert [e["port"] for e in monitor["spec"]["endpoints"]] == ["metrics"]
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True  # the reports' `namespace` wins
    policy = _find(objects, "NetworkPolicy", "ingress-to-trivy-operator")
    assert policy["spec"]["podSelector"] == {"matchLabels": {"app.kubernetes.io/name": "trivy-operator"}}
    (rule,) = policy["spec"]["ingress"]
    assert rule["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert rule["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "prometheus"


def test_trivy_scan_jobs_are_restricted_pods_without_a_token(stacks):
    objects = _objects(stacks["prod"])
    config = _find(objects, "ConfigMap", "trivy-operator")
    assert config["data"]["vulnerabilityReports.scanJobsInSameNamespace"] == "false"  # the operator's namespace
    (scan,) = [p for p in pse.operator_pods(objects) if p.owner.endswith("[scan-job]")]
    assert scan.namespace == "monitoring"
    assert pse.evaluate(scan.spec, "restricted") == []
    assert scan.spec["automountServiceAccountToken"] is False
    deployment = _find(objects, "Deployment", "trivy-operator")
    assert pse.evaluate(deployment["spec"]["template"]["spec"], "restricted") == []


def test_trivy_operator_rbac_leaves_out_what_we_do_not_use(stacks):
    objects = _objects(stacks["prod"])
    cluster_rules = [r for o in objects if o.get("kind") == "ClusterRole" and o["metadata"]["name"] == "trivy-operator" for r in o["rules"]]
    # operator.accessGlobalSecretsAndServiceAccount: false -> no cluster-wide Secrets, no nodes/proxy.
    assert not [r for r in cluster_rules if {"secrets", "nodes/proxy", "serviceaccounts"} & set(r["resources"])]
    config = _find(objects, "ConfigMap", "trivy-operator-config")["data"]
    assert config["OPERATOR_INFRA_ASSESSMENT_SCANNER_ENABLED"] == "false"  # node-collector needs host paths
    assert config["OPERATOR_SBOM_GENERATION_ENABLED"] == "false"
    specs = {o["metadata"]["name"] for o in objects if o.get("kind") == "ClusterComplianceReport"}
    assert specs == {"k8s-pss-baseline-0.1", "k8s-pss-restricted-0.1"}
