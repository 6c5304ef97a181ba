"""Fluent Bit pipelines (YAML config format): the node DaemonSet and the single events collector.

- `fluentbit_config`: one pod per node tails /var/log/containers, adds Kubernetes metadata, sorts
  every record into one log family (monitoring/logs.py) and ships each family to its data stream.
- `fluentbit_events_config`: one replica reads Kubernetes Events from the API server into the k8s
  family. Events are cluster-wide: reading them from every node would store each one N times.

Both expose Fluent Bit's HTTP server on HTTP_PORT for the ServiceMonitor (METRICS_PATH) and for
health probes. Credentials are never in the text: `${ES_USER}`-style references are resolved by
Fluent Bit from the container environment, which the chart fills from the ECK user Secret.
Ref: https://docs.fluentbit.io/manual/administration/configuring-fluent-bit/yaml/environment-variables-section

The chart (fluent-bit 0.58.x) renders a classic `fluent-bit.conf` from its `config.*` values; to
use this YAML, the component ships it in its own ConfigMap (`existingConfigMap`) under the key
CONFIG_FILE_NAME and points `args` at `--config=/fluent-bit/etc/conf/<CONFIG_FILE_NAME>`.
"""

from __future__ import annotations

import re
from typing import Any

from monitoring import yaml_text
from monitoring.logs import LogFamily, LogsSpec, data_stream_name

CONFIG_FILE_NAME = "fluent-bit.yaml"
HTTP_PORT = 2020
# Prometheus text format of the v2 (cmetrics) metrics: fluentbit_output_errors_total,
# fluentbit_output_retries_failed_total, ... (the names docs/runbooks and alert rules use).
# Ref: https://docs.fluentbit.io/manual/administration/monitoring
METRICS_PATH = "/api/v2/metrics/prometheus"
HEALTH_PATH = "/api/v1/health"

# State on the node (hostPath in the DaemonSet): tail offsets and the filesystem buffer survive a
# pod restart, so a restart neither re-ships nor loses lines. Ref:
# https://docs.fluentbit.io/manual/administration/buffering-and-storage
STATE_DIR = "/var/fluent-bit/state"
STORAGE_PATH = f"{STATE_DIR}/flb-storage/"
TAIL_DB = f"{STATE_DIR}/flb_kube.db"
EVENTS_DB = f"{STATE_DIR}/flb_k8s_events.db"

CONTAINER_LOGS = "/var/log/containers/*.log"
TAIL_TAG_PREFIX = "kube."
EVENTS_TAG = "k8s_events"
FAMILY_TAG_PREFIX = "family."  # tags the router re-emits; must not match `kube.*` (no cycle)

# The pod label that pins a workload's logs to one family, whatever their content.
FAMILY_LABEL = "logging.terrafusion.io/family"
# ECS event.category values that make a record part of the audit trail.
# Ref: https://www.elastic.co/docs/reference/ecs/ecs-allowed-values-event-category
AUDIT_EVENT_CATEGORIES = ("authentication", "iam", "configuration")
DEBUG_LEVELS = ("debug", "DEBUG", "Debug", "trace", "TRACE", "Trace")
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease")

# Upper bound of the filesystem buffer per output (per family): when Elasticsearch is down this is
# how much each family can queue before Fluent Bit drops its oldest chunks.
DEFAULT_STORAGE_LIMIT_PER_OUTPUT = "2G"

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def _env_ref(name: str, what: str) -> str:
    if not _ENV_NAME.match(name):
        raise AssertionError(f"{what}: {name!r} is not an environment variable name (e.g. 'ES_PASSWORD')")
    return "${" + name + "}"


def _service(storage_path: str) -> dict[str, Any]:
    # Ref: https://docs.fluentbit.io/manual/administration/configuring-fluent-bit/yaml/service-section
    return {
        "flush": 1,
        "log_level": "info",
        "http_server": "on",
        "http_listen": "0.0.0.0",
        "http_port": HTTP_PORT,
        "health_check": "on",
        "storage.path": storage_path,
        "storage.sync": "normal",
        "storage.checksum": "off",
        # Chunks loaded back from disk after a restart, held in memory at most this much.
        "storage.backlog.mem_limit": "50M",
        "storage.metrics": "on",
    }


def es_output(
    *,
    match: str,
    alias: str,
    index: str,
    es_host: str,
    es_port: int,
    es_user_env: str,
    es_password_env: str,
    ca_file: str,
    storage_limit: str,
) -> dict[str, Any]:
    """One `es` output into one data stream.

    - TLS verified against the ECK CA (`tls.ca_file`).
    - `suppress_type_name`: ES >= 8 rejects `_type`. `replace_dots`: 'app.kubernetes.io/name' and
      'app' labels would otherwise clash as object vs keyword.
    - `write_operation create` + fixed `index` + `logstash_format off`: the data stream itself.
    - `retry_limit no_limits`: never drop a chunk because ES was away for a while; the bound is
      `storage.total_limit_size` (oldest chunks go first).
    - `generate_id` stays off: with unlimited retries it is harmful. A chunk whose every record
      was already indexed comes back all-409, which out_es does not count as success and retries
      forever (fluent/fluent-bit#11422, open). ES-generated ids may duplicate a record on retry.
    - `buffer_size false`: read the whole bulk response; a truncated one is retried as a failure.
    Ref: https://docs.fluentbit.io/manual/pipeline/outputs/elasticsearch
    Ref: https://docs.fluentbit.io/manual/administration/scheduling-and-retries
    """
    return {
        "name": "es",
        "alias": alias,
        "match": match,
        "host": es_host,
        "port": es_port,
        "tls": "on",
        "tls.verify": "on",
        "tls.ca_file": ca_file,
        "http_user": _env_ref(es_user_env, "es_user_env"),
        "http_passwd": _env_ref(es_password_env, "es_password_env"),
        "index": index,
        "logstash_format": "off",
        "write_operation": "create",
        "generate_id": "off",
        "suppress_type_name": "on",
        "replace_dots": "on",
        "time_key": "@timestamp",
        "buffer_size": "false",
        "compress": "gzip",
        "trace_error": "on",
        "retry_limit": "no_limits",
        "storage.total_limit_size": storage_limit,
    }


def routing_rules() -> list[str]:
    """rewrite_tag rules (`$KEY REGEX NEW_TAG KEEP`), evaluated in order until one matches; a record
    matching none keeps its `kube.*` tag and is an app record. The label comes first so a workload
    can pin its family; then audit (content), debug (level), k8s (system namespaces).
    Ref: https://docs.fluentbit.io/manual/pipeline/filters/rewrite-tag
    Ref: https://docs.fluentbit.io/manual/administration/configuring-fluent-bit/classic-mode/record-accessor
    """
    pinned = "|".join(f.value for f in (LogFamily.AUDIT, LogFamily.K8S, LogFamily.DEBUG))
    return [
        f"$kubernetes['labels']['{FAMILY_LABEL}'] ^({pinned})$ {FAMILY_TAG_PREFIX}$1 false",
        f"$event['category'] ^({'|'.join(AUDIT_EVENT_CATEGORIES)})$ {FAMILY_TAG_PREFIX}{LogFamily.AUDIT} false",
        f"$level ^({'|'.join(DEBUG_LEVELS)})$ {FAMILY_TAG_PREFIX}{LogFamily.DEBUG} false",
        f"$kubernetes['namespace_name'] ^({'|'.join(SYSTEM_NAMESPACES)})$ {FAMILY_TAG_PREFIX}{LogFamily.K8S} false",
    ]


def family_match(family: LogFamily) -> str:
    """The tag pattern of a family's records in the node pipeline."""
    if family is LogFamily.APP:
        return f"{TAIL_TAG_PREFIX}*"  # whatever the router left alone
    return f"{FAMILY_TAG_PREFIX}{family.value}"


def _dump(config: dict[str, Any]) -> str:
    return yaml_text.dump(config, sort_keys=False, width=1000)


def fluentbit_pipeline(
    spec: LogsSpec,
    es_host: str,
    es_port: int,
    es_user_env: str,
    es_password_env: str,
    ca_file: str,
    *,
    storage_limit_per_output: str = DEFAULT_STORAGE_LIMIT_PER_OUTPUT,
) -> dict[str, Any]:
    """The node DaemonSet's config as data (fluentbit_config renders it)."""
    del spec  # lifecycles live in Elasticsearch; every family exists whatever its retention
    inputs = [
        {
            # Ref: https://docs.fluentbit.io/manual/pipeline/inputs/tail
            "name": "tail",
            "tag": f"{TAIL_TAG_PREFIX}*",
            "path": CONTAINER_LOGS,
            # Both runtimes' line formats; also re-joins lines the runtime split (partial 'P').
            "multiline.parser": "docker, cri",
            "db": TAIL_DB,
            "db.locking": "true",
            "skip_long_lines": "on",
            "refresh_interval": 10,
            "storage.type": "filesystem",
        }
    ]
    filters = [
        {
            # Ref: https://docs.fluentbit.io/manual/pipeline/filters/kubernetes
            "name": "kubernetes",
            "match": f"{TAIL_TAG_PREFIX}*",
            "kube_tag_prefix": f"{TAIL_TAG_PREFIX}var.log.containers.",
            "merge_log": "on",  # JSON lines: their keys (level, message, trace_id...) at the root
            "keep_log": "off",  # ...and the raw JSON string dropped once merged
            "k8s-logging.parser": "on",  # pods may suggest a parser (fluentbit.io/parser)
            "k8s-logging.exclude": "on",  # pods may opt out (fluentbit.io/exclude: "true")
            "labels": "on",  # the family label is read from here
            "annotations": "off",
        },
        {
            # The es output always writes its own @timestamp (Time_Key); a JSON line that carries
            # one too would make a document with the key twice, which Elasticsearch rejects.
            # Ref: https://docs.fluentbit.io/manual/pipeline/filters/modify
            "name": "modify",
            "match": f"{TAIL_TAG_PREFIX}*",
            "rename": "@timestamp app_timestamp",
        },
        {
            "name": "rewrite_tag",
            "match": f"{TAIL_TAG_PREFIX}*",
            "rule": routing_rules(),
            "emitter_name": "family_router",
            # Re-emitted records are buffered by the emitter: on disk too, or an ES outage
            # would hold them in memory only.
            "emitter_storage.type": "filesystem",
            "emitter_mem_buf_limit": "50M",
        },
    ]
    outputs = [
        es_output(
            match=family_match(family),
            alias=f"es_{family.value}",
            index=data_stream_name(family),
            es_host=es_host,
            es_port=es_port,
            es_user_env=es_user_env,
            es_password_env=es_password_env,
            ca_file=ca_file,
            storage_limit=storage_limit_per_output,
        )
        for family in LogFamily
    ]
    return {
        "service": _service(STORAGE_PATH),
        "pipeline": {"inputs": inputs, "filters": filters, "outputs": outputs},
    }


def fluentbit_config(
    spec: LogsSpec,
    es_host: str,
    es_port: int,
    es_user_env: str,
    es_password_env: str,
    ca_file: str,
    *,
    storage_limit_per_output: str = DEFAULT_STORAGE_LIMIT_PER_OUTPUT,
) -> str:
    """Fluent Bit YAML config of the node DaemonSet (file CONFIG_FILE_NAME)."""
    return _dump(
        fluentbit_pipeline(
            spec,
            es_host,
            es_port,
            es_user_env,
            es_password_env,
            ca_file,
            storage_limit_per_output=storage_limit_per_output,
        )
    )


def fluentbit_events_pipeline(
    es_host: str,
    es_port: int,
    es_user_env: str,
    es_password_env: str,
    ca_file: str,
    *,
    storage_limit: str = DEFAULT_STORAGE_LIMIT_PER_OUTPUT,
) -> dict[str, Any]:
    """The events Deployment's config as data (fluentbit_events_config renders it)."""
    inputs = [
        {
            # Watches the API server's Events with the pod's service account (needs RBAC list/watch
            # on events). Ref: https://docs.fluentbit.io/manual/pipeline/inputs/kubernetes-events
            "name": "kubernetes_events",
            "tag": EVENTS_TAG,
            "kube_url": "https://kubernetes.default.svc",
            # Remembers the resourceVersions already sent: a container restart does not resend.
            "db": EVENTS_DB,
            "storage.type": "filesystem",
        }
    ]
    outputs = [
        es_output(
            match=EVENTS_TAG,
            alias=f"es_{LogFamily.K8S.value}_events",
            index=data_stream_name(LogFamily.K8S),
            es_host=es_host,
            es_port=es_port,
            es_user_env=es_user_env,
            es_password_env=es_password_env,
            ca_file=ca_file,
            storage_limit=storage_limit,
        )
    ]
    return {"service": _service(STORAGE_PATH), "pipeline": {"inputs": inputs, "outputs": outputs}}


def fluentbit_events_config(
    es_host: str,
    es_port: int,
    es_user_env: str,
    es_password_env: str,
    ca_file: str,
    *,
    storage_limit: str = DEFAULT_STORAGE_LIMIT_PER_OUTPUT,
) -> str:
    """Fluent Bit YAML config of the single-replica events Deployment (run it with replicas: 1 and
    strategy Recreate: two replicas would store every event twice)."""
    return _dump(
        fluentbit_events_pipeline(
            es_host, es_port, es_user_env, es_password_env, ca_file, storage_limit=storage_limit
        )
    )
