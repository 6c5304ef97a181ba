"""Data links from panels to traces in Jaeger, through Grafana Explore.

A link opens Explore on the Jaeger datasource (stable UID) with either a trace-ID lookup or a search.
The pane state is JSON in the `panes` parameter; Grafana interpolates `${...}` tokens in a link URL
before following it, so the tokens are inserted after URL-encoding the JSON, not encoded with it.
Ref: https://grafana.com/docs/grafana/latest/explore/get-started-with-explore/#share-explore-urls
Ref: https://grafana.com/docs/grafana/latest/panels-visualizations/configure-data-links/
"""

from __future__ import annotations

import json
from urllib.parse import quote

from grafana_foundation_sdk.builders import dashboard

from monitoring.datasources import JAEGER_UID

JAEGER = {"type": "jaeger", "uid": JAEGER_UID}


def _explore_url(query: dict[str, object], tokens: dict[str, str]) -> str:
    panes = {
        "traces": {
            "datasource": JAEGER_UID,
            "queries": [{"refId": "A", "datasource": JAEGER, **query}],
            "range": {"from": "now-1h", "to": "now"},
        }
    }
    encoded = quote(json.dumps(panes, sort_keys=True, separators=(",", ":")), safe="")
    for placeholder, token in tokens.items():
        encoded = encoded.replace(placeholder, token)
    return f"/explore?schemaVersion=1&orgId=1&panes={encoded}"


def trace_by_id_link(title: str = "Open trace in Jaeger") -> dashboard.DashboardLink:
    """For a cell holding a trace id (the `trace_id` log field)."""
    # A Jaeger query without queryType is a trace-ID lookup; `query` holds the id.
    url = _explore_url({"query": "TRACEID"}, {"TRACEID": "${__value.raw}"})
    return dashboard.DashboardLink(title).url(url).target_blank(True)


def trace_search_link(title: str = "Failing traces in Jaeger") -> dashboard.DashboardLink:
    """For a row with `service` and `http_route` fields: that endpoint's failing spans."""
    # OTel HTTP server spans carry the route as `http.route` and failures as `error=true`.
    query = {"queryType": "search", "service": "SERVICE", "tags": "http.route=ROUTE error=true", "limit": 20}
    url = _explore_url(
        query,
        {"SERVICE": "${__data.fields.service:percentencode}", "ROUTE": "${__data.fields.http_route:percentencode}"},
    )
    return dashboard.DashboardLink(title).url(url).target_blank(True)
