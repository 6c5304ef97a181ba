"""The tracing slice of the plan: Jaeger v2 storing in Elasticsearch with per-endpoint remote
sampling, and the OpenTelemetry Collector as the OTLP gateway for services and browsers.
components/tracing.py declares them; nothing there is computed.

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

import math
from dataclasses import dataclass
from typing import Any, Mapping

from monitoring.otel import OTLP_GRPC_PORT as COLLECTOR_OTLP_GRPC_PORT
from monitoring.otel import (
    OTLP_HTTP_PORT,
    PROMETHEUS_EXPORTER_PORT,
    collector_api_rules,
    otel_collector_config,
    otlp_http_paths,
    servicegraph_collector_config,
)
from monitoring.tracing import (
    OTLP_GRPC_PORT,
    QUERY_HTTP_PORT,
    SAMPLING_GRPC_PORT,
    SAMPLING_HTTP_PORT,
    dependencies_job_script,
    jaeger_user_config,
    sampling_strategies_json,
    trace_index_cleanup_script,
)
from plan.elasticsearch import JAEGER_USER
from plan.context import PlatformContext
from plan.labels import standard_labels
from plan.endpoints import Credentials, Endpoint
from plan.pod_security import (
    restricted_container,
    restricted_pod,
    tmp_mount,
    tmp_volume,
)
from plan import units
from plan.settings import (
    JaegerSettings,
    OtelCollectorIngress,
    OtelCollectorSettings,
    Resources,
    StackSettings,
)
from plan.versions import JAEGER, OTEL_COLLECTOR_IMAGE, OTEL_COLLECTOR_IMAGE_TAG, SPARK_DEPENDENCIES_IMAGE

JAEGER_FULLNAME = "jaeger"
COLLECTOR_FULLNAME = "otel-collector"
# The second collector tier (the service graph) and its headless Service (monitoring/otel.py).
SERVICEGRAPH_FULLNAME = "otel-servicegraph"
SAMPLING_CONFIG_MAP = "jaeger-sampling-strategies"
SAMPLING_DIR = "/etc/jaeger/sampling"
SAMPLING_FILE = "strategies.json"
CA_DIR = "/etc/jaeger/es-ca"
USER_ENV, PASSWORD_ENV = "ES_USERNAME", "ES_PASSWORD"
JAEGER_UID = 10001  # the image's USER_UID (the chart's podSecurityContext default too)
COLLECTOR_UID = 10001  # the contrib image's USER_UID:USER_GID
# The chart renders `userconfig` into this ConfigMap (jaeger 4.11.1 templates/jaeger/jaeger-configmap.yaml).
USER_CONFIG_MAP = "user-config"
# The daily trace-retention CronJob: its name (and its script ConfigMap's), script and schedule.
RETENTION_NAME = "jaeger-trace-retention"
RETENTION_SCRIPT_KEY = "cleanup.sh"
RETENTION_SCHEDULE = "30 2 * * *"
# The daily dependency-links CronJob (dependencies_plan): its name (and its script ConfigMap's) and
# the script's key.
DEPENDENCIES_NAME = "jaeger-dependencies"
DEPENDENCIES_SCRIPT_KEY = "run.sh"
# Jaeger's daily indices are UTC days, and the script computes the previous UTC day: the schedule
# is read in UTC too, so its default 00:15 comes just after that day is complete.
DEPENDENCIES_TIME_ZONE = "Etc/UTC"
# A run the controller missed still starts the same morning (ES_TIME_RANGE covers it); a run still
# going after 2 hours hangs on something, and failing it fires KubeJobFailed.
DEPENDENCIES_STARTING_DEADLINE_SECONDS = 6 * 3600
DEPENDENCIES_ACTIVE_DEADLINE_SECONDS = 2 * 3600
# Spark's shuffle files for one day's spans, and the truststore.
DEPENDENCIES_TMP_SIZE = "4Gi"

# The Services' port names, as the charts render them.
# Ref: jaeger 4.11.1 templates/jaeger/jaeger-service.yaml (otlp-grpc, http-query, config-rest; the
# extra sampling-grpc port is ours); opentelemetry-collector 0.170.0 values.yaml `ports` (otlp, otlp-http).
JAEGER_OTLP_GRPC_PORT_NAME = "otlp-grpc"
JAEGER_QUERY_PORT_NAME = "http-query"
SAMPLING_HTTP_PORT_NAME = "config-rest"
SAMPLING_GRPC_PORT_NAME = "sampling-grpc"
COLLECTOR_OTLP_GRPC_PORT_NAME = "otlp"
COLLECTOR_OTLP_HTTP_PORT_NAME = "otlp-http"


@dataclass(frozen=True)
class TracingPlan:
    # The component's name, and the labels of the trace-retention CronJob's pods (a client of
    # Elasticsearch the NetworkPolicies admit).
    name: str
    retention_labels: Mapping[str, str]
    # Jaeger's chart values (the component adds only the digest pod label) and the stack's extraValues.
    jaeger_values: Mapping[str, Any]
    jaeger_extra_values: Mapping[str, Any]
    jaeger_replicas: int
    # The Elasticsearch Jaeger stores in, and its user there (Jaeger's and the retention job's).
    es: Endpoint
    es_user: Credentials
    # The sampling strategies file (the ConfigMap SAMPLING_CONFIG_MAP, key SAMPLING_FILE).
    sampling_json: str
    collector_values: Mapping[str, Any]
    collector_extra_values: Mapping[str, Any]
    # The trace-retention CronJob: its script and its plain environment (the credentials are es_user).
    retention_script: str
    retention_env: Mapping[str, str]
    # What clients address: Jaeger's query UI/API, its OTLP receiver (the collector exports there),
    # its remote sampling, and the collector's OTLP receivers (services send there).
    jaeger_query: Endpoint
    jaeger_otlp: Endpoint
    sampling: Endpoint
    collector_otlp: Endpoint
    # Browsers' OTLP/HTTP endpoint (otelCollector.ingress), or None without an Ingress.
    otlp_http_public_url: str | None
    # The collector chart's releases: the gateway, and the service graph tier (None when
    # otelCollector.serviceGraph.enabled is off) with its values and the stack's extraValues.
    collector_release: str
    servicegraph_release: str | None
    servicegraph_values: Mapping[str, Any] | None
    servicegraph_extra_values: Mapping[str, Any]
    # The tier's OTLP receiver behind its headless Service (the gateway's loadbalancing exporter).
    servicegraph_otlp: Endpoint | None
    # The daily dependency-links job, or None where jaeger.dependencies.enabled is off.
    dependencies: DependenciesJobPlan | None


@dataclass(frozen=True)
class DependenciesJobPlan:
    """jaegertracing/spark-dependencies once a day, for the previous UTC day: reads
    `<prefix>-jaeger-span-<day>`, writes the links to `<prefix>-jaeger-dependencies-<day>`, which
    Jaeger's query reads back (same prefix, same date layout), as Jaeger's own Elasticsearch user
    (its role covers `<prefix>-jaeger-*`; plan/elasticsearch.py es_roles).

    Pod security (`restricted`): root filesystem read-only, Spark's scratch space and the truststore
    in the /tmp emptyDir, no service-account token. Not the image's user 185: it has no
    /etc/passwd entry, which the entrypoint then appends (Spark's Hadoop login needs a user name)
    and a read-only filesystem refuses. `nobody` (65534) has one in every Debian/Ubuntu base image
    (base-passwd; the image is eclipse-temurin:21 on Ubuntu), so nothing is written, and it is a
    high UID; the jar and the entrypoint are world-readable.
    Ref: jaegertracing/spark-dependencies@v0.7.2 entrypoint.sh (patch_uid), Dockerfile (`USER 185`,
    base eclipse-temurin:21.0.9_10-jre)"""

    name: str
    labels: Mapping[str, str]
    schedule: str
    time_zone: str
    image: str
    script: str
    # Plain environment; the credentials are TracingPlan.es_user, the CA TracingPlan.es.ca.
    env: Mapping[str, str]
    resources: Mapping[str, Any]


def scraped_ports() -> dict[str, Any]:
    """The chart's ports Prometheus scrapes on both collector releases: the collector's own metrics
    and the prometheus exporter's (the chart's `ports` map; a copy for each release's values)."""
    return {
        "metrics": {"enabled": True},
        "prom-exporter": {
            "enabled": True,
            "containerPort": PROMETHEUS_EXPORTER_PORT,
            "servicePort": PROMETHEUS_EXPORTER_PORT,
            "protocol": "TCP",
        },
    }


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


def jaeger_values(settings: JaegerSettings, es: Endpoint, index_replicas: int, metrics: Endpoint) -> dict[str, Any]:
    """`metrics`: the Prometheus API Jaeger's Monitor tab reads the span metrics from (Thanos Query)."""
    user = es.user(JAEGER_USER.username)
    return {
        "fullnameOverride": JAEGER_FULLNAME,
        "userconfig": jaeger_user_config(
            es.url(),
            USER_ENV,
            PASSWORD_ENV,
            f"{CA_DIR}/{es.ca.key}",
            f"{SAMPLING_DIR}/{SAMPLING_FILE}",
            settings.index_prefix,
            replicas=index_replicas,
            metrics_url=metrics.url("http"),
        ),
        "jaeger": {
            "replicas": settings.replicas,
            **jaeger_rollout(settings.replicas),
            "resources": settings.resources.to_k8s(),
            "extraEnv": [
                {"name": var, "valueFrom": {"secretKeyRef": {"name": user.secret, "key": key}}}
                for var, key in ((USER_ENV, user.username_key), (PASSWORD_ENV, user.password_key))
            ],
            "extraVolumes": [
                {"name": "sampling", "configMap": {"name": SAMPLING_CONFIG_MAP}},
                {"name": "es-ca", "secret": {"secretName": es.ca.name}},
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
                "extraPorts": [{"name": SAMPLING_GRPC_PORT_NAME, "port": SAMPLING_GRPC_PORT, "targetPort": SAMPLING_GRPC_PORT}]
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


def collector_values(settings: OtelCollectorSettings, jaeger_otlp: Endpoint, servicegraph: Endpoint | None = None) -> dict[str, Any]:
    """`servicegraph`: the second tier's OTLP endpoint (headless Service), None without a service graph."""
    replicas = settings.replicas
    config = otel_collector_config(
        settings, jaeger_otlp.address(), list(settings.cors_origins), servicegraph.host if servicegraph else None
    )
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
            **scraped_ports(),
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


def servicegraph_values(settings: OtelCollectorSettings) -> dict[str, Any]:
    """The service graph tier: the same chart and image as the gateway, mode deployment, with only
    the OTLP gRPC port (what the gateway's loadbalancing exporter sends to) and the two metrics
    ports. Its Service is headless (`clusterIP: None`): the gateway resolves it by DNS to one
    address per ready pod and routes each trace to one of them; a ClusterIP would spread the spans
    of one trace over the replicas again. It never calls the Kubernetes API: no ClusterRole and no
    token (the dns resolver needs none, unlike the k8s resolver's endpointslices watch).
    Ref: opentelemetry-collector 0.170.0 values.yaml service.clusterIP, ports, serviceMonitor,
    clusterRole.create, serviceAccount.automountServiceAccountToken; templates/service.yaml
    (`clusterIP` rendered as given); exporter/loadbalancingexporter README.md (resolver dns)."""
    graph = settings.service_graph
    closed = {"enabled": False}
    return {
        "fullnameOverride": SERVICEGRAPH_FULLNAME,
        "mode": "deployment",
        "image": {"repository": OTEL_COLLECTOR_IMAGE, "tag": OTEL_COLLECTOR_IMAGE_TAG},
        "replicaCount": graph.replicas,
        "resources": graph.resources.to_k8s(),
        "alternateConfig": servicegraph_collector_config(graph, settings),
        "serviceAccount": {"create": True, "automountServiceAccountToken": False},
        "clusterRole": {"create": False},
        "service": {"clusterIP": "None"},
        "ports": {
            "otlp": {"enabled": True},
            "otlp-http": closed,
            "jaeger-compact": closed,
            "jaeger-thrift": closed,
            "jaeger-grpc": closed,
            "zipkin": closed,
            **scraped_ports(),
        },
        "serviceMonitor": {"enabled": True, "metricsEndpoints": [{"port": "metrics"}, {"port": "prom-exporter"}]},
        "podDisruptionBudget": {"enabled": graph.replicas > 1, "maxUnavailable": 1},
        "podSecurityContext": restricted_pod(run_as_user=COLLECTOR_UID, run_as_group=COLLECTOR_UID),
        "securityContext": restricted_container(),
    }


def servicegraph_otlp(namespace: str) -> Endpoint:
    """The service graph tier's OTLP gRPC receiver behind its headless Service."""
    return Endpoint(SERVICEGRAPH_FULLNAME, namespace, {COLLECTOR_OTLP_GRPC_PORT_NAME: COLLECTOR_OTLP_GRPC_PORT})


def retention_env(settings: JaegerSettings, es: Endpoint) -> dict[str, str]:
    """The retention script's plain environment (monitoring/tracing.py trace_index_cleanup_script):
    daily deletion of trace indices older than jaeger.retentionDays (Jaeger never deletes)."""
    return {
        "ES_URL": es.url(),
        "ES_CA_FILE": f"{CA_DIR}/{es.ca.key}",
        "INDEX_PREFIX": settings.index_prefix,
        "RETENTION_DAYS": str(settings.retention_days),
    }


def dependencies_env(settings: JaegerSettings, es: Endpoint) -> dict[str, str]:
    """The job's plain environment (monitoring/tracing.py dependencies_job_script).
    Ref: jaegertracing/spark-dependencies@v0.7.2 ElasticsearchDependenciesJob.java (ES_NODES: https
    turns TLS on, and with ES_NODES set the connector talks to that address only, the Service, not
    the nodes it discovers; ES_TIME_RANGE: spans with startTimeMillis >= now-<range>; SPARK_MASTER,
    default local[*])"""
    return {
        "ES_NODES": es.url(),
        "ES_CA_FILE": f"{CA_DIR}/{es.ca.key}",
        "ES_INDEX_PREFIX": settings.index_prefix,
        # A run at 00:15 reads back to yesterday 00:00, 24h15m; 48h still covers the whole day when
        # the run starts late (startingDeadlineSeconds) or is retried. The day's index holds that
        # day's spans only, so a longer range adds nothing else.
        "ES_TIME_RANGE": "48h",
        # The heap from the container's memory limit (required, plan/settings.py); the rest of the
        # limit is Spark's off-heap buffers and the JVM's own.
        "JAVA_OPTS": "-XX:MaxRAMPercentage=75.0",
        "HOME": "/tmp",
        # Spark's task threads: upstream's default local[*] is every core the JVM sees, which
        # without a CPU limit is the node's; each task holds its partition of the day's spans in
        # the one heap. The CPU the pod asks for (at least one) bounds them instead.
        "SPARK_MASTER": f"local[{spark_threads(settings.dependencies.resources)}]",
    }


def spark_threads(resources: Resources) -> int:
    cpu = resources.limits.cpu or resources.requests.cpu
    return max(1, math.ceil(units.quantity(cpu))) if cpu is not None else 1


def dependencies_plan(settings: JaegerSettings, es: Endpoint, component: str) -> DependenciesJobPlan | None:
    deps = settings.dependencies
    if not deps.enabled:
        return None
    return DependenciesJobPlan(
        name=DEPENDENCIES_NAME,
        labels=standard_labels("jaeger", component, "dependencies"),
        schedule=deps.schedule,
        time_zone=DEPENDENCIES_TIME_ZONE,
        image=SPARK_DEPENDENCIES_IMAGE,
        script=dependencies_job_script(),
        env=dependencies_env(settings, es),
        resources=deps.resources.to_k8s(),
    )


def jaeger_query(namespace: str) -> Endpoint:
    return Endpoint(JAEGER_FULLNAME, namespace, {JAEGER_QUERY_PORT_NAME: QUERY_HTTP_PORT})


def jaeger_otlp(namespace: str) -> Endpoint:
    """Jaeger's OTLP gRPC receiver, plaintext inside the namespace: what the collector exports to."""
    return Endpoint(JAEGER_FULLNAME, namespace, {JAEGER_OTLP_GRPC_PORT_NAME: OTLP_GRPC_PORT})


def sampling(namespace: str) -> Endpoint:
    """Jaeger's remote sampling (the strategies file), over HTTP and gRPC."""
    return Endpoint(
        JAEGER_FULLNAME, namespace, {SAMPLING_HTTP_PORT_NAME: SAMPLING_HTTP_PORT, SAMPLING_GRPC_PORT_NAME: SAMPLING_GRPC_PORT}
    )


def collector_otlp(namespace: str) -> Endpoint:
    """The collector's OTLP receivers, gRPC and HTTP: where services send traces, metrics and events."""
    return Endpoint(
        COLLECTOR_FULLNAME,
        namespace,
        {COLLECTOR_OTLP_GRPC_PORT_NAME: COLLECTOR_OTLP_GRPC_PORT, COLLECTOR_OTLP_HTTP_PORT_NAME: OTLP_HTTP_PORT},
    )


def tracing_plan(settings: StackSettings, context: PlatformContext, es: Endpoint, metrics: Endpoint) -> TracingPlan:
    """`es`: the Elasticsearch HTTP endpoint (plan/elasticsearch.py http_endpoint), with Jaeger's user;
    `metrics`: Thanos Query, where Jaeger's Monitor tab reads the span metrics."""
    ns = settings.namespace
    otlp = jaeger_otlp(ns)
    name = f"{context.name}-tracing"
    graph = settings.otel_collector.service_graph
    graph_otlp = servicegraph_otlp(ns) if graph.enabled else None
    return TracingPlan(
        name=name,
        retention_labels=standard_labels("jaeger", name, "retention"),
        jaeger_values=jaeger_values(settings.jaeger, es, settings.index_replicas, metrics),
        jaeger_extra_values=settings.jaeger.extra_values,
        jaeger_replicas=settings.jaeger.replicas,
        es=es,
        es_user=es.user(JAEGER_USER.username),
        sampling_json=sampling_strategies_json(settings.sampling_spec),
        collector_values=collector_values(settings.otel_collector, otlp, graph_otlp),
        collector_extra_values=settings.otel_collector.extra_values,
        retention_script=trace_index_cleanup_script(),
        retention_env=retention_env(settings.jaeger, es),
        jaeger_query=jaeger_query(ns),
        jaeger_otlp=otlp,
        sampling=sampling(ns),
        collector_otlp=collector_otlp(ns),
        otlp_http_public_url=collector_public_url(settings.otel_collector.ingress),
        collector_release=f"{name}-collector",
        servicegraph_release=f"{name}-servicegraph" if graph.enabled else None,
        servicegraph_values=servicegraph_values(settings.otel_collector) if graph.enabled else None,
        servicegraph_extra_values=graph.extra_values,
        servicegraph_otlp=graph_otlp,
        dependencies=dependencies_plan(settings.jaeger, es, name),
    )
