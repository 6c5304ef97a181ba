"""Exporters the SLOs need: blackbox Probes per target with the SLO's grouping label, and
postgres_exporter with its DSN from a secret and the `service` label the database SLOs use."""

from __future__ import annotations

from plan.exporters import BLACKBOX_FULLNAME, BLACKBOX_PORT, POSTGRES_DSN_SECRET
from tools.mockrun import is_secret

PROBE_TYPE = "kubernetes:monitoring.coreos.com/v1:Probe"


def _probe(run, name):
    (probe,) = [p for p in run.of_type(PROBE_TYPE) if p.plain_inputs["metadata"]["name"] == name]
    return probe.plain_inputs["spec"]


def test_frontend_probe_carries_the_app_label_the_slo_groups_by(prod):
    spec = _probe(prod, "frontend-web")
    assert spec["targets"]["staticConfig"] == {"static": ["https://app.terrafusion.example/"], "labels": {"app": "web"}}
    assert spec["module"] == "http_2xx"


def test_api_probe_carries_the_service_label(prod):
    labels = _probe(prod, "api-api")["targets"]["staticConfig"]["labels"]
    assert labels == {"service": "api"}


def test_probes_go_through_the_deployed_blackbox_exporter(prod):
    values = prod.chart("prometheus-blackbox-exporter").plain_inputs["values"]
    assert values["fullnameOverride"] == BLACKBOX_FULLNAME
    assert "http_2xx" in values["config"]["modules"]
    assert _probe(prod, "frontend-web")["prober"]["url"] == f"{BLACKBOX_FULLNAME}.monitoring.svc:{BLACKBOX_PORT}"


def test_probes_wait_for_the_operator_crds_and_the_exporter(prod):
    for probe in prod.of_type(PROBE_TYPE):
        assert prod.chart("kube-prometheus-stack").urn in probe.depends_on
        assert prod.chart("prometheus-blackbox-exporter").urn in probe.depends_on


def test_postgres_exporter_reads_its_dsn_from_a_secret(prod):
    values = prod.chart("prometheus-postgres-exporter").plain_inputs["values"]
    secret = prod.one("kubernetes:core/v1:Secret", "terrafusion-exporters-postgres-dsn")
    assert values["config"]["datasourceSecret"] == {"name": POSTGRES_DSN_SECRET, "key": "dsn"}
    assert secret.plain_inputs["metadata"]["name"] == POSTGRES_DSN_SECRET
    assert is_secret(secret.inputs["stringData"])


def test_postgres_series_are_labelled_with_the_database_service(prod):
    monitor = prod.chart("prometheus-postgres-exporter").plain_inputs["values"]["serviceMonitor"]
    assert monitor["enabled"] is True
    assert {"action": "replace", "targetLabel": "service", "replacement": "terrafusion-db"} in monitor["relabelings"]


def test_stack_without_probes_or_database_renders_and_warns(dev):
    assert dev.of_type(PROBE_TYPE) == []
    charts = {r.inputs["chart"] for r in dev.of_type("kubernetes:helm.sh/v4:Chart")}
    assert "prometheus-postgres-exporter" not in charts and "prometheus-blackbox-exporter" not in charts
    assert any(w.startswith("exporters.blackbox: no probe targets") for w in dev.warnings)
    assert any(w.startswith("exporters.postgres.enabled: false") for w in dev.warnings)


def test_postgres_enabled_without_dsn_secret_is_a_clear_error(stack):
    import pytest

    from stacks.config import ConfigError

    with pytest.raises(ConfigError) as raised:
        stack("dev", {"exporters.postgres.enabled": True}, fill_required_secrets=False)
    assert "terrafusion-monitoring:postgresDsn: is required" in str(raised.value)


def test_duplicate_probe_names_are_rejected(stack):
    import pytest

    from stacks.config import ConfigError

    target = {"app": "web", "url": "https://a.example/"}
    with pytest.raises(ConfigError) as raised:
        stack("dev", {"exporters.blackbox.frontend": [target, target]})
    assert str(raised.value).startswith("terrafusion-monitoring:exporters.blackbox.frontend: each target needs its own name")


# --- elasticsearch_exporter and the Pushgateway, as Helm renders them ------------------------------

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def rendered_prod(rendered_objects):
    return {(o["kind"], o["metadata"]["name"]): o for o in rendered_objects["prod"]}


def test_the_elasticsearch_exporter_talks_tls_to_eck_and_renames_its_cluster_label(rendered_prod):
    deployment = rendered_prod[("Deployment", "elasticsearch-exporter")]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = container["command"]
    assert "--es.uri=https://logs-es-http.monitoring.svc:9200" in args and "--es.all" in args
    ca_arg = next(a for a in args if a.startswith("--es.ca="))
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert ca_arg.removeprefix("--es.ca=").rsplit("/", 1)[0] in mounts
    assert {e["name"] for e in container["env"]} == {"ES_USERNAME", "ES_PASSWORD"}
    assert not any("@" in a for a in args), "credentials never go in the URI"
    monitor = rendered_prod[("ServiceMonitor", "elasticsearch-exporter")]
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["honorLabels"] is True
    assert {"sourceLabels": ["cluster"], "targetLabel": "es_cluster", "action": "replace"} in endpoint["metricRelabelings"]
    assert {"regex": "cluster", "action": "labeldrop"} in endpoint["metricRelabelings"]
    account = rendered_prod[("ServiceAccount", "elasticsearch-exporter")]
    assert account["automountServiceAccountToken"] is False
    assert deployment["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_the_pushgateway_keeps_pushed_labels_and_its_groups_across_restarts(rendered_prod):
    monitor = rendered_prod[("ServiceMonitor", "pushgateway")]
    assert monitor["spec"]["endpoints"][0]["honorLabels"] is True
    pod = rendered_prod[("Deployment", "pushgateway")]["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    container = pod["containers"][0]
    data = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "storage-volume")
    assert f"--persistence.file={data}/pushgateway.db" in container["args"]
    claim = next(v for v in pod["volumes"] if v["name"] == "storage-volume")["persistentVolumeClaim"]["claimName"]
    assert ("PersistentVolumeClaim", claim) in rendered_prod
    # One writer of the file: a single replica, replaced (not surged) on rollout.
    deployment = rendered_prod[("Deployment", "pushgateway")]["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"]["type"] == "Recreate"


def test_pushgateway_without_persistence_has_no_claim(stack):
    run = stack("dev", {"exporters.pushgateway.persistence": False})
    values = run.chart("prometheus-pushgateway").plain_inputs["values"]
    assert values["persistentVolume"] == {"enabled": False} and "extraArgs" not in values
