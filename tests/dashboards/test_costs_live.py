"""Cost by component on a real Prometheus: OpenCost-shaped series in (allocations per container,
prices per node and volume, as OpenCost 1.120.x names and labels them; monitoring/costs.py), the
stack's `costs` recording rules and the executive dashboard's cost panels out, checked against
costs worked out by hand from the same numbers.

One Prometheus per engine generation serves the module (both start together).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from monitoring.alert_rules import build_rule_files
from monitoring.alerting_spec import AlertingSpec
from monitoring.dashboards.executive import CostView
from tests.dashboards.dashboard_queries import as_seen_through_thanos, iter_queries
from tests.engines import FixedSeries, SyntheticExporter, generation_url, instant_query, prometheus_per_generation
from tests.helpers import engine_params, wait_until

GIB = 2**30
CPU, RAM, STORAGE = 0.025, 0.0035, 0.00014  # per core-hour, GiB-hour, GiB-hour of volume
NODE_CORES, NODE_GIB = 4, 16
PV_GIB = 10
# (namespace, pod, container, cores, GiB); the workload of each pod below.
CONTAINERS = (
    ("monitoring", "prometheus-0", "prometheus", 0.5, 2),
    ("monitoring", "prometheus-0", "config-reloader", 0.01, 0.05),
    ("monitoring", "grafana-7d9f8-abcde", "grafana", 0.1, 0.5),
    ("shop", "web-5c6b7-xyz12", "web", 1.0, 1.0),
)
OWNERS = {
    "prometheus-0": ("prometheus", "statefulset"),
    "grafana-7d9f8-abcde": ("grafana", "deployment"),
    "web-5c6b7-xyz12": ("web", "deployment"),
}
PLATFORM = CostView(currency="EUR", platform_namespaces=("monitoring", "monitoring-agents"))


def _series() -> str:
    env = 'environment="dev"'
    node = f'node="node-a", instance="node-a", instance_type="", region="", provider_id="", arch="amd64", uid="n1", {env}'
    lines = []
    # Two OpenCost pods during a rollout: the same prices twice, told apart only by the target's `pod`.
    for opencost_pod in ("opencost-old", "opencost-new"):
        source = f'{node}, pod="{opencost_pod}"'
        lines += [
            f"node_cpu_hourly_cost{{{source}}} {CPU}",
            f"node_ram_hourly_cost{{{source}}} {RAM}",
            f"node_gpu_hourly_cost{{{source}}} 0",
            f"node_total_hourly_cost{{{source}}} {NODE_CORES * CPU + NODE_GIB * RAM}",
            f'pv_hourly_cost{{volumename="pv-1", persistentvolume="pv-1", provider_id="", uid="v1", pod="{opencost_pod}", {env}}} {STORAGE}',
        ]
    for namespace, pod, container, cores, gib in CONTAINERS:
        labels = f'namespace="{namespace}", pod="{pod}", container="{container}", instance="node-a", node="node-a", uid="{pod}", {env}'
        lines += [f"container_cpu_allocation{{{labels}}} {cores}", f"container_memory_allocation_bytes{{{labels}}} {gib * GIB}"]
    lines.append(
        f'pod_pvc_allocation{{namespace="monitoring", pod="prometheus-0", persistentvolumeclaim="data-prometheus-0", '
        f'persistentvolume="pv-1", uid="prometheus-0", {env}}} {PV_GIB * GIB}'
    )
    lines.append(f'kube_persistentvolume_capacity_bytes{{persistentvolume="pv-1", {env}}} {PV_GIB * GIB}')
    # kube-prometheus-stack's pod -> workload record (its own rule group, not under test here).
    for pod, (workload, kind) in OWNERS.items():
        namespace = next(c[0] for c in CONTAINERS if c[1] == pod)
        lines.append(
            f'namespace_workload_pod:kube_pod_owner:relabel{{namespace="{namespace}", pod="{pod}", '
            f'workload="{workload}", workload_type="{kind}", {env}}} 1'
        )
    return "\n".join(lines)


def _pod_cost(pod: str) -> float:
    compute = sum(cores * CPU + gib * RAM for _, p, _, cores, gib in CONTAINERS if p == pod)
    return compute + (PV_GIB * STORAGE if pod == "prometheus-0" else 0)


def _namespace_cost(namespace: str) -> float:
    return sum(_pod_cost(pod) for pod in {c[1] for c in CONTAINERS if c[0] == namespace})


CLUSTER_HOURLY = NODE_CORES * CPU + NODE_GIB * RAM + PV_GIB * STORAGE
ALLOCATED_HOURLY = _namespace_cost("monitoring") + _namespace_cost("shop")


@pytest.fixture(scope="module")
def prometheus_urls(tmp_path_factory) -> Iterator[dict[str, str | Exception]]:
    rules = as_seen_through_thanos({"costs": build_rule_files(AlertingSpec(environment="dev"))["costs"]})
    with SyntheticExporter(FixedSeries(_series())) as exporter, prometheus_per_generation(
        tmp_path_factory, "prometheus-costs", rules, exporter.target
    ) as urls:
        yield urls


@pytest.fixture(params=engine_params("prometheus"))
def url(request, prometheus_urls) -> str:
    started = generation_url(request.param, prometheus_urls)
    wait_until(
        lambda: instant_query(started, 'namespace_workload:opencost_cost_hourly:sum{environment="dev"}')["data"]["result"],
        timeout=30,
        what="the first cost records",
    )
    return started


def _values(url: str, expr: str, label: str) -> dict[str, float]:
    answer = instant_query(url, expr)
    assert answer["status"] == "success", answer
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in answer["data"]["result"]}


def _panels(dashboards) -> dict[str, str]:
    model = next(d.model for d in dashboards if d.uid == "tf-executive-overview")
    return {q.panel: q.text for q in iter_queries(model) if q.datasource_type == "prometheus"}


@pytest.fixture(scope="module")
def panels() -> dict[str, str]:
    from monitoring.dashboards import build_dashboards

    return _panels(build_dashboards("dev", costs_view=PLATFORM))


def test_namespace_cost_is_allocation_times_the_node_prices_plus_claimed_volumes(url):
    got = _values(url, 'namespace:opencost_cost_hourly:sum{environment="dev"}', "namespace")
    assert got == pytest.approx({"monitoring": _namespace_cost("monitoring"), "shop": _namespace_cost("shop")})


def test_workload_cost_follows_the_pods_owner(url):
    got = _values(url, 'namespace_workload:opencost_cost_hourly:sum{environment="dev"}', "workload")
    assert got == pytest.approx({workload: _pod_cost(pod) for pod, (workload, _) in OWNERS.items()})


def test_monthly_run_rate_panel_is_every_node_and_volume_at_its_price(url, panels):
    (value,) = _values(url, panels["Monthly cost (run rate)"], "").values()
    assert value == pytest.approx(CLUSTER_HOURLY * 730)


def test_allocated_share_panel_compares_workloads_with_the_cluster(url, panels):
    (value,) = _values(url, panels["Share allocated to workloads"], "").values()
    assert value == pytest.approx(ALLOCATED_HOURLY / CLUSTER_HOURLY)


def test_platform_panels_count_only_the_platform_namespaces(url, panels):
    (monthly,) = _values(url, panels["Monitoring platform (run rate)"], "").values()
    assert monthly == pytest.approx(_namespace_cost("monitoring") * 730)
    by_component = _values(url, panels["Monitoring platform by component (per month)"], "workload")
    assert by_component == pytest.approx({"prometheus": _pod_cost("prometheus-0") * 730, "grafana": _pod_cost("grafana-7d9f8-abcde") * 730})


def test_cost_by_namespace_panel_ranks_namespaces_by_monthly_cost(url, panels):
    got = _values(url, panels["Cost by namespace (top 10, per month)"], "namespace")
    assert got == pytest.approx({"monitoring": _namespace_cost("monitoring") * 730, "shop": _namespace_cost("shop") * 730})
