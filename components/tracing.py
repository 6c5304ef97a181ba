"""Traces: Jaeger v2 storing in Elasticsearch with per-endpoint remote sampling, and the
OpenTelemetry Collector as the OTLP gateway for services and browsers.

Chart facts:
- jaeger 4.11.1 (Jaeger 2.19.0): one all-in-one Deployment; the server is configured only by
  `userconfig` (monitoring/tracing.py builds it); `jaeger.extraEnv`/`extraVolumes` carry the ES
  credentials (by Secret reference) and the sampling strategies ConfigMap, mounted as a directory
  so Jaeger's reload sees updates (a subPath mount never changes). The Service lacks the gRPC
  sampling port 5779, added through `jaeger.service.extraPorts`. Its only hooks belong to the
  ES rollover job, left off.
- opentelemetry-collector 0.170.0: `mode` and `image.repository` are required; the contrib image
  because the k8s distribution has no prometheus exporter; `alternateConfig` replaces the chart's
  default config instead of merging into it (no stray jaeger/zipkin receivers); the span-metrics
  port 8889 is added under `ports` and scraped with honorLabels so `service` stays `service`.

Pod security (`restricted`, components/security.py): Jaeger runs as its image's user 10001
(jaegertracing/jaeger cmd/jaeger/Dockerfile `USER ${USER_UID}`, which declares `VOLUME /tmp`: an
emptyDir there, the root filesystem read-only); with Elasticsearch storage it writes nothing else
and never calls the Kubernetes API, so its ServiceAccount mounts no token (the chart has no pod-level
key; the pod inherits the ServiceAccount's). The collector runs as its image's 10001:10001
(opentelemetry-collector-releases distributions/otelcol-contrib/Dockerfile) with no file storage,
and keeps its token: the k8sattributes processor reads pods from the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options, declare_chart
from components.jobs import env_from_secret, plain_env, script_pod
from plan.elasticsearch import CA_KEY, CA_SECRET, JAEGER_USER
from components.labels import standard_labels
from components.rollout import ContentDigests, ObjectRef
from plan.pod_security import restricted_container, restricted_pod, tmp_mount, tmp_volume
from plan.versions import CURL_IMAGE, JAEGER, OTEL_COLLECTOR, OTEL_COLLECTOR_IMAGE, OTEL_COLLECTOR_IMAGE_TAG
from monitoring.otel import OTLP_HTTP_PORT, PROMETHEUS_EXPORTER_PORT, collector_api_rules, otel_collector_config, otlp_http_paths
from monitoring.tracing import (
    OTLP_GRPC_PORT,
    SAMPLING_GRPC_PORT,
    SamplingSpec,
    jaeger_user_config,
    sampling_strategies_json,
    trace_index_cleanup_script,
)
from plan.settings import JaegerSettings, OtelCollectorIngress, OtelCollectorSettings

JAEGER_FULLNAME = "jaeger"
COLLECTOR_FULLNAME = "otel-collector"
SAMPLING_CONFIG_MAP = "jaeger-sampling-strategies"
SAMPLING_DIR = "/etc/jaeger/sampling"
SAMPLING_FILE = "strategies.json"
CA_DIR = "/etc/jaeger/es-ca"
USER_ENV, PASSWORD_ENV = "ES_USERNAME", "ES_PASSWORD"
JAEGER_UID = 10001  # the image's USER_UID (the chart's podSecurityContext default too)
COLLECTOR_UID = 10001  # the contrib image's USER_UID:USER_GID


def jaeger_pod_labels(release: str) -> dict[str, str]:
    """The labels the chart gives the all-in-one pods: what the PodDisruptionBudget selects.
    Ref: jaeger 4.11.1 templates/jaeger/jaeger-deploy.yaml (`jaeger.selectorLabels` + component)."""
    return {"app.kubernetes.io/name": JAEGER.chart, "app.kubernetes.io/instance": release, "app.kubernetes.io/component": "all-in-one"}


def jaeger_rollout(replicas: int) -> dict[str, Any]:
    """Values for more than one replica: the chart falls back to `Recreate` (safe for its in-memory
    and badger storage, where two processes must not share the data), which stops every replica
    before starting any, i.e. a tracing outage on each rollout. With Elasticsearch storage each
    replica is stateless (writes go to ES, index templates are an idempotent PUT, the file sampling
    strategies are read per process), so the pods roll one at a time with a surge and never below
    `replicas`, spread over nodes. One replica keeps the chart's default.
    Ref: jaeger 4.11.1 values.yaml jaeger.{strategy,affinity}; templates/jaeger/jaeger-deploy.yaml
    (`strategy` falls back to Recreate)."""
    if replicas <= 1:
        return {}
    return {
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": JAEGER.chart, "app.kubernetes.io/component": "all-in-one"}},
                        },
                    }
                ]
            }
        },
    }


def jaeger_values(settings: JaegerSettings, es_url: str, index_replicas: int) -> dict[str, Any]:
    return {
        "fullnameOverride": JAEGER_FULLNAME,
        "userconfig": jaeger_user_config(
            es_url,
            USER_ENV,
            PASSWORD_ENV,
            f"{CA_DIR}/{CA_KEY}",
            f"{SAMPLING_DIR}/{SAMPLING_FILE}",
            settings.index_prefix,
            replicas=index_replicas,
        ),
        "jaeger": {
            "replicas": settings.replicas,
            **jaeger_rollout(settings.replicas),
            "resources": settings.resources.to_k8s(),
            "extraEnv": [
                {"name": var, "valueFrom": {"secretKeyRef": {"name": JAEGER_USER.secret_name, "key": key}}}
                for var, key in ((USER_ENV, "username"), (PASSWORD_ENV, "password"))
            ],
            "extraVolumes": [
                {"name": "sampling", "configMap": {"name": SAMPLING_CONFIG_MAP}},
                {"name": "es-ca", "secret": {"secretName": CA_SECRET}},
                tmp_volume(),
            ],
            "extraVolumeMounts": [
                {"name": "sampling", "mountPath": SAMPLING_DIR, "readOnly": True},
                {"name": "es-ca", "mountPath": CA_DIR, "readOnly": True},
                tmp_mount(),
            ],
            # Ref: jaeger 4.11.1 values.yaml jaeger.podSecurityContext, jaeger.securityContext,
            # jaeger.serviceAccount.automountServiceAccountToken; templates/jaeger/jaeger-deploy.yaml,
            # templates/jaeger/jaeger-service-account.yaml.
            "podSecurityContext": restricted_pod(run_as_user=JAEGER_UID, run_as_group=JAEGER_UID, fs_group=JAEGER_UID),
            "securityContext": restricted_container(),
            "serviceAccount": {"automountServiceAccountToken": False},
            "service": {
                "extraPorts": [{"name": "sampling-grpc", "port": SAMPLING_GRPC_PORT, "targetPort": SAMPLING_GRPC_PORT}]
            },
        },
        # The chart has no ServiceMonitor template; extraObjects go through `tpl`, so the selector
        # names this release. Jaeger v2 is a collector build: its storage exporter is an
        # exporterhelper exporter (otelcol_exporter_*{exporter="jaeger_storage_exporter"}), its OTLP
        # receiver reports otelcol_receiver_*; the user config pulls them on :8888.
        # Ref: jaeger 4.11.1 templates/jaeger/jaeger-service.yaml (port `internal-metrics` 8888),
        #      templates/jaeger/jaeger-extra-list.yaml (extraObjects, tpl);
        #      jaegertracing/jaeger@v2.19.0 cmd/jaeger/internal/exporters/storageexporter/factory.go
        "extraObjects": [jaeger_service_monitor()],
    }


def jaeger_service_monitor() -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": {"name": JAEGER_FULLNAME, "labels": {"app.kubernetes.io/name": JAEGER.chart}},
        "spec": {
            "selector": {
                "matchLabels": {
                    "app.kubernetes.io/name": JAEGER.chart,
                    "app.kubernetes.io/instance": "{{ .Release.Name }}",
                    "app.kubernetes.io/component": "all-in-one",
                }
            },
            "endpoints": [{"port": "internal-metrics", "path": "/metrics"}],
        },
    }


def collector_ingress(ingress: OtelCollectorIngress, config: dict[str, Any]) -> dict[str, Any]:
    """The public OTLP/HTTP endpoint for browsers: only port 4318 and only the exact paths the
    collector takes data on (never the gRPC port, the health check or the metrics ports). CORS
    stays with the receiver (`cors.allowed_origins`); the ingress adds no CORS headers of its own,
    since a second set of Access-Control-* headers makes browsers reject the response.
    Ref: opentelemetry-collector 0.170.0 values.yaml `ingress` (hosts[].paths[].{path,pathType,port},
    tls[], annotations, ingressClassName), templates/ingress.yaml; cert-manager ingress-shim:
    https://cert-manager.io/docs/usage/ingress/ (as grafana.ingress.clusterIssuer)."""
    if not ingress.enabled:
        return {"enabled": False}
    values: dict[str, Any] = {
        "enabled": True,
        "hosts": [
            {
                "host": ingress.host,
                "paths": [{"path": path, "pathType": "Exact", "port": OTLP_HTTP_PORT} for path in otlp_http_paths(config)],
            }
        ],
    }
    if ingress.class_name:
        values["ingressClassName"] = ingress.class_name
    if ingress.tls_secret_name:
        values["tls"] = [{"secretName": ingress.tls_secret_name, "hosts": [ingress.host]}]
    if ingress.cluster_issuer:
        values["annotations"] = {"cert-manager.io/cluster-issuer": ingress.cluster_issuer}
    return values


def collector_public_url(ingress: OtelCollectorIngress) -> str | None:
    """Where browsers send OTLP/HTTP (append /v1/traces, /v1/metrics), or None without an Ingress."""
    if not ingress.enabled:
        return None
    return f"{'https' if ingress.tls_secret_name else 'http'}://{ingress.host}"


def collector_values(settings: OtelCollectorSettings, jaeger_otlp_endpoint: str) -> dict[str, Any]:
    replicas = settings.replicas
    config = otel_collector_config(settings, jaeger_otlp_endpoint, list(settings.cors_origins))
    api_rules = collector_api_rules(config)
    return {
        "fullnameOverride": COLLECTOR_FULLNAME,
        "mode": "deployment",
        "image": {"repository": OTEL_COLLECTOR_IMAGE, "tag": OTEL_COLLECTOR_IMAGE_TAG},
        "replicaCount": replicas,
        "resources": settings.resources.to_k8s(),
        "alternateConfig": config,
        # The chart creates a ClusterRole (and its binding to the chart's ServiceAccount) only when
        # asked. Not `presets.kubernetesAttributes`: that also merges its own k8s_attributes into
        # every pipeline, the metrics one included, where the pod attributes would become labels.
        # The rules are exactly what the config needs (no wildcard); the token stays mounted for
        # this ServiceAccount only (chart default `serviceAccount.automountServiceAccountToken`).
        # Ref: opentelemetry-collector 0.170.0 values.yaml clusterRole.{create,rules},
        # templates/clusterrole.yaml, templates/clusterrolebinding.yaml, templates/_config.tpl
        # (the kubernetesAttributes preset).
        "serviceAccount": {"create": True, "automountServiceAccountToken": bool(api_rules)},
        "clusterRole": {"create": bool(api_rules), "rules": api_rules},
        "ports": {
            "jaeger-compact": {"enabled": False},
            "jaeger-thrift": {"enabled": False},
            "jaeger-grpc": {"enabled": False},
            "zipkin": {"enabled": False},
            "metrics": {"enabled": True},
            "prom-exporter": {
                "enabled": True,
                "containerPort": PROMETHEUS_EXPORTER_PORT,
                "servicePort": PROMETHEUS_EXPORTER_PORT,
                "protocol": "TCP",
            },
        },
        "serviceMonitor": {
            "enabled": True,
            "metricsEndpoints": [{"port": "metrics"}, {"port": "prom-exporter", "honorLabels": True}],
        },
        "podDisruptionBudget": {"enabled": replicas > 1, "maxUnavailable": 1},
        "ingress": collector_ingress(settings.ingress, config),
        # Ref: opentelemetry-collector 0.170.0 values.yaml `podSecurityContext`, `securityContext`;
        # templates/_pod.tpl (both rendered as given when no preset needs root).
        "podSecurityContext": restricted_pod(run_as_user=COLLECTOR_UID, run_as_group=COLLECTOR_UID),
        "securityContext": restricted_container(),
    }


@dataclass(frozen=True)
class TracingArgs:
    namespace: str
    jaeger: JaegerSettings
    collector: OtelCollectorSettings
    sampling: SamplingSpec
    es_url: str
    # Replica shards of each Jaeger index (StackSettings.index_replicas, as for the log indices).
    index_replicas: int
    # Jaeger's config is recorded here; its ES user and CA Secrets were (components/elasticsearch.py).
    digests: ContentDigests


class Tracing(pulumi.ComponentResource):
    """Jaeger (storage, query, sampling) and the OTLP gateway in front of it."""

    otlp_grpc_endpoint: str
    otlp_http_endpoint: str
    otlp_http_public_url: str | None
    jaeger_query_url: str

    def __init__(self, name: str, args: TracingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:Tracing", name, None, opts)
        child = child_options(self, opts)
        ns = args.namespace
        self.sampling_json = sampling_strategies_json(args.sampling)
        sampling = k8s.core.v1.ConfigMap(
            f"{name}-sampling",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=SAMPLING_CONFIG_MAP, namespace=ns, labels=standard_labels("jaeger", name, "sampling")
            ),
            data={SAMPLING_FILE: self.sampling_json},
            opts=child,
        )
        self.jaeger_values = jaeger_values(args.jaeger, args.es_url, args.index_replicas)
        jaeger_release = f"{name}-jaeger"
        # The chart renders `userconfig` into ConfigMap `user-config`, mounted by subPath (never
        # updated in a running pod), and its pod annotations are fixed: no checksum, no annotation
        # value (jaeger 4.11.1 templates/jaeger/jaeger-deploy.yaml l.35-40, 111-114, 129-131). A pod
        # label is the one pod-template field its values reach (`jaeger.podLabels`); the selector
        # does not include it. The sampling ConfigMap is left out: Jaeger reloads it
        # (components/rollout.py SELF_RELOADING).
        args.digests.record("ConfigMap", ns, "user-config", self.jaeger_values["userconfig"])
        digest = args.digests.annotations(
            [
                ObjectRef("ConfigMap", ns, "user-config"),
                ObjectRef("Secret", ns, JAEGER_USER.secret_name),
                ObjectRef("Secret", ns, CA_SECRET),
            ]
        )
        jaeger = declare_chart(
            jaeger_release,
            JAEGER,
            ns,
            {**self.jaeger_values, "jaeger": {**self.jaeger_values["jaeger"], "podLabels": digest}},
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[sampling])),
            extra_values=args.jaeger.extra_values,
        )
        if args.jaeger.replicas > 1:
            # The chart has no PodDisruptionBudget template; a drain then evicts one replica at a
            # time, the same rule as the other components' chart PDBs (none on a single replica,
            # where it would block every drain).
            k8s.policy.v1.PodDisruptionBudget(
                f"{name}-jaeger-pdb",
                metadata=k8s.meta.v1.ObjectMetaArgs(
                    name=JAEGER_FULLNAME, namespace=ns, labels=standard_labels("jaeger", name, "all-in-one")
                ),
                spec=k8s.policy.v1.PodDisruptionBudgetSpecArgs(
                    max_unavailable=1,
                    selector=k8s.meta.v1.LabelSelectorArgs(match_labels=jaeger_pod_labels(jaeger_release)),
                ),
                opts=child,
            )
        self.collector_values = collector_values(args.collector, f"{JAEGER_FULLNAME}.{ns}.svc:{OTLP_GRPC_PORT}")
        declare_chart(
            f"{name}-collector",
            OTEL_COLLECTOR,
            ns,
            self.collector_values,
            pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[jaeger])),
            extra_values=args.collector.extra_values,
        )
        self._trace_retention(name, args, child)
        self.otlp_grpc_endpoint = f"{COLLECTOR_FULLNAME}.{ns}.svc:4317"
        self.otlp_http_endpoint = f"http://{COLLECTOR_FULLNAME}.{ns}.svc:4318"
        self.otlp_http_public_url = collector_public_url(args.collector.ingress)
        self.jaeger_query_url = f"http://{JAEGER_FULLNAME}.{ns}.svc:16686"
        self.register_outputs({})

    def _trace_retention(self, name: str, args: TracingArgs, child: pulumi.ResourceOptions) -> None:
        """Daily deletion of trace indices older than jaeger.retentionDays (Jaeger never deletes)."""
        ns = args.namespace
        labels = standard_labels("jaeger", name, "retention")
        self.retention_job_labels = labels  # its pods' labels: a client of Elasticsearch
        script_name = "jaeger-trace-retention"
        script = k8s.core.v1.ConfigMap(
            f"{name}-retention-script",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=script_name, namespace=ns, labels=labels),
            data={"cleanup.sh": trace_index_cleanup_script()},
            opts=child,
        )
        env = [
            *plain_env(
                {
                    "ES_URL": args.es_url,
                    "ES_CA_FILE": f"{CA_DIR}/{CA_KEY}",
                    "INDEX_PREFIX": args.jaeger.index_prefix,
                    "RETENTION_DAYS": str(args.jaeger.retention_days),
                }
            ),
            env_from_secret(USER_ENV, JAEGER_USER.secret_name, "username"),
            env_from_secret(PASSWORD_ENV, JAEGER_USER.secret_name, "password"),
        ]
        k8s.batch.v1.CronJob(
            f"{name}-retention",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=script_name, namespace=ns, labels=labels),
            spec=k8s.batch.v1.CronJobSpecArgs(
                schedule="30 2 * * *",
                concurrency_policy="Forbid",
                job_template=k8s.batch.v1.JobTemplateSpecArgs(
                    spec=k8s.batch.v1.JobSpecArgs(
                        backoff_limit=3,
                        template=script_pod(
                            labels,
                            "cleanup",
                            CURL_IMAGE,
                            ["/bin/sh", "/script/cleanup.sh"],
                            env,
                            config_maps={"/script": script_name},
                            secrets={CA_DIR: CA_SECRET},
                        ),
                    )
                ),
            ),
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[script])),
        )
