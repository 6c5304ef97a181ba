"""Grafana: admin password generated and kept secret, persistence or a shared database, and the
provider and datasources bound to it."""

from __future__ import annotations

import json

from plan.versions import GRAFANA
from monitoring.datasources import ALERTMANAGER_UID, THANOS_UID
from tools.mockrun import is_secret


def _values(run):
    return run.chart("grafana").plain_inputs["values"]


def test_chart_comes_from_grafana_community_pinned(dev):
    inputs = dev.chart("grafana").inputs
    assert (inputs["repositoryOpts"]["repo"], inputs["version"]) == (GRAFANA.repository, GRAFANA.version)


def test_admin_password_comes_from_the_generated_secret(dev):
    admin = _values(dev)["admin"]
    secret = dev.one("kubernetes:core/v1:Secret", "terrafusion-grafana-admin")
    assert admin["existingSecret"] == secret.plain_inputs["metadata"]["name"]
    # Secretness covers the whole map when any value in it is secret.
    assert is_secret(secret.inputs["stringData"])
    assert "admin-password" in secret.plain_inputs["stringData"]
    assert "adminPassword" not in _values(dev)


def test_admin_password_is_random_and_long(dev):
    password = dev.one("random:index/randomPassword:RandomPassword", "terrafusion-grafana-admin-password").inputs
    assert password["length"] >= 32


def test_provider_authenticates_with_the_secret_password(dev):
    provider = dev.one("pulumi:providers:grafana")
    assert provider.plain_inputs["url"] == "http://grafana.localtest.me"
    assert is_secret(provider.inputs["auth"])


def test_single_replica_is_persistent_and_recreated(dev):
    values = _values(dev)
    assert values["persistence"]["enabled"] is True
    assert values["deploymentStrategy"] == {"type": "Recreate"}


def test_prod_replicas_share_a_database_with_a_secret_password(prod):
    values = _values(prod)
    assert values["replicas"] == 2
    assert values["grafana.ini"]["database"]["type"] == "postgres"
    ref = values["envValueFrom"]["GF_DATABASE_PASSWORD"]["secretKeyRef"]
    secret = prod.one("kubernetes:core/v1:Secret", "terrafusion-grafana-database")
    assert ref["name"] == secret.plain_inputs["metadata"]["name"]
    assert is_secret(secret.inputs["stringData"])
    assert ref["key"] in secret.plain_inputs["stringData"]


def test_helm_test_hooks_are_off(dev):
    assert _values(dev)["testFramework"]["enabled"] is False


def test_root_url_is_the_stack_grafana_url(prod):
    assert _values(prod)["grafana.ini"]["server"]["root_url"] == "https://grafana.terrafusion.example"
    assert _values(prod)["ingress"]["tls"] == [{"secretName": "grafana-tls", "hosts": ["grafana.terrafusion.example"]}]


def test_thanos_is_the_default_datasource_via_the_query_frontend(dev):
    ds = dev.one("grafana:oss/dataSource:DataSource", f"terrafusion-grafana-content-datasource-{THANOS_UID}").inputs
    assert ds["uid"] == THANOS_UID and ds["isDefault"] is True
    assert ds["url"] == "http://thanos-query-frontend.monitoring.svc:10902"
    assert json.loads(ds["jsonDataEncoded"])["prometheusType"] == "Thanos"


def test_alertmanager_datasource_points_at_the_chart_service(dev):
    ds = dev.one(
        "grafana:oss/dataSource:DataSource", f"terrafusion-grafana-content-datasource-{ALERTMANAGER_UID}"
    ).inputs
    assert ds["url"] == "http://kps-alertmanager.monitoring.svc:9093"


def test_grafana_objects_use_the_grafana_provider_and_wait_for_the_chart(dev):
    chart = dev.chart("grafana")
    provider = dev.one("pulumi:providers:grafana")
    for resource in dev.of_type("grafana:oss/dataSource:DataSource") + dev.of_type("grafana:oss/team:Team"):
        assert resource.provider.startswith(provider.urn), resource.name
        assert chart.urn in resource.depends_on, resource.name


def test_teams_from_stack_config_exist(prod):
    names = sorted(t.inputs["name"] for t in prod.of_type("grafana:oss/team:Team"))
    assert names == ["Developers", "Executives", "Operations", "Security"]


def _grafana_deployment(run):
    from tools import helm
    from plan.versions import GRAFANA as REF

    inputs = run.chart("grafana").plain_inputs
    release = helm.Release(name=inputs["name"], ref=REF, namespace=inputs["namespace"], values=inputs["values"])
    return next(o for o in helm.template(release) if o["kind"] == "Deployment")


def test_every_grafana_pod_first_sets_the_admin_password_from_the_secret(prod):
    pod = _grafana_deployment(prod)["spec"]["template"]["spec"]
    (init,) = [c for c in pod["initContainers"] if c["name"] == "reset-admin-password"]
    grafana = next(c for c in pod["containers"] if c["name"] == "grafana")
    # Same image, same grafana.ini and data volume as Grafana itself: it changes the database Grafana uses.
    assert init["image"] == grafana["image"]
    assert {m["name"] for m in init["volumeMounts"]} >= {"config", "storage"}
    assert {v["name"] for v in pod["volumes"]} >= {m["name"] for m in init["volumeMounts"]}
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in init["env"]}
    assert env["GF_SECURITY_ADMIN_PASSWORD"] == {"name": "grafana-admin", "key": "admin-password"}
    assert env["GF_DATABASE_PASSWORD"] == {"name": "grafana-database", "key": "password"}
    # The password goes through stdin, never the command line.
    script = init["command"][-1]
    assert "admin reset-admin-password --password-from-stdin" in script
    assert "GF_SECURITY_ADMIN_PASSWORD" in script.split("|")[0]


def test_a_rotated_admin_password_rolls_grafana(prod, stack):
    rotated = stack("prod", rotate=frozenset({"terrafusion-grafana-admin-password"}))
    before = _grafana_deployment(prod)["spec"]["template"]["metadata"]["annotations"]
    after = _grafana_deployment(rotated)["spec"]["template"]["metadata"]["annotations"]
    assert before["terrafusion.io/config-digest"] != after["terrafusion.io/config-digest"]
