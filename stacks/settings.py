"""Typed, validated settings of one stack: the whole of `Pulumi.<stack>.yaml` as one frozen model.

Keys in the stack file are camelCase (`terrafusion-monitoring:prometheus: {storageSize: ...}`);
fields here are snake_case with camelCase aliases. Every model forbids unknown keys so a typo in a
stack file is an error naming the key, not a silently ignored value.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from monitoring.alerting_spec import AlertingSpec
from monitoring.dashboards import TEAMS as DASHBOARD_TEAMS
from monitoring.influxdb import InfluxRetentionSpec
from monitoring.logs import LogsSpec, validate_for_environment
from monitoring.otel import OtelCollectorSpec
from monitoring.tracing import SamplingSpec
from monitoring.durations import parse_duration
from stacks import units

ENVIRONMENTS = ("dev", "staging", "prod")

# Thanos downsamples raw blocks to 5m resolution once they are 40h old, and 5m blocks to 1h once they
# are 10d old; retention shorter than that deletes data before it can be downsampled.
# Ref: https://thanos.io/tip/components/compact.md/#downsampling
DOWNSAMPLE_5M_AFTER_SECONDS = 40 * 3600
DOWNSAMPLE_1H_AFTER_SECONDS = 10 * 86400
# The sidecar uploads 2h blocks; keeping at least three locally leaves slack for an object-store
# outage before Prometheus deletes a block that was never uploaded.
MIN_PROMETHEUS_RETENTION_SECONDS = 6 * 3600
# The node agents' namespace is the platform namespace plus this suffix (StackSettings.agents_namespace).
AGENTS_NAMESPACE_SUFFIX = "-agents"


def _duration(value: str) -> str:
    parse_duration(value)
    return value


def _quantity(value: str | int | float) -> str:
    units.quantity(value)
    return str(value)


def _byte_size(value: str) -> str:
    if not units.is_byte_size(value):
        raise ValueError("is not a byte size with a B unit (e.g. 8GiB, 50GB)")
    return value


Duration = Annotated[str, AfterValidator(_duration)]
Quantity = Annotated[str | int | float, AfterValidator(_quantity)]
ByteSize = Annotated[str, AfterValidator(_byte_size)]
# RFC 1123 label: what Kubernetes accepts as a namespace or object name.
K8sName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]


class Model(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True
    )


class ResourceList(Model):
    cpu: Quantity | None = Field(None, description="CPU, e.g. 250m or 1.")
    memory: Quantity | None = Field(None, description="Memory, e.g. 512Mi or 2Gi.")


class Resources(Model):
    """Container requests and limits; requests are mandatory so every workload is schedulable."""

    requests: ResourceList = Field(description="What the scheduler reserves.")
    limits: ResourceList = Field(
        default_factory=ResourceList,
        description="Upper bounds. Memory limits prevent a runaway query from taking a node; "
        "CPU limits are usually left unset to avoid throttling.",
    )

    @model_validator(mode="after")
    def _requests_complete_and_within_limits(self) -> Resources:
        if self.requests.cpu is None or self.requests.memory is None:
            raise ValueError("requests: needs both cpu and memory")
        for kind in ("cpu", "memory"):
            limit = getattr(self.limits, kind)
            if limit is not None and units.quantity(limit) < units.quantity(getattr(self.requests, kind)):
                raise ValueError(f"limits.{kind}: {limit} is below requests.{kind}")
        return self

    def to_k8s(self) -> dict:
        def plain(values: ResourceList) -> dict:
            return {k: str(v) for k, v in values.model_dump().items() if v is not None}

        out = {"requests": plain(self.requests)}
        if limits := plain(self.limits):
            out["limits"] = limits
        return out


class ClusterSettings(Model):
    name: K8sName = Field(description="Cluster name; the `cluster` external label on every series.")
    context: str | None = Field(
        None, description="kubeconfig context to deploy to; unset uses the current context."
    )
    nodes: int = Field(
        ge=1,
        description="Number of nodes, used only to estimate DaemonSet requests in the render summary.",
    )


class ObjectStorageSettings(Model):
    """The bucket Thanos writes blocks to. Credentials are secrets, read separately."""

    type: Literal["S3", "GCS", "AZURE"] = Field(description="Thanos objstore provider type.")
    bucket: str = Field(min_length=3, description="Bucket (S3/GCS) or container (Azure) name.")
    endpoint: str | None = Field(
        None, description="S3 endpoint host[:port], e.g. s3.eu-central-1.amazonaws.com or minio:9000."
    )
    region: str | None = Field(None, description="S3 region.")
    insecure: bool = Field(False, description="S3 over plain HTTP (MinIO in a lab only).")
    storage_account: str | None = Field(None, description="Azure storage account name.")

    @model_validator(mode="after")
    def _fields_for_type(self) -> ObjectStorageSettings:
        if self.type == "S3" and not self.endpoint:
            raise ValueError("endpoint: is required when type is S3")
        if self.type == "AZURE" and not self.storage_account:
            raise ValueError("storageAccount: is required when type is AZURE")
        return self


class PrometheusSettings(Model):
    replicas: int = Field(ge=1, description="Prometheus replicas; each scrapes everything (HA pair).")
    retention: Duration = Field(description="Local TSDB retention; long-term data lives in Thanos.")
    retention_size: ByteSize = Field(description="Local TSDB size cap, below the volume size.")
    storage_size: Quantity = Field(description="PersistentVolume size per replica.")
    scrape_interval: Duration = Field("30s", description="Default scrape interval.")
    evaluation_interval: Duration = Field("30s", description="Rule evaluation interval.")
    pod_anti_affinity: Literal["soft", "hard"] = Field(
        "soft", description="Spread replicas over nodes: preferred (soft) or required (hard)."
    )
    resources: Resources

    @model_validator(mode="after")
    def _retention_covers_uploads(self) -> PrometheusSettings:
        if parse_duration(self.retention) < MIN_PROMETHEUS_RETENTION_SECONDS:
            raise ValueError(
                f"retention: {self.retention!r} is shorter than 6h: blocks could be deleted before "
                "the Thanos sidecar uploads them"
            )
        return self


class AlertmanagerSettings(Model):
    replicas: int = Field(ge=1, description="Alertmanager replicas, clustered (gossip) for dedup.")
    retention: Duration = Field("120h", description="How long silences and notification logs are kept.")
    storage_size: Quantity = Field(description="PersistentVolume size per replica.")
    pod_anti_affinity: Literal["soft", "hard"] = Field("soft", description="As for Prometheus.")
    resources: Resources


class ThanosComponentSettings(Model):
    replicas: int = Field(1, ge=1, description="Replicas of this stateless Thanos component.")
    resources: Resources


class ThanosStoreGatewaySettings(ThanosComponentSettings):
    storage_size: Quantity = Field(description="Index-cache volume per store gateway replica.")


class ThanosCompactorSettings(Model):
    storage_size: Quantity = Field(description="Scratch volume for compaction and downsampling.")
    retention_raw: Duration = Field(description="Keep raw-resolution blocks this long.")
    retention_5m: Duration = Field(alias="retention5m", description="Keep 5m-downsampled blocks this long.")
    retention_1h: Duration = Field(alias="retention1h", description="Keep 1h-downsampled blocks this long.")
    resources: Resources

    @model_validator(mode="after")
    def _retention_outlives_downsampling(self) -> ThanosCompactorSettings:
        raw = parse_duration(self.retention_raw)
        five = parse_duration(self.retention_5m)
        hour = parse_duration(self.retention_1h)
        if raw <= DOWNSAMPLE_5M_AFTER_SECONDS:
            raise ValueError(
                f"retentionRaw: {self.retention_raw!r} must exceed 40h, when raw blocks are downsampled to 5m"
            )
        if five <= DOWNSAMPLE_1H_AFTER_SECONDS:
            raise ValueError(
                f"retention5m: {self.retention_5m!r} must exceed 10d, when 5m blocks are downsampled to 1h"
            )
        if not raw <= five <= hour:
            raise ValueError("retention1h: retentions must not shrink with resolution (retentionRaw <= retention5m <= retention1h)")
        return self


class ThanosSettings(Model):
    query: ThanosComponentSettings
    query_frontend: ThanosComponentSettings
    store_gateway: ThanosStoreGatewaySettings
    compactor: ThanosCompactorSettings


class GrafanaTeam(Model):
    name: str = Field(min_length=1, description="Team name shown in Grafana.")
    email: str | None = Field(None, description="Team contact address.")
    members: tuple[str, ...] = Field((), description="E-mail addresses of existing Grafana users.")


class GrafanaIngress(Model):
    enabled: bool = Field(False, description="Create an Ingress for `grafana.url`'s host.")
    class_name: str | None = Field(None, description="IngressClass, e.g. nginx.")
    tls_secret_name: K8sName | None = Field(None, description="Secret holding the TLS certificate.")
    cluster_issuer: K8sName | None = Field(
        None,
        description="cert-manager ClusterIssuer that issues `tlsSecretName` (annotation "
        "cert-manager.io/cluster-issuer); without it the Secret must exist before `pulumi up`.",
    )


class GrafanaDatabase(Model):
    """Shared database, required for more than one Grafana replica (sqlite cannot be shared)."""

    type: Literal["postgres", "mysql"]
    host: str = Field(description="host:port of the database server.")
    name: str = Field(description="Database name.")
    user: str = Field(description="Database user; its password is the grafanaDatabasePassword secret.")
    ssl_mode: Literal["disable", "require", "verify-full"] = Field("require")


class GrafanaSettings(Model):
    url: str = Field(
        pattern=r"^https?://[^/\s]+(/.*)?$",
        description="Public URL of Grafana: its root_url, and where the Grafana provider connects.",
    )
    replicas: int = Field(1, ge=1)
    storage_size: Quantity = Field(description="PersistentVolume for Grafana's data directory.")
    ingress: GrafanaIngress = Field(default_factory=GrafanaIngress)
    database: GrafanaDatabase | None = None
    teams: tuple[GrafanaTeam, ...] = Field((), description="Grafana teams (role-based access).")
    resources: Resources

    @model_validator(mode="after")
    def _ha_needs_shared_database(self) -> GrafanaSettings:
        if self.replicas > 1 and self.database is None:
            raise ValueError(
                f"database: is required when replicas is {self.replicas}; replicas cannot share sqlite on a volume"
            )
        names = [team.name for team in self.teams]
        if len(names) != len(set(names)):
            raise ValueError("teams: has duplicate names")
        # Folder permissions are granted to these teams; a missing one would leave a folder unreadable.
        if missing := [team for team in DASHBOARD_TEAMS if team not in names]:
            raise ValueError(f"teams: needs the dashboard teams {', '.join(missing)} (folder permissions name them)")
        return self


class _EnvironmentFromStack(BaseModel):
    """Mixin for a section that wraps a spec with an `environment` field: the value comes from the
    stack's top-level `environment` key, so a stack cannot label its data as another's."""

    environment: str = Field("", exclude=True, description="Set from the top-level key; not configurable here.")

    @field_validator("environment")
    @classmethod
    def _not_set_here(cls, value: str) -> str:
        if value:
            raise ValueError("is set by the top-level `environment` key, not here")
        return value

    def with_environment(self, spec_type, environment: str):
        return spec_type.model_validate({**self.model_dump(exclude={"environment"}), "environment": environment})


class SamplingSettings(_EnvironmentFromStack, SamplingSpec):
    """`jaeger.sampling`: SamplingSpec without `environment`."""


def _small_resources() -> Resources:
    return Resources(requests=ResourceList(cpu="10m", memory="32Mi"), limits=ResourceList(memory="128Mi"))


HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s]+$")]


class FrontendProbe(Model):
    app: K8sName = Field(description="The `app` label the frontend SLOs group by.")
    url: HttpUrl = Field(description="Page the blackbox exporter fetches, e.g. https://app.example/.")


class ApiProbe(Model):
    service: K8sName = Field(description="The `service` label of the API.")
    url: HttpUrl = Field(description="Endpoint the blackbox exporter fetches, e.g. a /healthz URL.")


class BlackboxSettings(Model):
    """Synthetic availability: frontend availability SLOs are measured from these probes."""

    interval: Duration = Field("30s", description="Probe interval.")
    frontend: tuple[FrontendProbe, ...] = Field((), description="Frontend pages to probe.")
    api: tuple[ApiProbe, ...] = Field((), description="API endpoints to probe.")
    replicas: int = Field(1, ge=1)
    resources: Resources = Field(default_factory=_small_resources)

    @model_validator(mode="after")
    def _unique_names(self) -> BlackboxSettings:
        for key, names in (("frontend", [p.app for p in self.frontend]), ("api", [p.service for p in self.api])):
            if len(names) != len(set(names)):
                raise ValueError(f"{key}: each target needs its own name (one Probe per target)")
        return self


class PostgresExporterSettings(Model):
    """postgres_exporter for the application database; its DSN is the postgresDsn secret."""

    enabled: bool = Field(False, description="Deploy postgres_exporter (needs the postgresDsn secret).")
    service: K8sName = Field(
        "terrafusion-db", description="The `service` label on pg_* series; database SLOs group by it."
    )
    resources: Resources = Field(default_factory=_small_resources)


class ExporterSettings(Model):
    blackbox: BlackboxSettings = Field(default_factory=BlackboxSettings)
    postgres: PostgresExporterSettings = Field(default_factory=PostgresExporterSettings)


class InfluxdbSettings(Model):
    """Long-term trends: what Prometheus remote-writes (SLO and business series), downsampled."""

    retention: InfluxRetentionSpec = Field(description="Retention of the raw, 5m and 1h tiers.")
    storage_size: Quantity = Field(description="PersistentVolume of the InfluxDB node.")
    resources: Resources
    admin_password_version: int = Field(
        1,
        ge=1,
        description="Generation of the InfluxDB admin password. Raise it by one to rotate the password: "
        "the program keeps the previous generation, with which the schema Job sets the new one "
        "(InfluxDB only creates its admin on an empty volume). docs/operations.md \"Secrets\".",
    )


class ElasticsearchSettings(Model):
    """The log (and trace) store: an ECK-managed Elasticsearch cluster."""

    nodes: int = Field(ge=1, description="Master-eligible data nodes; prod needs 3 (quorum).")
    storage_size: Quantity = Field(description="PersistentVolume per node.")
    max_map_count: Literal["daemonset", "disable-mmap"] = Field(
        "daemonset",
        description="How Elasticsearch's vm.max_map_count requirement (1048576 for 8.16+) is met: "
        "`daemonset` runs a small DaemonSet in the agents namespace (the only privileged one) that "
        "raises it on every node, and the Elasticsearch pods wait until it is set; `disable-mmap` sets "
        "node.store.allow_mmap: false instead (no privilege anywhere, slower searches: dev).",
    )
    resources: Resources


class FluentBitSettings(Model):
    resources: Resources = Field(description="Per node (DaemonSet) pod.")
    events_resources: Resources = Field(
        default_factory=_small_resources, description="The single Kubernetes-events collector."
    )


class JaegerSettings(Model):
    replicas: int = Field(1, ge=1)
    index_prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")] = Field(
        "traces", description="Prefix of Jaeger's Elasticsearch indices."
    )
    retention_days: int = Field(7, ge=1, description="Days of traces kept; older daily indices are deleted.")
    sampling: SamplingSettings = Field(default_factory=lambda: SamplingSettings())
    resources: Resources


class OtelCollectorSettings(OtelCollectorSpec):
    replicas: int = Field(1, ge=1)
    cors_origins: tuple[str, ...] = Field(
        (), description="Browser origins allowed to send OTLP/HTTP (the frontend's URLs)."
    )
    resources: Resources


# Label syntax. Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#syntax-and-character-set
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_LABEL_PREFIX = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _label_problem(key: str, value: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if (prefix and not _LABEL_PREFIX.match(prefix)) or not _LABEL_NAME.match(name):
        return f"{key!r} is not a label key (e.g. kubernetes.io/metadata.name)"
    if value and not _LABEL_NAME.match(value):
        return f"{value!r} is not a label value (63 characters of [A-Za-z0-9_.-], alphanumeric at both ends)"
    return None


class NetworkPolicySettings(Model):
    """Where the platform's NetworkPolicies meet the rest of the cluster (docs/network-policies.md)."""

    ingress_namespace_selector: dict[str, str] = Field(
        default_factory=lambda: {"kubernetes.io/metadata.name": "ingress-nginx"},
        description="Labels of the namespace the ingress controller runs in: its pods may reach Grafana "
        "and the collector's OTLP/HTTP port. The default is ingress-nginx's usual namespace.",
    )
    api_server_cidrs: tuple[str, ...] = Field(
        (),
        description="Addresses the kube-apiserver connects from, as CIDRs (e.g. 10.0.0.10/32), for the "
        "admission webhook's port; empty allows that port from any address, since they differ per cluster.",
    )

    @field_validator("ingress_namespace_selector")
    @classmethod
    def _selector_names_namespaces(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("must have at least one label; an empty selector matches every namespace")
        for key, label in value.items():
            if problem := _label_problem(key, label):
                raise ValueError(problem)
        return value

    @field_validator("api_server_cidrs")
    @classmethod
    def _cidrs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=True)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR (e.g. 10.0.0.10/32)") from None
        return value


class AlertingSettings(_EnvironmentFromStack, AlertingSpec):
    """The `alerting` section of a stack file: AlertingSpec without `environment`."""


class StackSettings(Model):
    """Everything a stack decides. Loaded once by stacks.config.load_settings()."""

    environment: Literal["dev", "staging", "prod"] = Field(
        description="Environment name; the `environment` label on every alert."
    )
    namespace: K8sName = Field(
        "monitoring",
        description="Namespace of the monitoring platform (Pod Security `restricted`); the node agents "
        "run in `<namespace>-agents` (Pod Security `privileged`).",
    )
    storage_class: Annotated[str | None, BeforeValidator(lambda v: v or None)] = Field(
        None, description="StorageClass for every volume; unset or empty uses the cluster default."
    )
    cluster: ClusterSettings
    object_storage: ObjectStorageSettings
    prometheus: PrometheusSettings
    alertmanager: AlertmanagerSettings
    thanos: ThanosSettings
    grafana: GrafanaSettings
    influxdb: InfluxdbSettings
    elasticsearch: ElasticsearchSettings
    logs: LogsSpec = Field(default_factory=LogsSpec, description="Log families and their retention (ILM).")
    fluent_bit: FluentBitSettings
    jaeger: JaegerSettings
    otel_collector: OtelCollectorSettings
    exporters: ExporterSettings = Field(
        default_factory=ExporterSettings, description="Blackbox probes and postgres_exporter for the SLOs."
    )
    network_policy: NetworkPolicySettings = Field(
        default_factory=NetworkPolicySettings,
        description="The ingress controller's namespace and the API server's addresses, for the NetworkPolicies.",
    )
    alerting: AlertingSettings = Field(
        default_factory=AlertingSettings,
        description="Alert receivers, SLO overrides, business hours and maintenance windows.",
    )

    @property
    def sampling_spec(self) -> SamplingSpec:
        return self.jaeger.sampling.with_environment(SamplingSpec, self.environment)

    @property
    def alerting_spec(self) -> AlertingSpec:
        return self.alerting.with_environment(AlertingSpec, self.environment)

    @property
    def agents_namespace(self) -> str:
        """The one namespace labelled Pod Security `privileged`: only the node agents that need the
        host (node-exporter, the Fluent Bit DaemonSet, the max_map_count DaemonSet) run there."""
        return f"{self.namespace}{AGENTS_NAMESPACE_SUFFIX}"

    @property
    def is_production(self) -> bool:
        return self.environment == "prod"

    @property
    def protect(self) -> bool:
        """Stateful resources of prod are protected: `pulumi destroy` must not take its data."""
        return self.is_production

    @field_validator("namespace")
    @classmethod
    def _room_for_the_agents_namespace(cls, value: str) -> str:
        if len(value) + len(AGENTS_NAMESPACE_SUFFIX) > 63:
            raise ValueError(
                f"{value!r} is too long: the agents namespace {value + AGENTS_NAMESPACE_SUFFIX!r} "
                "must fit in 63 characters"
            )
        return value

    @model_validator(mode="after")
    def _prod_is_highly_available(self) -> StackSettings:
        if not self.is_production:
            return self
        minimums = {
            "prometheus.replicas": (self.prometheus.replicas, 2),
            "alertmanager.replicas": (self.alertmanager.replicas, 3),
            "thanos.query.replicas": (self.thanos.query.replicas, 2),
            "thanos.queryFrontend.replicas": (self.thanos.query_frontend.replicas, 2),
            "thanos.storeGateway.replicas": (self.thanos.store_gateway.replicas, 2),
            "elasticsearch.nodes": (self.elasticsearch.nodes, 3),
        }
        for key, (value, minimum) in minimums.items():
            if value < minimum:
                raise ValueError(f"{key}: is {value}; prod needs at least {minimum} for high availability")
        # Retention rules by log importance (audit kept a year, debug only days) hold in prod.
        validate_for_environment(self.logs, self.environment)
        return self
