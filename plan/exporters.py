"""The exporters' slices of the plan: the exporters the SLOs and rules need beyond
kube-prometheus-stack: the blackbox exporter with one Prometheus Operator `Probe` per frontend page
/ API endpoint, postgres_exporter for the application database, elasticsearch_exporter for the
platform's Elasticsearch, and the Pushgateway CI jobs push their per-run delivery values to (each a
producer of monitoring/metrics_contract.py). components/exporters.py declares them.

Chart facts (prometheus-blackbox-exporter 11.17.2, prometheus-postgres-exporter 8.2.0, read in
their values.yaml and templates): neither has Helm hooks; the blackbox chart has no Probe
template, so the Probes are declared by the component; a Probe's `prober.url` is host:port without
a scheme; postgres_exporter takes the whole DSN from an existing Secret (`config.datasourceSecret`),
and its ServiceMonitor accepts `relabelings`, used to set the `service` label the database SLOs
group by (the operator would otherwise label the series with the exporter's Service name).

Pod security: both charts already drop every capability, read-only, without a token; the values
add seccomp RuntimeDefault where missing and run both as nobody, the images' own user (`USER
nobody`; the charts default to 1000/1001), since they write nothing. Helm merges these maps into
the charts' defaults, so the container-level users are set too. postgres_exporter's Role has no
rules: no RBAC objects.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Mapping

from monitoring.alert_rules.platform import ES_CLUSTER_LABEL
from monitoring.slo_catalogue import API_PROBE_JOB, FRONTEND_PROBE_JOB
from plan.elasticsearch import EXPORTER_USER
from plan.endpoints import Credentials, Endpoint, SecretKeyRef
from plan.pod_security import NOBODY, restricted_container, restricted_pod
from plan.secrets import POSTGRES_DSN
from plan.settings import (
    BlackboxSettings,
    ElasticsearchExporterSettings,
    PostgresExporterSettings,
    PushgatewaySettings,
    StackSettings,
)

BLACKBOX_FULLNAME = "blackbox-exporter"
BLACKBOX_PORT = 9115
BLACKBOX_PORT_NAME = "http"  # the chart's Service port (prometheus-blackbox-exporter 11.17.2 templates/service.yaml)
BLACKBOX_MODULE = "http_2xx"
POSTGRES_FULLNAME = "postgres-exporter"
POSTGRES_PORT = 9187  # the container's `http` port (chart default); the Service maps 80 to it
POSTGRES_DSN_SECRET = "postgres-exporter-dsn"
POSTGRES_DSN_KEY = "dsn"


@dataclass(frozen=True)
class ExportersPlan:
    """The blackbox exporter and its Probes (when there are targets), postgres_exporter (when enabled)."""

    blackbox: Endpoint
    # None without probe targets: then neither the chart nor a Probe is deployed.
    blackbox_values: Mapping[str, Any] | None
    blackbox_extra_values: Mapping[str, Any]
    # Probe name -> spec.
    probes: Mapping[str, Mapping[str, Any]]
    # None when exporters.postgres is disabled; the component adds the DSN Secret's digest annotation.
    postgres_values: Mapping[str, Any] | None
    postgres_extra_values: Mapping[str, Any]
    # The secret config key holding the DSN (when enabled), and the Secret the exporter reads it from.
    postgres_dsn_key: str | None
    postgres_dsn_secret: SecretKeyRef


@dataclass(frozen=True)
class ElasticsearchExporterPlan:
    # The chart values; the component adds the digest annotation of the user's and the CA's Secrets.
    values: Mapping[str, Any]
    extra_values: Mapping[str, Any]
    # The Elasticsearch it monitors, and its user there.
    es: Endpoint
    es_user: Credentials


@dataclass(frozen=True)
class PushgatewayPlan:
    values: Mapping[str, Any]
    extra_values: Mapping[str, Any]
    endpoint: Endpoint


def blackbox_endpoint(namespace: str) -> Endpoint:
    """The blackbox exporter's probe API (`/probe`): what every Probe's prober addresses."""
    return Endpoint(BLACKBOX_FULLNAME, namespace, {BLACKBOX_PORT_NAME: BLACKBOX_PORT})


def blackbox_values(settings: BlackboxSettings) -> dict[str, Any]:
    return {
        "fullnameOverride": BLACKBOX_FULLNAME,
        "replicas": settings.replicas,
        "resources": settings.resources.to_k8s(),
        # Ref: https://github.com/prometheus/blackbox_exporter/blob/master/CONFIGURATION.md#http_probe
        "config": {
            "modules": {
                BLACKBOX_MODULE: {
                    "prober": "http",
                    "timeout": "5s",
                    "http": {
                        "valid_http_versions": ["HTTP/1.1", "HTTP/2.0"],
                        "follow_redirects": True,
                        "preferred_ip_protocol": "ip4",
                    },
                }
            }
        },
        "podDisruptionBudget": {"maxUnavailable": 1} if settings.replicas > 1 else {},
        # Ref: prometheus-blackbox-exporter 11.17.2 values.yaml `podSecurityContext`, `securityContext`
        # (the http prober needs no NET_RAW); templates/_helpers.tpl podSpec.
        "podSecurityContext": restricted_pod(run_as_user=NOBODY, run_as_group=NOBODY),
        "securityContext": restricted_container(runAsUser=NOBODY, runAsGroup=NOBODY),
    }


def probe_specs(settings: BlackboxSettings, blackbox: Endpoint) -> dict[str, dict[str, Any]]:
    """Probe name -> spec. One Probe per target, because static labels apply to a whole Probe."""
    prober = {"url": blackbox.address(), "path": "/probe"}

    def spec(job: str, url: str, labels: dict[str, str]) -> dict[str, Any]:
        return {
            "jobName": job,
            "interval": settings.interval,
            "module": BLACKBOX_MODULE,
            "prober": prober,
            "targets": {"staticConfig": {"static": [url], "labels": labels}},
        }

    probes = {f"frontend-{p.app}": spec(FRONTEND_PROBE_JOB, p.url, {"app": p.app}) for p in settings.frontend}
    probes |= {f"api-{p.service}": spec(API_PROBE_JOB, p.url, {"service": p.service}) for p in settings.api}
    return dict(sorted(probes.items()))


def postgres_exporter_values(settings: PostgresExporterSettings) -> dict[str, Any]:
    return {
        "fullnameOverride": POSTGRES_FULLNAME,
        "resources": settings.resources.to_k8s(),
        "config": {"datasourceSecret": {"name": POSTGRES_DSN_SECRET, "key": POSTGRES_DSN_KEY}},
        # Ref: prometheus-postgres-exporter 8.2.0 values.yaml `podSecurityContext`, `securityContext`,
        # `rbac.create` (templates/role.yaml renders a Role with no rules).
        "podSecurityContext": restricted_pod(run_as_user=NOBODY, run_as_group=NOBODY),
        "securityContext": restricted_container(),
        "rbac": {"create": False},
        "serviceMonitor": {
            "enabled": True,
            # Relabelings run after the operator's own, so this replaces service="postgres-exporter".
            "relabelings": [{"action": "replace", "targetLabel": "service", "replacement": settings.service}],
        },
    }


def exporter_warnings(blackbox: BlackboxSettings, postgres: PostgresExporterSettings) -> list[str]:
    """What the stack will not measure, for the program to warn about."""
    warnings = []
    if not blackbox.frontend and blackbox.api:
        warnings.append(
            "exporters.blackbox.frontend: no frontend probe targets; the frontend availability SLO "
            "(probe_success) has no data in this stack"
        )
    elif not blackbox.frontend:
        warnings.append(
            "exporters.blackbox: no probe targets; this stack has no frontend availability SLO and no "
            "probe alerts or panels"
        )
    if not postgres.enabled:
        warnings.append(
            "exporters.postgres.enabled: false; this stack has no database availability or replication "
            "lag SLO and no pg_* alerts or panels"
        )
    return warnings


def exporters_plan(settings: StackSettings) -> ExportersPlan:
    blackbox, postgres = settings.exporters.blackbox, settings.exporters.postgres
    endpoint = blackbox_endpoint(settings.namespace)
    probes = probe_specs(blackbox, endpoint)
    return ExportersPlan(
        blackbox=endpoint,
        blackbox_values=blackbox_values(blackbox) if probes else None,
        blackbox_extra_values=blackbox.extra_values,
        probes=probes,
        postgres_values=postgres_exporter_values(postgres) if postgres.enabled else None,
        postgres_extra_values=postgres.extra_values,
        postgres_dsn_key=POSTGRES_DSN.key if postgres.enabled else None,
        postgres_dsn_secret=SecretKeyRef(POSTGRES_DSN_SECRET, POSTGRES_DSN_KEY),
    )


# --- Elasticsearch: elasticsearch_exporter ------------------------------------------------------

ES_EXPORTER_FULLNAME = "elasticsearch-exporter"
ES_EXPORTER_PORT = 9108  # chart `service.httpPort`, also the container's listen port
ES_EXPORTER_CA_DIR = "/etc/elasticsearch-exporter/ca"
# The exporter's `cluster` label (the Elasticsearch cluster name, "logs") would shadow the Prometheus
# external label `cluster` (the Kubernetes cluster) on these series: external labels never replace a
# series label. The ServiceMonitor renames it to ES_CLUSTER_LABEL, which the rules group by.


def elasticsearch_exporter_values(settings: ElasticsearchExporterSettings, es: Endpoint) -> dict[str, Any]:
    """elasticsearch_exporter against the ECK cluster over https, trusting the platform's ES CA, as a
    user whose only privilege is `monitor` on the cluster (plan/elasticsearch.py EXPORTER_USER).

    Only the default collectors (cluster health, node stats of every node with `es.all`) run: the
    rules and panels read elasticsearch_cluster_health_status and elasticsearch_filesystem_data_*,
    and the index/shard/snapshot collectors would need index privileges.
    Ref: prometheus-elasticsearch-exporter 7.4.0 values.yaml (`es.*`, `es.ssl.useExistingSecrets`,
    `secretMounts`, `extraEnvSecrets`, `serviceAccount`, `serviceMonitor`), templates/deployment.yaml
    (flags --es.uri/--es.all/--es.ca), templates/servicemonitor.yaml (honorLabels: true, jobLabel);
    prometheus-community/elasticsearch_exporter@v1.11.0 README.md (ES_USERNAME/ES_PASSWORD override
    the URI's credentials; privileges per collector), Dockerfile (USER nobody).
    """
    es_url = es.url()
    if not es_url.startswith("https://"):
        raise AssertionError(f"es_url: {es_url!r} must be https:// (ECK serves TLS)")
    user = es.user(EXPORTER_USER.username)
    return {
        "fullnameOverride": ES_EXPORTER_FULLNAME,
        "resources": settings.resources.to_k8s(),
        "es": {
            "uri": es_url,
            "all": True,
            "indices": False,
            "indices_settings": False,
            "indices_mappings": False,
            "shards": False,
            "snapshots": False,
            "ssl": {
                "enabled": True,
                "useExistingSecrets": True,
                "ca": {"path": f"{ES_EXPORTER_CA_DIR}/{es.ca.key}"},
                "client": {"enabled": False},
            },
        },
        "secretMounts": [{"name": "es-ca", "secretName": es.ca.name, "path": ES_EXPORTER_CA_DIR}],
        "extraEnvSecrets": {
            "ES_USERNAME": {"secret": user.secret, "key": user.username_key},
            "ES_PASSWORD": {"secret": user.secret, "key": user.password_key},
        },
        # Its own ServiceAccount without a token (the chart's default is the namespace's `default`).
        "serviceAccount": {"create": True, "name": ES_EXPORTER_FULLNAME, "automountServiceAccountToken": False},
        "podSecurityContext": restricted_pod(run_as_user=NOBODY, run_as_group=NOBODY),
        "securityContext": restricted_container(),
        "serviceMonitor": {
            "enabled": True,
            # Health changes slowly; the chart's 10s default would query the cluster 6x a minute.
            "interval": "30s",
            "scrapeTimeout": "10s",
            "metricRelabelings": [
                {"sourceLabels": ["cluster"], "targetLabel": ES_CLUSTER_LABEL, "action": "replace"},
                {"regex": "cluster", "action": "labeldrop"},
            ],
        },
    }


def elasticsearch_exporter_object_patch(obj: dict[str, Any]) -> dict[str, Any]:
    """The chart has no value for the pod's automountServiceAccountToken (only its ServiceAccount's):
    state it on the pod too, the exporter never calls the Kubernetes API.
    Ref: prometheus-elasticsearch-exporter 7.4.0 templates/deployment.yaml, templates/serviceaccount.yaml"""
    if obj.get("kind") != "Deployment" or obj.get("metadata", {}).get("name") != ES_EXPORTER_FULLNAME:
        return obj
    obj = copy.deepcopy(obj)
    obj["spec"]["template"]["spec"]["automountServiceAccountToken"] = False
    return obj


def elasticsearch_exporter_plan(settings: StackSettings, es: Endpoint) -> ElasticsearchExporterPlan:
    """`es`: the Elasticsearch HTTP endpoint (plan/elasticsearch.py http_endpoint), with the exporter's user."""
    exporter = settings.exporters.elasticsearch
    return ElasticsearchExporterPlan(
        values=elasticsearch_exporter_values(exporter, es),
        extra_values=exporter.extra_values,
        es=es,
        es_user=es.user(EXPORTER_USER.username),
    )


# --- CI delivery values: the Pushgateway --------------------------------------------------------

PUSHGATEWAY_FULLNAME = "pushgateway"
PUSHGATEWAY_PORT = 9091  # chart `service.port`/`targetPort`, the container's only port
PUSHGATEWAY_PORT_NAME = "http"  # the chart's Service port (prometheus-pushgateway 3.8.0 templates/service.yaml)
PUSHGATEWAY_DATA_DIR = "/data"  # chart `persistentVolume.mountPath`


def pushgateway_endpoint(namespace: str) -> Endpoint:
    """Where CI jobs push (README "Application contract")."""
    return Endpoint(PUSHGATEWAY_FULLNAME, namespace, {PUSHGATEWAY_PORT_NAME: PUSHGATEWAY_PORT})


def pushgateway_values(settings: PushgatewaySettings, namespace: str, storage_class: str | None) -> dict[str, Any]:
    """The Pushgateway CI jobs push per-run values to (README "Application contract").

    It is a metrics cache, not an aggregator: a push replaces its group's values, so it carries the
    per-run gauges (build duration, coverage) and never a counter of runs (those go through the
    collector's event path, monitoring/otel.py). honorLabels keeps the pushed `job` and grouping
    labels instead of the Pushgateway target's. Persistence (default on): without `--persistence.file`
    the groups live in memory and a restart empties them until each pipeline runs again.
    Ref: prometheus-pushgateway 3.8.0 values.yaml (`serviceMonitor.honorLabels`, `persistentVolume`,
    `extraArgs`, `securityContext`, `containerSecurityContext`, `automountServiceAccountToken`,
    `strategy: Recreate`), templates/_helpers.tpl podSpec (emptyDir at /data without a PVC);
    prometheus/pushgateway@v1.11.3 README.md ("About the job and instance labels", grouping key,
    PUT/POST/DELETE, `--persistence.file`).
    """
    values: dict[str, Any] = {
        "fullnameOverride": PUSHGATEWAY_FULLNAME,
        "resources": settings.resources.to_k8s(),
        "automountServiceAccountToken": False,
        "securityContext": restricted_pod(run_as_user=NOBODY, run_as_group=NOBODY, fs_group=NOBODY),
        "containerSecurityContext": restricted_container(),
        "serviceMonitor": {"enabled": True, "namespace": namespace, "honorLabels": True},
        "persistentVolume": {"enabled": settings.persistence},
    }
    if settings.persistence:
        values["persistentVolume"] |= {"size": str(settings.storage_size)}
        if storage_class:
            values["persistentVolume"]["storageClass"] = storage_class
        values["extraArgs"] = [f"--persistence.file={PUSHGATEWAY_DATA_DIR}/pushgateway.db"]
    return values


def pushgateway_plan(settings: StackSettings) -> PushgatewayPlan:
    pushgateway = settings.exporters.pushgateway
    return PushgatewayPlan(
        values=pushgateway_values(pushgateway, settings.namespace, settings.storage_class),
        extra_values=pushgateway.extra_values,
        endpoint=pushgateway_endpoint(settings.namespace),
    )
