"""Config-change rollouts: the one mechanism by which a changed ConfigMap or Secret reaches the pods
that read it.

Kubernetes never restarts a pod because an object it reads changed: env values (`valueFrom`,
`envFrom`) and `subPath` mounts are fixed at container start, and most programs read their config
files once. A pod template that changes is a rollout. So every workload that reads a ConfigMap or
Secret the program renders carries one pod-template annotation (a label for Jaeger, whose chart has
no pod-annotations value), `terrafusion.io/config-digest`, computed from the content of everything
that pod reads. The value is set through the chart's values, or is part of a Job's name (a Job's pod
template is immutable, and a new Job is what runs again).

The digest is an HMAC-SHA256 with a key that is itself a Pulumi secret (a RandomPassword of the
stack), over the canonical JSON of the content: anyone who can `get pods` reads the annotation, and a
plain hash of a low-entropy secret (a DSN, a short password) could be brute-forced from it; without
the key it can not. The result says nothing about the content, so it is un-secreted: the chart
values stay readable in `pulumi preview`.

How the content gets here: each component that declares a ConfigMap or Secret (or hands a chart the
values a chart renders into one) records it under the object's kind, namespace and name; each
component whose pods read objects asks for the digest of exactly those objects. Asking for an object
nobody recorded is an error at declaration time, so a consumer cannot silently hash nothing.

What is deliberately not annotated, because the workload reloads by itself, is listed with its
reason in `SELF_RELOADING` (tests/test_config_changes.py holds every rendered workload to this).
"""

from __future__ import annotations

import hashlib
import hmac
import fnmatch
import json
from dataclasses import dataclass
from typing import Any, Iterable, NamedTuple

import pulumi

DIGEST_KEY = "terrafusion.io/config-digest"
DIGEST_LENGTH = 16  # hex digits: 64 bits, a valid label value too (<= 63 characters)


class ObjectRef(NamedTuple):
    kind: str  # "ConfigMap" or "Secret"
    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"


def hmac_digest(key: str, content: Any) -> str:
    """HMAC-SHA256 of the canonical JSON of `content` (sorted keys), first DIGEST_LENGTH hex digits."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(key.encode(), canonical.encode(), hashlib.sha256).hexdigest()[:DIGEST_LENGTH]


class ContentDigests:
    """The stack's registry of rendered content and the key its digests are made with."""

    def __init__(self, key: pulumi.Input[str]):
        self._key = pulumi.Output.secret(key)
        self._content: dict[ObjectRef, pulumi.Input[Any]] = {}

    def record(self, kind: str, namespace: str, name: str, content: pulumi.Input[Any]) -> None:
        """What an object holds (its `data`/`stringData`, or the chart values it is rendered from)."""
        ref = ObjectRef(kind, namespace, name)
        if ref in self._content:
            raise AssertionError(f"{ref} is recorded twice")
        self._content[ref] = content

    def digest(self, refs: Iterable[ObjectRef]) -> pulumi.Output[str]:
        """One value for everything a pod reads: it changes exactly when any of their contents does."""
        refs = sorted(set(refs))
        missing = [str(ref) for ref in refs if ref not in self._content]
        if missing:
            raise AssertionError(f"no content recorded for {', '.join(missing)}: declare it through ContentDigests.record")
        content = pulumi.Output.from_input({str(ref): self._content[ref] for ref in refs})
        digest = pulumi.Output.all(self._key, content).apply(lambda args: hmac_digest(args[0], args[1]))
        # The HMAC reveals nothing without the key (which stays secret): plain, so values stay reviewable.
        return pulumi.Output.unsecret(digest)

    def annotations(self, refs: Iterable[ObjectRef]) -> dict[str, pulumi.Output[str]]:
        return {DIGEST_KEY: self.digest(refs)}


@dataclass(frozen=True)
class SelfReloading:
    """A workload (by kind and name, `fnmatch` patterns) that picks up a change of the objects it
    reads (`objects`: "Kind/name" patterns) by itself, so it carries no digest for them."""

    workload_kind: str
    workload_name: str
    objects: tuple[str, ...]
    reason: str

    def covers(self, workload_kind: str, workload_name: str, obj: ObjectRef) -> bool:
        return (
            workload_kind == self.workload_kind
            and fnmatch.fnmatchcase(workload_name, self.workload_name)
            and any(fnmatch.fnmatchcase(f"{obj.kind}/{obj.name}", pattern) for pattern in self.objects)
        )


SELF_RELOADING: tuple[SelfReloading, ...] = (
    SelfReloading(
        "Alertmanager", "*", ("Secret/*",),
        "the operator regenerates its config Secret from `configSecret` when that Secret changes and the "
        "config-reloader sidecar reloads Alertmanager; `spec.secrets` are directory mounts the kubelet "
        "updates, and receivers read their `*_file` credentials at every notification. Ref: "
        "prometheus-operator@v0.93.0 pkg/alertmanager/operator.go (Secret informer enqueues the "
        "Alertmanagers that reference it); prometheus/alertmanager@v0.34.0 notify/slack/slack.go "
        "(os.ReadFile(n.conf.APIURLFile) per notification)",
    ),  # fmt: skip
    SelfReloading(
        "Prometheus", "*", ("Secret/influxdb-remote-write",),
        "remote_write basic-auth credentials are read by the operator, which watches the Secrets a "
        "Prometheus references, regenerates the config and has the config-reloader reload Prometheus. "
        "Ref: prometheus-operator@v0.93.0 pkg/prometheus/server/operator.go (secrInfs event handler "
        "with hasRefFunc)",
    ),  # fmt: skip
    SelfReloading(
        "Elasticsearch", "*", ("Secret/*",),
        "ECK aggregates file-realm users and roles into one Secret mounted in every Elasticsearch pod, "
        "which Elasticsearch reloads, and it rotates the HTTP certificate without a restart. Ref: "
        "https://www.elastic.co/docs/deploy-manage/users-roles/cluster-or-deployment-auth/file-based "
        "('ECK aggregates their content into a single secret, mounted in every Elasticsearch Pod')",
    ),  # fmt: skip
    SelfReloading(
        "CronJob", "*", ("ConfigMap/*", "Secret/*"),
        "every scheduled run is a new pod, which reads the content current at its start",
    ),  # fmt: skip
    SelfReloading(
        "Job", "es-lifecycle-*", ("Secret/*",),
        "it only authenticates (CA, ECK's `elastic` user) to apply its requests, which are in its name; "
        "a completed run has nothing to converge when a credential changes",
    ),  # fmt: skip
    SelfReloading(
        "Deployment", "jaeger", ("ConfigMap/jaeger-sampling-strategies",),
        "the sampling strategies are a directory mount (the kubelet updates it) that Jaeger re-reads "
        "every `reload_interval` (monitoring/tracing.py). Ref: jaegertracing/jaeger@v2.19.0 "
        "cmd/jaeger/internal/extension/remotesampling/config.go (file.reload_interval)",
    ),  # fmt: skip
    SelfReloading(
        "Deployment", "opentelemetry-operator", ("Secret/opentelemetry-operator-webhook-tls",),
        "the webhook certificate is a directory mount (the kubelet updates it) whose tls.crt and tls.key "
        "controller-runtime's webhook server watches and reloads without a restart. Ref: "
        "kubernetes-sigs/controller-runtime pkg/webhook/server.go (Start: certwatcher.New on CertDir), "
        "pkg/certwatcher/certwatcher.go; opentelemetry-helm-charts opentelemetry-operator-0.122.0 "
        "templates/deployment.yaml (the Secret mounted at /tmp/k8s-webhook-server/serving-certs)",
    ),  # fmt: skip
)
