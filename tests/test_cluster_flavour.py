"""What depends on the cluster the platform lands on: whether its control plane can be scraped
(`cluster.controlPlane`), and the collector's public OTLP/HTTP endpoint for browsers
(`otelCollector.ingress`). Both flavours of a stack render objects that pass the cluster checks."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from plan.prometheus_stack import CONTROL_PLANE_TARGETS
from monitoring import metrics_contract
from monitoring.otel import OTLP_HTTP_PORT
from stacks.config import ConfigError, parse_settings
from tools import checks, render
from tools.mockrun import read_stack_file

from tests import renders

KEY = "terrafusion-monitoring"
CONTROL_PLANE_JOBS = {f"kps-{job}" for job in ("kube-etcd", "kube-scheduler", "kube-controller-manager", "kube-proxy")}
CONTROL_PLANE_PRODUCERS = set(CONTROL_PLANE_TARGETS.values())


@pytest.fixture(scope="module")
def flavours(rendered_dirs, tmp_path_factory) -> dict[str, Path]:
    """prod as it is (managed) and as a self-hosted cluster. Shared read-only (tests/renders.py)."""
    return {
        "managed": rendered_dirs["prod"],
        "self-hosted": renders.shared_render(tmp_path_factory, "prod", {"cluster.controlPlane": "self-hosted"}),
    }


def _raw(stack: str) -> dict[str, Any]:
    config = read_stack_file(stack)
    return {k.removeprefix(f"{KEY}:"): copy.deepcopy(v) for k, v in config.items()}


def _error(raw: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as error:
        parse_settings(raw)
    return str(error.value)


# --- cluster.controlPlane -------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_stack_says_which_control_plane_it_has(stack):
    raw = _raw(stack)
    assert raw["cluster"]["controlPlane"] in ("managed", "self-hosted")
    del raw["cluster"]["controlPlane"]
    assert _error(raw) == f"{KEY}:cluster.controlPlane: is required but not set"


def test_an_unknown_control_plane_is_one_line_naming_the_key():
    raw = _raw("dev")
    raw["cluster"]["controlPlane"] = "eks"
    message = _error(raw)
    assert message.startswith(f"{KEY}:cluster.controlPlane: 'eks' ") and "\n" not in message


def _objects(out: Path) -> list[dict[str, Any]]:
    return render.read_objects(out)


def _control_plane_objects(objects) -> set[str]:
    return {
        f"{o['kind']}/{o['metadata']['name']}"
        for o in objects
        if o.get("kind") in ("Service", "ServiceMonitor", "Endpoints") and o["metadata"]["name"] in CONTROL_PLANE_JOBS
    }


def test_a_managed_control_plane_is_not_scraped(flavours):
    objects = _objects(flavours["managed"])
    assert _control_plane_objects(objects) == set()
    # What is left in kube-system is what every cluster has: CoreDNS (the kubelet Service is the operator's).
    assert {o["metadata"]["name"] for o in objects if o["metadata"].get("namespace") == "kube-system"} == {"kps-coredns"}


def test_a_self_hosted_control_plane_is_scraped(flavours):
    objects = _objects(flavours["self-hosted"])
    assert _control_plane_objects(objects) == {f"{kind}/{job}" for kind in ("Service", "ServiceMonitor") for job in CONTROL_PLANE_JOBS}


@pytest.mark.parametrize("flavour", ["managed", "self-hosted"])
def test_both_flavours_render_objects_that_pass_the_cluster_checks(flavours, flavour):
    assert checks.check_objects(flavours[flavour]) == []


@pytest.mark.parametrize("flavour", ["managed", "self-hosted"])
def test_the_metrics_contract_deploys_control_plane_producers_only_when_scraped(flavours, flavour):
    producers = metrics_contract.inventory_from_render(flavours[flavour]).producers
    expected = CONTROL_PLANE_PRODUCERS if flavour == "self-hosted" else set()
    assert set(producers) & CONTROL_PLANE_PRODUCERS == expected


def test_a_rule_reading_etcd_has_no_producer_on_a_managed_cluster(flavours, tmp_path):
    """The contract check (the metric_gaps ratchet) fails a managed stack whose rule reads a
    control-plane family, and accepts it where that family is scraped."""
    rule = {"groups": [{"name": "etcd", "rules": [{"alert": "EtcdNoLeader", "expr": "etcd_server_has_leader == 0"}]}]}
    found = {}
    for flavour, shared in flavours.items():
        # check_stack reads the render's directories: the rule goes next to the rendered ones.
        out = renders.private_copy(shared, tmp_path / flavour)
        (out / "prometheus" / "rules" / "zz-etcd.yaml").write_text(yaml.safe_dump(rule))
        _, _, problems = metrics_contract.check_stack("prod", out)
        found[flavour] = {(p.kind, p.metric) for p in problems if p.metric == "etcd_server_has_leader"}
    assert found["managed"] == {("no-producer", "etcd_server_has_leader")}
    assert found["self-hosted"] == set()


# --- otelCollector.ingress ------------------------------------------------------------------------


def _ingress(objects) -> dict[str, Any]:
    (found,) = [o for o in objects if o.get("kind") == "Ingress" and o["metadata"]["name"] == "otel-collector"]
    return found


def test_prod_browsers_reach_the_collector_over_https_with_a_cert_manager_certificate(flavours):
    ingress = _ingress(_objects(flavours["managed"]))
    assert ingress["metadata"]["annotations"] == {"cert-manager.io/cluster-issuer": "letsencrypt-prod"}
    assert ingress["spec"]["ingressClassName"] == "nginx"
    assert ingress["spec"]["tls"] == [{"hosts": ["otel.terrafusion.example"], "secretName": "otel-collector-tls"}]
    (rule,) = ingress["spec"]["rules"]
    assert rule["host"] == "otel.terrafusion.example"


@pytest.mark.parametrize("flavour", ["managed"])
def test_the_ingress_exposes_only_the_otlp_http_port_and_the_signals_a_pipeline_takes(flavours, flavour):
    objects = _objects(flavours[flavour])
    paths = [p for rule in _ingress(objects)["spec"]["rules"] for p in rule["http"]["paths"]]
    assert {p["backend"]["service"]["port"]["number"] for p in paths} == {OTLP_HTTP_PORT}
    assert {p["pathType"] for p in paths} == {"Exact"}
    (config_map,) = [o for o in objects if o.get("kind") == "ConfigMap" and o["metadata"]["name"] == "otel-collector"]
    pipelines = yaml.safe_load(config_map["data"]["relay"])["service"]["pipelines"]
    signals = {name.split("/")[0] for name, p in pipelines.items() if "otlp" in p["receivers"]}
    # /v1/logs: browsers send their events as OTLP log records (the logs/events pipeline, monitoring/otel.py).
    assert {p["path"] for p in paths} == {f"/v1/{s}" for s in signals} == {"/v1/traces", "/v1/metrics", "/v1/logs"}


def test_the_ingress_does_not_answer_cors_itself(flavours):
    """The receiver answers CORS for `corsOrigins`; a second set of headers breaks browsers."""
    annotations = _ingress(_objects(flavours["managed"]))["metadata"].get("annotations") or {}
    assert not [key for key in annotations if "cors" in key]


def test_dev_has_a_plain_http_collector_ingress(rendered_objects):
    objects = rendered_objects["dev"]
    ingress = _ingress(objects)
    assert "tls" not in ingress["spec"] and not (ingress["metadata"].get("annotations") or {})
    assert ingress["spec"]["rules"][0]["host"] == "otel.localtest.me"


def test_cors_origins_without_an_ingress_are_refused():
    raw = _raw("dev")
    raw["otelCollector"]["ingress"] = {"enabled": False}
    assert _error(raw).startswith(f"{KEY}:otelCollector.ingress.enabled: is false, but corsOrigins lists browser origins")


def test_an_enabled_ingress_needs_a_host():
    raw = _raw("dev")
    del raw["otelCollector"]["ingress"]["host"]
    assert _error(raw) == f"{KEY}:otelCollector.ingress.host: is required when enabled"


def test_an_https_origin_needs_a_tls_ingress():
    raw = _raw("prod")
    del raw["otelCollector"]["ingress"]["tlsSecretName"]
    del raw["otelCollector"]["ingress"]["clusterIssuer"]  # which needs the Secret it issues into
    message = _error(raw)
    assert message.startswith(f"{KEY}:otelCollector.ingress.tlsSecretName: is required: https://app.terrafusion.example")
    assert "\n" not in message


def test_the_endpoint_browsers_use_is_a_stack_output(prod):
    assert prod.outputs["endpoints"]["otlp_http_public"] == "https://otel.terrafusion.example"


def _expressions_reading_control_plane_jobs(out: Path) -> list[str]:
    """Every rule and panel expression of a render (ours, and the PrometheusRules charts render)
    that names a control-plane job: `up{job="kube-scheduler"}` and the like."""
    jobs = re.compile(r"""job\s*=~?\s*["'][^"']*(kube-etcd|kube-scheduler|kube-controller-manager|kube-proxy)""")
    exprs = [e.expr for e in metrics_contract.collect_expressions("prod", out)]
    exprs += [
        str(rule.get("expr", ""))
        for obj in render.read_objects(out)
        if obj.get("kind") == "PrometheusRule"
        for group in obj["spec"].get("groups") or []
        for rule in group.get("rules") or []
    ]
    return [e for e in exprs if jobs.search(e)]


def test_no_rule_or_panel_of_a_managed_stack_reads_a_control_plane_job(flavours):
    assert _expressions_reading_control_plane_jobs(flavours["managed"]) == []


def test_control_plane_rules_and_dashboards_are_rendered_only_where_it_is_scraped(flavours):
    def names(flavour: str, kind: str) -> set[str]:
        return {o["metadata"]["name"] for o in _objects(flavours[flavour]) if o.get("kind") == kind}

    control_rules = {"kps-etcd", "kps-kube-scheduler.rules", "kps-kubernetes-system-scheduler", "kps-kubernetes-system-controller-manager"}
    control_dashboards = {"kps-etcd", "kps-scheduler", "kps-controller-manager", "kps-proxy"}
    assert control_rules <= names("self-hosted", "PrometheusRule")
    assert not control_rules & names("managed", "PrometheusRule")
    assert control_dashboards <= names("self-hosted", "ConfigMap")
    assert not control_dashboards & names("managed", "ConfigMap")
