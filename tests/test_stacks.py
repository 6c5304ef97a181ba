"""Whole dev and prod stacks: what is deployed, secrets never in plain text, prod protected."""

from __future__ import annotations

import json

import pytest

from plan.versions import ALL_CHARTS
from tools.mockrun import placeholder_secret, redact

CHART_TYPE = "kubernetes:helm.sh/v4:Chart"


@pytest.fixture(params=["dev", "prod"])
def any_stack(request, dev, prod):
    return {"dev": dev, "prod": prod}[request.param]


def test_each_stack_deploys_the_metrics_backbone(any_stack):
    charts = {r.inputs["chart"] for r in any_stack.of_type(CHART_TYPE)}
    assert {"grafana", "kube-prometheus-stack", "thanos"} <= charts


def test_every_chart_version_comes_from_the_versions_module(any_stack):
    pinned = {(c.chart, c.version, c.repository) for c in ALL_CHARTS}
    for chart in any_stack.of_type(CHART_TYPE):
        inputs = chart.inputs
        assert (inputs["chart"], inputs["version"], inputs["repositoryOpts"]["repo"]) in pinned


def test_components_follow_the_type_token_convention(any_stack):
    components = [r for r in any_stack.resources if not r.custom and r.type != CHART_TYPE]
    assert components, "no component resources recorded"
    assert all(r.type.startswith("terrafusion:monitoring:") for r in components)


def _plain_secret_values(run) -> list[str]:
    values = [placeholder_secret(key.split(":", 1)[1]) for key in run.placeholder_secrets]
    values += [f"mock-password-{r.name}" for r in run.of_type("random:index/randomPassword:RandomPassword")]
    values += [f"mock-private-key-{r.name}" for r in run.of_type("tls:index/privateKey:PrivateKey")]
    return values


def test_no_secret_value_appears_in_any_input_once_redacted(any_stack):
    """Every place a secret flows into must carry the secret flag, so redaction removes it."""
    secrets = _plain_secret_values(any_stack)
    assert secrets, "the run had no secrets to look for"
    for resource in any_stack.resources:
        text = json.dumps(redact(resource.inputs))
        for secret in secrets:
            assert secret not in text, f"{secret} in plain text in {resource.type} {resource.name}"


def test_no_secret_in_chart_values(any_stack):
    secrets = _plain_secret_values(any_stack)
    for chart in any_stack.of_type(CHART_TYPE):
        text = json.dumps(chart.plain_inputs["values"])
        assert not any(secret in text for secret in secrets), chart.name


def test_object_storage_credentials_reach_the_secret_flagged(dev):
    secret = dev.one("kubernetes:core/v1:Secret", "terrafusion-objstore")
    document = secret.plain_inputs["stringData"]["objstore.yml"]
    assert placeholder_secret("objectStorageSecretKey") in document
    assert redact(secret.inputs)["stringData"] == "[secret]"


def test_outputs_hold_no_plain_secret(any_stack):
    secrets = _plain_secret_values(any_stack)
    for key, value in any_stack.outputs.items():
        if key in any_stack.secret_outputs:
            continue
        assert not any(secret in json.dumps(value) for secret in secrets), key
    assert "grafanaAdminPassword" in any_stack.secret_outputs


def test_outputs_name_grafana_and_the_service_endpoints(prod):
    assert prod.outputs["grafanaUrl"] == "https://grafana.terrafusion.example"
    assert prod.outputs["datasourceUids"] == ["alertmanager", "elasticsearch-logs", "influxdb-trends", "jaeger", "thanos"]
    assert prod.outputs["endpoints"]["thanos_query_frontend"] == "http://thanos-query-frontend.monitoring.svc:10902"


STATEFUL_CHARTS = {"kube-prometheus-stack", "thanos", "grafana", "influxdb"}


def test_prod_protects_the_namespace_and_every_stateful_chart(prod):
    assert prod.one("kubernetes:core/v1:Namespace", "terrafusion-namespace").protect
    stateful = [c for c in prod.of_type(CHART_TYPE) if c.inputs["chart"] in STATEFUL_CHARTS]
    assert len(stateful) == len(STATEFUL_CHARTS)
    for chart in stateful:
        assert chart.protect, chart.name


def test_dev_can_be_torn_down(dev):
    assert not any(r.protect for r in dev.resources)


def test_kubernetes_objects_carry_standard_labels(any_stack):
    for resource in any_stack.resources:
        if resource.type.startswith("kubernetes:core/"):
            labels = resource.plain_inputs["metadata"]["labels"]
            assert labels["app.kubernetes.io/part-of"] == "terrafusion-monitoring", resource.name
            assert "app.kubernetes.io/version" not in labels


def test_platform_namespace_is_restricted_and_node_exporter_runs_in_the_agents_namespace(dev):
    labels = dev.one("kubernetes:core/v1:Namespace", "terrafusion-namespace").plain_inputs["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    agents = dev.one("kubernetes:core/v1:Namespace", "terrafusion-agents-namespace").plain_inputs["metadata"]
    assert agents["name"] == "monitoring-agents"
    assert agents["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    values = dev.chart("kube-prometheus-stack").plain_inputs["values"]
    assert values["prometheus-node-exporter"]["namespaceOverride"] == "monitoring-agents"


def test_kubernetes_resources_use_the_stack_provider(prod):
    provider = prod.one("pulumi:providers:kubernetes")
    assert provider.inputs["context"] == "terrafusion-prod"
    for resource in prod.resources:
        if resource.type.startswith("kubernetes:") and resource.custom:
            assert resource.provider.startswith(provider.urn), resource.name


def test_missing_secrets_are_reported_as_placeholders(dev):
    assert any("objectStorageSecretKey" in w and "pulumi config set --secret" in w for w in dev.warnings)
