"""The OpenTelemetry Operator (plan/otel_operator.py, components/otel_operator.py): the
Instrumentation against the chart's own CRD, the webhooks against the chart's own rendering and
our CA, no Helm-generated certificate (and so no permanent diff), pod security of what it injects,
and the flows it needs."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from plan.otel_operator import (
    FULLNAME,
    INIT_CONTAINER_RESOURCES,
    INSTRUMENTATION_NAME,
    WEBHOOK_PORT,
    WEBHOOK_TLS_SECRET,
)
from plan.versions import OTEL_OPERATOR
from tests import renders
from tests.helpers import ROOT
from tests.network_policy_evaluator import Cluster, ContainerPort, External, Pod, namespaces_of, operator_pods, policies_of, workload_pods
from tests.pod_security_evaluator import evaluate
from tools import cluster_checks, helm, render

NAMESPACE = "monitoring"
CHART_STEM = OTEL_OPERATOR.chart


@pytest.fixture(scope="module")
def objects(rendered_objects) -> dict[str, list[dict[str, Any]]]:
    return rendered_objects


def _one(objs, kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in objs if o.get("kind") == kind and o["metadata"]["name"] == name]
    return found


def _crd(objs) -> dict[str, Any]:
    return _one(objs, "CustomResourceDefinition", "instrumentations.opentelemetry.io")


# --- The Instrumentation ------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_instrumentation_is_valid_against_the_charts_crd(objects, stack):
    objs = objects[stack]
    instrumentation = _one(objs, "Instrumentation", INSTRUMENTATION_NAME)
    assert cluster_checks.check_custom_resources([_crd(objs), instrumentation]) == []


def test_the_crd_check_refuses_a_field_the_crd_does_not_have(objects):
    objs = objects["prod"]
    wrong = copy.deepcopy(_one(objs, "Instrumentation", INSTRUMENTATION_NAME))
    # Java's field name; this CRD calls Python's `resourceRequirements`.
    wrong["spec"]["python"] = {"resources": INIT_CONTAINER_RESOURCES["python"]}
    problems = cluster_checks.check_custom_resources([_crd(objs), wrong])
    assert any("spec.python" in p and "resources" in p for p in problems), problems


def test_instrumentation_points_at_the_collector_with_w3c_propagation_and_the_stack_sampling(prod):
    plan = prod.result.plan
    spec = plan.otel_operator.instrumentation_spec
    assert spec["exporter"]["endpoint"] == plan.endpoints()["otlp_http"]
    assert {"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": "http/protobuf"} in spec["env"]
    assert spec["propagators"] == ["tracecontext", "baggage"]
    probability = plan.settings.sampling_spec.effective_default_probability
    assert spec["sampler"] == {"type": "parentbased_traceidratio", "argument": f"{probability:g}"}
    java = {e["name"]: e["value"] for e in spec["java"]["env"]}
    assert java["OTEL_TRACES_SAMPLER"] == "parentbased_jaeger_remote"
    assert java["OTEL_TRACES_SAMPLER_ARG"] == (
        f"endpoint={plan.tracing.sampling.url('sampling-grpc')},initialSamplingRate={probability:g}"
    )


def test_the_sampler_follows_jaeger_sampling_default_probability(stack):
    run = stack("prod", {"jaeger.sampling.defaultProbability": 0.25})
    spec = run.result.plan.otel_operator.instrumentation_spec
    assert spec["sampler"]["argument"] == "0.25"
    assert "initialSamplingRate=0.25" in spec["java"]["env"][1]["value"]


def test_dev_can_turn_the_operator_off(stack):
    run = stack("dev", {"otelOperator.enabled": False})
    assert run.result.plan.otel_operator is None
    assert not [r for r in run.resources if r.type == "kubernetes:helm.sh/v4:Chart" and r.inputs.get("chart") == CHART_STEM]
    assert not run.of_type("kubernetes:opentelemetry.io/v1alpha1:Instrumentation")
    assert not [w for w in run.result.plan.network_policies.table.destinations if w.key == "otel-operator"]


def test_the_instrumentation_waits_for_the_chart_and_the_webhooks(prod):
    (inst,) = prod.of_type("kubernetes:opentelemetry.io/v1alpha1:Instrumentation")
    waits = {urn.rsplit("::", 1)[-1] for urn in inst.depends_on}
    assert {"terrafusion-otel-operator-chart", "terrafusion-otel-operator-mutating-webhooks",
            "terrafusion-otel-operator-validating-webhooks"} <= waits  # fmt: skip
    chart = prod.chart(CHART_STEM)
    assert "terrafusion-otel-operator-webhook-tls" in {u.rsplit("::", 1)[-1] for u in chart.depends_on}


# --- Webhooks and their certificate -------------------------------------------------------------


def _webhook_configs(objs) -> list[dict[str, Any]]:
    return [
        o for o in objs
        if o.get("kind") in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration") and o["metadata"]["name"].startswith(FULLNAME)
    ]  # fmt: skip


def test_webhooks_carry_our_ca_and_call_the_service_the_certificate_covers(prod, objects):
    ca = prod.one("tls:index/selfSignedCert:SelfSignedCert", "terrafusion-otel-operator-ca")
    csr = prod.one("tls:index/certRequest:CertRequest", "terrafusion-otel-operator-webhook-csr").plain_inputs
    objs = objects["prod"]
    configs = _webhook_configs(objs)
    assert {o["metadata"]["name"] for o in configs} == {f"{FULLNAME}-mutation", f"{FULLNAME}-validation"}
    # The mocks make each certificate's PEM from its resource name (tools/mockrun.py).
    expected_bundle = base64.b64encode(
        f"-----BEGIN CERTIFICATE-----\nmock-{ca.name}\n-----END CERTIFICATE-----\n".encode()
    ).decode()
    services = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in objs if o.get("kind") == "Service"}
    (deployment,) = [o for o in objs if o.get("kind") == "Deployment" and o["metadata"]["name"] == FULLNAME]
    (manager,) = deployment["spec"]["template"]["spec"]["containers"]
    for config in configs:
        for webhook in config["webhooks"]:
            client = webhook["clientConfig"]
            assert client["caBundle"] == expected_bundle
            service = client["service"]
            assert f"{service['name']}.{service['namespace']}.svc" in csr["dnsNames"]
            target = services[(service["namespace"], service["name"])]
            (port,) = [p for p in target["spec"]["ports"] if p["port"] == service["port"]]
            assert {"name": port["targetPort"], "containerPort": WEBHOOK_PORT, "protocol": "TCP"} in manager["ports"]
    volumes = deployment["spec"]["template"]["spec"]["volumes"]
    assert {"name": "cert", "secret": {"defaultMode": 420, "secretName": WEBHOOK_TLS_SECRET}} in volumes


def test_no_certificate_comes_from_helm_or_cert_manager(objects):
    chart_objs = [o for o in objects["prod"] if o["metadata"].get("labels", {}).get("helm.sh/chart", "").startswith(CHART_STEM)]
    kinds = {o["kind"] for o in chart_objs}
    assert "Secret" not in kinds and "MutatingWebhookConfiguration" not in kinds
    assert not [o for o in chart_objs if o["apiVersion"].startswith("cert-manager.io/")]
    secret = _one(objects["prod"], "Secret", WEBHOOK_TLS_SECRET)
    assert secret["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "pulumi"


def _chart_release(prod, values: dict[str, Any]) -> helm.Release:
    release = render.chart_release(prod.chart(CHART_STEM))
    return helm.Release(release.name, release.ref, release.namespace, values)


def test_our_webhooks_are_the_ones_the_chart_renders(prod):
    """Drift check on a chart bump: the chart's own webhooks (its Helm-generated-certificate path,
    rendered here only for comparison) are ours, caBundle aside."""
    release = render.chart_release(prod.chart(CHART_STEM))
    values = copy.deepcopy(dict(release.values))
    values["admissionWebhooks"] = {**values["admissionWebhooks"], "create": True, "autoGenerateCert": {"enabled": True}}
    chart = {o["kind"]: o for o in helm.template(_chart_release(prod, values)) if "WebhookConfiguration" in o["kind"]}

    def strip(webhooks):
        out = copy.deepcopy(list(webhooks))
        for w in out:
            w["clientConfig"].pop("caBundle", None)
        return out

    plan = prod.result.plan.otel_operator
    assert strip(chart["MutatingWebhookConfiguration"]["webhooks"]) == list(plan.mutating_webhooks)
    assert strip(chart["ValidatingWebhookConfiguration"]["webhooks"]) == list(plan.validating_webhooks)
    assert chart["MutatingWebhookConfiguration"]["metadata"]["name"] == f"{FULLNAME}-mutation"
    assert chart["ValidatingWebhookConfiguration"]["metadata"]["name"] == f"{FULLNAME}-validation"


def _operator_files(out: Path) -> dict[str, str]:
    files = sorted((out / "objects" / CHART_STEM).glob("*.yaml"))
    files += [p for p in sorted((out / "manifests").glob("*.yaml")) if "opentelemetry-operator" in p.name or "instrumentation" in p.name]
    return {p.name: p.read_text() for p in files}


@pytest.mark.heavy(10)
def test_two_renders_are_identical_so_pulumi_sees_no_permanent_diff(rendered_dirs, tmp_path_factory, prod):
    # The session's render against one from scratch (the program, Helm and the parse run again).
    first, second = rendered_dirs["prod"], renders.shared_render(tmp_path_factory, "prod", from_scratch=True)
    assert _operator_files(first) == _operator_files(second)
    assert any(name.startswith("mutatingwebhookconfiguration") for name in _operator_files(first))
    with renders.uncached():
        # What the values avoid: the chart's own certificate differs on every render.
        values = copy.deepcopy(dict(render.chart_release(prod.chart(CHART_STEM)).values))
        values["admissionWebhooks"] = {**values["admissionWebhooks"], "create": True, "autoGenerateCert": {"enabled": True}}
        bundles = [
            json.dumps([o for o in helm.template(_chart_release(prod, values)) if o["kind"] == "MutatingWebhookConfiguration"])
            for _ in range(2)
        ]
        assert bundles[0] != bundles[1]


# --- Pod security of the operator and of what it injects ----------------------------------------


def test_the_operator_pod_is_restricted(objects):
    (deployment,) = [o for o in objects["prod"] if o.get("kind") == "Deployment" and o["metadata"]["name"] == FULLNAME]
    assert evaluate(deployment["spec"]["template"]["spec"]) == []


@pytest.mark.parametrize("language", ["python", "nodejs", "dotnet", "java"])
def test_an_injected_pod_stays_restricted(prod, language):
    """The pod as the operator mutates it (an agent-copying init container with the Instrumentation's
    initContainerSecurityContext, an emptyDir), for an application container that is restricted
    only through the pod: the init container must not inherit it. Ref: operator v0.158.0
    internal/instrumentation/{python,nodejs,dotnet,javaagent}.go (init container, emptyDir volume)."""
    spec = prod.result.plan.otel_operator.instrumentation_spec
    pod = {
        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [{"name": "app", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}}],
        "initContainers": [{"name": "opentelemetry-auto-instrumentation", "securityContext": spec["initContainerSecurityContext"]}],
        "volumes": [{"name": f"opentelemetry-auto-instrumentation-{language}", "emptyDir": {}}],
    }
    assert evaluate(pod) == []
    # Without it, an init container inheriting nothing fails `restricted`.
    del pod["initContainers"][0]["securityContext"]
    assert evaluate(pod) != []


# --- Flows ----------------------------------------------------------------------------------------


def _cluster(objs, policies: list[dict[str, Any]] | None = None) -> Cluster:
    cluster = Cluster(
        namespaces=copy.deepcopy(namespaces_of(objs)), pods=workload_pods(objs) + operator_pods(objs),
        policies=policies_of(objs) if policies is None else policies,
    )  # fmt: skip
    cluster.add_namespace("shop")
    return cluster


def _pod(cluster: Cluster, name: str, instance: str | None = None) -> Pod:
    """The pod of the chart named `name` (the Deployment's, not a Job's or CronJob's); `instance`
    picks the release where the chart is deployed twice (the collector and its service graph tier)."""
    (pod,) = [
        p for p in cluster.pods
        if p.labels.get("app.kubernetes.io/name") == name and p.namespace == NAMESPACE and p.name.startswith("deployment/")
        and instance in (None, p.labels.get("app.kubernetes.io/instance"))
    ]  # fmt: skip
    return pod


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_api_server_reaches_the_webhook(objects, stack):
    cluster = _cluster(objects[stack])
    operator = _pod(cluster, FULLNAME)
    assert cluster.allowed(External("kube-apiserver", "172.18.0.2"), operator, WEBHOOK_PORT)
    assert not cluster.allowed(Pod("app/checkout", "shop", {"app": "checkout"}), operator, 8443)


def test_with_api_server_cidrs_only_the_api_server_reaches_the_webhook(objects, stack):
    run = stack("dev", {"networkPolicy.apiServerCidrs": ["172.18.0.2/32"]})
    cluster = _cluster(objects["dev"], [dict(m) for m in run.result.plan.network_policies.manifests])
    operator = _pod(cluster, FULLNAME)
    assert cluster.allowed(External("kube-apiserver", "172.18.0.2"), operator, WEBHOOK_PORT)
    assert not cluster.allowed(Pod("app/checkout", "shop", {"app": "checkout"}, ip="10.1.2.3"), operator, WEBHOOK_PORT)


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_instrumented_pod_reaches_the_collector_and_javas_sampler(objects, stack, request):
    run = request.getfixturevalue(stack)
    plan = run.result.plan
    cluster = _cluster(objects[stack])
    app = Pod("app/checkout", "shop", {"app": "checkout"}, (ContainerPort(8080, "http"),))
    collector = _pod(cluster, "opentelemetry-collector", plan.tracing.collector_release)
    assert cluster.allowed(app, collector, plan.tracing.collector_otlp.port("otlp-http"))
    jaeger = _pod(cluster, "jaeger")
    assert cluster.allowed(app, jaeger, plan.tracing.sampling.port("sampling-grpc"))


# --- What application teams read -----------------------------------------------------------------


def test_readme_gives_every_annotation_exactly(prod):
    readme = (ROOT / "README.md").read_text()
    for language, annotation in prod.result.plan.otel_operator.annotations.items():
        assert annotation.startswith("instrumentation.opentelemetry.io/inject-")
        assert annotation in readme, f"README lacks the {language} annotation {annotation}"
