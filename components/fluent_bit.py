"""Fluent Bit: a DaemonSet shipping container logs by family, and a single-replica Deployment
collecting Kubernetes events (once, never from every node), both into Elasticsearch over TLS.

Chart facts (fluent-bit 0.58.1): the chart only renders classic config, so the YAML config built
by monitoring/fluentbit.py goes in a ConfigMap of ours (`existingConfigMap`) and `args` point at
it; env entries are rendered verbatim, so credentials come from the ES user Secret by reference;
`rbac.eventsAccess` adds list/watch on events; the only hook is the Helm test pod (off).
The filesystem buffer lives on a hostPath so a node's backlog survives a pod restart: with
`retry_limit: no_limits` a short Elasticsearch outage loses nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options, declare_chart
from components.elasticsearch import CA_KEY, CA_SECRET, FLUENT_BIT_USER, HTTP_PORT, HTTP_SERVICE
from components.labels import standard_labels
from components.versions import FLUENT_BIT
from monitoring.fluentbit import CONFIG_FILE_NAME, STATE_DIR, fluentbit_config, fluentbit_events_config
from monitoring.logs import LogsSpec
from stacks.settings import FluentBitSettings

NODE_FULLNAME = "fluent-bit"
EVENTS_FULLNAME = "fluent-bit-events"
CA_DIR = "/fluent-bit/es-ca"
USER_ENV, PASSWORD_ENV = "ES_USER", "ES_PASSWORD"


def _common_values(fullname: str, config_map: str, resources: dict[str, Any], state_volume: dict[str, Any]) -> dict[str, Any]:
    return {
        "fullnameOverride": fullname,
        "existingConfigMap": config_map,
        "args": ["--workdir=/fluent-bit/etc", f"--config=/fluent-bit/etc/conf/{CONFIG_FILE_NAME}"],
        "env": [
            {"name": var, "valueFrom": {"secretKeyRef": {"name": FLUENT_BIT_USER.secret_name, "key": key}}}
            for var, key in ((USER_ENV, "username"), (PASSWORD_ENV, "password"))
        ],
        "extraVolumes": [
            {"name": "es-ca", "secret": {"secretName": CA_SECRET}},
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


def node_values(settings: FluentBitSettings, config_map: str) -> dict[str, Any]:
    values = _common_values(
        NODE_FULLNAME,
        config_map,
        settings.resources.to_k8s(),
        {"hostPath": {"path": STATE_DIR, "type": "DirectoryOrCreate"}},
    )
    # Every node's logs, tainted nodes included.
    return {**values, "kind": "DaemonSet", "tolerations": [{"operator": "Exists"}]}


def events_values(settings: FluentBitSettings, config_map: str) -> dict[str, Any]:
    values = _common_values(EVENTS_FULLNAME, config_map, settings.events_resources.to_k8s(), {"emptyDir": {}})
    # Exactly one reader of the events API: two would store every event twice.
    return {**values, "kind": "Deployment", "replicaCount": 1, "rbac": {"create": True, "eventsAccess": True}}


@dataclass(frozen=True)
class FluentBitArgs:
    namespace: str
    settings: FluentBitSettings
    logs: LogsSpec


class FluentBit(pulumi.ComponentResource):
    """Container logs from every node and cluster events from one pod, routed into log families."""

    def __init__(self, name: str, args: FluentBitArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("terrafusion:monitoring:FluentBit", name, None, opts)
        child = child_options(self, opts)
        ns = args.namespace
        labels = standard_labels("fluent-bit", name, "logs")
        es_host = f"{HTTP_SERVICE}.{ns}.svc"
        ca_file = f"{CA_DIR}/{CA_KEY}"
        self.node_config = fluentbit_config(args.logs, es_host, HTTP_PORT, USER_ENV, PASSWORD_ENV, ca_file)
        self.events_config = fluentbit_events_config(es_host, HTTP_PORT, USER_ENV, PASSWORD_ENV, ca_file)

        def config_map(role: str, config_name: str, text: str) -> k8s.core.v1.ConfigMap:
            return k8s.core.v1.ConfigMap(
                f"{name}-{role}-config",
                metadata=k8s.meta.v1.ObjectMetaArgs(name=config_name, namespace=ns, labels=labels),
                data={CONFIG_FILE_NAME: text},
                opts=child,
            )

        node_config = config_map("node", f"{NODE_FULLNAME}-pipeline", self.node_config)
        events_config = config_map("events", f"{EVENTS_FULLNAME}-pipeline", self.events_config)
        self.values = {
            "node": node_values(args.settings, f"{NODE_FULLNAME}-pipeline"),
            "events": events_values(args.settings, f"{EVENTS_FULLNAME}-pipeline"),
        }
        for role, dependency in (("node", node_config), ("events", events_config)):
            declare_chart(
                f"{name}-{role}",
                FLUENT_BIT,
                ns,
                self.values[role],
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[dependency])),
            )
        self.register_outputs({})
