"""The exporters the SLOs and rules need beyond kube-prometheus-stack: the blackbox exporter with
one Prometheus Operator `Probe` per frontend page / API endpoint, and postgres_exporter for the
application database.

Chart facts (prometheus-blackbox-exporter 11.17.2, prometheus-postgres-exporter 8.2.0, read in
their values.yaml and templates): neither has Helm hooks; the blackbox chart has no Probe
template, so the Probes are declared here; a Probe's `prober.url` is host:port without a scheme;
postgres_exporter takes the whole DSN from an existing Secret (`config.datasourceSecret`), and
its ServiceMonitor accepts `relabelings`, used to set the `service` label the database SLOs
group by (the operator would otherwise label the series with the exporter's Service name).

Pod security: both charts already drop every capability, read-only, without a token; the values
add seccomp RuntimeDefault where missing and run both as nobody, the images' own user (`USER
nobody`; the charts default to 1000/1001), since they write nothing. Helm merges these maps into
the charts' defaults, so the container-level users are set too. postgres_exporter's Role has no
rules: no RBAC objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options, declare_chart
from components.labels import secret, standard_labels
from components.rollout import ContentDigests, ObjectRef
from components.security import NOBODY, restricted_container, restricted_pod
from components.versions import BLACKBOX_EXPORTER, POSTGRES_EXPORTER
from stacks.settings import BlackboxSettings, PostgresExporterSettings

BLACKBOX_FULLNAME = "blackbox-exporter"
BLACKBOX_PORT = 9115
BLACKBOX_MODULE = "http_2xx"
POSTGRES_FULLNAME = "postgres-exporter"
POSTGRES_PORT = 9187  # the container's `http` port (chart default); the Service maps 80 to it
POSTGRES_DSN_SECRET = "postgres-exporter-dsn"
POSTGRES_DSN_KEY = "dsn"


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


def probe_specs(settings: BlackboxSettings, namespace: str) -> dict[str, dict[str, Any]]:
    """Probe name -> spec. One Probe per target, because static labels apply to a whole Probe."""
    prober = {"url": f"{BLACKBOX_FULLNAME}.{namespace}.svc:{BLACKBOX_PORT}", "path": "/probe"}

    def spec(job: str, url: str, labels: dict[str, str]) -> dict[str, Any]:
        return {
            "jobName": job,
            "interval": settings.interval,
            "module": BLACKBOX_MODULE,
            "prober": prober,
            "targets": {"staticConfig": {"static": [url], "labels": labels}},
        }

    probes = {f"frontend-{p.app}": spec("blackbox-frontend", p.url, {"app": p.app}) for p in settings.frontend}
    probes |= {f"api-{p.service}": spec("blackbox-api", p.url, {"service": p.service}) for p in settings.api}
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
    if not blackbox.frontend:
        warnings.append(
            "exporters.blackbox.frontend: no frontend probe targets; the frontend availability SLO "
            "(probe_success) has no data in this stack"
        )
    if not postgres.enabled:
        warnings.append(
            "exporters.postgres.enabled: false; database availability, locks, cache hit ratio and "
            "replication lag (pg_*) have no data in this stack"
        )
    return warnings


@dataclass(frozen=True)
class ExportersArgs:
    namespace: str
    blackbox: BlackboxSettings
    postgres: PostgresExporterSettings
    postgres_dsn: pulumi.Output[str] | None = None
    digests: ContentDigests = field(kw_only=True)


class Exporters(pulumi.ComponentResource):
    """Blackbox exporter + Probes when there are targets; postgres_exporter when enabled."""

    def __init__(self, name: str, args: ExportersArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:Exporters", name, None, opts)
        child = child_options(self, opts)
        self.charts: dict[str, dict[str, Any]] = {}

        probes = probe_specs(args.blackbox, args.namespace)
        if probes:
            values = blackbox_values(args.blackbox)
            chart = declare_chart(f"{name}-blackbox", BLACKBOX_EXPORTER, args.namespace, values, child)
            self.charts[BLACKBOX_EXPORTER.chart] = values
            for probe_name, spec in probes.items():
                k8s.apiextensions.CustomResource(
                    f"{name}-probe-{probe_name}",
                    api_version="monitoring.coreos.com/v1",
                    kind="Probe",
                    metadata=k8s.meta.v1.ObjectMetaArgs(
                        name=probe_name,
                        namespace=args.namespace,
                        labels=standard_labels("blackbox-exporter", name, "probe"),
                    ),
                    spec=spec,
                    opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[chart])),
                )

        if args.postgres.enabled:
            if args.postgres_dsn is None:
                raise ValueError("ExportersArgs.postgres_dsn is required when postgres is enabled")
            dsn = secret(
                f"{name}-postgres-dsn",
                POSTGRES_DSN_SECRET,
                args.namespace,
                standard_labels("postgres-exporter", name, "credentials"),
                {POSTGRES_DSN_KEY: args.postgres_dsn},
                child,
                args.digests,
            )
            values = postgres_exporter_values(args.postgres)
            # The DSN is an env var (DATA_SOURCE_NAME from the Secret); the chart's `checksum/secrets`
            # hashes its own secrets.yaml, empty with `config.datasourceSecret` (8.2.0
            # templates/deployment.yaml l.31-33). Ref: values.yaml `annotations` (pod template).
            values["annotations"] = args.digests.annotations([ObjectRef("Secret", args.namespace, POSTGRES_DSN_SECRET)])
            declare_chart(
                f"{name}-postgres",
                POSTGRES_EXPORTER,
                args.namespace,
                values,
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[dsn])),
            )
            self.charts[POSTGRES_EXPORTER.chart] = values
        self.register_outputs({})
