"""The Elasticsearch HTTP endpoint of the plan (plan/elasticsearch.py `http_endpoint`) is what the
stack deploys: the Service ECK creates for the declared cluster, the names the HTTP certificate is
valid for, the CA and user Secrets the component declares; and its consumers of this part (Fluent
Bit's two pipelines and releases, the lifecycle Job) address exactly that endpoint."""

from __future__ import annotations

import pytest
import yaml

from monitoring.fluentbit import CONFIG_FILE_NAME
from plan.fluent_bit import CA_DIR, PASSWORD_ENV, USER_ENV
from tools.cluster_checks import OPERATOR_CREATED

ES_TYPE = "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch"
SECRET_TYPE = "kubernetes:core/v1:Secret"
CONFIG_MAP_TYPE = "kubernetes:core/v1:ConfigMap"


@pytest.fixture(params=["dev", "prod"])
def run(request):
    return request.getfixturevalue(request.param)


def _secrets(run) -> dict[tuple[str, str], dict]:
    secrets = {}
    for resource in run.of_type(SECRET_TYPE):
        inputs = resource.plain_inputs
        secrets[(inputs["metadata"]["namespace"], inputs["metadata"]["name"])] = inputs
    return secrets


def test_the_endpoint_is_the_https_service_eck_creates_for_the_declared_cluster(run):
    endpoint = run.result.plan.elasticsearch.http
    cr = {"apiVersion": "elasticsearch.k8s.elastic.co/v1", "kind": "Elasticsearch", **run.one(ES_TYPE).plain_inputs}
    provided = OPERATOR_CREATED[("elasticsearch.k8s.elastic.co", "Elasticsearch")].derive(cr)
    services = {
        (o["metadata"]["namespace"], o["metadata"]["name"]): o for o in provided.objects if o["kind"] == "Service"
    }
    service = services[(endpoint.namespace, endpoint.service)]
    assert endpoint.scheme == "https"
    assert [p["name"] for p in service["spec"]["ports"]] == list(endpoint.ports) == ["https"]
    # The certificate Elasticsearch serves is valid for the endpoint's host.
    csr = run.one("tls:index/certRequest:CertRequest", "terrafusion-elasticsearch-http-csr").plain_inputs
    assert endpoint.host in csr["dnsNames"] and csr["subject"]["commonName"] == endpoint.service


def test_the_endpoint_ca_and_credentials_are_secrets_the_stack_declares(run):
    es = run.result.plan.elasticsearch
    endpoint, secrets = es.http, _secrets(run)
    namespaces = (run.result.plan.context.namespace, run.result.plan.context.agents_namespace)
    for namespace in namespaces:
        assert endpoint.ca.key in secrets[(namespace, endpoint.ca.name)]["stringData"]
    for credentials in endpoint.credentials.values():
        data = secrets[(endpoint.namespace, credentials.secret)]["stringData"]
        assert data[credentials.username_key] == credentials.username and credentials.password_key in data
    fluent_bit = endpoint.user("fluentbit")
    copy = secrets[(run.result.plan.context.agents_namespace, fluent_bit.secret)]["stringData"]
    assert copy[fluent_bit.username_key] == "fluentbit" and fluent_bit.password_key in copy


def test_fluent_bit_ships_to_the_endpoint_with_its_ca_and_user(run):
    plan = run.result.plan
    endpoint = plan.elasticsearch.http
    user = endpoint.user("fluentbit")
    for role, release in plan.fluent_bit.releases.items():
        config_map = run.one(CONFIG_MAP_TYPE, f"terrafusion-fluent-bit-{role}-config").plain_inputs
        assert config_map["metadata"]["namespace"] == release.namespace
        outputs = yaml.safe_load(config_map["data"][CONFIG_FILE_NAME])["pipeline"]["outputs"]
        es_outputs = [o for o in outputs if o["name"] == "es"]
        assert es_outputs, role
        for output in es_outputs:
            assert (output["host"], output["port"]) == (endpoint.host, endpoint.port("https")), role
            assert output["tls"] == "on" and output["tls.ca_file"] == f"{CA_DIR}/{endpoint.ca.key}", role
        values = run.one("kubernetes:helm.sh/v4:Chart", f"terrafusion-fluent-bit-{role}").plain_inputs["values"]
        env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in values["env"]}
        assert env == {
            USER_ENV: {"name": user.secret, "key": user.username_key},
            PASSWORD_ENV: {"name": user.secret, "key": user.password_key},
        }
        assert {"name": "es-ca", "secret": {"secretName": endpoint.ca.name}} in values["extraVolumes"]


def test_the_lifecycle_job_calls_the_endpoint_and_trusts_its_ca(run):
    endpoint = run.result.plan.elasticsearch.http
    job = run.one("kubernetes:batch/v1:Job", "terrafusion-elasticsearch-lifecycle-job").plain_inputs
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"name": "ES_URL", "value": endpoint.url()} in container["env"]
    assert endpoint.url() == f"https://{endpoint.host}:{endpoint.port()}"
    assert {"secretName": endpoint.ca.name} in [v["secret"] for v in pod["volumes"] if "secret" in v]
