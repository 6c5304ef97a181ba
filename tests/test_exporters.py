"""Exporters the SLOs need: blackbox Probes per target with the SLO's grouping label, and
postgres_exporter with its DSN from a secret and the `service` label the database SLOs use."""

from __future__ import annotations

from components.exporters import BLACKBOX_FULLNAME, BLACKBOX_PORT, POSTGRES_DSN_SECRET
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
    assert any(w.startswith("exporters.blackbox.frontend: no frontend probe targets") for w in dev.warnings)
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
