"""The tracing and exporter endpoints of the plan (plan/tracing.py, plan/exporters.py) are what the
charts serve and what their clients use: each endpoint's Service and named port exist in the render
with that number, and every consumer in the platform addresses exactly the endpoint's value."""

from __future__ import annotations

import pytest
import yaml

from plan.elasticsearch import EXPORTER_USER, JAEGER_USER

PROBE_TYPE = "kubernetes:monitoring.coreos.com/v1:Probe"


@pytest.fixture(scope="module")
def rendered(rendered_objects):
    return {stack: {(o["kind"], o["metadata"]["name"]): o for o in objects} for stack, objects in rendered_objects.items()}


def _serves(rendered, endpoint):
    """The rendered Service of `endpoint` in its namespace, with each of its named ports."""
    service = rendered[("Service", endpoint.service)]
    assert service["metadata"]["namespace"] == endpoint.namespace
    ports = {p["name"]: p["port"] for p in service["spec"]["ports"]}
    for name, number in endpoint.ports.items():
        assert ports.get(name) == number, (endpoint.service, name)


def _chart_values(run, release):
    return run.one("kubernetes:helm.sh/v4:Chart", release).plain_inputs["values"]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_grafana_reads_traces_from_the_jaeger_query_endpoint(stack, dev, prod, rendered):
    run = {"dev": dev, "prod": prod}[stack]
    endpoint = run.result.plan.tracing.jaeger_query
    _serves(rendered[stack], endpoint)
    (jaeger,) = [d for d in run.of_type("grafana:oss/dataSource:DataSource") if d.inputs["type"] == "jaeger"]
    assert jaeger.inputs["url"] == endpoint.url()
    assert run.outputs["endpoints"]["jaeger_query"] == endpoint.url()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_collector_exports_to_the_jaeger_otlp_endpoint(stack, dev, prod, rendered):
    run = {"dev": dev, "prod": prod}[stack]
    endpoint = run.result.plan.tracing.jaeger_otlp
    _serves(rendered[stack], endpoint)
    config = _chart_values(run, "terrafusion-tracing-collector")["alternateConfig"]
    assert config["exporters"]["otlp/jaeger"]["endpoint"] == endpoint.address()
    receiver = yaml.safe_load(rendered[stack][("ConfigMap", "user-config")]["data"]["user-config.yaml"])["receivers"]["otlp"]
    assert receiver["protocols"]["grpc"]["endpoint"] == f"0.0.0.0:{endpoint.port()}"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_jaeger_serves_remote_sampling_on_the_sampling_endpoint(stack, dev, prod, rendered):
    run = {"dev": dev, "prod": prod}[stack]
    endpoint = run.result.plan.tracing.sampling
    _serves(rendered[stack], endpoint)
    sampling = yaml.safe_load(rendered[stack][("ConfigMap", "user-config")]["data"]["user-config.yaml"])["extensions"]["remote_sampling"]
    assert sorted(int(s["endpoint"].rsplit(":", 1)[1]) for s in (sampling["http"], sampling["grpc"])) == sorted(endpoint.ports.values())


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stack_publishes_the_collector_otlp_endpoint(stack, dev, prod, rendered):
    run = {"dev": dev, "prod": prod}[stack]
    endpoint = run.result.plan.tracing.collector_otlp
    _serves(rendered[stack], endpoint)
    assert run.outputs["endpoints"]["otlp_grpc"] == endpoint.address("otlp")
    assert run.outputs["endpoints"]["otlp_http"] == endpoint.url("otlp-http")


def test_jaeger_and_its_retention_job_use_the_elasticsearch_endpoint(prod):
    tracing = prod.result.plan.tracing
    es = tracing.es
    assert tracing.es_user == es.user(JAEGER_USER.username)
    storage = tracing.jaeger_values["userconfig"]["extensions"]["jaeger_storage"]["backends"]
    (backend,) = storage.values()
    assert backend["elasticsearch"]["server_urls"] == [es.url()]
    cron = prod.one("kubernetes:batch/v1:CronJob", "terrafusion-tracing-retention").plain_inputs
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    env = {e["name"]: e for e in pod["containers"][0]["env"]}
    assert env["ES_URL"]["value"] == es.url()
    assert env["ES_PASSWORD"]["valueFrom"]["secretKeyRef"] == {"name": JAEGER_USER.secret_name, "key": "password"}
    assert es.ca.name in {v.get("secret", {}).get("secretName") for v in pod["volumes"]}


def test_the_elasticsearch_exporter_uses_the_elasticsearch_endpoint(prod):
    plan = prod.result.plan.elasticsearch_exporter
    values = _chart_values(prod, "terrafusion-elasticsearch-exporter-chart")
    assert values["es"]["uri"] == plan.es.url()
    assert values["es"]["ssl"]["ca"]["path"].endswith(f"/{plan.es.ca.key}")
    assert values["secretMounts"][0]["secretName"] == plan.es.ca.name
    assert values["extraEnvSecrets"]["ES_PASSWORD"] == {"secret": EXPORTER_USER.secret_name, "key": "password"}


def test_every_probe_goes_through_the_blackbox_endpoint(prod, rendered):
    endpoint = prod.result.plan.exporters.blackbox
    _serves(rendered["prod"], endpoint)
    probes = prod.of_type(PROBE_TYPE)
    assert probes
    for probe in probes:
        assert probe.plain_inputs["spec"]["prober"]["url"] == endpoint.address()


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_stack_publishes_the_pushgateway_endpoint(stack, dev, prod, rendered):
    run = {"dev": dev, "prod": prod}[stack]
    endpoint = run.result.plan.pushgateway.endpoint
    _serves(rendered[stack], endpoint)
    assert run.outputs["endpoints"]["pushgateway"] == endpoint.url()


def test_the_postgres_exporter_reads_the_dsn_the_plan_names(prod, dev):
    exporters = prod.result.plan.exporters
    assert exporters.postgres_dsn_key == "postgresDsn" and dev.result.plan.exporters.postgres_dsn_key is None
    secret = prod.one("kubernetes:core/v1:Secret", "terrafusion-exporters-postgres-dsn").plain_inputs
    assert secret["metadata"]["name"] == exporters.postgres_dsn_secret.name
    assert list(secret["stringData"]) == [exporters.postgres_dsn_secret.key]
    values = _chart_values(prod, "terrafusion-exporters-postgres")
    assert values["config"]["datasourceSecret"] == {"name": exporters.postgres_dsn_secret.name, "key": exporters.postgres_dsn_secret.key}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_gateway_routes_every_trace_to_one_pod_of_the_headless_service_graph_tier(stack, dev, prod, rendered):
    run = {"dev": dev, "prod": prod}[stack]
    endpoint = run.result.plan.tracing.servicegraph_otlp
    _serves(rendered[stack], endpoint)
    # Headless: DNS answers one address per ready pod, which the loadbalancing exporter hashes over.
    assert rendered[stack][("Service", endpoint.service)]["spec"]["clusterIP"] == "None"
    config = _chart_values(run, "terrafusion-tracing-collector")["alternateConfig"]
    forwarder = config["exporters"]["loadbalancing/servicegraph"]
    assert forwarder["routing_key"] == "traceID"
    assert forwarder["resolver"] == {"dns": {"hostname": endpoint.host, "port": str(endpoint.port())}}
    assert "loadbalancing/servicegraph" in config["service"]["pipelines"]["traces"]["exporters"]
    tier = _chart_values(run, "terrafusion-tracing-servicegraph")["alternateConfig"]
    assert tier["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"] == f"0.0.0.0:{endpoint.port()}"
    assert tier["service"]["pipelines"]["traces"]["exporters"] == ["servicegraph"]
    # The dns resolver needs no Kubernetes API: the tier's pods mount no token and have no role.
    pod = rendered[stack][("Deployment", endpoint.service)]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert ("ClusterRole", endpoint.service) not in rendered[stack]


def test_without_the_service_graph_there_is_no_tier_no_forwarding_and_no_node_graph():
    from tools.mockrun import run_stack

    run = run_stack("dev", {"otelCollector.serviceGraph.enabled": False})
    plan = run.result.plan
    assert plan.tracing.servicegraph_values is None and plan.tracing.servicegraph_otlp is None
    assert "terrafusion-tracing-servicegraph" not in {c.name for c in run.of_type("kubernetes:helm.sh/v4:Chart")}
    config = _chart_values(run, "terrafusion-tracing-collector")["alternateConfig"]
    assert "loadbalancing/servicegraph" not in config["exporters"]
    assert config["service"]["pipelines"]["traces"]["exporters"] == ["otlp/jaeger", "spanmetrics"]
    assert "nodeGraph" not in {p["type"] for d in plan.grafana_content.dashboards for p in d.model["panels"]}
    assert "otel-servicegraph" not in {w.key for w in plan.network_policies.table.destinations}


def test_both_dashboards_draw_the_service_graph_where_the_stack_builds_it(dev):
    titles = {d.uid: {p["type"] for p in d.model["panels"]} for d in dev.result.plan.grafana_content.dashboards}
    assert "nodeGraph" in titles["tf-operations"] and "nodeGraph" in titles["tf-developer-service"]
