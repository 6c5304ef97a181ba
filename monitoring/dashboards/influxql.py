"""A raw InfluxQL query for Grafana's InfluxDB datasource (the SDK ships no InfluxDB builder).

The target shape is the one Grafana's InfluxDB (InfluxQL) query editor saves in raw mode.
Ref: https://grafana.com/docs/grafana/latest/datasources/influxdb/query-editor/#raw-influxql-query
"""

from __future__ import annotations

from typing import Any, Self

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common


class InfluxQueryModel(cogvariants.Dataquery):
    def __init__(self, query: str) -> None:
        self.query = query
        self.ref_id: str | None = None
        self.alias: str | None = None
        self.datasource: common.DataSourceRef | None = None

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"query": self.query, "rawQuery": True, "resultFormat": "time_series"}
        if self.ref_id is not None:
            payload["refId"] = self.ref_id
        if self.alias:
            payload["alias"] = self.alias
        if self.datasource is not None:
            payload["datasource"] = self.datasource.to_json()
        return payload


class InfluxQuery(cogbuilder.Builder[InfluxQueryModel]):
    def __init__(self, query: str) -> None:
        self._internal = InfluxQueryModel(query)

    def build(self) -> InfluxQueryModel:
        return self._internal

    def ref_id(self, ref_id: str) -> Self:
        self._internal.ref_id = ref_id
        return self

    def alias(self, alias: str) -> Self:
        self._internal.alias = alias
        return self

    def datasource(self, ref: common.DataSourceRef) -> Self:
        self._internal.datasource = ref
        return self
