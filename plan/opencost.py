"""The OpenCost slice of the plan (components/opencost.py declares it). OpenCost: the producer of
the executive dashboard's cost series, priced with the stack's on-premises unit prices
(`costs.*`, docs/costs.md).

Chart facts (opencost 2.5.17, appVersion 1.120.1, read in its values.yaml and templates): no Helm
hooks, no CRDs; one Deployment (the cost-model container `opencost`, plus the UI container when
`opencost.ui.enabled`), a Service `<fullname>` with port `http` (`opencost.exporter.apiPort`, 9003:
the API and /metrics) and `mcp-server` (8081) while `opencost.mcp.enabled`; the ServiceMonitor is
off by default (`opencost.metrics.serviceMonitor.enabled`; honorLabels: true, so each series keeps
the `namespace`, `pod`, `container` and `instance` OpenCost gives it); the Prometheus address
defaults to `prometheus-server.prometheus-system.svc` and is set here through
`opencost.prometheus.external.url` (templates/_helpers.tpl opencost.prometheusServerEndpoint);
with `opencost.customPricing.enabled` the chart renders the ConfigMap
`opencost.customPricing.configmapName` from `costModel` (every value quoted) and sets
PRICING_CONFIGMAP_NAME, CONFIG_PATH (an emptyDir the chart mounts); the Deployment rolls on
`checksum/configs` of that ConfigMap. The ClusterRole is get/list/watch only (ConfigMaps included:
OpenCost watches its pricing ConfigMap through the API).

Production choices:
- Prices: the custom provider, forced by USE_CUSTOM_PROVIDER=true even on a cloud cluster, so the
  stack's prices apply everywhere and OpenCost calls no cloud pricing API. Ref: opencost/opencost
  pkg/cloud/provider/provider.go (getClusterProperties: IsUseCustomProvider; ConfigWatcherFor watches
  the PRICING_CONFIGMAP_NAME ConfigMap), pkg/env/costmodelenv.go (USE_CUSTOM_PROVIDER),
  pkg/cloud/models/models.go (CustomPricing: CPU, RAM, GPU, storage, spotCPU, spotRAM, the network
  egress prices, currencyCode), configs/default.json (CPU per core-hour, RAM and storage per GiB-hour).
- Queries go to Thanos Query, the deduplicated view over every Prometheus replica (a Service of two
  replicas would answer from either).
- No copies of kube-state-metrics' series: kube-state-metrics runs in every stack, and OpenCost by
  default re-exports kube_node_*, kube_pod_*, ... (EMIT_KSM_V1_METRICS defaults to true), which would
  double every sum over them. With both switches off only its cost series, kubecost_pv_info and the
  controller label series remain. Ref: pkg/metrics/kubemetrics.go InitKubeMetrics, pkg/env/costmodelenv.go
  IsEmitKsmV1Metrics / IsEmitKsmV1MetricsOnly.
- Off: the UI (the executive dashboard is the cost view), the MCP server (an unauthenticated API for
  AI agents nothing here uses), cloud costs, plugins.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from plan.endpoints import Endpoint
from plan.pod_security import NOBODY, restricted_container, restricted_pod, tmp_mount, tmp_volume
from plan.settings import CostSettings, StackSettings
from plan.versions import OPENCOST

FULLNAME = "opencost"
# The Service and container port `http`: the API and /metrics (values.yaml opencost.exporter.apiPort).
API_PORT = 9003
API_PORT_NAME = "http"
PRICING_CONFIGMAP = "opencost-pricing"  # opencost.customPricing.configmapName
# Everything OpenCost stores is derived from Prometheus and its pricing ConfigMap; a read-only root
# with /tmp as an emptyDir is enough (CONFIG_PATH, values.yaml customPricing.configPath, is under it).
CONFIG_PATH = "/tmp/custom-config"


def _price(value: float) -> str:
    """A price as the ConfigMap holds it: a plain decimal string (no exponent), as in default.json."""
    return format(Decimal(str(value)).normalize(), "f")


def custom_pricing(costs: CostSettings) -> dict[str, str]:
    """OpenCost's custom pricing (`costModel`): the on-premises unit prices of the stack. No spot
    market on-premises, and traffic is not billed per GiB, so spot equals on-demand and egress is free."""
    return {
        "description": "On-premises prices of the stack file (costs.*)",
        "CPU": _price(costs.cpu_core_hourly),
        "spotCPU": _price(costs.cpu_core_hourly),
        "RAM": _price(costs.ram_gib_hourly),
        "spotRAM": _price(costs.ram_gib_hourly),
        "GPU": _price(costs.gpu_hourly),
        "storage": _price(costs.storage_gib_hourly),
        "zoneNetworkEgress": "0",
        "regionNetworkEgress": "0",
        "internetNetworkEgress": "0",
        "currencyCode": costs.currency,
    }


def opencost_values(costs: CostSettings, prometheus_url: str, cluster_id: str) -> dict[str, Any]:
    return {
        "fullnameOverride": FULLNAME,
        "podSecurityContext": restricted_pod(run_as_user=NOBODY, run_as_group=NOBODY),
        "extraVolumes": [tmp_volume()],
        "opencost": {
            "exporter": {
                "apiPort": API_PORT,
                # The `cluster_id` OpenCost gives its allocations: the stack's `cluster` label.
                "defaultClusterId": cluster_id,
                "resources": costs.resources.to_k8s(),
                "securityContext": restricted_container(),
                "extraVolumeMounts": [tmp_mount()],
                "extraEnv": {"USE_CUSTOM_PROVIDER": "true"},
            },
            "customPricing": {
                "enabled": True,
                "configmapName": PRICING_CONFIGMAP,
                "configPath": CONFIG_PATH,
                "provider": "custom",
                "costModel": custom_pricing(costs),
            },
            "prometheus": {"internal": {"enabled": False}, "external": {"enabled": True, "url": prometheus_url}},
            "metrics": {
                "serviceMonitor": {"enabled": True},
                "kubeStateMetrics": {"emitKsmV1Metrics": False, "emitKsmV1MetricsOnly": False},
            },
            "ui": {"enabled": False},
            "mcp": {"enabled": False},
        },
    }


@dataclass(frozen=True)
class OpencostPlan:
    values: Mapping[str, Any]
    extra_values: Mapping[str, Any]
    # The API/metrics Service (the chart's ServiceMonitor scrapes its `http` port).
    api: Endpoint
    # What OpenCost queries: Thanos Query's HTTP API.
    prometheus: Endpoint
    # The labels the chart gives the pod (selectorLabels: app.kubernetes.io/name).
    pod_labels: Mapping[str, str]


def api_endpoint(namespace: str) -> Endpoint:
    return Endpoint(FULLNAME, namespace, {API_PORT_NAME: API_PORT})


def opencost_plan(settings: StackSettings, query: Endpoint) -> OpencostPlan | None:
    """OpenCost's slice, querying `query` (Thanos Query); None when the stack does not deploy it
    (costs.enabled)."""
    costs = settings.costs
    if not costs.enabled:
        return None
    return OpencostPlan(
        values=opencost_values(costs, query.url("http"), settings.cluster.name),
        extra_values=costs.extra_values,
        api=api_endpoint(settings.namespace),
        prometheus=query,
        pod_labels={"app.kubernetes.io/name": OPENCOST.chart},
    )
