"""Logs and traces as deployed: every client of Elasticsearch points at the Service, CA and user
Secrets the program declares; Fluent Bit ships by family with events collected once; Jaeger
stores in the same cluster and samples per endpoint; Grafana correlates traces, logs, metrics."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from plan.elasticsearch import es_roles
from plan.elasticsearch import CA_SECRET, EXPORTER_USER, FLUENT_BIT_USER, GRAFANA_USER, JAEGER_USER
from monitoring.datasources import ELASTICSEARCH_LOGS_UID, JAEGER_UID, THANOS_UID
from monitoring.logs import LogFamily, es_requests_hash
from monitoring.otel import SPANMETRICS_PROMETHEUS_NAMES
from monitoring.tracing import sampling_strategies_schema
from stacks.config import ConfigError
from tools.mockrun import is_secret

ES_TYPE = "kubernetes:elasticsearch.k8s.elastic.co/v1:Elasticsearch"
JOB_TYPE = "kubernetes:batch/v1:Job"
ES_HOST = "logs-es-http.monitoring.svc"


def _es(run):
    return run.one(ES_TYPE).plain_inputs


def _chart_values(run, resource_name):
    return run.one("kubernetes:helm.sh/v4:Chart", resource_name).plain_inputs["values"]


def _node_pipeline(run):
    return yaml.safe_load(run.result.plan.fluent_bit.node_config)


def test_prod_elasticsearch_has_three_persistent_nodes_on_separate_hosts(prod):
    (node_set,) = _es(prod)["spec"]["nodeSets"]
    assert node_set["count"] == 3
    assert node_set["volumeClaimTemplates"][0]["metadata"]["name"] == "elasticsearch-data"
    assert node_set["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "200Gi"
    rule = node_set["podTemplate"]["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
    assert rule["topologyKey"] == "kubernetes.io/hostname"


def test_prod_elasticsearch_is_protected(prod):
    assert prod.one(ES_TYPE).protect


def test_max_map_count_is_handled_in_both_stacks(dev, prod):
    # prod: a DaemonSet in the agents namespace raises it on every node; Elasticsearch waits for it
    # in an unprivileged init container. dev: mmap off, no DaemonSet.
    setter = prod.one("kubernetes:apps/v1:DaemonSet", "terrafusion-elasticsearch-max-map-count").plain_inputs
    assert setter["metadata"]["namespace"] == "monitoring-agents"
    (set_it,) = setter["spec"]["template"]["spec"]["initContainers"]
    assert "echo 1048576 > /proc/sys/vm/max_map_count" in set_it["command"][-1]
    prod_set = _es(prod)["spec"]["nodeSets"][0]
    (wait,) = prod_set["podTemplate"]["spec"]["initContainers"]
    assert "-ge 1048576" in wait["command"][-1] and wait["securityContext"]["privileged"] is False
    assert _es(dev)["spec"]["nodeSets"][0]["config"]["node.store.allow_mmap"] is False
    assert not dev.of_type("kubernetes:apps/v1:DaemonSet")


def test_elasticsearch_serves_our_certificate_whose_ca_clients_mount(prod):
    assert _es(prod)["spec"]["http"]["tls"]["certificate"]["secretName"] == "logs-es-http-tls"
    tls_secret = prod.one("kubernetes:core/v1:Secret", "terrafusion-elasticsearch-http-tls")
    ca_secret = prod.one("kubernetes:core/v1:Secret", "terrafusion-elasticsearch-ca-public").plain_inputs
    assert is_secret(tls_secret.inputs["stringData"])
    assert ca_secret["metadata"]["name"] == CA_SECRET
    assert tls_secret.plain_inputs["stringData"]["ca.crt"] == ca_secret["stringData"]["ca.crt"]


def test_each_client_has_its_own_file_realm_user(prod):
    realm = {entry["secretName"] for entry in _es(prod)["spec"]["auth"]["fileRealm"]}
    assert realm == {u.secret_name for u in (FLUENT_BIT_USER, JAEGER_USER, GRAFANA_USER, EXPORTER_USER)}
    for user in (FLUENT_BIT_USER, JAEGER_USER, GRAFANA_USER, EXPORTER_USER):
        secret = prod.one("kubernetes:core/v1:Secret", f"terrafusion-elasticsearch-user-{user.username}")
        assert secret.plain_inputs["type"] == "kubernetes.io/basic-auth"
        assert secret.plain_inputs["stringData"]["roles"] == user.role
        assert is_secret(secret.inputs["stringData"])


def test_log_writer_can_only_append_to_log_streams():
    role = es_roles("traces")[FLUENT_BIT_USER.role]
    assert role["indices"] == [{"names": ["logs-*"], "privileges": ["create_doc", "auto_configure"]}]


def test_the_elasticsearch_exporter_can_only_monitor(prod):
    # Ref: prometheus-community/elasticsearch_exporter@v1.11.0 README.md: the default collectors need
    # `monitor` on the cluster; the index/shard/snapshot collectors (which need more) are off.
    assert es_roles("traces")[EXPORTER_USER.role] == {"cluster": ["monitor"]}
    chart = prod.chart("prometheus-elasticsearch-exporter").plain_inputs
    es = chart["values"]["es"]
    assert es["uri"].startswith("https://") and es["ssl"]["enabled"] and es["all"]
    assert not any(es[c] for c in ("indices", "indices_settings", "indices_mappings", "shards", "snapshots"))
    env = chart["values"]["extraEnvSecrets"]
    assert {v["secret"] for v in env.values()} == {EXPORTER_USER.secret_name}


def test_grafana_can_only_read():
    role = es_roles("traces")[GRAFANA_USER.role]
    assert all(set(i["privileges"]) <= {"read", "view_index_metadata"} for i in role["indices"])


def test_lifecycle_job_is_named_after_its_requests(prod):
    job = prod.one(JOB_TYPE, "terrafusion-elasticsearch-lifecycle-job").plain_inputs
    settings = prod.result.plan.settings
    assert job["metadata"]["name"] == f"es-lifecycle-{es_requests_hash(settings.logs, settings.index_replicas)}"


def test_changing_a_log_retention_replaces_the_lifecycle_job(prod, stack):
    changed = stack("prod", {"logs.families.app.deleteAfter": "60d"})
    name = lambda run: run.one(JOB_TYPE, "terrafusion-elasticsearch-lifecycle-job").plain_inputs["metadata"]["name"]  # noqa: E731
    assert name(changed) != name(prod)


def test_lifecycle_job_applies_policies_before_templates(prod):
    config_map = prod.one("kubernetes:core/v1:ConfigMap", "terrafusion-elasticsearch-lifecycle").plain_inputs
    paths = [line.split()[1] for line in config_map["data"]["plan.txt"].splitlines()]
    assert paths and all(p.startswith("/_ilm/policy/") for p in paths[:4])
    assert all(p.startswith("/_index_template/") for p in paths[4:])


def test_prod_keeps_audit_logs_a_year_and_debug_logs_days(stack):
    with pytest.raises(ConfigError) as raised:
        stack("prod", {"logs.families.audit.deleteAfter": "90d"})
    assert str(raised.value).startswith("terrafusion-monitoring:logs.families.audit.deleteAfter: '90d'")


def test_fluent_bit_ships_every_family_to_the_declared_service_over_tls(prod):
    outputs = _node_pipeline(prod)["pipeline"]["outputs"]
    families = {o["index"] for o in outputs}
    assert families == {f"logs-{f.value}-default" for f in LogFamily}
    for output in outputs:
        assert (output["host"], output["port"]) == (ES_HOST, 9200)
        assert output["tls"] == "on" and output["tls.ca_file"] == "/fluent-bit/es-ca/ca.crt"
        assert output["http_user"] == "${ES_USER}" and output["http_passwd"] == "${ES_PASSWORD}"


def test_fluent_bit_mounts_the_ca_and_reads_credentials_from_its_user_secret(prod):
    values = _chart_values(prod, "terrafusion-fluent-bit-node")
    assert {"name": "es-ca", "secret": {"secretName": CA_SECRET}} in values["extraVolumes"]
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in values["env"]}
    assert refs == {
        "ES_USER": {"name": FLUENT_BIT_USER.secret_name, "key": "username"},
        "ES_PASSWORD": {"name": FLUENT_BIT_USER.secret_name, "key": "password"},
    }


def test_the_node_daemonset_reads_copies_of_the_ca_and_its_user_in_the_agents_namespace(prod):
    """Secrets are only readable in their own namespace: the DaemonSet (agents namespace) gets
    copies with the same names and values as the platform namespace's, which ECK reads."""
    assert prod.one("kubernetes:helm.sh/v4:Chart", "terrafusion-fluent-bit-node").plain_inputs["namespace"] == "monitoring-agents"
    assert prod.one("kubernetes:helm.sh/v4:Chart", "terrafusion-fluent-bit-events").plain_inputs["namespace"] == "monitoring"
    ca = prod.one("kubernetes:core/v1:Secret", "terrafusion-elasticsearch-ca-public").plain_inputs
    ca_copy = prod.one("kubernetes:core/v1:Secret", "terrafusion-elasticsearch-agents-ca-public").plain_inputs
    assert (ca_copy["metadata"]["name"], ca_copy["metadata"]["namespace"]) == (CA_SECRET, "monitoring-agents")
    assert ca_copy["stringData"] == ca["stringData"]
    user = prod.one("kubernetes:core/v1:Secret", "terrafusion-elasticsearch-user-fluentbit")
    user_copy = prod.one("kubernetes:core/v1:Secret", "terrafusion-elasticsearch-agents-user-fluentbit")
    copy_meta = user_copy.plain_inputs["metadata"]
    assert (copy_meta["name"], copy_meta["namespace"]) == (FLUENT_BIT_USER.secret_name, "monitoring-agents")
    assert user_copy.plain_inputs["stringData"]["password"] == user.plain_inputs["stringData"]["password"]
    assert is_secret(user_copy.inputs["stringData"])
    node = prod.one("kubernetes:helm.sh/v4:Chart", "terrafusion-fluent-bit-node")
    assert user_copy.urn in node.depends_on and prod.one(
        "kubernetes:core/v1:ConfigMap", "terrafusion-fluent-bit-node-config"
    ).plain_inputs["metadata"]["namespace"] == "monitoring-agents"


def test_fluent_bit_buffers_on_the_node_so_an_outage_loses_nothing(prod):
    values = _chart_values(prod, "terrafusion-fluent-bit-node")
    (state,) = [v for v in values["extraVolumes"] if v["name"] == "state"]
    assert state["hostPath"]["path"] == "/var/fluent-bit/state"
    assert all(o["retry_limit"] == "no_limits" for o in _node_pipeline(prod)["pipeline"]["outputs"])


def test_events_are_collected_by_exactly_one_pod(prod):
    node = _chart_values(prod, "terrafusion-fluent-bit-node")
    events = _chart_values(prod, "terrafusion-fluent-bit-events")
    assert node["kind"] == "DaemonSet" and events["kind"] == "Deployment" and events["replicaCount"] == 1
    assert events["rbac"]["eventsAccess"] is True
    node_inputs = [i["name"] for i in _node_pipeline(prod)["pipeline"]["inputs"]]
    events_inputs = [i["name"] for i in yaml.safe_load(prod.result.plan.fluent_bit.events_config)["pipeline"]["inputs"]]
    assert "kubernetes_events" not in node_inputs and events_inputs == ["kubernetes_events"]


def test_no_password_in_any_log_or_trace_config(prod):
    plan = prod.result.plan
    texts = [plan.fluent_bit.node_config, plan.fluent_bit.events_config, json.dumps(plan.tracing.jaeger_values)]
    for text in texts:
        assert "mock-password" not in text


def test_shippers_wait_for_the_lifecycle_job(prod):
    job = prod.one(JOB_TYPE, "terrafusion-elasticsearch-lifecycle-job")
    for release in ("terrafusion-fluent-bit-node", "terrafusion-fluent-bit-events", "terrafusion-tracing-jaeger"):
        assert job.urn in prod.one("kubernetes:helm.sh/v4:Chart", release).depends_on, release


def test_jaeger_stores_in_the_declared_elasticsearch(prod):
    values = _chart_values(prod, "terrafusion-tracing-jaeger")
    storage = values["userconfig"]["extensions"]["jaeger_storage"]["backends"]
    (backend,) = storage.values()
    es = backend["elasticsearch"]
    assert es["server_urls"] == [f"https://{ES_HOST}:9200"]
    assert es["tls"]["ca_file"] == "/etc/jaeger/es-ca/ca.crt"
    refs = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in values["jaeger"]["extraEnv"]}
    assert set(refs.values()) == {JAEGER_USER.secret_name}


def test_jaeger_reads_sampling_from_the_mounted_strategies(prod):
    values = _chart_values(prod, "terrafusion-tracing-jaeger")
    path = values["userconfig"]["extensions"]["remote_sampling"]["file"]["path"]
    (mount,) = [m for m in values["jaeger"]["extraVolumeMounts"] if m["name"] == "sampling"]
    assert path.startswith(mount["mountPath"] + "/") and "subPath" not in mount


def test_rendered_sampling_strategies_match_jaegers_schema_and_policy(prod):
    strategies = json.loads(prod.result.plan.tracing.sampling_json)
    jsonschema.validate(strategies, sampling_strategies_schema())
    checkout = {s["service"]: s for s in strategies["service_strategies"]}["checkout"]
    (op,) = [o for o in checkout["operation_strategies"] if o["operation"] == "POST /api/checkout"]
    assert (op["type"], op["param"]) == ("probabilistic", 1.0)
    health = [o for o in strategies["default_strategy"]["operation_strategies"] if "health" in o["operation"]]
    assert health and all(o["param"] == 0 for o in health)


def test_collector_sends_traces_to_jaeger_and_allows_the_frontend_origin(prod):
    config = _chart_values(prod, "terrafusion-tracing-collector")["alternateConfig"]
    exporters = [v for k, v in config["exporters"].items() if k.startswith("otlp")]
    assert exporters[0]["endpoint"] == "jaeger.monitoring.svc:4317"
    cors = config["receivers"]["otlp"]["protocols"]["http"]["cors"]["allowed_origins"]
    assert cors == ["https://app.terrafusion.example"]


def test_span_metrics_are_scraped_with_their_own_service_label(prod):
    monitor = _chart_values(prod, "terrafusion-tracing-collector")["serviceMonitor"]
    assert {"port": "prom-exporter", "honorLabels": True} in monitor["metricsEndpoints"]


def test_grafana_logs_datasource_reads_log_streams_with_its_own_user_and_the_ca(prod):
    ds = prod.one("grafana:oss/dataSource:DataSource", f"terrafusion-grafana-content-datasource-{ELASTICSEARCH_LOGS_UID}")
    data = json.loads(ds.plain_inputs["jsonDataEncoded"])
    assert (data["index"], data["timeField"]) == ("logs-*", "@timestamp")
    assert ds.plain_inputs["basicAuthUsername"] == GRAFANA_USER.username
    assert is_secret(ds.inputs["secureJsonDataEncoded"])
    secure = json.loads(ds.plain_inputs["secureJsonDataEncoded"])
    assert set(secure) == {"basicAuthPassword", "tlsCACert"}


def test_traces_link_to_logs_and_metrics(prod):
    ds = prod.one("grafana:oss/dataSource:DataSource", f"terrafusion-grafana-content-datasource-{JAEGER_UID}")
    data = json.loads(ds.plain_inputs["jsonDataEncoded"])
    assert data["tracesToLogsV2"]["datasourceUid"] == ELASTICSEARCH_LOGS_UID
    assert data["tracesToMetrics"]["datasourceUid"] == THANOS_UID
    assert ds.plain_inputs["url"] == "http://jaeger.monitoring.svc:16686"


def test_trace_retention_cronjob_deletes_with_jaegers_own_user(prod):
    cron = prod.one("kubernetes:batch/v1:CronJob", "terrafusion-tracing-retention").plain_inputs
    container = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e for e in container["env"]}
    assert env["RETENTION_DAYS"]["value"] == "7"
    assert env["INDEX_PREFIX"]["value"] == "traces"
    assert env["ES_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == JAEGER_USER.secret_name
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_jaegers_monitor_tab_reads_the_collectors_span_metrics_through_thanos_query(prod):
    """Jaeger's Service Performance Monitoring asks Prometheus for `<namespace>_calls` (+ `_total`
    when normalize_calls) and `<namespace>_duration` (+ `_<milliseconds|seconds>` when
    normalize_duration, then `_bucket`): those names must be the ones the collector exports.
    Ref: jaegertracing/jaeger@v2.19.0 internal/storage/metricstore/prometheus/metricstore/reader.go"""
    extensions = _chart_values(prod, "terrafusion-tracing-jaeger")["userconfig"]["extensions"]
    backend = extensions["jaeger_storage"]["metric_backends"][extensions["jaeger_query"]["storage"]["metrics"]]["prometheus"]
    assert backend["endpoint"] == prod.result.plan.thanos.query.url("http")
    unit = {"ms": "milliseconds", "s": "seconds"}[backend["latency_unit"]]
    calls = f"{backend['metric_namespace']}_calls" + ("_total" if backend["normalize_calls"] else "")
    duration = f"{backend['metric_namespace']}_duration" + (f"_{unit}" if backend["normalize_duration"] else "")
    assert {"calls": calls, "duration": duration} == SPANMETRICS_PROMETHEUS_NAMES
