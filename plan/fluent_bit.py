"""Fluent Bit's slice of the plan: a DaemonSet shipping container logs by family, and a
single-replica Deployment collecting Kubernetes events (once, never from every node), both into
Elasticsearch over TLS, through its HTTP endpoint (plan/elasticsearch.py `http_endpoint`).

Chart facts (fluent-bit 0.58.1): the chart only renders classic config, so the YAML config built
by monitoring/fluentbit.py goes in a ConfigMap of ours (`existingConfigMap`) and `args` point at
it; env entries are rendered verbatim, so credentials come from the ES user Secret by reference;
`rbac.eventsAccess` adds list/watch on events; the only hook is the Helm test pod (off).
The filesystem buffer lives on a hostPath so a node's backlog survives a pod restart: with
`retry_limit: no_limits` a short Elasticsearch outage loses nothing.

Pod security: the node DaemonSet reads host files (/var/log, owned by root) and keeps its buffer
on a hostPath, so it runs as root in the agents namespace (Pod Security `privileged`), with
everything else of `restricted` (no privilege escalation, no capabilities, read-only root
filesystem and /var/log, seccomp RuntimeDefault); its ConfigMap, Secret copies (CA, user, made by
components/elasticsearch.py), ServiceAccount, RBAC and ServiceMonitor are in that namespace too.
The events collector only talks to the API and Elasticsearch: `restricted`, as nobody (the image,
distroless, has no USER: root). Both keep their API token (kubernetes filter, kubernetes_events).
Ref: fluent-bit 0.58.1 values.yaml `podSecurityContext`, `securityContext`, `daemonSetVolumeMounts`;
templates/_pod.tpl; fluent/fluent-bit dockerfiles/Dockerfile (distroless, no USER).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from monitoring.fluentbit import CONFIG_FILE_NAME, STATE_DIR, fluentbit_config, fluentbit_events_config
from plan.context import PlatformContext
from plan.elasticsearch import FLUENT_BIT_USER
from plan.endpoints import Credentials, Endpoint, SecretKeyRef
from plan.labels import standard_labels
from plan.pod_security import NOBODY, node_agent_container, restricted_container, restricted_pod
from plan.settings import FluentBitSettings, StackSettings

NODE_FULLNAME = "fluent-bit"
EVENTS_FULLNAME = "fluent-bit-events"
CA_DIR = "/fluent-bit/es-ca"
USER_ENV, PASSWORD_ENV = "ES_USER", "ES_PASSWORD"
ROLES = ("node", "events")


def pipeline_config_map(fullname: str) -> str:
    return f"{fullname}-pipeline"


def _common_values(
    fullname: str,
    config_map: str,
    resources: dict[str, Any],
    state_volume: dict[str, Any],
    ca: SecretKeyRef,
    user: Credentials,
) -> dict[str, Any]:
    return {
        "fullnameOverride": fullname,
        "existingConfigMap": config_map,
        "args": ["--workdir=/fluent-bit/etc", f"--config=/fluent-bit/etc/conf/{CONFIG_FILE_NAME}"],
        "env": [
            {"name": var, "valueFrom": {"secretKeyRef": {"name": user.secret, "key": key}}}
            for var, key in ((USER_ENV, user.username_key), (PASSWORD_ENV, user.password_key))
        ],
        "extraVolumes": [
            {"name": "es-ca", "secret": {"secretName": ca.name}},
            {"name": "state", **state_volume},
        ],
        "extraVolumeMounts": [
            {"name": "es-ca", "mountPath": CA_DIR, "readOnly": True},
            {"name": "state", "mountPath": STATE_DIR},
        ],
        "serviceMonitor": {"enabled": True},
        "testFramework": {"enabled": False},
        "resources": resources,
    }


def node_values(settings: FluentBitSettings, config_map: str, ca: SecretKeyRef, user: Credentials) -> dict[str, Any]:
    values = _common_values(
        NODE_FULLNAME,
        config_map,
        settings.resources.to_k8s(),
        {"hostPath": {"path": STATE_DIR, "type": "DirectoryOrCreate"}},
        ca,
        user,
    )
    return {
        **values,
        "kind": "DaemonSet",
        # Every node's logs, tainted nodes included.
        "tolerations": [{"operator": "Exists"}],
        # Root (the log files are root-owned 0640) without any capability, escalation or writable root.
        "podSecurityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
        "securityContext": node_agent_container(),
        # The chart's default mounts /var/log read-write; Fluent Bit only reads it (its state is
        # under STATE_DIR).
        "daemonSetVolumeMounts": [
            {"name": "varlog", "mountPath": "/var/log", "readOnly": True},
            {"name": "varlibdockercontainers", "mountPath": "/var/lib/docker/containers", "readOnly": True},
            {"name": "etcmachineid", "mountPath": "/etc/machine-id", "readOnly": True},
        ],
    }


def events_values(settings: FluentBitSettings, config_map: str, ca: SecretKeyRef, user: Credentials) -> dict[str, Any]:
    values = _common_values(
        EVENTS_FULLNAME, config_map, settings.events_resources.to_k8s(), {"emptyDir": {}}, ca, user
    )
    return {
        **values,
        # Exactly one reader of the events API: two would store every event twice.
        "kind": "Deployment",
        "replicaCount": 1,
        "rbac": {"create": True, "eventsAccess": True},
        # Writes only its state emptyDir.
        "podSecurityContext": restricted_pod(run_as_user=NOBODY, run_as_group=NOBODY, fs_group=NOBODY),
        "securityContext": restricted_container(),
    }


@dataclass(frozen=True)
class FluentBitRelease:
    """One of the two releases (node DaemonSet, events Deployment) and the pipeline its pods read."""

    fullname: str
    # The node DaemonSet runs in the agents namespace, the events collector in the platform's.
    namespace: str
    config_map: str
    config: str
    values: Mapping[str, Any]
    # fluentBit.extraValues / fluentBit.eventsExtraValues (as `resources` / `eventsResources`).
    extra_values: Mapping[str, Any]


@dataclass(frozen=True)
class FluentBitPlan:
    # Where both ship: Elasticsearch's HTTP endpoint, its CA and the Fluent Bit user.
    elasticsearch: Endpoint
    ca: SecretKeyRef
    user: Credentials
    node: FluentBitRelease
    events: FluentBitRelease
    labels: Mapping[str, str]

    @property
    def releases(self) -> dict[str, FluentBitRelease]:
        return {"node": self.node, "events": self.events}

    @property
    def node_config(self) -> str:
        return self.node.config

    @property
    def events_config(self) -> str:
        return self.events.config


def fluent_bit_plan(settings: StackSettings, context: PlatformContext, elasticsearch: Endpoint) -> FluentBitPlan:
    """`elasticsearch`: the cluster's HTTP endpoint (plan/elasticsearch.py `http_endpoint`). Both
    releases mount its CA Secret and read its `fluentbit` user's Secret (for the node DaemonSet, the
    copies components/elasticsearch.py makes in the agents namespace, under the same names)."""
    fb = settings.fluent_bit
    ca = elasticsearch.ca
    assert ca is not None, "Elasticsearch's HTTP endpoint is TLS: it names its CA"
    user = elasticsearch.user(FLUENT_BIT_USER.username)
    ca_file = f"{CA_DIR}/{ca.key}"
    host, port = elasticsearch.host, elasticsearch.port("https")
    node_map, events_map = pipeline_config_map(NODE_FULLNAME), pipeline_config_map(EVENTS_FULLNAME)
    return FluentBitPlan(
        elasticsearch=elasticsearch,
        ca=ca,
        user=user,
        node=FluentBitRelease(
            fullname=NODE_FULLNAME,
            namespace=context.agents_namespace,
            config_map=node_map,
            config=fluentbit_config(settings.logs, host, port, USER_ENV, PASSWORD_ENV, ca_file),
            values=node_values(fb, node_map, ca, user),
            extra_values=fb.extra_values,
        ),
        events=FluentBitRelease(
            fullname=EVENTS_FULLNAME,
            namespace=context.namespace,
            config_map=events_map,
            config=fluentbit_events_config(host, port, USER_ENV, PASSWORD_ENV, ca_file),
            values=events_values(fb, events_map, ca, user),
            extra_values=fb.events_extra_values,
        ),
        labels=standard_labels("fluent-bit", f"{context.name}-fluent-bit", "logs"),
    )
