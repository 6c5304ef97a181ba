"""The service dependency map: a node graph of who calls whom, from the collector's servicegraph
connector (monitoring/otel.py SERVICEGRAPH_METRICS, second collector tier).

Grafana's node graph reads two data frames: nodes (`id`, and `title`, `mainstat`, ...) and edges
(`id`, `source`, `target`, `mainstat`, ...). A frame is node graph data when its refId is `nodes` or
`edges`; a frame with a `source` field is the edges, the other the nodes; every edge's source and
target must be a node of the nodes frame (the panel looks each one up). Field names are compared
in lower case.
Ref: grafana/grafana public/app/plugins/panel/nodeGraph/utils.ts (getNodeGraphDataFrames, getGraphFrame,
getNodeFields, getEdgeFields, processNodes, processEdges, statToString: the unit is printed after the value).

Each frame is one instant Prometheus query in table format: one column per label, then the value.
The labels carry the ids (label_replace / label_join), the value becomes `mainstat` by an
`organize` rename: Grafana names the value column `Value`, or `Value #<refId>` when the response holds
several queries, as here.
Ref: grafana/grafana public/app/plugins/datasource/prometheus result_transformer.ts (transformDFToTable,
getValueText); Grafana's transformation `organize` (renameByName, excludeByName).

Nodes are the union of the edges' clients and servers: a server's main stat is the requests per
second it receives over the edges shown, a client that nothing calls (the `user` virtual node of the
connector: requests from outside, root spans) gets 0 by `or`.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import nodegraph
from grafana_foundation_sdk.models import dashboard as dashboard_model

from monitoring.dashboards import _grafana as g
from monitoring.dashboards._grafana import FULL
from monitoring.otel import servicegraph_prometheus_name

REQUESTS = servicegraph_prometheus_name("requests")
FAILED = servicegraph_prometheus_name("failed")
NODES_REF, EDGES_REF = "nodes", "edges"
# What the node graph prints after each stat (statToString appends the unit as written).
STAT_UNIT = "req/s"
EDGE_SEPARATOR = " -> "


def edge_rates(selectors: tuple[str, ...]) -> str:
    """Requests per second over the time range per edge (client, server), over the series any of
    `selectors` selects (a union: `or` keeps each edge once)."""
    parts = [f"sum by (client, server) (rate({REQUESTS}{{{sel}}}[$__range]))" for sel in selectors]
    return "\nor\n".join(parts)


def edges_query(selectors: tuple[str, ...]) -> str:
    """One row per edge: id `client -> server`, source = client, target = server, value = req/s."""
    return (
        'label_replace(\n  label_replace(\n    label_join(\n'
        f"      {edge_rates(selectors)},\n"
        f'      "id", "{EDGE_SEPARATOR}", "client", "server"\n'
        '    ),\n    "source", "$1", "client", "(.*)"\n  ),\n  "target", "$1", "server", "(.*)"\n)'
    )


def nodes_query(selectors: tuple[str, ...]) -> str:
    """One row per service on either end of an edge: id = title = the service, value = req/s it
    receives over those edges (0 for one that only calls)."""
    edges = f"({edge_rates(selectors)})"
    return (
        'label_replace(\n'
        f'  sum by (id) (label_replace({edges}, "id", "$1", "server", "(.*)"))\n'
        "  or\n"
        f'  0 * sum by (id) (label_replace({edges}, "id", "$1", "client", "(.*)")),\n'
        '  "title", "$1", "id", "(.*)"\n)'
    )


def failing_edges_query(selectors: tuple[str, ...]) -> str:
    """Share of failed requests per edge over the time range."""
    failed = "\nor\n".join(f"sum by (client, server) (rate({FAILED}{{{sel}}}[$__range]))" for sel in selectors)
    return f"(\n{failed}\n)\n/\n(\n{edge_rates(selectors)}\n)"


def _value_as_mainstat() -> dashboard_model.DataTransformerConfig:
    value_names = ("Value", f"Value #{NODES_REF}", f"Value #{EDGES_REF}")
    return dashboard_model.DataTransformerConfig(
        id_val="organize",
        options={
            "renameByName": {name: "mainstat" for name in value_names},
            "excludeByName": {"Time": True, "client": True, "server": True},
        },
    )


def node_graph_panel(title: str, description: str, selectors: tuple[str, ...], *, height: int = 12) -> nodegraph.Panel:
    """The node graph over the edges `selectors` select (label matchers of the request counter)."""
    panel = (
        nodegraph.Panel()
        .title(title)
        .description(description)
        .span(FULL)
        .height(height)
        .datasource(g.PROMETHEUS)
        # The fields' unit; the stats print the options' unit instead (applyOptionsToFrames).
        .unit("reqps")
        .nodes(nodegraph.NodeOptions().main_stat_unit(STAT_UNIT))
        .edges(nodegraph.EdgeOptions().main_stat_unit(STAT_UNIT))
        .with_transformation(_value_as_mainstat())
    )
    for ref, expr in ((NODES_REF, nodes_query(selectors)), (EDGES_REF, edges_query(selectors))):
        panel = panel.with_target(g.prom(expr, instant=True, table_format=True).ref_id(ref))
    return panel


def failing_edges_panel(title: str, description: str, selectors: tuple[str, ...]):
    return g.table_panel(
        title,
        description,
        [g.prom(failing_edges_query(selectors), instant=True, table_format=True)],
        unit="percentunit",
        threshold_config=g.lower_is_better(0.001, 0.01),
    )
