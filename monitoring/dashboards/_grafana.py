"""Thin, opinionated wrappers around grafana-foundation-sdk shared by every audience module.

Why wrappers: every dashboard needs the same variables (`datasource`, `environment`), the same
deployment/incident annotations, the same datasource references by stable UID and the same way of
turning the SDK's builder into a plain, deterministic JSON dict. Keeping that here means the audience
modules only say *what* they show.

The classic (v1) dashboard model of the SDK is used on purpose: the Pulumi side deploys through
`grafana.oss.Dashboard`, i.e. Grafana's `/api/dashboards/db` endpoint, which takes the classic JSON
model; Grafana 13 still serves that API and migrates the schema version on load.
Ref: https://grafana.com/docs/grafana/latest/as-code/observability-as-code/foundation-sdk/
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

# The SDK marks the classic dashboard model deprecated in favour of v2 (Grafana's new dashboard API).
# The Grafana provider's Dashboard resource speaks the classic API, so the classic model is the right
# one here; the warning would only be noise in every test run.
warnings.filterwarnings("ignore", message="Prefer using dashboardv2", category=DeprecationWarning)

from grafana_foundation_sdk.builders import bargauge, dashboard, elasticsearch, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builder
from grafana_foundation_sdk.builders import logs as logs_builder
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dashboard_model
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from monitoring.dashboards.influxql import InfluxQuery
from monitoring.datasources import ELASTICSEARCH_LOGS_UID, INFLUXDB_TRENDS_UID, THANOS_UID

# --- datasources ------------------------------------------------------------------------------

# Prometheus-type panels go through the `datasource` variable (default: Thanos) so a user can point
# a dashboard at another Prometheus-compatible source without editing it.
DATASOURCE_VARIABLE = "datasource"
PROMETHEUS = common.DataSourceRef(type_val="prometheus", uid=f"${{{DATASOURCE_VARIABLE}}}")
# Annotations are pinned to Thanos itself: they must not vanish when a user switches the variable.
THANOS = common.DataSourceRef(type_val="prometheus", uid=THANOS_UID)
ELASTICSEARCH = common.DataSourceRef(type_val="elasticsearch", uid=ELASTICSEARCH_LOGS_UID)
INFLUXDB = common.DataSourceRef(type_val="influxdb", uid=INFLUXDB_TRENDS_UID)

# Every selector filters on the environment: Prometheus adds it as an external label, so every series
# read through Thanos carries it (plan/prometheus_stack.py, `externalLabels`).
ENV = 'environment="$environment"'

# Grid: Grafana's dashboards are 24 columns wide.
FULL, HALF, THIRD, QUARTER, SIXTH = 24, 12, 8, 6, 4

# Colours used by thresholds (Grafana's named palette).
GREEN, YELLOW, ORANGE, RED, BLUE = "green", "yellow", "orange", "red", "blue"


# --- variables --------------------------------------------------------------------------------


def datasource_variable() -> dashboard.DatasourceVariable:
    return (
        dashboard.DatasourceVariable(DATASOURCE_VARIABLE)
        .label("Metrics")
        .type("prometheus")
        .current(dashboard_model.VariableOption(selected=True, text="Thanos", value=THANOS_UID))
    )


def query_variable(
    name: str,
    label: str,
    query: str,
    *,
    current: str | None = None,
    include_all: bool = False,
    all_value: str | None = None,
) -> dashboard.QueryVariable:
    """A Prometheus `label_values` variable read through the `datasource` variable.

    With include_all, selectors are written `label=~"$name"`. A variable also used in Lucene queries
    (service) keeps Grafana's default "All" (every value, OR-ed), because a custom `.*` would be a
    literal term there; Prometheus-only variables use `.*` to keep the regex short.
    """
    variable = (
        dashboard.QueryVariable(name)
        .label(label)
        .query(query)
        .datasource(PROMETHEUS)
        .refresh(dashboard_model.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(dashboard_model.VariableSort.ALPHABETICAL_ASC)
    )
    if include_all:
        if all_value is not None:
            variable = variable.all_value(all_value)
        variable = (
            variable.include_all(True)
            .multi(True)
            .current(dashboard_model.VariableOption(selected=True, text="All", value="$__all"))
        )
    elif current is not None:
        variable = variable.current(dashboard_model.VariableOption(selected=True, text=current, value=current))
    return variable


def environment_variable(environment: str) -> dashboard.QueryVariable:
    """The stack's environment is the default; other environments show up if one Thanos sees them."""
    return query_variable("environment", "Environment", "label_values(up, environment)", current=environment)


def service_variable() -> dashboard.QueryVariable:
    return query_variable(
        "service",
        "Service",
        f"label_values(http_server_request_duration_seconds_count{{{ENV}}}, service)",
        include_all=True,
    )


def namespace_variable() -> dashboard.QueryVariable:
    return query_variable(
        "namespace", "Namespace", f"label_values(kube_pod_info{{{ENV}}}, namespace)", include_all=True, all_value=".*"
    )


def textbox_variable(name: str, label: str, default: str) -> dashboard.TextBoxVariable:
    return (
        dashboard.TextBoxVariable(name)
        .label(label)
        .default_value(default)
        .current(dashboard_model.VariableOption(selected=True, text=default, value=default))
    )


# --- annotations ------------------------------------------------------------------------------

# Deployments are pushed by CI as a counter (instrumentation contract); a step where it increased
# is a deployment. Incidents are the P1/P2 alerts Prometheus reports as firing (`ALERTS`).
DEPLOYMENTS_EXPR = (
    f"sum by (service, result) (increase(terrafusion_deployments_total{{{ENV}}}[$__interval])) > 0"
)
INCIDENTS_EXPR = f'ALERTS{{alertstate="firing", severity=~"P1|P2", {ENV}}}'


def standard_annotations() -> list[dashboard.AnnotationQuery]:
    """Deployments (blue) and P1/P2 incidents (red) on every time series panel."""
    # Ref: https://grafana.com/docs/grafana/latest/datasources/prometheus/query-editor/#annotations
    return [
        dashboard.AnnotationQuery()
        .name("Deployments")
        .datasource(THANOS)
        .enable(True)
        .icon_color(BLUE)
        .expr(DEPLOYMENTS_EXPR)
        .step("1m")
        .title_format("Deployment of {{service}}")
        .text_format("result: {{result}}")
        .tag_keys("service,result"),
        dashboard.AnnotationQuery()
        .name("Incidents (P1/P2)")
        .datasource(THANOS)
        .enable(True)
        .icon_color(RED)
        .expr(INCIDENTS_EXPR)
        .step("1m")
        .title_format("{{alertname}} ({{severity}})")
        .text_format("{{service}}{{component}}")
        .tag_keys("severity,service,component"),
    ]


# --- queries ----------------------------------------------------------------------------------


def prom(expr: str, legend: str = "", *, instant: bool = False, table_format: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).datasource(PROMETHEUS).legend_format(legend or "__auto")
    if instant:
        query = query.instant()
    if table_format:
        query = query.format(PromQueryFormat.TABLE)
    return query


def lucene(query: str, *, metric: str = "count", split_by: str | None = None, size: int = 500) -> elasticsearch.Dataquery:
    """An Elasticsearch query: a count histogram over `@timestamp` (optionally split by a field), or
    the raw matching documents (`metric="logs"` for a logs panel, `"raw_data"` for a table)."""
    target = elasticsearch.Dataquery().query(query).time_field("@timestamp").datasource(ELASTICSEARCH)
    if metric == "count":
        aggs: list[cogbuilder.Builder] = []
        if split_by:
            aggs.append(
                elasticsearch.Terms()
                .id("3")
                .field(split_by)
                .settings(elasticsearch.ElasticsearchTermsSettings().size("10").order("desc").order_by("_count"))
            )
        aggs.append(
            elasticsearch.DateHistogram()
            .id("2")
            .field("@timestamp")
            .settings(elasticsearch.ElasticsearchDateHistogramSettings().interval("auto"))
        )
        return target.metrics([elasticsearch.Count().id("1")]).bucket_aggs(aggs)
    if metric == "logs":
        return target.metrics(
            [elasticsearch.Logs().id("1").settings(elasticsearch.ElasticsearchLogsSettings().limit(str(size)))]
        ).bucket_aggs([])
    if metric == "raw_data":
        return target.metrics(
            [elasticsearch.RawData().id("1").settings(elasticsearch.ElasticsearchRawDataSettings().size(str(size)))]
        ).bucket_aggs([])
    raise AssertionError(f"unknown Elasticsearch metric {metric!r}")


def influxql(query: str, alias: str = "") -> InfluxQuery:
    return InfluxQuery(query).alias(alias).datasource(INFLUXDB)


# --- panels -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """A threshold step: from `value` upwards the colour is `color` (value None = base)."""

    value: float | None
    color: str


def thresholds(*steps: Step) -> dashboard.ThresholdsConfig:
    return (
        dashboard.ThresholdsConfig()
        .mode(dashboard_model.ThresholdsMode.ABSOLUTE)
        .steps([dashboard_model.Threshold(value=s.value, color=s.color) for s in steps])
    )


# Common threshold shapes.
def higher_is_better(warn: float, ok: float) -> dashboard.ThresholdsConfig:
    return thresholds(Step(None, RED), Step(warn, ORANGE), Step(ok, GREEN))


def lower_is_better(warn: float, bad: float) -> dashboard.ThresholdsConfig:
    return thresholds(Step(None, GREEN), Step(warn, ORANGE), Step(bad, RED))


def _sized(panel, title: str, description: str, width: int, height: int):
    return panel.title(title).description(description).span(width).height(height)


def timeseries_panel(
    title: str,
    description: str,
    targets: Sequence[cogbuilder.Builder],
    *,
    unit: str,
    width: int = HALF,
    height: int = 8,
    datasource: common.DataSourceRef = PROMETHEUS,
    threshold_config: dashboard.ThresholdsConfig | None = None,
    show_thresholds: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
    stacked: bool = False,
    time_from: str | None = None,
    min_interval: str | None = None,
) -> timeseries.Panel:
    panel = _sized(timeseries.Panel(), title, description, width, height).datasource(datasource).unit(unit)
    panel = panel.line_width(1).fill_opacity(10).show_points(common.VisibilityMode.NEVER)
    panel = panel.legend(
        common_builder.VizLegendOptions()
        .display_mode(common.LegendDisplayMode.TABLE)
        .placement(common.LegendPlacement.BOTTOM)
        .show_legend(True)
        .calcs(["lastNotNull", "max"])
    )
    panel = panel.tooltip(common_builder.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI).sort(common.SortOrder.DESCENDING))
    if threshold_config is not None:
        panel = panel.thresholds(threshold_config)
        if show_thresholds:
            panel = panel.thresholds_style(
                common_builder.GraphThresholdsStyleConfig().mode(common.GraphThresholdsStyleMode.LINE)
            )
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    if stacked:
        panel = panel.stacking(common_builder.StackingConfig().mode(common.StackingMode.NORMAL)).fill_opacity(40)
    if time_from is not None:
        panel = panel.time_from(time_from)
    if min_interval is not None:
        # The panel's minimum step. Thanos Query reads downsampled blocks up to step / 5
        # (monitoring/windows.py), so a window beyond raw retention needs a long enough step.
        panel = panel.interval(min_interval)
    for ref, target in zip(_ref_ids(), targets):
        panel = panel.with_target(target.ref_id(ref))
    return panel


def stat_panel(
    title: str,
    description: str,
    targets: Sequence[cogbuilder.Builder],
    *,
    unit: str,
    threshold_config: dashboard.ThresholdsConfig | None = None,
    width: int = SIXTH,
    height: int = 4,
    decimals: int | None = None,
    sparkline: bool = False,
) -> stat.Panel:
    panel = _sized(stat.Panel(), title, description, width, height).datasource(PROMETHEUS).unit(unit)
    panel = panel.reduce_options(common_builder.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    panel = panel.color_mode(common.BigValueColorMode.BACKGROUND if threshold_config else common.BigValueColorMode.NONE)
    panel = panel.graph_mode(common.BigValueGraphMode.AREA if sparkline else common.BigValueGraphMode.NONE)
    if threshold_config is not None:
        panel = panel.thresholds(threshold_config)
    if decimals is not None:
        panel = panel.decimals(decimals)
    for ref, target in zip(_ref_ids(), targets):
        panel = panel.with_target(target.ref_id(ref))
    return panel


def bar_gauge_panel(
    title: str,
    description: str,
    targets: Sequence[cogbuilder.Builder],
    *,
    unit: str,
    threshold_config: dashboard.ThresholdsConfig | None = None,
    width: int = HALF,
    height: int = 8,
    minimum: float | None = None,
    maximum: float | None = None,
) -> bargauge.Panel:
    panel = _sized(bargauge.Panel(), title, description, width, height).datasource(PROMETHEUS).unit(unit)
    panel = panel.orientation(common.VizOrientation.HORIZONTAL).display_mode(common.BarGaugeDisplayMode.GRADIENT)
    panel = panel.reduce_options(common_builder.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    if threshold_config is not None:
        panel = panel.thresholds(threshold_config)
    if minimum is not None:
        panel = panel.min(minimum)
    if maximum is not None:
        panel = panel.max(maximum)
    for ref, target in zip(_ref_ids(), targets):
        panel = panel.with_target(target.ref_id(ref))
    return panel


def table_panel(
    title: str,
    description: str,
    targets: Sequence[cogbuilder.Builder],
    *,
    unit: str = "short",
    datasource: common.DataSourceRef = PROMETHEUS,
    width: int = FULL,
    height: int = 8,
    threshold_config: dashboard.ThresholdsConfig | None = None,
    data_links: Sequence[dashboard.DashboardLink] = (),
    link_field: str | None = None,
) -> table.Panel:
    """A table; `data_links` attach to the `link_field` column (or to every cell if None)."""
    panel = _sized(table.Panel(), title, description, width, height).datasource(datasource).unit(unit)
    if threshold_config is not None:
        panel = panel.thresholds(threshold_config)
    if data_links:
        if link_field is None:
            panel = panel.data_links(list(data_links))
        else:
            panel = panel.override_by_name(
                link_field,
                [dashboard_model.DynamicConfigValue(id_val="links", value=[_data_link(link) for link in data_links])],
            )
    for ref, target in zip(_ref_ids(), targets):
        panel = panel.with_target(target.ref_id(ref))
    return panel


def _data_link(link: dashboard.DashboardLink) -> dict:
    """A field data link: only the keys Grafana reads for one (the SDK's link type is the dashboard
    link, which carries dashboard-link-only keys such as `asDropdown`)."""
    built = link.build()
    return {"title": built.title, "url": built.url, "targetBlank": bool(built.target_blank)}


def logs_panel(title: str, description: str, query: str, *, width: int = FULL, height: int = 10) -> logs_builder.Panel:
    panel = _sized(logs_builder.Panel(), title, description, width, height).datasource(ELASTICSEARCH)
    panel = panel.show_time(True).wrap_log_message(True).enable_log_details(True)
    panel = panel.sort_order(common.LogsSortOrder.DESCENDING)
    return panel.with_target(lucene(query, metric="logs").ref_id("A"))


def row(title: str) -> dashboard.Row:
    return dashboard.Row(title)


def _ref_ids() -> Iterable[str]:
    return (chr(ord("A") + i) for i in range(26))


# --- assembly ---------------------------------------------------------------------------------


def new_dashboard(uid: str, title: str, description: str, tags: Sequence[str], time_from: str = "now-24h") -> dashboard.Dashboard:
    builder = (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["terrafusion", *tags])
        .timezone("browser")
        .time(time_from, "now")
        .refresh("1m")
        .tooltip(dashboard_model.DashboardCursorSync.CROSSHAIR)
        .editable()
    )
    for annotation in standard_annotations():
        builder = builder.annotation(annotation)
    return builder


def add_panels(builder: dashboard.Dashboard, panels: Sequence[object]) -> dashboard.Dashboard:
    """Rows and panels in reading order (rows stay expanded, so panels follow their row header)."""
    for panel in panels:
        builder = builder.with_row(panel) if isinstance(panel, dashboard.Row) else builder.with_panel(panel)
    return builder


def to_model(builder: dashboard.Dashboard) -> dict:
    """The dashboard as a plain JSON dict: laid out, panel ids numbered in order, keys sorted.

    Grafana would assign missing panel ids itself, differently on every import; explicit ids keep
    the render byte-identical and panel links (`viewPanel=<id>`) stable.
    """
    model = json.loads(json.dumps(builder.build(), cls=JSONEncoder))
    _flow_layout(model.get("panels", []))
    for number, panel in enumerate(model.get("panels", []), start=1):
        panel["id"] = number
    return json.loads(json.dumps(model, sort_keys=True))


def _flow_layout(panels: list[dict]) -> None:
    """Left to right, wrapping at 24 columns; a row header always starts a new line.

    The SDK places a panel where the previous one ended even when it no longer fits the line, so the
    layout is recomputed here from the panels' widths and heights.
    """
    x = y = line_height = 0
    for panel in panels:
        pos = panel["gridPos"]
        if panel.get("type") == "row":
            y += line_height
            pos.update(x=0, y=y, w=FULL, h=1)
            x, y, line_height = 0, y + 1, 0
            continue
        if x + pos["w"] > FULL:
            x, y, line_height = 0, y + line_height, 0
        pos.update(x=x, y=y)
        x += pos["w"]
        line_height = max(line_height, pos["h"])
