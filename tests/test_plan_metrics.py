"""The metrics path's endpoints (plan/prometheus_stack.py, plan/thanos.py, plan/influxdb.py) and
the object-storage Secret (plan/object_storage.py) agree with what is deployed: the Services the
charts render (or the operator creates) have the named ports the endpoints say, and every consumer
addresses them exactly as the endpoint does."""

from __future__ import annotations

from typing import Any

from monitoring.datasources import ALERTMANAGER_UID, INFLUXDB_TRENDS_UID, THANOS_UID
from plan.endpoints import Endpoint
from plan.prometheus_stack import THANOS_RULER_NAME
from tools.cluster_checks import OPERATOR_CREATED

DATASOURCE_TYPE = "grafana:oss/dataSource:DataSource"


def _one(objects: list[dict[str, Any]], kind: str, namespace: str, name: str) -> dict[str, Any]:
    (obj,) = [
        o for o in objects
        if o.get("kind") == kind and o["metadata"]["name"] == name and o["metadata"].get("namespace") == namespace
    ]  # fmt: skip
    return obj


def _serves(service: dict[str, Any], endpoint: Endpoint) -> None:
    """The Service has every named port of the endpoint, with its number."""
    ports = {p["name"]: p.get("port") for p in service["spec"]["ports"]}
    for name, number in endpoint.ports.items():
        assert name in ports, (service["metadata"]["name"], name, sorted(ports))
        if ports[name] is not None:  # an operator-created Service: only the names are known
            assert ports[name] == number, (service["metadata"]["name"], name)


def _rendered_service(rendered_objects, stack: str, endpoint: Endpoint) -> dict[str, Any]:
    return _one(rendered_objects[stack], "Service", endpoint.namespace, endpoint.service)


def _datasource_url(run, uid: str) -> str:
    (source,) = [r for r in run.of_type(DATASOURCE_TYPE) if r.inputs["uid"] == uid]
    return source.inputs["url"]


def _kps_values(run) -> dict[str, Any]:
    return run.chart("kube-prometheus-stack").plain_inputs["values"]


def test_prometheus_endpoint_is_the_charts_service_and_the_stack_output(dev, rendered_objects):
    endpoint = dev.result.plan.prometheus.prometheus
    _serves(_rendered_service(rendered_objects, "dev", endpoint), endpoint)
    assert dev.outputs["endpoints"]["prometheus"] == endpoint.url("http-web")


def test_alertmanager_endpoint_is_the_charts_service_and_grafanas_datasource(dev, rendered_objects):
    endpoint = dev.result.plan.prometheus.alertmanager
    _serves(_rendered_service(rendered_objects, "dev", endpoint), endpoint)
    assert _datasource_url(dev, ALERTMANAGER_UID) == endpoint.url("http-web")
    assert dev.outputs["endpoints"]["alertmanager"] == endpoint.url("http-web")


def test_thanos_sidecar_endpoint_is_the_headless_discovery_service_query_reads(dev, rendered_objects):
    endpoint = dev.result.plan.prometheus.thanos_sidecar
    service = _rendered_service(rendered_objects, "dev", endpoint)
    _serves(service, endpoint)
    # Headless: its SRV record lists every replica's sidecar.
    assert service["spec"]["clusterIP"] == "None"
    assert endpoint.srv("grpc") in dev.chart("thanos").plain_inputs["values"]["additionalEndpoints"]


def test_thanos_ruler_endpoint_is_the_operators_governing_service_query_reads(dev, rendered_objects):
    endpoint = dev.result.plan.prometheus.thanos_ruler
    ruler = _one(rendered_objects["dev"], "ThanosRuler", endpoint.namespace, THANOS_RULER_NAME)
    created = OPERATOR_CREATED[("monitoring.coreos.com", "ThanosRuler")].derive(ruler).objects
    (service,) = [o for o in created if o["kind"] == "Service" and o["metadata"]["name"] == endpoint.service]
    _serves(service, endpoint)
    assert endpoint.srv("grpc") in dev.chart("thanos").plain_inputs["values"]["additionalEndpoints"]


def test_thanos_query_endpoint_is_the_charts_service_the_ruler_queries(dev, rendered_objects):
    endpoint = dev.result.plan.thanos.query
    _serves(_rendered_service(rendered_objects, "dev", endpoint), endpoint)
    spec = _kps_values(dev)["thanosRuler"]["thanosRulerSpec"]
    assert spec["queryEndpoints"] == [endpoint.srv("http")]
    assert dev.outputs["endpoints"]["thanos_query"] == endpoint.url("http")


def test_thanos_query_frontend_endpoint_is_the_charts_service_grafana_queries(dev, rendered_objects):
    endpoint = dev.result.plan.thanos.query_frontend
    _serves(_rendered_service(rendered_objects, "dev", endpoint), endpoint)
    assert _datasource_url(dev, THANOS_UID) == endpoint.url("http")
    assert dev.outputs["endpoints"]["thanos_query_frontend"] == endpoint.url("http")


def test_influxdb_endpoint_is_the_charts_service_prometheus_writes_to_and_grafana_reads(prod, rendered_objects):
    plan = prod.result.plan.influxdb
    endpoint = plan.endpoint
    _serves(_rendered_service(rendered_objects, "prod", endpoint), endpoint)
    (remote_write,) = _kps_values(prod)["prometheus"]["prometheusSpec"]["remoteWrite"]
    assert remote_write["url"] == endpoint.url("api", f"/api/v1/prom/write?db={plan.database}")
    writer = endpoint.user("prometheus")
    assert remote_write["basicAuth"]["username"] == {"name": writer.secret, "key": writer.username_key}
    assert remote_write["basicAuth"]["password"] == {"name": writer.password.name, "key": writer.password.key}
    secret = prod.one("kubernetes:core/v1:Secret", f"{plan.name}-remote-write").plain_inputs
    assert secret["metadata"]["name"] == writer.secret
    assert _datasource_url(prod, INFLUXDB_TRENDS_UID) == endpoint.url("api")


def test_object_storage_secret_is_the_one_every_bucket_reader_mounts(dev):
    ref = dev.result.plan.object_storage.secret
    secret = dev.one("kubernetes:core/v1:Secret", "terrafusion-objstore").plain_inputs
    assert secret["metadata"]["name"] == ref.name and list(secret["stringData"]) == [ref.key]
    values = _kps_values(dev)
    readers = [
        values["prometheus"]["prometheusSpec"]["thanos"]["objectStorageConfig"]["existingSecret"],
        values["thanosRuler"]["thanosRulerSpec"]["objectStorageConfig"]["existingSecret"],
    ]
    assert readers == [{"name": ref.name, "key": ref.key}] * 2
    thanos = dev.chart("thanos").plain_inputs["values"]["objstoreConfig"]
    assert (thanos["name"], thanos["key"]) == (ref.name, ref.key)
