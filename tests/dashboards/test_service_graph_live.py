"""The node graph panels of the operations and developer dashboards, evaluated on a real Prometheus
fed with the series the collector's service graph tier exposes (monitoring/otel.py SERVICEGRAPH_METRICS):
the `nodes` query returns one row per service on either end of an edge, with the requests per second
it receives, and the `edges` query one row per call with its source, target and rate, which is what
Grafana's node graph needs (monitoring/dashboards/service_graph.py).

The synthetic edges are split over two replicas of the tier (as each sees a share of the traces of
one edge), carry the scrape target's own labels (namespace, service, pod of the collector) and both
values of `failed`, as the connector writes them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from monitoring.dashboards import developer, operational
from monitoring.dashboards import _grafana as g
from monitoring.dashboards.service_graph import EDGE_SEPARATOR, EDGES_REF, NODES_REF
from monitoring.otel import servicegraph_prometheus_name
from tests.dashboards.dashboard_queries import iter_queries
from tests.engines import SyntheticExporter, generation_url, instant_query, prometheus_per_generation
from tests.helpers import engine_params, wait_until

# Waits for scrapes of the synthetic edges over the rate range (about 20 s): started early.
pytestmark = pytest.mark.heavy(20)

REQUESTS = servicegraph_prometheus_name("requests")
FAILED = servicegraph_prometheus_name("failed")
# A short range: a few seconds of 1 s scrapes, so rate() over it is the synthetic rate.
RANGE = "10s"
RANGE_PLUS = "15s"


@dataclass(frozen=True)
class Edge:
    client: str
    server: str
    rps: float
    failed_rps: float = 0.0
    connection_type: str = ""


EDGES = (
    Edge("user", "frontend", 10.0, connection_type="virtual_node"),
    Edge("frontend", "checkout", 4.0, failed_rps=1.0),
    Edge("checkout", "payments", 2.0),
    Edge("checkout", "shop-db", 3.0, connection_type="database"),
    Edge("search", "catalog", 5.0),  # not touching checkout: absent from the developer map
)
REPLICAS = ("otel-servicegraph-0", "otel-servicegraph-1")


class ServiceGraphSeries:
    """The tier's counters for EDGES, each edge's calls shared by the two replicas."""

    def __init__(self) -> None:
        self._start: float | None = None

    def lines(self, now: float) -> list[str]:
        self._start = now if self._start is None else self._start
        elapsed = now - self._start + 60  # a head start: the counters are not new
        out = [f"# TYPE {REQUESTS} counter", f"# TYPE {FAILED} counter"]
        for edge in EDGES:
            for pod in REPLICAS:
                share = elapsed / len(REPLICAS)
                for failed, rps in (("false", edge.rps - edge.failed_rps), ("true", edge.failed_rps)):
                    if rps == 0:
                        continue
                    labels = (
                        f'client="{edge.client}",server="{edge.server}",connection_type="{edge.connection_type}",'
                        f'failed="{failed}",environment="dev",namespace="monitoring",service="otel-servicegraph",pod="{pod}"'
                    )
                    out.append(f"{REQUESTS}{{{labels}}} {rps * share:.3f}")
                    if failed == "true":
                        out.append(f"{FAILED}{{{labels}}} {rps * share:.3f}")
        return out


@pytest.fixture(scope="module")
def prometheus_urls(tmp_path_factory) -> Iterator[dict[str, str | Exception]]:
    with SyntheticExporter(ServiceGraphSeries()) as exporter, prometheus_per_generation(
        tmp_path_factory, "servicegraph", {}, exporter.target
    ) as urls:
        yield urls


@pytest.fixture(params=engine_params("prometheus"))
def url(request, prometheus_urls) -> str:
    found = generation_url(request.param, prometheus_urls)
    wait_until(
        # Scrapes from before the range's start, so rate() over it needs no extrapolation.
        lambda: instant_query(found, f"count_over_time({REQUESTS}[{RANGE_PLUS}]) >= 14")["data"]["result"],
        timeout=40,
        what="a range of scrapes of the edges",
    )
    return found


def _node_graph_queries(model: dict) -> dict[str, str]:
    """refId -> PromQL of the dashboard's node graph panel, variables resolved (service=checkout)."""
    (panel,) = [p for p in model["panels"] if p["type"] == "nodeGraph"]
    queries = {q.target["refId"]: q.text.replace("[1h]", f"[{RANGE}]") for q in iter_queries({**model, "panels": [panel], "annotations": {"list": []}})}
    assert set(queries) == {NODES_REF, EDGES_REF}
    return queries


def _rows(url: str, expr: str) -> list[dict]:
    answer = instant_query(url, expr)
    assert answer["status"] == "success", answer
    return [{**r["metric"], "value": float(r["value"][1])} for r in answer["data"]["result"]]


def _expected_edges(edges) -> dict[str, tuple[str, str, float]]:
    return {f"{e.client}{EDGE_SEPARATOR}{e.server}": (e.client, e.server, e.rps) for e in edges}


def _expected_nodes(edges) -> dict[str, float]:
    nodes = {e.client: 0.0 for e in edges}
    for e in edges:
        nodes[e.server] = nodes.get(e.server, 0.0) + e.rps
    return nodes


def _check(url: str, model: dict, edges) -> None:
    queries = _node_graph_queries(model)
    edge_rows = _rows(url, queries[EDGES_REF])
    assert {r["id"] for r in edge_rows} == set(_expected_edges(edges))
    for row in edge_rows:
        source, target, rps = _expected_edges(edges)[row["id"]]
        assert (row["source"], row["target"]) == (source, target)
        assert row["value"] == pytest.approx(rps, rel=0.1)
        # The value is the only other column once `organize` drops Time, client and server.
        assert set(row) == {"id", "source", "target", "client", "server", "value"}
    node_rows = _rows(url, queries[NODES_REF])
    assert {r["id"] for r in node_rows} == set(_expected_nodes(edges))
    for row in node_rows:
        assert row["title"] == row["id"]
        assert set(row) == {"id", "title", "value"}
        assert row["value"] == pytest.approx(_expected_nodes(edges)[row["id"]], rel=0.1, abs=1e-9)
    # Every edge's ends are nodes of the nodes frame: Grafana looks each one up.
    assert {e for r in edge_rows for e in (r["source"], r["target"])} <= {r["id"] for r in node_rows}


def test_operations_map_has_every_service_and_every_call(url):
    _check(url, g.to_model(operational.build("dev")), EDGES)


def test_developer_map_has_the_selected_services_calls_in_and_out(url):
    touching = tuple(e for e in EDGES if "checkout" in (e.client, e.server))
    assert len(touching) < len(EDGES)
    _check(url, g.to_model(developer.build("dev")), touching)


def test_failing_dependencies_list_the_failed_share_of_each_failing_call(url):
    model = g.to_model(operational.build("dev"))
    (panel,) = [p for p in model["panels"] if p.get("title") == "Failing dependencies (time range)"]
    (query,) = [q.text.replace("[1h]", f"[{RANGE}]") for q in iter_queries({**model, "panels": [panel], "annotations": {"list": []}})]
    rows = _rows(url, query)
    assert [(r["client"], r["server"]) for r in rows] == [("frontend", "checkout")]
    assert rows[0]["value"] == pytest.approx(0.25, rel=0.1)
