"""Typed, validated settings of one stack: the whole of `Pulumi.<stack>.yaml` as one frozen model.

Keys in the stack file are camelCase (`terrafusion-monitoring:prometheus: {storageSize: ...}`);
fields here are snake_case with camelCase aliases. Every model forbids unknown keys so a typo in a
stack file is an error naming the key, not a silently ignored value.
"""

from __future__ import annotations

import datetime
import fnmatch
import ipaddress
import re
import typing
from collections.abc import Sequence
from typing import Annotated, Any, Literal, Mapping
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel
from pydantic.json_schema import SkipJsonSchema

from monitoring.alerting_spec import AlertingSpec
from monitoring.slo_catalogue import (
    Area, BLACKBOX_EXPORTER, CILIUM_AGENT, HUBBLE, OPENCOST, OTEL_SERVICEGRAPH, POSTGRES_EXPORTER, TRIVY_OPERATOR,
)
from monitoring.dashboards import TEAMS as DASHBOARD_TEAMS
from monitoring import windows
from monitoring.slo import SHORT_WINDOW
from monitoring.datasources import LOG_INDEX_PATTERN
from monitoring.influxdb import FIVE_MINUTE_POLICY, ONE_HOUR_POLICY, RAW_POLICY, InfluxRetentionSpec
from monitoring.environments import POLICIES, EnvironmentName, EnvironmentPolicy
from monitoring.errors import SpecError, join_key
from monitoring.logs import LogsSpec, check_retention_bounds
from monitoring.models import SpecModel
from monitoring.otel import OtelCollectorSpec, ServiceGraphSpec, validate_cors_origins
from monitoring.ownership import EVERY_TEAM, Email, OwnershipSpec, Role, audience, check_audience, check_owners, check_reachable
from monitoring.tracing import SamplingSpec
from monitoring.durations import parse_duration
from plan import units

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
    # Every duration of a stack is an interval or a retention: zero would scrape, probe or keep
    # nothing (Prometheus refuses a zero scrape interval only when it loads the config, in the cluster).
    if parse_duration(value) <= 0:
        raise ValueError("must be longer than 0s")
    return value


def _quantity(value: str | int | float) -> str:
    units.quantity(value)
    return str(value)


def _byte_size(value: str) -> str:
    if not units.is_byte_size(value):
        raise ValueError("is not a byte size with a B unit (e.g. 8GiB, 50GB)")
    return value


# `format` names the kind of value in the stack-file JSON Schema and docs/configuration.md (an
# annotation only: the validators above are the check).
Duration = Annotated[str, AfterValidator(_duration), Field(json_schema_extra={"format": "duration"})]
Quantity = Annotated[str | int | float, AfterValidator(_quantity), Field(json_schema_extra={"format": "quantity"})]
ByteSize = Annotated[str, AfterValidator(_byte_size), Field(json_schema_extra={"format": "byte-size"})]
# RFC 1123 label: what Kubernetes accepts as a namespace or object name.
K8sName = Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")]
# RFC 1123 subdomain: what Kubernetes accepts as an Ingress host, a StorageClass or IngressClass name.
# Ref: kubernetes/kubernetes staging/src/k8s.io/apimachinery/pkg/util/validation/validation.go IsDNS1123Subdomain
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
DnsSubdomain = Annotated[str, Field(pattern=_DNS_SUBDOMAIN.pattern, max_length=253)]
# host[:port] with no scheme or path: what the S3 client and Grafana's database settings take.
HostPort = Annotated[str, Field(pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:\d{1,5})?$")]
# An http(s) URL: a probe target, an identity provider endpoint.
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s]+$")]


def _chart_values(value: Any) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError("must be a mapping of chart values (e.g. {podAnnotations: {...}})")
    return dict(value)


# `extraValues` of a section that deploys a chart: any values of that chart, merged last over the
# ones the program builds from the typed settings (components/chart.py declare_chart). Only its
# shape is checked here; the chart checks the rest, with its values.schema.json where it ships one.
ExtraValues = Annotated[
    dict[str, Any],
    BeforeValidator(_chart_values),
    Field(
        default_factory=dict,
        description="Escape hatch: values of this section's chart, merged last over the program's "
        "(README, \"Escape hatch: extraValues\"). Not validated by the program.",
    ),
]


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Model(BaseModel):
    # defer_build: a section's validator is built when first used, not at import (most sections are
    # validated only inside StackSettings); about 0.2 s of every run.
    # Ref: https://docs.pydantic.dev/latest/api/config/#pydantic.config.ConfigDict.defer_build
    model_config = ConfigDict(
        frozen=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True
    )


class ResourceList(Model):
    cpu: Quantity | None = Field(None, description="CPU, e.g. 250m or 1.")
    memory: Quantity | None = Field(None, description="Memory, e.g. 512Mi or 2Gi.")


class Resources(Model):
    """Container requests and limits; requests are mandatory so every workload is schedulable."""

    requests: ResourceList = Field(description="What the scheduler reserves; both cpu and memory are required.")
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
    control_plane: Literal["managed", "self-hosted"] = Field(
        description="Who runs the control plane. `managed` (EKS, GKE, AKS): etcd, kube-scheduler, "
        "kube-controller-manager and kube-proxy are not scraped, and no rule reads them (the provider "
        "does not expose them, so their targets would be down or absent forever). `self-hosted` "
        "(kubeadm and the like): they are scraped; their metrics must listen beyond 127.0.0.1 "
        "(README, \"Cluster flavour\"). No default: every stack says which it is.",
    )
    cni: Literal["cilium", "other"] = Field(
        description="The cluster's CNI, which the program does not deploy. `cilium`: the cilium-agent "
        "(`prometheus.enabled`, port 9962) and Hubble (`hubble.metrics.enabled` with `drop`, port 9965) "
        "metrics are on in the CNI's own values; the program scrapes them in kube-system and the Security "
        "dashboard shows packets dropped by network policy. `other`: nothing produces those series, so "
        "that panel is left out (README, \"Cluster flavour\"). No default: every stack says which it is.",
    )


class ObjectStorageSettings(Model):
    """The bucket Thanos writes blocks to. Credentials are secrets, read separately."""

    type: Literal["S3", "GCS", "AZURE"] = Field(description="Thanos objstore provider type.")
    # The union of the providers' naming rules (lower-case letters, digits, '-', '.', '_'); each
    # provider refuses finer violations itself, but a path or URL here only fails inside Thanos.
    # Ref: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
    # Ref: https://cloud.google.com/storage/docs/buckets#naming
    bucket: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")] = Field(
        description="Bucket (S3/GCS) or container (Azure) name."
    )
    # Thanos hands it to the minio client, which takes a host, not a URL (`insecure` picks http).
    # Ref: thanos-io/objstore providers/s3/s3.go (minio.New(config.Endpoint, ...))
    endpoint: HostPort | None = Field(
        None, description="S3 endpoint host[:port], e.g. s3.eu-central-1.amazonaws.com or minio:9000."
    )
    region: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")] | None = Field(None, description="S3 region.")
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
    evaluation_interval: Duration = Field(
        "30s", description="Rule evaluation interval; must divide 5m (the SLOs' 5m records tile their windows)."
    )
    pod_anti_affinity: Literal["soft", "hard"] = Field(
        "soft", description="Spread replicas over nodes: preferred (soft) or required (hard)."
    )
    resources: Resources = Field(description="The Prometheus container of each replica.")
    extra_values: ExtraValues  # kube-prometheus-stack (Prometheus, Alertmanager, the operator, the ruler)

    @model_validator(mode="after")
    def _retention_covers_uploads(self) -> PrometheusSettings:
        if parse_duration(self.retention) < MIN_PROMETHEUS_RETENTION_SECONDS:
            raise ValueError(
                f"retention: {self.retention!r} is shorter than 6h: blocks could be deleted before "
                "the Thanos sidecar uploads them"
            )
        step, short = parse_duration(self.evaluation_interval), parse_duration(SHORT_WINDOW)
        if step <= 0 or short % step:
            raise ValueError(
                f"evaluationInterval: {self.evaluation_interval!r} does not divide {SHORT_WINDOW}: the SLOs' "
                f"{SHORT_WINDOW} records would not tile the windows derived from them (monitoring/slo.py)"
            )
        return self


class AlertmanagerSettings(Model):
    replicas: int = Field(ge=1, description="Alertmanager replicas, clustered (gossip) for dedup.")
    retention: Duration = Field("120h", description="How long silences and notification logs are kept.")
    storage_size: Quantity = Field(description="PersistentVolume size per replica.")
    pod_anti_affinity: Literal["soft", "hard"] = Field("soft", description="As for Prometheus.")
    resources: Resources = Field(description="The Alertmanager container of each replica.")


class ThanosComponentSettings(Model):
    replicas: int = Field(1, ge=1, description="Replicas of this stateless Thanos component.")
    resources: Resources = Field(description="The container of each replica of this component.")


class ThanosStoreGatewaySettings(ThanosComponentSettings):
    storage_size: Quantity = Field(description="Index-cache volume per store gateway replica.")


class ThanosCompactorSettings(Model):
    storage_size: Quantity = Field(description="Scratch volume for compaction and downsampling.")
    retention_raw: Duration = Field(description="Keep raw-resolution blocks this long.")
    retention_5m: Duration = Field(alias="retention5m", description="Keep 5m-downsampled blocks this long.")
    retention_1h: Duration = Field(alias="retention1h", description="Keep 1h-downsampled blocks this long.")
    resources: Resources = Field(
        description="The compactor container (one replica: the compactor must run alone).",
    )

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


class ThanosRulerSettings(ThanosComponentSettings):
    """The Thanos Ruler: evaluates the recording groups whose window Prometheus does not keep
    (monitoring/windows.py), over Thanos Query, and uploads its blocks to the bucket."""

    storage_size: Quantity = Field(description="Volume per ruler replica (its TSDB until blocks are uploaded).")


class ThanosSettings(Model):
    query: ThanosComponentSettings = Field(
        description="Thanos Query: the global query over the sidecars, the ruler and the store gateway.",
    )
    query_frontend: ThanosComponentSettings = Field(
        description="Thanos query-frontend: splits and retries range queries; Grafana's metrics datasource.",
    )
    store_gateway: ThanosStoreGatewaySettings = Field(
        description="Thanos store gateway: serves the blocks in the bucket.",
    )
    compactor: ThanosCompactorSettings = Field(
        description="Thanos compactor: compaction, downsampling and retention of the bucket.",
    )
    ruler: ThanosRulerSettings = Field(
        description="Thanos Ruler: the rule groups whose window Prometheus does not keep.",
    )
    extra_values: ExtraValues  # the thanos chart (the ruler is kube-prometheus-stack's: prometheus.extraValues)


class GrafanaTeamMembers(Model):
    """Who is in a Grafana team, named in the ownership model (docs/grafana.md, "Who is in which team")."""

    teams: tuple[str, ...] = Field(
        (), description=f"Keys of `ownership.teams` whose people are members; {EVERY_TEAM!r} is every team."
    )
    roles: tuple[Role, ...] = Field(
        (), description="Everybody of the model holding one of these roles (cto, engineering manager, team lead, engineer)."
    )
    people: tuple[Email, ...] = Field((), description="Further members by email; each must be a person of `ownership`.")


class GrafanaTeam(Model):
    name: str = Field(min_length=1, description="Team name shown in Grafana.")
    email: str | None = Field(None, description="Team contact address.")
    members: GrafanaTeamMembers = Field(
        default_factory=GrafanaTeamMembers,
        description="The team's members, from the ownership model; unset: nobody (only Grafana admins see its folders).",
    )

    @property
    def slug(self) -> str:
        """The team's part of its Pulumi resource name (components/grafana_content.py): two teams
        with one slug would be one URN, which the engine rejects after resources exist."""
        return "".join(c if c.isalnum() else "-" for c in self.name.lower()).strip("-")


class GrafanaIngress(Model):
    enabled: bool = Field(False, description="Create an Ingress for `grafana.url`'s host.")
    class_name: DnsSubdomain | None = Field(None, description="IngressClass, e.g. nginx.")
    tls_secret_name: K8sName | None = Field(None, description="Secret holding the TLS certificate.")
    cluster_issuer: K8sName | None = Field(
        None,
        description="cert-manager ClusterIssuer that issues `tlsSecretName` (annotation "
        "cert-manager.io/cluster-issuer); without it the Secret must exist before `pulumi up`.",
    )

    @model_validator(mode="after")
    def _settings_need_the_ingress(self) -> GrafanaIngress:
        # Without `enabled` there is no Ingress: a class, TLS Secret or issuer would be silently ignored.
        if not self.enabled:
            for key, value in (("className", self.class_name), ("tlsSecretName", self.tls_secret_name),
                               ("clusterIssuer", self.cluster_issuer)):
                if value is not None:
                    raise ValueError(f"enabled: is false, but {key} is set; there is no Ingress to apply it to")
        # ingress-shim issues the certificate into the Ingress's spec.tls[].secretName; with no TLS
        # entry the annotation issues nothing. Ref: https://cert-manager.io/docs/usage/ingress/
        if self.cluster_issuer is not None and self.tls_secret_name is None:
            raise ValueError("clusterIssuer: needs tlsSecretName, the Secret cert-manager issues the certificate into")
        return self


class GrafanaDatabase(Model):
    """Shared database, required for more than one Grafana replica (sqlite cannot be shared)."""

    type: Literal["postgres", "mysql"] = Field(description="Database engine.")
    host: HostPort = Field(description="host:port of the database server.")
    name: str = Field(min_length=1, description="Database name.")
    user: str = Field(min_length=1, description="Database user; its password is the grafanaDatabasePassword secret.")
    ssl_mode: Literal["disable", "require", "verify-full"] = Field(
        "require", description="TLS mode of the connection (Grafana's database.ssl_mode).",
    )


GrafanaRole = Literal["Admin", "Editor", "Viewer"]


class GrafanaOidc(Model):
    """Sign-in through the organisation's identity provider: Grafana's generic OAuth client
    (`auth.generic_oauth`, plan/grafana.py); its client secret is the grafanaOidcClientSecret secret."""

    enabled: bool = Field(False, description="Sign people in through the identity provider; off: only the admin can sign in (a warning).")
    name: str = Field("Single sign-on", min_length=1, description="Label of the sign-in button.")
    client_id: str | None = Field(None, min_length=1, description="The client id Grafana is registered under at the identity provider.")
    auth_url: HttpUrl | None = Field(None, description="The provider's authorization endpoint (https in prod).")
    token_url: HttpUrl | None = Field(None, description="The provider's token endpoint (https in prod).")
    api_url: HttpUrl | None = Field(None, description="The provider's OpenID UserInfo endpoint (https in prod).")
    scopes: tuple[Annotated[str, Field(pattern=r"^\S+$")], ...] = Field(
        ("openid", "profile", "email"), description="Scopes Grafana asks for; include the one that adds the groups claim if the provider needs it."
    )
    groups_attribute_path: str = Field(
        "groups", min_length=1,
        description="JMESPath of the list of group names in the ID token or UserInfo (e.g. groups, realm_access.roles).",
    )
    group_roles: dict[Annotated[str, Field(pattern=r"^[^'\s][^']*$")], GrafanaRole] = Field(
        default_factory=dict,
        description="Identity-provider group -> Grafana role (Admin, Editor, Viewer) in the organisation; "
        "a person in several groups gets the highest role. Set at every sign-in.",
    )
    deny_unmapped: bool = Field(
        True, description="Refuse sign-in to people in none of `groupRoles`' groups (true), or make them Viewers (false)."
    )
    allow_sign_up: bool = Field(
        False,
        description="Let people who are not in `ownership` create a Grafana user at their first sign-in "
        "(they get their group's role and no team). Off: the ownership model is the list of who may sign in.",
    )
    auto_login: bool = Field(
        False, description="Send the login page straight to the identity provider; the admin's break-glass form stays at /login?disableAutoLogin."
    )

    @model_validator(mode="after")
    def _complete_when_enabled(self) -> GrafanaOidc:
        if self.enabled:
            for key, value in (("clientId", self.client_id), ("authUrl", self.auth_url),
                               ("tokenUrl", self.token_url), ("apiUrl", self.api_url)):
                if value is None:
                    raise ValueError(f"{key}: is required when enabled is true")
            if not self.group_roles and self.deny_unmapped:
                raise ValueError("groupRoles: is empty and denyUnmapped is true: nobody could sign in")
        return self


class GrafanaSettings(Model):
    url: str = Field(
        pattern=r"^https?://[^/\s]+(/.*)?$",
        description="Public URL of Grafana: its root_url, and where the Grafana provider connects.",
    )
    replicas: int = Field(1, ge=1, description="Grafana replicas; more than one needs `database`.")
    storage_size: Quantity = Field(description="PersistentVolume for Grafana's data directory.")
    ingress: GrafanaIngress = Field(default_factory=GrafanaIngress, description="The Ingress serving `url`.")
    database: GrafanaDatabase | None = Field(
        None, description="Shared database; unset keeps sqlite on Grafana's volume (one replica).",
    )
    teams: tuple[GrafanaTeam, ...] = Field((), description="Grafana teams (role-based access) and their members.")
    oidc: GrafanaOidc = Field(default_factory=GrafanaOidc, description="Sign-in through the identity provider (docs/grafana.md).")
    resources: Resources = Field(description="The Grafana container of each replica.")
    extra_values: ExtraValues

    @field_validator("url")
    @classmethod
    def _url_has_a_host(cls, value: str) -> str:
        # The host becomes server.domain and the Ingress host; urlparse raises on e.g. "http://[::1".
        try:
            host = urlparse(value).hostname
        except ValueError as error:
            raise ValueError(f"is not a URL ({error})") from None
        if not host:
            raise ValueError("has no host name")
        return value

    @model_validator(mode="after")
    def _ingress_host_is_a_dns_name(self) -> GrafanaSettings:
        # The API server rejects an Ingress host that is an IP address or not a DNS-1123 subdomain.
        # Ref: kubernetes/kubernetes pkg/apis/networking/validation/validation.go validateIngressRules
        host = urlparse(self.url).hostname or ""
        if self.ingress.enabled and (_is_ip(host) or len(host) > 253 or not _DNS_SUBDOMAIN.match(host)):
            raise ValueError(
                f"url: host {host!r} cannot be an Ingress host (a DNS name is needed, not an IP address) "
                "while ingress.enabled is true"
            )
        return self

    @model_validator(mode="after")
    def _ha_needs_shared_database(self) -> GrafanaSettings:
        if self.replicas > 1 and self.database is None:
            raise ValueError(
                f"database: is required when replicas is {self.replicas}; replicas cannot share sqlite on a volume"
            )
        names = [team.name for team in self.teams]
        if len(names) != len(set(names)):
            raise ValueError("teams: has duplicate names")
        slugs: dict[str, str] = {}
        for team in self.teams:
            if not team.slug:
                raise ValueError(f"teams: {team.name!r} needs a letter or digit (its resource name is made of them)")
            if (other := slugs.setdefault(team.slug, team.name)) != team.name:
                raise ValueError(
                    f"teams: {other!r} and {team.name!r} differ only in case or punctuation; "
                    f"both would be the resource {team.slug!r}"
                )
        # Folder permissions are granted to these teams; a missing one would leave a folder unreadable.
        if missing := [team for team in DASHBOARD_TEAMS if team not in names]:
            raise ValueError(f"teams: needs the dashboard teams {', '.join(missing)} (folder permissions name them)")
        return self


class _EnvironmentFromStack(BaseModel):
    """Mixin for a section that wraps a spec with an `environment` field: the value comes from the
    stack's top-level `environment` key, so a stack cannot label its data as another's."""

    environment: SkipJsonSchema[str] = Field("", exclude=True, description="Set from the top-level key; not configurable here.")

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
    replicas: int = Field(1, ge=1, description="blackbox exporter replicas.")
    resources: Resources = Field(
        default_factory=_small_resources, description="The blackbox exporter container.",
    )
    extra_values: ExtraValues

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
    resources: Resources = Field(
        default_factory=_small_resources, description="The postgres_exporter container.",
    )
    extra_values: ExtraValues


class ElasticsearchExporterSettings(Model):
    """elasticsearch_exporter for the platform's own Elasticsearch (always deployed with it)."""

    resources: Resources = Field(
        default_factory=_small_resources, description="The elasticsearch_exporter container.",
    )
    extra_values: ExtraValues


class PushgatewaySettings(Model):
    """The Pushgateway CI jobs push their per-run delivery values to (README "Application contract")."""

    persistence: bool = Field(
        True, description="Keep pushed groups on a PVC across restarts (else the last run's values vanish)."
    )
    storage_size: Quantity = Field("1Gi", description="PVC size when persistence is on.")
    resources: Resources = Field(default_factory=_small_resources, description="The Pushgateway container.")
    extra_values: ExtraValues


class TrivyOperatorSettings(Model):
    """The Trivy Operator (components/trivy_operator.py): vulnerability, exposed-secret and config
    audit reports of the cluster's workloads, and compliance reports, exported as trivy_* metrics."""

    enabled: bool = Field(
        True, description="Deploy it; off leaves the Security dashboard's vulnerability and compliance panels out."
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests=ResourceList(cpu="50m", memory="128Mi"), limits=ResourceList(memory="512Mi")
        ),
        description="The operator's container (it caches every watched workload and report).",
    )
    scan_job_resources: Resources = Field(
        default_factory=lambda: Resources(
            requests=ResourceList(cpu="100m", memory="256Mi"), limits=ResourceList(memory="1Gi")
        ),
        description="Each scan Job's container (Trivy loads its vulnerability database into memory).",
    )
    concurrent_scan_jobs: int = Field(
        2, ge=1, le=10, description="Scan Jobs running at once (each asks for scanJobResources)."
    )
    extra_values: ExtraValues


class SecuritySettings(Model):
    trivy_operator: TrivyOperatorSettings = Field(
        default_factory=TrivyOperatorSettings, description="The Trivy Operator and its scan Jobs.",
    )


# Currencies the executive dashboard can show (Grafana unit ids `currency<CODE>`).
# Ref: grafana/grafana packages/grafana-data/src/valueFormats/categories.ts (currencyUSD, currencyEUR,
# currencyGBP, currencyCHF).
Currency = Literal["USD", "EUR", "GBP", "CHF"]
HourlyPrice = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class CostSettings(Model):
    """OpenCost (components/opencost.py): cost per namespace, workload and the platform's own
    systems from its allocation metrics, priced with the on-premises unit prices below
    (docs/costs.md). The prices are what the organisation's own hardware costs per hour; OpenCost
    multiplies them with what each container is allocated (the larger of its request and its use).
    The defaults are OpenCost's own (configs/default.json: GCP us-central1 list prices), a placeholder
    for the organisation's price list."""

    enabled: bool = Field(True, description="Deploy OpenCost; off leaves the executive dashboard's cost panels out.")
    currency: Currency = Field("USD", description="Currency of the prices below, shown on the cost panels.")
    cpu_core_hourly: HourlyPrice = Field(
        0.031611, description="Price of one CPU core for one hour (OpenCost's custom pricing `CPU`)."
    )
    ram_gib_hourly: HourlyPrice = Field(
        0.004237, alias="ramGiBHourly", description="Price of one GiB of memory for one hour (`RAM`)."
    )
    storage_gib_hourly: HourlyPrice = Field(
        0.00005479,
        alias="storageGiBHourly",
        description="Price of one GiB of persistent volume for one hour (`storage`; 0.04 per GiB-month).",
    )
    gpu_hourly: HourlyPrice = Field(0.95, description="Price of one GPU for one hour (`GPU`).")
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests=ResourceList(cpu="10m", memory="128Mi"), limits=ResourceList(memory="1Gi")
        ),
        description="The OpenCost container (it caches the cluster's objects and a day of cost data).",
    )
    extra_values: ExtraValues


class ExporterSettings(Model):
    blackbox: BlackboxSettings = Field(
        default_factory=BlackboxSettings, description="Blackbox probes of frontend pages and API endpoints.",
    )
    postgres: PostgresExporterSettings = Field(
        default_factory=PostgresExporterSettings, description="postgres_exporter for the application database.",
    )
    elasticsearch: ElasticsearchExporterSettings = Field(
        default_factory=ElasticsearchExporterSettings, description="elasticsearch_exporter for the platform's Elasticsearch.",
    )
    pushgateway: PushgatewaySettings = Field(
        default_factory=PushgatewaySettings, description="The Pushgateway for CI jobs' per-run values.",
    )


class InfluxdbSettings(Model):
    """Long-term trends: what Prometheus remote-writes (SLO and business series), downsampled."""

    retention: InfluxRetentionSpec = Field(description="Retention of the raw, 5m and 1h tiers.")
    storage_size: Quantity = Field(description="PersistentVolume of the InfluxDB node.")
    resources: Resources = Field(description="The InfluxDB container.")
    admin_password_version: int = Field(
        1,
        ge=1,
        description="Generation of the InfluxDB admin password. Raise it by one to rotate the password: "
        "the program keeps the previous generation, with which the schema Job sets the new one "
        "(InfluxDB only creates its admin on an empty volume). docs/operations.md \"Secrets\".",
    )
    extra_values: ExtraValues


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
    resources: Resources = Field(description="The Elasticsearch container of each node.")
    extra_values: ExtraValues  # the eck-operator chart (the cluster itself is an Elasticsearch resource)


class FluentBitSettings(Model):
    resources: Resources = Field(description="Per node (DaemonSet) pod.")
    events_resources: Resources = Field(
        default_factory=_small_resources, description="The single Kubernetes-events collector."
    )
    extra_values: ExtraValues  # the node DaemonSet's release
    events_extra_values: ExtraValues  # the events collector's release


# A CronJob schedule: five cron fields (minute hour day-of-month month day-of-week; names such as MON
# and JAN, ranges, lists, steps) or one of the macros. `CRON_TZ=`/`TZ=` prefixes are refused by the
# API server next to `timeZone`, which each job sets apart.
# Ref: https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#schedule-syntax ,
# #time-zones ("Specifying a timezone using CRON_TZ or TZ variables inside spec.schedule is not
# officially supported (and never has been)"; the API server rejects it since 1.29 when timeZone is set)
_CRON_ITEM = r"(\*|\?|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?"
_CRON_FIELD = re.compile(rf"^{_CRON_ITEM}(,{_CRON_ITEM})*$")
_CRON_MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def _cron(value: str) -> str:
    fields = value.split()
    if value in _CRON_MACROS:
        return value
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise ValueError(
            "is not a cron schedule of five fields (minute hour day-of-month month day-of-week, e.g. "
            "\"0 8 * * 1\") or a macro such as @weekly, without a CRON_TZ= or TZ= prefix"
        )
    return value


# The longest of Jaeger's daily index names after the prefix (span, service, dependencies, sampling).
# Ref: jaegertracing/jaeger internal/storage/v1/elasticsearch/dependencystore/storage.go (dependencyIndexBaseName
# "jaeger-dependencies-"; span, service, sampling are shorter), `<prefix>-` applied, dated 2006-01-02 by default
JAEGER_LONGEST_INDEX_SUFFIX = "-jaeger-dependencies-0000-00-00"


class JaegerDependenciesSettings(Model):
    """`jaeger.dependencies`: the daily job that computes the dependency links of Jaeger's System
    Architecture tab from the stored traces (jaegertracing/spark-dependencies, a JVM running Spark
    in one pod; docs/logs-and-traces.md#the-service-graph)."""

    enabled: bool = Field(
        True,
        description="Run the daily dependency-links job. Off: Jaeger's System Architecture tab stays empty "
        "(the dashboards' service graph does not need the job).",
    )
    schedule: Annotated[str, AfterValidator(_cron)] = Field(
        "15 0 * * *",
        description="When the job computes the links of the previous day (cron, in UTC, the days of "
        "Jaeger's daily indices): 00:15 by default, when that day is complete.",
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests=ResourceList(cpu="500m", memory="1Gi"), limits=ResourceList(memory="2Gi")
        ),
        description="The job's container while it runs (minutes a day); the JVM heap is 75% of the memory limit.",
    )

    @field_validator("resources")
    @classmethod
    def _memory_limit(cls, value: Resources) -> Resources:
        # The JVM sizes its heap from the container's memory limit (MaxRAMPercentage); without
        # one it would take a share of the node's memory.
        if value.limits.memory is None:
            raise ValueError("limits.memory: required, the JVM sizes its heap from it")
        return value


class JaegerSettings(Model):
    replicas: int = Field(1, ge=1, description="Jaeger replicas (each receives spans and serves queries).")
    index_prefix: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")] = Field(
        "traces", description="Prefix of Jaeger's Elasticsearch indices."
    )
    retention_days: int = Field(7, ge=1, description="Days of traces kept; older daily indices are deleted.")
    sampling: SamplingSettings = Field(
        default_factory=lambda: SamplingSettings(), description="Remote sampling strategies served to the SDKs.",
    )
    resources: Resources = Field(description="The Jaeger container of each replica.")
    dependencies: JaegerDependenciesSettings = Field(
        default_factory=JaegerDependenciesSettings, description="The daily dependency-links job (System Architecture tab).",
    )
    extra_values: ExtraValues

    @field_validator("index_prefix")
    @classmethod
    def _apart_from_the_logs(cls, value: str) -> str:
        # Jaeger's indices are `<prefix>-jaeger-span-<day>`; inside `logs-*` they would be read as logs
        # by the logs datasource and writable by Fluent Bit's role (plan/elasticsearch.py es_roles).
        if fnmatch.fnmatchcase(f"{value}-jaeger-span-", LOG_INDEX_PATTERN):
            raise ValueError(f"puts the trace indices inside the log indices {LOG_INDEX_PATTERN!r}")
        # Elasticsearch refuses index names over 255 bytes, when Jaeger first writes a span.
        # Ref: https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-create (index name rules)
        if len(longest := f"{value}{JAEGER_LONGEST_INDEX_SUFFIX}".encode()) > 255:
            raise ValueError(f"is too long: Jaeger's index names would be {len(longest)} bytes, over Elasticsearch's 255")
        return value


class OtelCollectorIngress(GrafanaIngress):
    """`otelCollector.ingress`: the public OTLP/HTTP endpoint browsers send to (CORS is answered by
    the collector itself, `corsOrigins`)."""

    enabled: bool = Field(False, description="Create an Ingress for the collector's OTLP/HTTP port 4318.")
    host: str | None = Field(
        None,
        pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$",
        max_length=253,
        description="Public host name of the endpoint, e.g. otel.example.com; browsers POST to "
        "https://<host>/v1/traces and /v1/metrics.",
    )

    @model_validator(mode="after")
    def _host_when_enabled(self) -> OtelCollectorIngress:
        if self.enabled and not self.host:
            raise ValueError("host: is required when enabled")
        return self


class ServiceGraphSettings(ServiceGraphSpec):
    """`otelCollector.serviceGraph`: the second collector tier that pairs client and server spans
    into the service graph (monitoring/otel.py; docs/logs-and-traces.md#the-service-graph)."""

    enabled: bool = Field(
        True,
        description="Build the service graph: the gateway forwards every span by trace ID to this tier. "
        "Off leaves the node graph panels out.",
    )
    replicas: int = Field(1, ge=1, description="Replicas of the tier (each pairs the spans of its share of the traces).")
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests=ResourceList(cpu="50m", memory="128Mi"), limits=ResourceList(memory="512Mi")
        ),
        description="The tier's collector container of each replica (the store holds storeMaxItems calls).",
    )
    extra_values: ExtraValues  # checked by the chart's values.schema.json when Helm renders it


class OtelCollectorSettings(OtelCollectorSpec):
    replicas: int = Field(1, ge=1, description="Collector replicas.")
    cors_origins: tuple[str, ...] = Field(
        (), description="Browser origins allowed to send OTLP/HTTP (the frontend's URLs)."
    )
    ingress: OtelCollectorIngress = Field(
        default_factory=OtelCollectorIngress, description="The public OTLP/HTTP endpoint for browsers.",
    )
    resources: Resources = Field(description="The collector container of each replica.")
    service_graph: ServiceGraphSettings = Field(
        default_factory=ServiceGraphSettings, description="The service graph tier behind the gateway.",
    )
    extra_values: ExtraValues  # checked by the chart's values.schema.json when Helm renders it

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(validate_cors_origins(list(value)))

    @model_validator(mode="after")
    def _browsers_have_a_way_in(self) -> OtelCollectorSettings:
        # Browsers reach the collector only through the Ingress: origins without one are dead config.
        if self.cors_origins and not self.ingress.enabled:
            raise ValueError(
                "ingress.enabled: is false, but corsOrigins lists browser origins; browsers reach the "
                "collector only through its Ingress (set ingress.enabled and ingress.host)"
            )
        # An https:// page may not send to an http:// endpoint (mixed content is blocked).
        secure = [origin for origin in self.cors_origins if origin.startswith("https://")]
        if self.ingress.enabled and secure and not self.ingress.tls_secret_name:
            raise ValueError(
                f"ingress.tlsSecretName: is required: {secure[0]} is an https origin, and browsers block "
                "its requests to a plain-http endpoint (mixed content)"
            )
        return self


class OtelOperatorSettings(Model):
    """The OpenTelemetry Operator (components/otel_operator.py): injects OpenTelemetry
    auto-instrumentation into the pods that opt in by annotation, configured by the platform's
    `Instrumentation` (exporter: the collector; propagators; the stack's sampling; README,
    "Automatic instrumentation")."""

    enabled: bool = Field(
        True,
        description="Deploy the operator and the platform's Instrumentation; off, the inject-* annotations do nothing.",
    )
    replicas: int = Field(
        1, ge=1, le=5,
        description="Operator replicas; each serves the admission webhook (one leader runs the controllers). "
        "Above 1, a PodDisruptionBudget keeps one up during a drain.",
    )  # fmt: skip
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests=ResourceList(cpu="10m", memory="64Mi"), limits=ResourceList(memory="256Mi")
        ),
        description="The operator's manager container (it caches the pods, Deployments and namespaces it watches).",
    )
    extra_values: ExtraValues


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


def _zone(value: str | None) -> str | None:
    if value is not None:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("is not an IANA time zone (e.g. Europe/Berlin)") from None
    return value


class ReportSettings(Model):
    """The weekly SLO report and alert review (docs/reports.md): a CronJob in the platform namespace
    that asks Thanos Query and posts each team's part to its Slack channel (ownership.teams.<id>.slackChannel)
    through the Slack webhook the Alertmanager receivers use (secret slackWebhookUrl)."""

    enabled: bool = Field(
        False,
        description="Run the weekly report job; needs alerting.receivers.slack.enabled (its webhook and the "
        "teams' channels). Off: the report is still there on demand (`python -m tools.report`).",
    )
    schedule: Annotated[str, AfterValidator(_cron)] = Field(
        "0 8 * * 1", description="When the report is made and posted (cron, in timeZone): Monday 08:00 by default."
    )
    time_zone: Annotated[str | None, AfterValidator(_zone)] = Field(
        None,
        description="IANA time zone of the schedule and of the report's date line; unset: "
        "alerting.businessHours.location, where the teams work.",
    )
    period: Duration = Field(
        "7d",
        description="What the report covers, back from its run: the alert review and the worst burn (at most "
        "thanos.compactor.retentionRaw, the raw history Thanos Query holds).",
    )
    step: Duration = Field(
        "1m", description="Resolution of the alert review (an episode shorter than a step may be missed)."
    )
    resources: Resources = Field(
        default_factory=lambda: Resources(
            requests=ResourceList(cpu="10m", memory="48Mi"), limits=ResourceList(memory="128Mi")
        ),
        description="The report container (Python with the standard library: a few MiB per week of alerts).",
    )


def _selector_labels(value: dict[str, str], matched: str) -> dict[str, str]:
    if not value:
        raise ValueError(f"must have at least one label; an empty selector matches {matched}")
    for key, label in value.items():
        if problem := _label_problem(key, label):
            raise ValueError(problem)
    return value


def _pod_selector_labels(value: dict[str, str]) -> dict[str, str]:
    return _selector_labels(value, "every pod of the namespace")


class ClusterDnsSettings(Model):
    """`networkPolicy.dns`: the cluster DNS pods, the one in-cluster destination of a pod whose
    egress the platform limits (the weekly report job)."""

    namespace: Annotated[str, Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=63)] = Field(
        "kube-system", description="Namespace of the DNS pods (OpenShift: openshift-dns)."
    )
    pod_labels: Annotated[dict[str, str], AfterValidator(_pod_selector_labels)] = Field(
        default_factory=lambda: {"k8s-app": "kube-dns"},
        description="Labels of the DNS pods: CoreDNS keeps k8s-app: kube-dns on kubeadm, EKS, GKE, AKS, kind "
        "and k3s (OpenShift: dns.operator.openshift.io/daemonset-dns: default).",
    )


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
    dns: ClusterDnsSettings = Field(
        default_factory=ClusterDnsSettings, description="The cluster DNS pods egress-limited pods may ask.",
    )

    @field_validator("ingress_namespace_selector")
    @classmethod
    def _selector_names_namespaces(cls, value: dict[str, str]) -> dict[str, str]:
        return _selector_labels(value, "every namespace")

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


def _date(value: str) -> str:
    try:
        datetime.date.fromisoformat(value)
    except ValueError:
        raise ValueError("is not a date (YYYY-MM-DD)") from None
    return value


class PagerDutySettings(Model):
    """The PagerDuty account side of the ownership model (components/pagerduty.py), used when
    `alerting.receivers.pagerduty.enabled` is on (docs/oncall.md)."""

    existing_users: bool = Field(
        False,
        description="Look the people up in PagerDuty by email (users provisioned by SSO or by hand) "
        "instead of creating them; their contact methods and notification rules are managed either way.",
    )
    rotation_start: Annotated[str, Field(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_date)] = Field(
        "2026-01-05",
        description="The day every rotation's first turn began (YYYY-MM-DD), at its layer's handoffTime in "
        "its timeZone: the first member of each layer was on call from then, and turns follow in order. "
        "Changing it changes whose turn it is now; a weekly rotation hands over on its weekday.",
    )


class StackSettings(Model):
    """Everything a stack decides. Loaded once by stacks.config.load_settings()."""

    environment: EnvironmentName = Field(
        description="Environment name; the `environment` label on every alert, and the policy "
        "(monitoring/environments.py) the stack is held to."
    )
    namespace: K8sName = Field(
        "monitoring",
        description="Namespace of the monitoring platform (Pod Security `restricted`); the node agents "
        "run in `<namespace>-agents` (Pod Security `privileged`).",
    )
    storage_class: Annotated[DnsSubdomain | None, BeforeValidator(lambda v: v or None)] = Field(
        None, description="StorageClass for every volume; unset or empty uses the cluster default.",
        json_schema_extra=lambda schema: schema["anyOf"].append({"const": ""}),  # "" is read as unset
    )
    cluster: ClusterSettings = Field(
        description="The cluster the stack deploys to: name, kubeconfig context, size, flavour.",
    )
    object_storage: ObjectStorageSettings = Field(description="The bucket Thanos keeps metric blocks in.")
    prometheus: PrometheusSettings = Field(
        description="Prometheus: replicas, local retention, scrape and evaluation intervals.",
    )
    alertmanager: AlertmanagerSettings = Field(
        description="Alertmanager: replicas and volume (routing is `alerting`).",
    )
    thanos: ThanosSettings = Field(
        description="Thanos: query, query-frontend, store gateway, compactor and ruler.",
    )
    grafana: GrafanaSettings = Field(description="Grafana: URL, ingress, database, teams.")
    influxdb: InfluxdbSettings = Field(description="InfluxDB 1.x for long-term trends.")
    elasticsearch: ElasticsearchSettings = Field(description="Elasticsearch (ECK) for logs and traces.")
    logs: LogsSpec = Field(default_factory=LogsSpec, description="Log families and their retention (ILM).")
    fluent_bit: FluentBitSettings = Field(
        description="Fluent Bit: the node DaemonSet and the Kubernetes-events collector.",
    )
    jaeger: JaegerSettings = Field(description="Jaeger v2: trace indices, retention, sampling.")
    otel_collector: OtelCollectorSettings = Field(description="The OpenTelemetry Collector gateway.")
    otel_operator: OtelOperatorSettings = Field(
        default_factory=OtelOperatorSettings,
        description="The OpenTelemetry Operator: auto-instrumentation by pod annotation (README, \"Automatic instrumentation\").",
    )
    exporters: ExporterSettings = Field(
        default_factory=ExporterSettings, description="Blackbox probes and postgres_exporter for the SLOs."
    )
    security: SecuritySettings = Field(
        default_factory=SecuritySettings, description="Security scanning of the cluster (Trivy Operator)."
    )
    costs: CostSettings = Field(
        default_factory=CostSettings, description="OpenCost and the on-premises prices it applies (docs/costs.md).",
    )
    network_policy: NetworkPolicySettings = Field(
        default_factory=NetworkPolicySettings,
        description="The ingress controller's namespace and the API server's addresses, for the NetworkPolicies.",
    )
    alerting: AlertingSettings = Field(
        default_factory=AlertingSettings,
        description="Alert receivers, SLO overrides, business hours and maintenance windows.",
    )
    ownership: OwnershipSpec = Field(
        description="Who owns what: service areas, their teams and people, the on-call rotations "
        "(docs/oncall.md). No default: every stack names its owners.",
    )
    pagerduty: PagerDutySettings = Field(
        default_factory=PagerDutySettings,
        description="How the ownership model meets the PagerDuty account (with alerting.receivers.pagerduty.enabled).",
    )
    reports: ReportSettings = Field(
        default_factory=ReportSettings,
        description="The weekly SLO report and alert review posted to the teams' Slack channels (docs/reports.md).",
    )

    @property
    def sampling_spec(self) -> SamplingSpec:
        return self.jaeger.sampling.with_environment(SamplingSpec, self.environment)

    @property
    def alerting_spec(self) -> AlertingSpec:
        return self.alerting.with_environment(AlertingSpec, self.environment)

    @property
    def undeployed_producers(self) -> frozenset[str]:
        """The optional producers (monitoring/metrics_contract.py OPTIONAL_PRODUCERS) this stack does
        not deploy: the rules, SLOs and panels that read only them are left out of it."""
        absent = set()
        if not self.exporters.postgres.enabled:
            absent.add(POSTGRES_EXPORTER)
        if not (self.exporters.blackbox.frontend or self.exporters.blackbox.api):
            absent.add(BLACKBOX_EXPORTER)
        if not self.security.trivy_operator.enabled:
            absent.add(TRIVY_OPERATOR)
        if not self.costs.enabled:
            absent.add(OPENCOST)
        if self.cluster.cni != "cilium":
            absent |= {CILIUM_AGENT, HUBBLE}
        if not self.otel_collector.service_graph.enabled:
            absent.add(OTEL_SERVICEGRAPH)
        return frozenset(absent)

    @property
    def agents_namespace(self) -> str:
        """The one namespace labelled Pod Security `privileged`: only the node agents that need the
        host (node-exporter, the Fluent Bit DaemonSet, the max_map_count DaemonSet) run there."""
        return f"{self.namespace}{AGENTS_NAMESPACE_SUFFIX}"

    @property
    def policy(self) -> EnvironmentPolicy:
        """What this stack's environment decides (monitoring/environments.py)."""
        return POLICIES[self.environment]

    @property
    def protect(self) -> bool:
        """Whether stateful resources are protected: `pulumi destroy` must not take their data."""
        return self.policy.protect_stateful

    @property
    def index_replicas(self) -> int:
        """Replica shards of every log and trace index: the environment's rule on this cluster."""
        return self.policy.index_replicas(self.elasticsearch.nodes)

    @field_validator("namespace")
    @classmethod
    def _not_a_system_namespace(cls, value: str) -> str:
        # The program creates its namespace, labels it Pod Security `restricted` and (prod) protects it:
        # Kubernetes' own namespaces always exist (the create would fail while other resources are
        # already being created) and are not the platform's to label.
        # Ref: https://kubernetes.io/docs/concepts/overview/working-with-objects/namespaces/#initial-namespaces
        # ("Avoid creating namespaces with the prefix kube-, since it is reserved for Kubernetes system namespaces.")
        if value == "default" or value.startswith("kube-"):
            raise ValueError("is a Kubernetes system namespace (default, kube-*); pick one the platform owns")
        if f"{value}{AGENTS_NAMESPACE_SUFFIX}".startswith("kube-"):
            raise ValueError(f"makes the agents namespace {value + AGENTS_NAMESPACE_SUFFIX!r}, a reserved kube-* name")
        return value

    @model_validator(mode="after")
    def _not_the_ingress_controller_namespace(self) -> StackSettings:
        # That namespace exists already (the program creates its own, so the create would fail late),
        # and the platform's default-deny NetworkPolicies would cut the ingress controller off.
        selected = self.network_policy.ingress_namespace_selector.get("kubernetes.io/metadata.name")
        if selected in (self.namespace, self.agents_namespace):
            raise ValueError(
                f"namespace: {self.namespace!r} would hold the ingress controller "
                "(networkPolicy.ingressNamespaceSelector); the platform's namespaces are its own"
            )
        return self

    @field_validator("namespace")
    @classmethod
    def _room_for_the_agents_namespace(cls, value: str) -> str:
        if len(value) + len(AGENTS_NAMESPACE_SUFFIX) > 63:
            raise ValueError(
                f"{value!r} is too long: the agents namespace {value + AGENTS_NAMESPACE_SUFFIX!r} "
                "must fit in 63 characters"
            )
        return value

    @property
    def named_services(self) -> dict[str, tuple[str, str]]:
        """Every `service` (or frontend `app`) label value the stack file names -> the first key naming
        it and the service area its producer measures (a frontend probe: frontend; an API probe and a
        traced operation: api; the database exporter: database)."""
        named: dict[str, tuple[str, str]] = {}
        blackbox = self.exporters.blackbox
        for i, probe in enumerate(blackbox.frontend):
            named.setdefault(probe.app, (f"exporters.blackbox.frontend[{i}].app", Area.FRONTEND))
        for i, api in enumerate(blackbox.api):
            named.setdefault(api.service, (f"exporters.blackbox.api[{i}].service", Area.API))
        if self.exporters.postgres.enabled:
            named.setdefault(self.exporters.postgres.service, ("exporters.postgres.service", Area.DATABASE))
        for i, override in enumerate(self.jaeger.sampling.overrides):
            if override.service:
                named.setdefault(override.service, (f"jaeger.sampling.overrides[{i}].service", Area.API))
        return named

    @model_validator(mode="after")
    def _every_service_has_an_owner(self) -> StackSettings:
        try:
            check_owners(self.ownership, self.named_services)
        except SpecError as error:
            raise error.under("ownership") from None
        return self

    @property
    def pagerduty_enabled(self) -> bool:
        return self.alerting.receivers.pagerduty.enabled

    @model_validator(mode="after")
    def _everybody_paged_can_be_called(self) -> StackSettings:
        if self.pagerduty_enabled:
            try:
                check_reachable(self.ownership)
            except SpecError as error:
                raise error.under("ownership") from None
        return self

    @property
    def report_time_zone(self) -> str:
        """The weekly report's zone: reports.timeZone, else where the teams work."""
        return self.reports.time_zone or self.alerting.business_hours.location

    @model_validator(mode="after")
    def _reports_have_somewhere_to_go(self) -> StackSettings:
        if not self.reports.enabled:
            return self
        if not self.alerting.receivers.slack.enabled:
            raise ValueError(
                "alerting.receivers.slack.enabled: is off, but reports.enabled posts the weekly report to the teams' "
                "Slack channels through the Slack webhook; enable Slack (and set the slackWebhookUrl secret) or turn reports off"
            )
        period, raw = parse_duration(self.reports.period), parse_duration(self.thanos.compactor.retention_raw)
        if period > raw:
            raise ValueError(
                f"reports.period: {self.reports.period} is longer than thanos.compactor.retentionRaw "
                f"({self.thanos.compactor.retention_raw}), the raw history the report reads"
            )
        if parse_duration(self.reports.step) > period:
            raise ValueError(f"reports.step: {self.reports.step} is longer than reports.period ({self.reports.period})")
        return self

    @model_validator(mode="after")
    def _grafana_teams_name_the_model(self) -> StackSettings:
        for i, team in enumerate(self.grafana.teams):
            try:
                check_audience(self.ownership, team.members.teams, team.members.people)
            except SpecError as error:
                raise error.under(f"grafana.teams[{i}].members") from None
        return self

    def grafana_team_members(self, team: GrafanaTeam) -> tuple[str, ...]:
        """The emails of a Grafana team's members (monitoring/ownership.py audience)."""
        members = team.members
        return audience(self.ownership, teams=members.teams, roles=members.roles, people_=members.people)

    @model_validator(mode="after")
    def _sign_in_over_https(self) -> StackSettings:
        oidc = self.grafana.oidc
        if not (oidc.enabled and self.policy.https_sign_in):
            return self
        urls = {"grafana.url": self.grafana.url, "grafana.oidc.authUrl": oidc.auth_url,
                "grafana.oidc.tokenUrl": oidc.token_url, "grafana.oidc.apiUrl": oidc.api_url}
        for key, url in urls.items():
            if url is not None and urlparse(url).scheme != "https":
                # A SpecError keeps the key whole (the message names it from the stack file's root).
                raise SpecError(
                    key, f"{url!r} is not https; {self.environment} signs people in over https only "
                    "(the authorization code, tokens and client secret travel there)",
                )
        return self

    @model_validator(mode="after")
    def _meets_its_environment_policy(self) -> StackSettings:
        policy = self.policy
        least = policy.minimum_replicas
        minimums = {
            "prometheus.replicas": (self.prometheus.replicas, least.prometheus),
            "alertmanager.replicas": (self.alertmanager.replicas, least.alertmanager),
            "thanos.query.replicas": (self.thanos.query.replicas, least.thanos_query),
            "thanos.queryFrontend.replicas": (self.thanos.query_frontend.replicas, least.thanos_query_frontend),
            "thanos.storeGateway.replicas": (self.thanos.store_gateway.replicas, least.thanos_store_gateway),
            "elasticsearch.nodes": (self.elasticsearch.nodes, least.elasticsearch_nodes),
        }
        for key, (value, minimum) in minimums.items():
            if value < minimum:
                raise ValueError(f"{key}: is {value}; {policy.name} needs at least {minimum} for high availability")
        # Retention bounds by log importance (e.g. prod: audit kept a year, debug only days).
        try:
            check_retention_bounds(self.logs, policy)
        except SpecError as error:
            raise error.under("logs") from None
        return self


def _section_model(annotation: object) -> type[BaseModel] | None:
    """The model a field holds (through `X | None`), else None."""
    for option in typing.get_args(annotation) or (annotation,):
        if isinstance(option, type) and issubclass(option, BaseModel):
            return option
    return None


def stack_file_key(loc: Sequence[str | int], key: str) -> str:
    """The stack-file key of a monitoring spec's error: `key` is relative to the spec (SpecError.key),
    `loc` is where pydantic met the error. The spec is the outermost SpecModel on the way down from
    StackSettings, and its stack-file key is that part of `loc` (e.g. jaeger.sampling): monitoring/
    does not know where its specs sit in a stack file, the models here do."""
    model: type[BaseModel] = StackSettings
    for depth, part in enumerate(loc):
        field = next((f for name, f in model.model_fields.items() if part in (name, f.alias)), None)
        section = _section_model(field.annotation) if field is not None else None
        if section is None:
            break
        if issubclass(section, SpecModel):
            return join_key(".".join(str(p) for p in loc[: depth + 1]), key)
        model = section
    return key


def retentions(settings: StackSettings) -> windows.Retentions:
    """What each engine of the stack keeps, with the config key of each figure."""
    compactor, influx = settings.thanos.compactor, settings.influxdb.retention
    key = "influxdb.retention"
    return windows.Retentions(
        prometheus=settings.prometheus.retention,
        thanos={"raw": compactor.retention_raw, "5m": compactor.retention_5m, "1h": compactor.retention_1h},
        influx={
            RAW_POLICY: (influx.raw_retention, f"{key}.rawRetention"),
            FIVE_MINUTE_POLICY: (influx.five_minute_retention, f"{key}.fiveMinuteRetention"),
            ONE_HOUR_POLICY: (influx.one_hour_retention, f"{key}.oneHourRetention"),
        },
        # The raw policy is the DEFAULT one (monitoring/influxdb.py _retention_policy_clause).
        influx_default=RAW_POLICY,
        scrape_interval=settings.prometheus.scrape_interval,
        keys={
            "prometheus": "prometheus.retention",
            "raw": "thanos.compactor.retentionRaw",
            "5m": "thanos.compactor.retention5m",
            "1h": "thanos.compactor.retention1h",
            "influx": key,
        },
    )
