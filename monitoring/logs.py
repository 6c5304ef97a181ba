"""Log families by importance: Elasticsearch ILM policies, index templates and the apply requests.

Every log record lands in exactly one family (audit, app, k8s, debug). Each family is one
Elasticsearch data stream, `logs-<family>-default`, with its own ILM policy (rollover, warm,
delete) and its own composable index template. The Fluent Bit pipeline (monitoring/fluentbit.py)
decides the family; this module decides how long each family lives.

Why data streams and not rollover aliases (Elasticsearch 9 + Fluent Bit `es` output):
- Fluent Bit's `es` output writes with `Write_Operation create` (its default since 1.8.2), which is
  the only operation a data stream accepts, so it can write straight into `logs-<family>-default`
  (`Logstash_Format Off`, fixed `Index`). Ref: https://docs.fluentbit.io/manual/pipeline/outputs/elasticsearch
- A data stream is created by the first write that matches its template: no bootstrap index or
  `is_write_index` alias has to be created by the apply Job, so the Job is only idempotent PUTs.
- ILM rolls a data stream over natively. Ref:
  https://www.elastic.co/docs/manage-data/data-store/data-streams
- Only data streams have a failure store (GA in 9.1): a record that conflicts with the mappings
  is kept in `<stream>::failures` and answered 201, instead of a 400 that Fluent Bit would
  retry forever with `Retry_Limit no_limits`. Ref:
  https://www.elastic.co/docs/manage-data/data-store/data-streams/failure-store

Pure module: no Pulumi import. Field names are snake_case in Python and camelCase in stack config;
validation errors (SpecError) name the key inside the spec (`families.audit.deleteAfter`), and
plan/settings.py adds where the spec sits in the stack file.
"""

from __future__ import annotations

import hashlib
import json
import re
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from monitoring.environments import AUDIT_TRAIL_RETENTION, EnvironmentPolicy
from monitoring.errors import SpecError
from monitoring.models import SpecModel

MANAGED_BY = "terrafusion-monitoring"

# Elasticsearch ships built-in templates for `logs-*-*` at priority 100, and the docs ask templates
# that overlap them to use a priority above 500. Ref:
# https://www.elastic.co/docs/manage-data/data-store/templates (avoid index pattern collisions)
TEMPLATE_PRIORITY = 501

# Data stream naming scheme <type>-<dataset>-<namespace>; one namespace per cluster (one cluster
# per stack). Ref: https://www.elastic.co/docs/reference/fleet/data-streams#data-streams-naming-scheme
DATA_STREAM_NAMESPACE = "default"


class LogFamily(StrEnum):
    """Log families, most important first (this is also the order of every generated list)."""

    AUDIT = "audit"  # who did what: logins, permission and configuration changes
    APP = "app"  # application logs (the default family)
    K8S = "k8s"  # Kubernetes events and system namespaces (kube-system, ...)
    DEBUG = "debug"  # debug/trace level lines: useful for days, expensive for months


# --- Elasticsearch units -----------------------------------------------------------------------
# Ref: https://www.elastic.co/docs/reference/elasticsearch/rest-apis/api-conventions#time-units
# (d, h, m, s; one unit per value: "1d12h" is not an Elasticsearch time value)
_TIME = re.compile(r"^(\d+)(d|h|m|s)$")
_TIME_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
# Ref: https://www.elastic.co/docs/reference/elasticsearch/rest-apis/api-conventions#byte-units
_SIZE = re.compile(r"^(\d+)(b|kb|mb|gb|tb|pb)$")
_SIZE_BYTES = {"b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3, "tb": 1024**4, "pb": 1024**5}


def es_time_seconds(value: str, key: str) -> int:
    """Seconds in an Elasticsearch time value such as '30d'; SpecError naming `key` otherwise."""
    match = _TIME.match(value) if isinstance(value, str) else None
    if not match:
        raise SpecError(key, f"{value!r} is not an Elasticsearch time value (e.g. '7d', '12h')")
    return int(match.group(1)) * _TIME_SECONDS[match.group(2)]


def es_size_bytes(value: str, key: str) -> int:
    """Bytes in an Elasticsearch byte size such as '50gb'; SpecError naming `key` otherwise."""
    match = _SIZE.match(value) if isinstance(value, str) else None
    if not match:
        raise SpecError(key, f"{value!r} is not an Elasticsearch byte size (e.g. '50gb', '512mb')")
    return int(match.group(1)) * _SIZE_BYTES[match.group(2)]




class LogFamilySettings(SpecModel):
    """Lifecycle of one family. Ages after rollover are measured from the rollover, as ILM does."""

    # In a stack file every key may be left out: LogsSpec fills it from the family's defaults
    # first, so the stack-file JSON Schema requires none of them.
    model_config = ConfigDict(json_schema_extra=lambda schema: schema.pop("required", None))

    rollover_max_age: str = Field(
        description="Hot phase: roll the write index over once it is this old (ES time value, e.g. '1d')."
    )
    rollover_max_primary_shard_size: str = Field(
        description="Hot phase: roll over once a primary shard reaches this size (ES byte size, e.g. '50gb')."
    )
    warm_after: str | None = Field(
        default=None,
        description="Enter the warm phase (read-only, force-merged) this long after rollover; "
        "unset for no warm phase.",
    )
    delete_after: str = Field(description="Delete the backing index this long after rollover (e.g. '30d').")


DEFAULT_FAMILIES: dict[LogFamily, dict[str, str | None]] = {
    LogFamily.AUDIT: {
        "rollover_max_age": "7d",
        "rollover_max_primary_shard_size": "50gb",
        "warm_after": "7d",
        # Kept as long as the strictest environment requires (monitoring/environments.py).
        "delete_after": AUDIT_TRAIL_RETENTION,
    },
    LogFamily.APP: {
        "rollover_max_age": "1d",
        "rollover_max_primary_shard_size": "50gb",
        "warm_after": "2d",
        "delete_after": "30d",
    },
    LogFamily.K8S: {
        "rollover_max_age": "1d",
        "rollover_max_primary_shard_size": "50gb",
        "warm_after": "2d",
        "delete_after": "14d",
    },
    LogFamily.DEBUG: {
        "rollover_max_age": "1d",
        "rollover_max_primary_shard_size": "10gb",
        "warm_after": None,
        "delete_after": "3d",
    },
}

_FAMILY_FIELD_NAMES = {
    **{name: name for name in LogFamilySettings.model_fields},
    **{field.alias: name for name, field in LogFamilySettings.model_fields.items() if field.alias},
}


def _merge_family(family: str, given: Any) -> Any:
    """Overlay a (possibly partial) family from stack config on the family's defaults."""
    if given is None:  # `app:` with nothing under it in YAML: all defaults
        given = {}
    if isinstance(given, LogFamilySettings) or not isinstance(given, dict):
        return given  # a full model, or garbage that pydantic reports itself
    merged: dict[str, Any] = dict(DEFAULT_FAMILIES.get(family, {}))  # type: ignore[call-overload]
    for key, value in given.items():
        merged[_FAMILY_FIELD_NAMES.get(key, key)] = value  # unknown keys stay, extra="forbid" names them
    return merged


class LogsSpec(SpecModel):
    """What a stack decides about logs: one lifecycle per family (unset families keep defaults).
    Replica shards are not a choice of the stack: they follow its Elasticsearch node count
    (monitoring/environments.py EnvironmentPolicy.index_replicas), as the trace indices' do."""

    families: dict[str, LogFamilySettings] = Field(
        default_factory=dict,
        description="Lifecycle per family (audit, app, k8s, debug); a family given partly keeps "
        "its defaults for the other keys.",
        json_schema_extra={"propertyNames": {"enum": [family.value for family in LogFamily]}},
    )

    @model_validator(mode="before")
    @classmethod
    def _with_defaults(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        if "replicas" in data:
            # Once a setting here; a stack file that still has it is told why it went.
            raise SpecError("replicas", "is not set here any more: replica shards follow the Elasticsearch node "
                                        "count, for log and trace indices alike (remove the key)")
        given = data.get("families") or {}
        if not isinstance(given, dict):
            return data
        unknown = sorted(set(given) - {f.value for f in LogFamily})
        if unknown:
            raise SpecError(
                f"families.{unknown[0]}", f"unknown log family; known: {', '.join(f.value for f in LogFamily)}"
            )
        families = {f.value: _merge_family(f.value, given.get(f.value, {})) for f in LogFamily}
        return {**data, "families": families}

    @model_validator(mode="after")
    def _lifecycles(self) -> LogsSpec:
        for family, settings in self.families.items():
            check_family(family, settings)
        return self

    def family(self, family: LogFamily | str) -> LogFamilySettings:
        return self.families[LogFamily(family).value]


def check_family(family: str, settings: LogFamilySettings) -> None:
    """Units, minimums and phase order of one family; ILM itself rejects a policy whose phases go
    backwards in time. Ref: https://www.elastic.co/docs/manage-data/lifecycle/index-lifecycle-management/index-lifecycle
    """
    key = f"families.{family}"
    max_age = es_time_seconds(settings.rollover_max_age, f"{key}.rolloverMaxAge")
    if max_age < 3600:
        raise SpecError(f"{key}.rolloverMaxAge", f"{settings.rollover_max_age!r} must be at least 1h "
                                                 f"(each rollover adds a backing index)")
    size = es_size_bytes(settings.rollover_max_primary_shard_size, f"{key}.rolloverMaxPrimaryShardSize")
    if size < 1024**2:
        raise SpecError(f"{key}.rolloverMaxPrimaryShardSize",
                        f"{settings.rollover_max_primary_shard_size!r} must be at least 1mb")
    delete = es_time_seconds(settings.delete_after, f"{key}.deleteAfter")
    if delete < 86400:
        raise SpecError(f"{key}.deleteAfter", f"{settings.delete_after!r} must be at least 1d")
    if settings.warm_after is not None:
        warm = es_time_seconds(settings.warm_after, f"{key}.warmAfter")
        if warm >= delete:
            raise SpecError(
                f"{key}.warmAfter",
                f"{settings.warm_after!r} must be before deleteAfter {settings.delete_after!r} (phases run in order)",
            )


def check_retention_bounds(spec: LogsSpec, policy: EnvironmentPolicy) -> LogsSpec:
    """The environment's bounds on retention (monitoring/environments.py): the audit trail kept at
    least its minimum, debug lines at most their maximum."""
    audit = spec.family(LogFamily.AUDIT)
    minimum = policy.min_audit_log_retention
    if minimum is not None and es_time_seconds(audit.delete_after, "") < es_time_seconds(minimum, ""):
        raise SpecError(
            "families.audit.deleteAfter",
            f"{audit.delete_after!r} is below the {policy.name} minimum of {minimum} (the audit trail is "
            "kept at least a year)",
        )
    debug = spec.family(LogFamily.DEBUG)
    maximum = policy.max_debug_log_retention
    if maximum is not None and es_time_seconds(debug.delete_after, "") > es_time_seconds(maximum, ""):
        raise SpecError(
            "families.debug.deleteAfter",
            f"{debug.delete_after!r} exceeds the {policy.name} maximum of {maximum} (debug logs are kept only days)",
        )
    return spec


# --- names -------------------------------------------------------------------------------------


def data_stream_name(family: LogFamily | str) -> str:
    """The data stream Fluent Bit writes the family into, e.g. 'logs-audit-default'."""
    return f"logs-{LogFamily(family).value}-{DATA_STREAM_NAMESPACE}"


def index_pattern(family: LogFamily | str) -> str:
    return f"logs-{LogFamily(family).value}-*"


def policy_name(family: LogFamily | str) -> str:
    return f"terrafusion-logs-{LogFamily(family).value}"


def template_name(family: LogFamily | str) -> str:
    # No '@' in our names: Elastic reserves it for built-in and Fleet templates (templates docs).
    return f"terrafusion-logs-{LogFamily(family).value}"


# --- ILM ---------------------------------------------------------------------------------------


def ilm_policy(family: LogFamily | str, settings: LogFamilySettings) -> dict[str, Any]:
    """Body of PUT _ilm/policy/<name>.

    hot: rollover on age or primary shard size. warm (optional): read-only then force-merged to
    one segment (shrink is left out: backing indices have a single primary shard already). delete:
    `min_age` counts from the rollover, so a record lives up to rolloverMaxAge + deleteAfter.
    Ref: https://www.elastic.co/docs/reference/elasticsearch/index-lifecycle-actions/ilm-rollover
    Ref: https://www.elastic.co/docs/reference/elasticsearch/index-lifecycle-actions/ilm-forcemerge
    Ref: https://www.elastic.co/docs/reference/elasticsearch/index-lifecycle-actions/ilm-readonly
    Ref: https://www.elastic.co/docs/reference/elasticsearch/index-lifecycle-actions/ilm-delete
    """
    family = LogFamily(family)
    phases: dict[str, Any] = {
        "hot": {
            "min_age": "0ms",
            "actions": {
                "rollover": {
                    "max_age": settings.rollover_max_age,
                    "max_primary_shard_size": settings.rollover_max_primary_shard_size,
                },
                "set_priority": {"priority": 100},
            },
        }
    }
    if settings.warm_after is not None:
        phases["warm"] = {
            "min_age": settings.warm_after,
            "actions": {
                "set_priority": {"priority": 50},
                # forcemerge no longer blocks writes itself (ES >= 8): make the index read-only
                # first so the merge is final.
                "readonly": {},
                "forcemerge": {"max_num_segments": 1},
            },
        }
    phases["delete"] = {"min_age": settings.delete_after, "actions": {"delete": {}}}
    return {"policy": {"_meta": {"managed_by": MANAGED_BY, "family": family.value}, "phases": phases}}


def ilm_policies(spec: LogsSpec) -> dict[str, dict[str, Any]]:
    """Policy name -> PUT _ilm/policy body, one per family, in family order."""
    return {policy_name(f): ilm_policy(f, spec.family(f)) for f in LogFamily}


# --- index templates ---------------------------------------------------------------------------

_KEYWORD = {"type": "keyword", "ignore_above": 1024}


def _mappings(family: LogFamily) -> dict[str, Any]:
    """Mappings of the log contract (JSON to stdout with level/message/trace_id, see
    docs/logs-and-traces.md) plus the Kubernetes metadata Fluent Bit adds.

    Unknown string fields become keywords (exact match, aggregatable) rather than text+keyword
    pairs: app logs are filtered on values far more than they are full-text searched; `message`
    and `log` (a line that was not JSON) are the full-text fields.
    Ref: https://www.elastic.co/docs/manage-data/data-store/mapping/dynamic-templates
    Ref: https://docs.fluentbit.io/manual/pipeline/filters/kubernetes (kubernetes.* keys)
    """
    properties: dict[str, Any] = {
        # Data streams require @timestamp as date or date_nanos; Fluent Bit's es output writes it
        # (Time_Key) with millisecond precision.
        "@timestamp": {"type": "date"},
        "message": {"type": "text"},
        "log": {"type": "text"},
        "level": {"type": "keyword"},
        "logger": _KEYWORD,
        "trace_id": {"type": "keyword"},
        "span_id": {"type": "keyword"},
        "stream": {"type": "keyword"},
        "kubernetes": {
            "properties": {
                "namespace_name": {"type": "keyword"},
                "pod_name": {"type": "keyword"},
                "pod_id": {"type": "keyword"},
                "container_name": {"type": "keyword"},
                "container_image": {"type": "keyword"},
                "container_hash": {"type": "keyword"},
                "docker_id": {"type": "keyword"},
                "host": {"type": "keyword"},
                # Label keys arrive with '.' replaced by '_' (Fluent Bit Replace_Dots On), so
                # 'app.kubernetes.io/name' cannot clash with an 'app' label as an object.
                "labels": {"type": "object", "dynamic": True},
            }
        },
        # ECS-style audit fields, the routing key of the audit family. Declared as an object on
        # purpose: a logger that writes a string `event` (structlog's default message key) must
        # rename it to `message` (docs/logs-and-traces.md), or its records go to the failure store.
        "event": {
            "properties": {
                "category": {"type": "keyword"},
                "action": {"type": "keyword"},
                "outcome": {"type": "keyword"},
                "kind": {"type": "keyword"},
            }
        },
    }
    if family is LogFamily.K8S:
        # Kubernetes Event objects from Fluent Bit's kubernetes_events input.
        # Ref: https://kubernetes.io/docs/reference/kubernetes-api/cluster-resources/event-v1/
        properties.update(
            {
                "reason": {"type": "keyword"},
                "type": {"type": "keyword"},
                "count": {"type": "long"},
                "involvedObject": {
                    "properties": {
                        "kind": {"type": "keyword"},
                        "name": {"type": "keyword"},
                        "namespace": {"type": "keyword"},
                        "uid": {"type": "keyword"},
                        "fieldPath": {"type": "keyword"},
                    }
                },
                "source": {"properties": {"component": {"type": "keyword"}, "host": {"type": "keyword"}}},
                "reportingComponent": {"type": "keyword"},
                "firstTimestamp": {"type": "date"},
                "lastTimestamp": {"type": "date"},
            }
        )
    return {
        "dynamic_templates": [
            {"strings_as_keyword": {"match_mapping_type": "string", "mapping": dict(_KEYWORD)}}
        ],
        "properties": properties,
    }


def index_template(family: LogFamily | str, replicas: int) -> dict[str, Any]:
    """Body of PUT _index_template/<name> for one family's data stream, `replicas` replica shards
    per backing index (EnvironmentPolicy.index_replicas of the cluster's node count).

    Ref: https://www.elastic.co/docs/api/doc/elasticsearch/operation/operation-indices-put-index-template
    """
    family = LogFamily(family)
    return {
        "index_patterns": [index_pattern(family)],
        "data_stream": {},
        "priority": TEMPLATE_PRIORITY,
        "template": {
            "settings": {
                "index.lifecycle.name": policy_name(family),
                "index.number_of_shards": 1,
                "index.number_of_replicas": replicas,
                # Audit is kept a year and rarely read: trade CPU on read for disk.
                # Ref: https://www.elastic.co/docs/reference/elasticsearch/index-settings/index-modules
                **({"index.codec": "best_compression"} if family is LogFamily.AUDIT else {}),
            },
            "mappings": _mappings(family),
            # Applied once, when the data stream is created (ES >= 9.1 / 8.19).
            "data_stream_options": {"failure_store": {"enabled": True}},
        },
        "_meta": {"managed_by": MANAGED_BY, "family": family.value, "ilm_policy": policy_name(family)},
    }


def index_templates(spec: LogsSpec, replicas: int) -> dict[str, dict[str, Any]]:
    """Template name -> PUT _index_template body, one per family, in family order."""
    return {template_name(f): index_template(f, replicas) for f in LogFamily}


# --- apply Job ---------------------------------------------------------------------------------


def es_requests(spec: LogsSpec, replicas: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, body) for the apply Job, in order: every ILM policy before any template
    (a template naming a missing policy is accepted, but an index created in between would run
    without a lifecycle). Every request is a PUT of the whole object: re-running is a no-op.
    """
    requests: list[tuple[str, str, dict[str, Any]]] = []
    for name, body in ilm_policies(spec).items():
        requests.append(("PUT", f"/_ilm/policy/{name}", body))
    for name, body in index_templates(spec, replicas).items():
        requests.append(("PUT", f"/_index_template/{name}", body))
    return requests


def es_requests_json(spec: LogsSpec, replicas: int) -> str:
    """Canonical JSON of es_requests (sorted keys, no spaces): what the Job applies and hashes."""
    return json.dumps(
        [{"method": m, "path": p, "body": b} for m, p, b in es_requests(spec, replicas)],
        sort_keys=True,
        separators=(",", ":"),
    )


def es_requests_hash(spec: LogsSpec, replicas: int, length: int = 10) -> str:
    """Short sha256 of the requests, for the Job name: a changed retention is a new Job (Jobs are
    immutable), an unchanged one is left alone."""
    return hashlib.sha256(es_requests_json(spec, replicas).encode()).hexdigest()[:length]
