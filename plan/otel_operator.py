"""The OpenTelemetry Operator slice of the plan (components/otel_operator.py declares it): the
operator chart's values, its admission webhooks and their certificate's names, and the platform's
`Instrumentation`, which points every opted-in pod at the collector with the stack's propagators
and sampling. Services opt in with one pod annotation per language (`annotations`, README
"Automatic instrumentation").

Chart facts (opentelemetry-operator 0.122.0, appVersion 0.158.0, read in values.yaml, _helpers.tpl,
templates/deployment.yaml, templates/service.yaml, templates/admission-webhooks/operator-webhook.yaml):
- The webhook certificate has three sources: cert-manager (an Issuer and Certificate), Helm's
  `genCA`/`genSignedCert` (`autoGenerateCert`, a new CA and certificate on every render: a
  permanent diff under Pulumi, and the Secret is a pre-install hook a v4 Chart never applies), or
  `certFile`/`keyFile`/`caFile`, which are paths *inside the chart* read by `.Files.Get`, so no
  value can carry a certificate made at deploy time. None fits, so `admissionWebhooks.create` is
  false and `admissionWebhooks.secretName` names our Secret: the Deployment still gets
  `--webhook-port`, the `webhook-server` port and the Secret mounted at
  /tmp/k8s-webhook-server/serving-certs, and the chart still renders the `-webhook` Service
  (all gated on `create or secretName`). The program then declares the Mutating- and
  ValidatingWebhookConfiguration the chart would have rendered (`mutating_webhooks`,
  `validating_webhooks`, same names, paths, rules and failure policies; tests/test_otel_operator.py
  compares them with the chart's own rendering), with the caBundle of a CA of our own
  (pulumi_tls, as for Elasticsearch).
- CRDs are templates (`crds.create`, conf/crds/*.yaml), so the v4 Chart applies them like any
  object. With `create: false` the OpenTelemetryCollector CRD has no conversion webhook: the
  platform's collector is the opentelemetry-collector chart, not an operator-managed collector,
  and nothing here writes OpenTelemetryCollector resources (v1beta1 would be the version to use).
- No ServiceMonitor: the manager's metrics are HTTPS with authn/authz (`manager.metrics.secure`)
  and no rule, SLO or panel reads them.
- Go auto-instrumentation stays off (`manager.autoInstrumentation.go.enabled`): its eBPF sidecar
  runs privileged as root with a hostPath of /sys/kernel/debug (operator v0.158.0
  internal/instrumentation/golang.go `injectGoSDK`), which Pod Security `restricted` refuses.

Pod security: the manager image is distroless `nonroot` (65532, the chart's `securityContext`);
it writes nothing (its certificates are a mounted Secret; the metrics server keeps its self-signed
certificate in memory), so the root filesystem is read-only. It keeps its token: it watches pods,
namespaces and Instrumentations and serves the pod-mutating webhook from what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from plan.endpoints import Endpoint, service_dns_names
from plan.pod_security import NOBODY, restricted_container, restricted_pod
from plan.settings import OtelOperatorSettings, StackSettings
from plan.tracing import COLLECTOR_OTLP_HTTP_PORT_NAME, SAMPLING_GRPC_PORT_NAME
from plan.versions import OTEL_OPERATOR

FULLNAME = "opentelemetry-operator"
# The chart's names, from `fullnameOverride` (templates/service.yaml, admission-webhooks/operator-webhook.yaml).
WEBHOOK_SERVICE = f"{FULLNAME}-webhook"
WEBHOOK_SERVICE_PORT = 443  # admissionWebhooks.servicePort (default)
WEBHOOK_PORT = 9443  # manager.ports.webhookPort (default): the container's `webhook-server` port
MUTATING_WEBHOOK_CONFIGURATION = f"{FULLNAME}-mutation"  # MutatingWebhookName (empty namePrefix) + "-mutation"
VALIDATING_WEBHOOK_CONFIGURATION = f"{FULLNAME}-validation"
WEBHOOK_TIMEOUT_SECONDS = 10  # admissionWebhooks.timeoutSeconds (default)
# Our Secret (admissionWebhooks.secretName): controller-runtime reads tls.crt and tls.key from the
# mounted directory. Ref: sigs.k8s.io/controller-runtime pkg/webhook/server.go (DefaultCertDir, CertName, KeyName)
WEBHOOK_TLS_SECRET = f"{FULLNAME}-webhook-tls"
OPERATOR_UID = 65532  # the chart's securityContext.runAsUser/runAsGroup/fsGroup (distroless nonroot)
# The labels the chart gives the manager pods (selectorLabels + component; templates/deployment.yaml).
POD_LABELS = {"app.kubernetes.io/name": OTEL_OPERATOR.chart, "app.kubernetes.io/component": "controller-manager"}

# The webhook certificate's CA and lifetimes (as Elasticsearch's: plan/elasticsearch.py).
CA_COMMON_NAME = f"{FULLNAME} webhook CA"
CA_VALIDITY_HOURS = 10 * 365 * 24
CERT_VALIDITY_HOURS = 365 * 24
# Renewed by the first `pulumi up` in its last 30 days; controller-runtime's certwatcher reloads it.
CERT_EARLY_RENEWAL_HOURS = 30 * 24

# The platform's Instrumentation: in the platform namespace, referenced as `<namespace>/<name>`
# from any namespace. Ref: operator v0.158.0 internal/instrumentation/podmutator.go
# (`getInstrumentationInstance`: a value with "/" names namespace/name, "true" the pod's namespace).
INSTRUMENTATION_NAME = "auto-instrumentation"
INSTRUMENTATION_API_VERSION = "opentelemetry.io/v1alpha1"
# W3C Trace Context and W3C Baggage. Ref: the CRD's spec.propagators enum.
PROPAGATORS = ("tracecontext", "baggage")
SAMPLER = "parentbased_traceidratio"
# Every agent below exports OTLP over HTTP/protobuf by default (Java agent 2.x, Node.js SDK, .NET
# auto-instrumentation; Python because the operator sets it: internal/instrumentation/python.go
# `getDefaultPythonEnvVars`); the Instrumentation says so for every SDK it configures (inject-sdk
# too), so the endpoint is the collector's OTLP/HTTP port.
OTLP_PROTOCOL = "http/protobuf"
# The Java agent bundles the Jaeger remote sampler (opentelemetry-java-instrumentation#5346) and
# reads OTEL_TRACES_SAMPLER=parentbased_jaeger_remote: it fetches the strategies Jaeger serves over
# gRPC, so the per-endpoint overrides and the health checks at 0 hold for Java services. Node.js
# (sdk-trace-base `buildSamplerFromEnv`), Python (opentelemetry-python-contrib#636) and .NET read no
# such value at these versions: they get the default probability. Only the endpoint and initial
# rate are set (`pollingInterval` changed its name between SDK versions; its default is 60 s).
JAVA_REMOTE_SAMPLER = "parentbased_jaeger_remote"

# The standard annotation per language (operator v0.158.0 internal/instrumentation/annotation.go).
LANGUAGES: dict[str, str] = {
    "Java": "java",
    "Python": "python",
    "Node.js": "nodejs",
    ".NET": "dotnet",
}
ANNOTATION_PREFIX = "instrumentation.opentelemetry.io/inject-"
# Go is not injected (module docstring); a Go service with the OpenTelemetry SDK compiled in takes
# the same exporter, propagator and sampler environment with `inject-sdk`.
SDK_ANNOTATION = f"{ANNOTATION_PREFIX}sdk"

# The init container copying each agent into the pod, per language: the operator's defaults
# (internal/webhook/instrumentation_webhook.go `defaulter`), stated so that they are on record and
# the webhook's defaulting changes nothing Pulumi applied. A pod's request is the larger of its
# containers' sum and its largest init container, so they rarely add to an application's request.
INIT_CONTAINER_RESOURCES: dict[str, dict[str, Any]] = {
    "java": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "python": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "nodejs": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
    "dotnet": {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}},
}


def webhook_endpoint(namespace: str) -> Endpoint:
    """The chart's webhook Service (port 443 to the pods' `webhook-server`): what the API server calls."""
    return Endpoint(WEBHOOK_SERVICE, namespace, {"https": WEBHOOK_SERVICE_PORT}, scheme="https")


def operator_values(settings: OtelOperatorSettings) -> dict[str, Any]:
    replicas = settings.replicas
    values: dict[str, Any] = {
        "fullnameOverride": FULLNAME,
        "replicaCount": replicas,
        # Ref: values.yaml pdb.{create,minAvailable}; templates/pdb.yaml.
        "pdb": {"create": replicas > 1, "minAvailable": 1},
        "manager": {
            "resources": settings.resources.to_k8s(),
            "securityContext": restricted_container(),
            "autoInstrumentation": {"go": {"enabled": False}},
            "serviceMonitor": {"enabled": False},
        },
        "admissionWebhooks": {
            "create": False,
            "secretName": WEBHOOK_TLS_SECRET,
            "certManager": {"enabled": False},
            "autoGenerateCert": {"enabled": False},
        },
        "crds": {"create": True},
        "securityContext": restricted_pod(run_as_user=OPERATOR_UID, run_as_group=OPERATOR_UID, fs_group=OPERATOR_UID),
    }
    if replicas > 1:
        # Replicas on different nodes, so a drained node leaves the webhook served.
        values["affinity"] = {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": dict(POD_LABELS)}},
                    }
                ]
            }
        }
    return values


def _webhook(
    name: str, path: str, group: str, version: str, resource: str, operations: tuple[str, ...],
    failure_policy: str, service: Endpoint,
) -> dict[str, Any]:  # fmt: skip
    """One webhook as the chart renders it (templates/admission-webhooks/operator-webhook.yaml),
    without its caBundle (the component adds the CA's)."""
    return {
        "admissionReviewVersions": ["v1"],
        "clientConfig": {
            "service": {"name": service.service, "namespace": service.namespace, "path": path, "port": service.port()}
        },
        "failurePolicy": failure_policy,
        "name": name,
        "rules": [
            {
                "apiGroups": [group],
                "apiVersions": [version],
                "operations": list(operations),
                "resources": [resource],
                "scope": "Namespaced",
            }
        ],
        "sideEffects": "None",
        "timeoutSeconds": WEBHOOK_TIMEOUT_SECONDS,
    }


WRITE = ("CREATE", "UPDATE")


def mutating_webhooks(service: Endpoint) -> list[dict[str, Any]]:
    """Defaulting of Instrumentations and collectors, and the pod injection. Pods fail open
    (`admissionWebhooks.pods.failurePolicy: Ignore`): with the operator down a pod starts, only
    uninstrumented, and no workload of the cluster waits on it."""
    return [
        _webhook("minstrumentation.kb.io", "/mutate-opentelemetry-io-v1alpha1-instrumentation",
                 "opentelemetry.io", "v1alpha1", "instrumentations", WRITE, "Fail", service),
        _webhook("mopentelemetrycollectorbeta.kb.io", "/mutate-opentelemetry-io-v1beta1-opentelemetrycollector",
                 "opentelemetry.io", "v1beta1", "opentelemetrycollectors", WRITE, "Fail", service),
        _webhook("mpod.kb.io", "/mutate-v1-pod", "", "v1", "pods", ("CREATE",), "Ignore", service),
    ]  # fmt: skip


def validating_webhooks(service: Endpoint) -> list[dict[str, Any]]:
    path_i = "/validate-opentelemetry-io-v1alpha1-instrumentation"
    path_c = "/validate-opentelemetry-io-v1beta1-opentelemetrycollector"
    return [
        _webhook("vinstrumentationcreateupdate.kb.io", path_i, "opentelemetry.io", "v1alpha1", "instrumentations", WRITE, "Fail", service),
        _webhook("vinstrumentationdelete.kb.io", path_i, "opentelemetry.io", "v1alpha1", "instrumentations", ("DELETE",), "Ignore", service),
        _webhook("vopentelemetrycollectorcreateupdatebeta.kb.io", path_c, "opentelemetry.io", "v1beta1", "opentelemetrycollectors", WRITE, "Fail", service),
        _webhook("vopentelemetrycollectordeletebeta.kb.io", path_c, "opentelemetry.io", "v1beta1", "opentelemetrycollectors", ("DELETE",), "Ignore", service),
    ]  # fmt: skip


def sampler_argument(probability: float) -> str:
    """OTEL_TRACES_SAMPLER_ARG of a ratio sampler: the probability as a decimal number."""
    return f"{probability:g}"


def instrumentation_spec(collector: Endpoint, sampling: Endpoint, probability: float) -> dict[str, Any]:
    """The Instrumentation every opted-in pod is configured from. `collector`: the collector's OTLP
    receivers (plan/tracing.py collector_otlp); `sampling`: Jaeger's remote sampling;
    `probability`: the stack's default head-sampling probability (jaeger.sampling).
    Ref: the chart's conf/crds/crd-opentelemetryinstrumentation.yaml (v1alpha1 spec); operator
    v0.158.0 internal/instrumentation/sdk.go (`injectCommonSDKConfig`: OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_PROPAGATORS, OTEL_TRACES_SAMPLER(_ARG), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, each
    only where the container does not set it; a language's `env` comes first)."""
    ratio = sampler_argument(probability)
    java_sampler_arg = f"endpoint={sampling.url(SAMPLING_GRPC_PORT_NAME)},initialSamplingRate={ratio}"
    spec: dict[str, Any] = {
        "exporter": {"endpoint": collector.url(COLLECTOR_OTLP_HTTP_PORT_NAME)},
        "propagators": list(PROPAGATORS),
        "sampler": {"type": SAMPLER, "argument": ratio},
        "env": [{"name": "OTEL_EXPORTER_OTLP_PROTOCOL", "value": OTLP_PROTOCOL}],
        # service.name from the pod's app.kubernetes.io/name label (else the Deployment's name, ...),
        # service.version from app.kubernetes.io/version (else the image tag): the `service` label
        # of the metrics contract. Ref: sdk.go chooseServiceName, chooseServiceVersion.
        "defaults": {"useLabelsForResourceAttributes": True},
        # The agent-copying init containers otherwise inherit the application container's context,
        # which a restricted namespace refuses when it is not itself restricted; the agent images
        # are busybox as root (autoinstrumentation/*/Dockerfile), so a numeric non-root user.
        "initContainerSecurityContext": restricted_container(runAsUser=NOBODY, runAsGroup=NOBODY),
        "java": {
            "env": [
                {"name": "OTEL_TRACES_SAMPLER", "value": JAVA_REMOTE_SAMPLER},
                {"name": "OTEL_TRACES_SAMPLER_ARG", "value": java_sampler_arg},
            ],
            "resources": INIT_CONTAINER_RESOURCES["java"],
        },
    }
    # Python, Node.js and .NET name the field `resourceRequirements` (Java: `resources`) in this CRD.
    for language in ("python", "nodejs", "dotnet"):
        spec[language] = {"resourceRequirements": INIT_CONTAINER_RESOURCES[language]}
    return spec


def opt_in_annotations(namespace: str) -> dict[str, str]:
    """Language -> the pod annotation (key: value) that injects its agent with the platform's Instrumentation."""
    ref = f"{namespace}/{INSTRUMENTATION_NAME}"
    return {language: f'{ANNOTATION_PREFIX}{key}: "{ref}"' for language, key in LANGUAGES.items()} | {
        "SDK only (Go and other compiled-in SDKs)": f'{SDK_ANNOTATION}: "{ref}"'
    }


@dataclass(frozen=True)
class OtelOperatorPlan:
    values: Mapping[str, Any]
    extra_values: Mapping[str, Any]
    # The webhook Service the API server calls, and the names its certificate is valid for.
    webhook: Endpoint
    tls_dns_names: tuple[str, ...]
    mutating_webhooks: tuple[Mapping[str, Any], ...]
    validating_webhooks: tuple[Mapping[str, Any], ...]
    instrumentation_name: str
    instrumentation_spec: Mapping[str, Any]
    # Language -> the annotation a service adds to its pod template (README).
    annotations: Mapping[str, str]
    # The manager pods' labels (NetworkPolicies) and those of the objects the program declares.
    pod_labels: Mapping[str, str]
    labels: Mapping[str, str]


def otel_operator_plan(
    settings: StackSettings, labels: Mapping[str, str], collector: Endpoint, sampling: Endpoint
) -> OtelOperatorPlan | None:
    """The operator's slice; None where the stack does not deploy it (otelOperator.enabled)."""
    operator = settings.otel_operator
    if not operator.enabled:
        return None
    webhook = webhook_endpoint(settings.namespace)
    return OtelOperatorPlan(
        values=operator_values(operator),
        extra_values=operator.extra_values,
        webhook=webhook,
        tls_dns_names=tuple(service_dns_names(webhook)),
        mutating_webhooks=tuple(mutating_webhooks(webhook)),
        validating_webhooks=tuple(validating_webhooks(webhook)),
        instrumentation_name=INSTRUMENTATION_NAME,
        instrumentation_spec=instrumentation_spec(collector, sampling, settings.sampling_spec.effective_default_probability),
        annotations=opt_in_annotations(settings.namespace),
        pod_labels=dict(POD_LABELS),
        labels=dict(labels),
    )
