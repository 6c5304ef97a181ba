"""Fluent Bit: a DaemonSet shipping container logs by family, and a single-replica Deployment
collecting Kubernetes events (once, never from every node), both into Elasticsearch over TLS.

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
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.chart import child_options, declare_chart
from plan.elasticsearch import CA_KEY, CA_SECRET, FLUENT_BIT_USER, HTTP_PORT, HTTP_SERVICE
from components.labels import config_map, standard_labels
from components.rollout import ContentDigests, ObjectRef
from plan.pod_security import NOBODY, node_agent_container, restricted_container, restricted_pod
from plan.versions import FLUENT_BIT
from monitoring.fluentbit import CONFIG_FILE_NAME, STATE_DIR, fluentbit_config, fluentbit_events_config
from monitoring.logs import LogsSpec
from plan.settings import FluentBitSettings

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


def events_values(settings: FluentBitSettings, config_map: str) -> dict[str, Any]:
    values = _common_values(EVENTS_FULLNAME, config_map, settings.events_resources.to_k8s(), {"emptyDir": {}})
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
class FluentBitArgs:
    # The platform's namespace: Elasticsearch, and the events collector.
    namespace: str
    # The node agents' namespace: the node DaemonSet and everything it reads.
    node_namespace: str
    settings: FluentBitSettings
    logs: LogsSpec
    # The pipeline ConfigMaps are recorded here; the ES user and CA Secrets were (components/elasticsearch.py).
    digests: ContentDigests


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

        def pipeline(role: str, config_name: str, namespace: str, text: str) -> k8s.core.v1.ConfigMap:
            return config_map(
                f"{name}-{role}-config", config_name, namespace, labels, {CONFIG_FILE_NAME: text}, child, args.digests
            )

        node_config = pipeline("node", f"{NODE_FULLNAME}-pipeline", args.node_namespace, self.node_config)
        events_config = pipeline("events", f"{EVENTS_FULLNAME}-pipeline", ns, self.events_config)
        self.values = {
            "node": node_values(args.settings, f"{NODE_FULLNAME}-pipeline"),
            "events": events_values(args.settings, f"{EVENTS_FULLNAME}-pipeline"),
        }
        self.namespaces = {"node": args.node_namespace, "events": ns}
        # With `existingConfigMap` the chart's own `checksum/config` hashes an empty template (fluent-bit
        # 0.58.1 templates/daemonset.yaml l.37, deployment.yaml l.40: configmap.yaml renders nothing), so
        # the digest of what each pod reads is what rolls it. Ref: values.yaml `podAnnotations`.
        for role, fullname in (("node", NODE_FULLNAME), ("events", EVENTS_FULLNAME)):
            namespace = self.namespaces[role]
            self.values[role]["podAnnotations"] = args.digests.annotations(
                [
                    ObjectRef("ConfigMap", namespace, f"{fullname}-pipeline"),
                    ObjectRef("Secret", namespace, FLUENT_BIT_USER.secret_name),
                    ObjectRef("Secret", namespace, CA_SECRET),
                ]
            )
        # fluentBit.extraValues and fluentBit.eventsExtraValues, as `resources` and `eventsResources`.
        extra_values = {"node": args.settings.extra_values, "events": args.settings.events_extra_values}
        for role, dependency in (("node", node_config), ("events", events_config)):
            declare_chart(
                f"{name}-{role}",
                FLUENT_BIT,
                self.namespaces[role],
                self.values[role],
                pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[dependency])),
                extra_values=extra_values[role],
            )
        self.register_outputs({})
