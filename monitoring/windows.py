"""Every window has its data: where each rule group is evaluated, and whether the engine that
evaluates a rule (or serves a panel) keeps the whole range the expression reads.

- Prometheus evaluates rules on its local TSDB only, so a rule is correct only if its lookback fits
  in `prometheus.retention`. Ref: thanos-io/thanos@v0.42.4 docs/components/rule.md ("Risk": keep
  rules in Prometheus; the ruler only for what Prometheus cannot evaluate).
- Recording groups whose lookback does not fit are evaluated by the Thanos Ruler (the operator's
  ThanosRuler), which queries Thanos Query, i.e. the bucket: its instant queries read raw blocks
  only (`--query.instant.default.max_source_resolution` defaults to 0s), so those groups need
  `thanos.compactor.retentionRaw`. Ref: thanos-io/thanos@v0.42.4 cmd/thanos/query.go.
  Alerting groups stay in Prometheus (a page should not depend on the query path), except a group
  of non-paging alerts only (P3/P4: a ticket in business hours) that reads what Prometheus does not
  keep, e.g. the anomaly alerts on the seasonal baselines (monitoring/anomaly.py): it goes to the
  Thanos Ruler with the records it reads.
- Grafana's Thanos panels read raw blocks, and the 5m / 1h tiers only when the query may use them:
  Thanos Query runs with `--query.auto-downsampling` (QUERY_AUTO_DOWNSAMPLING), so a range query's
  max source resolution is step / 5, and a panel's minimum step (`interval`) decides which tiers it
  may read. Ref: thanos-io/thanos@v0.42.4 pkg/api/query/v1.go parseDownsamplingParamMillis (step/5;
  an explicit `max_source_resolution` wins) and pkg/queryfrontend/queryrange_codec.go (the
  frontend forwards "auto" and never sends 0).
- InfluxQL reads the database's DEFAULT retention policy (`raw`) unless FROM names one.
  Ref: https://docs.influxdata.com/influxdb/v1/query_language/explore-data/#from-clause

The lookback of an expression is range + offset + subquery range, nested; an instant selector adds
the 5m staleness lookback. A rule that reads a recorded series inherits the lookback of the rule
that records it (its value is only as complete as its input). `check_windows` returns the problems
as one-line messages naming the retention's key, as the caller names it (Retentions.keys: the stack
settings pass the stack-file keys, and raise the first problem).

Pure module: PromQL is parsed with promql_parser (as monitoring/metrics_contract.py does).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from monitoring.durations import format_duration, parse_duration
from monitoring.severity import SEVERITIES

PROMETHEUS = "prometheus"
THANOS_RULER = "thanos-ruler"
# The label on each PrometheusRule that says who evaluates it: Prometheus selects the objects
# without it (NotIn), the ThanosRuler those with it. One label, so no group is evaluated twice.
EVALUATOR_LABEL = "terrafusion.io/evaluator"
# File stem suffix of the rule files the Thanos Ruler evaluates (PrometheusRule terrafusion-<stem>-ruler).
RULER_FILE_SUFFIX = "-ruler"

# Thanos Query flag that makes range queries read downsampled blocks when their step allows it.
QUERY_AUTO_DOWNSAMPLING = "--query.auto-downsampling"
# Downsampled resolutions and the retention key of each tier. Ref: thanos-io/thanos@v0.42.4
# docs/components/compact.md ("Downsampling": 5m and 1h resolutions).
RESOLUTIONS = (("raw", 0.0), ("5m", 300.0), ("1h", 3600.0))
# The severities that page nobody (no response time at any hour): their alerts may be evaluated by
# the Thanos Ruler when their data is only there.
NON_PAGING = frozenset(s.value for s, policy in SEVERITIES.items() if not policy.pages)
# Prometheus' default lookback delta: an instant selector reads up to 5m back.
# Ref: prometheus/prometheus docs/querying/basics.md ("Staleness").
LOOKBACK_DELTA_SECONDS = 300.0


def usable(retention_seconds: float) -> float:
    """The part of a retention a window may use: 10% (at least 2h) is kept as margin for the block
    being uploaded, compaction and retention runs, and clock skew."""
    return retention_seconds - max(0.1 * retention_seconds, 7200.0)


# --- lookbacks -------------------------------------------------------------------------------


class LookbackError(ValueError):
    pass


# A stack's expressions are analysed several times (settings validation, where each group is
# evaluated, the rule files' split): each distinct expression is parsed once per process.
_CACHE_SIZE = 8192


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse(expr: str) -> Any:
    import promql_parser as pp

    return pp.parse(expr)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def selector_reaches(expr: str) -> tuple[tuple[str | None, float, float], ...]:
    """(metric name, offset, span) of every selector of `expr`: it reads `span` back (its range, or
    the staleness lookback of an instant selector) from `offset` before the evaluation time (a
    subquery's offset and range added to those of the selectors inside it)."""
    import promql_parser as pp

    def seconds(delta: Any) -> float:
        return delta.total_seconds() if delta is not None else 0.0

    out: list[tuple[str | None, float, float]] = []

    def walk(node: Any, shift: float) -> None:
        if getattr(node, "at", None) is not None or getattr(getattr(node, "vector_selector", None), "at", None) is not None:
            raise LookbackError("uses the @ modifier: its range is not relative to the evaluation time")
        if isinstance(node, pp.MatrixSelector):
            out.append((_selector_name(node.vector_selector), shift + seconds(node.vector_selector.offset), seconds(node.range)))
        elif isinstance(node, pp.VectorSelector):
            out.append((_selector_name(node), shift + seconds(node.offset), LOOKBACK_DELTA_SECONDS))
        elif isinstance(node, pp.SubqueryExpr):
            walk(node.expr, shift + seconds(node.offset) + seconds(node.range))
        elif isinstance(node, pp.Call):
            for a in node.args:
                walk(a, shift)
        elif isinstance(node, pp.BinaryExpr):
            walk(node.lhs, shift)
            walk(node.rhs, shift)
        elif isinstance(node, pp.AggregateExpr):
            walk(node.expr, shift)
            if node.param is not None:
                walk(node.param, shift)
        elif isinstance(node, (pp.ParenExpr, pp.UnaryExpr)):
            walk(node.expr, shift)

    walk(_parse(expr), 0.0)
    return tuple(out)


def lookback_seconds(expr: str, recorded: Mapping[str, float] | None = None) -> float:
    """The longest range back from the evaluation time that `expr` reads; with `recorded` (record
    name -> its own lookback), what a selector of a record reads back includes the record's: from
    the selector's offset, the longer of its span and the record's lookback (a record read at
    `offset 2d` whose value covers a day reaches 3d back)."""
    recorded = recorded or {}
    return max(
        (offset + max(span, recorded.get(name, 0.0) if name else 0.0) for name, offset, span in selector_reaches(expr)),
        default=0.0,
    )


def _selector_name(node: Any) -> str | None:
    """The metric name a vector selector selects: its name, or an `__name__="..."` matcher's."""
    if node.name:
        return node.name
    return next((m.value for m in node.matchers.matchers if m.name == "__name__" and str(m.op) == "MatchOp.Equal"), None)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def selected_names(expr: str) -> frozenset[str]:
    """Metric names an expression selects (recorded series included)."""
    return frozenset(name for name, _, _ in selector_reaches(expr) if name)


@dataclass(frozen=True)
class RuleWindow:
    stem: str
    group: str
    name: str  # record or alert name
    record: str | None
    own: float  # the expression's own lookback
    lookback: float  # own, or the recorded inputs' if longer
    via: str | None  # the recorded input the lookback comes from, when inherited
    reads: frozenset[str]
    # An alert whose severity pages (or is not a fixed P-level): its group stays in Prometheus.
    pages: bool = False


def rule_windows(rule_files: Mapping[str, Mapping[str, Any]]) -> list[RuleWindow]:
    """The lookback of every rule, recorded inputs folded in (by record name, longest producer)."""
    raw = []
    for stem, content in rule_files.items():
        for group in content.get("groups", []):
            for rule in group.get("rules", []):
                expr = str(rule["expr"])
                raw.append((stem, group["name"], rule, lookback_seconds(expr), frozenset(selected_names(expr))))
    recorded: dict[str, float] = {}
    # Fold until stable: a record may read a record that reads a record.
    for _ in range(len(raw) + 1):
        changed = False
        for _stem, _group, rule, own, reads in raw:
            if "record" not in rule:
                continue
            best = lookback_seconds(str(rule["expr"]), _inputs(recorded, rule))
            if best > recorded.get(rule["record"], -1.0):
                recorded[rule["record"]] = best
                changed = True
        if not changed:
            break
    out = []
    for stem, group, rule, own, reads in raw:
        expr, inputs = str(rule["expr"]), _inputs(recorded, rule)
        lookback = lookback_seconds(expr, inputs)
        # The recorded input the lookback comes from, when it is longer than the expression's own.
        via = max(sorted(n for n in inputs if n in reads), key=lambda n: lookback_seconds(expr, {n: inputs[n]})) if lookback > own else None
        pages = "alert" in rule and (rule.get("labels") or {}).get("severity") not in NON_PAGING
        out.append(RuleWindow(stem, group, rule.get("alert") or rule["record"], rule.get("record"), own, lookback, via, reads, pages))
    return out


def _inputs(recorded: Mapping[str, float], rule: Mapping[str, Any]) -> dict[str, float]:
    """The lookbacks of the records a rule may read: every record but its own."""
    return {n: v for n, v in recorded.items() if n != rule.get("record")}


# --- where each group is evaluated -----------------------------------------------------------


def group_evaluators(rule_files: Mapping[str, Mapping[str, Any]], prometheus_retention: str) -> dict[tuple[str, str], str]:
    """(stem, group) -> PROMETHEUS or THANOS_RULER.

    A group goes to the Thanos Ruler when it has no paging alert (NON_PAGING) and either reads more
    than Prometheus keeps (with margin) or reads a series only the ruler records (Prometheus never
    sees those).
    """
    return _evaluators(rule_windows(rule_files), prometheus_retention)


def _evaluators(windows: list[RuleWindow], prometheus_retention: str) -> dict[tuple[str, str], str]:
    local = usable(parse_duration(prometheus_retention))
    by_group: dict[tuple[str, str], list[RuleWindow]] = {}
    for w in windows:
        by_group.setdefault((w.stem, w.group), []).append(w)
    evaluators = {key: PROMETHEUS for key in by_group}
    for _ in range(len(by_group) + 1):
        ruler_records = {w.record for key, ws in by_group.items() if evaluators[key] == THANOS_RULER for w in ws if w.record}
        changed = False
        for key, ws in by_group.items():
            if evaluators[key] == THANOS_RULER or any(w.pages for w in ws):
                continue
            if max(w.lookback for w in ws) > local or any(w.reads & ruler_records for w in ws):
                evaluators[key] = THANOS_RULER
                changed = True
        if not changed:
            break
    return evaluators


@dataclass(frozen=True)
class EvaluatedRuleFile:
    stem: str
    evaluator: str
    content: dict[str, Any]


def split_rule_files(rule_files: Mapping[str, Mapping[str, Any]], prometheus_retention: str) -> list[EvaluatedRuleFile]:
    """Each rule file, split by evaluator: `<stem>` for Prometheus, `<stem>-ruler` for the ruler."""
    evaluators = group_evaluators(rule_files, prometheus_retention)
    out = []
    for stem, content in rule_files.items():
        for evaluator, suffix in ((PROMETHEUS, ""), (THANOS_RULER, RULER_FILE_SUFFIX)):
            groups = [g for g in content.get("groups", []) if evaluators[(stem, g["name"])] == evaluator]
            if groups or (evaluator == PROMETHEUS and not content.get("groups")):
                out.append(EvaluatedRuleFile(stem + suffix, evaluator, {**content, "groups": groups}))
    return out


# --- what each engine keeps ------------------------------------------------------------------


@dataclass(frozen=True)
class Retentions:
    """The data each engine keeps, with the key that sets each figure (for the messages)."""

    prometheus: str  # Prometheus' local retention
    thanos: Mapping[str, str]  # resolution ("raw", "5m", "1h") -> the compactor's retention of it
    # InfluxDB retention policy -> (its duration, "INF" = forever; its key)
    influx: Mapping[str, tuple[str, str]]
    influx_default: str  # the DEFAULT retention policy (FROM without one)
    scrape_interval: str
    # The key of each figure: "prometheus", each Thanos resolution, and "influx" (the retention
    # policies as a whole, for a panel that reads one the schema does not create).
    keys: Mapping[str, str]
    auto_downsampling: bool = True


def _kept(duration: str) -> float:
    return float("inf") if duration.upper() == "INF" else parse_duration(duration)


def _problem(key: str, kept: str, need: float, what: str) -> str:
    return f"{key}: {kept} is shorter than the {format_duration(need)} window of {what}"


def check_rules(rule_files: Mapping[str, Mapping[str, Any]], r: Retentions) -> list[str]:
    windows = rule_windows(rule_files)
    evaluators = _evaluators(windows, r.prometheus)
    ruler_records = {w.record for w in windows if w.record and evaluators[(w.stem, w.group)] == THANOS_RULER}
    problems = []
    for w in windows:
        evaluator = evaluators[(w.stem, w.group)]
        via = f" via {w.via}" if w.via else ""
        what = f"{w.name} (group {w.group}{via})"
        if evaluator == PROMETHEUS:
            if read := sorted(w.reads & ruler_records):
                problems.append(
                    f"{r.keys['prometheus']}: {r.prometheus} is too short for group {w.group}: {w.name} reads "
                    f"{read[0]}, which only the Thanos Ruler records (move the alert's window inside the retention)"
                )
            elif w.lookback > usable(parse_duration(r.prometheus)):
                problems.append(_problem(r.keys["prometheus"], r.prometheus, w.lookback, what))
        elif w.lookback > usable(_kept(r.thanos["raw"])):
            problems.append(_problem(r.keys["raw"], r.thanos["raw"], w.lookback, f"{what}, evaluated by the Thanos Ruler"))
    return problems


# --- dashboards ------------------------------------------------------------------------------

_GRAFANA_RANGE_VAR = re.compile(r"\$\{?(__range|__rate_interval|__interval)(?:_ms|_s)?\}?")
_GRAFANA_VAR = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")
# FROM [<database>.][<retention policy>.]<measurement>, each part optionally double-quoted.
_INFLUX_FROM = re.compile(r'\bFROM\s+((?:"[^"]+"|[\w:-]+)(?:\.(?:"[^"]*"|[\w:-]*))*)', re.IGNORECASE)


def _relative(text: str) -> float:
    """Grafana's `now-7d` (dashboard time) or `7d` (panel timeFrom) as seconds."""
    text = text.strip()
    text = text.removeprefix("now-")
    return parse_duration(text)


def _panels(panels: Iterable[Mapping[str, Any]]) -> Iterable[Mapping[str, Any]]:
    for panel in panels or []:
        yield panel
        yield from _panels(panel.get("panels", []))


def _ds_type(ds: Any, default: str) -> str:
    if isinstance(ds, Mapping) and ds.get("type"):
        return str(ds["type"])
    return default


def _promql_for_window(expr: str, window: float, min_step: float, scrape: float) -> str:
    """Grafana's range variables as the durations Grafana gives them at this window and step.
    Ref: https://grafana.com/docs/grafana/latest/datasources/prometheus/template-variables/
    ($__rate_interval = max($__interval + scrape interval, 4 x scrape interval))."""
    values = {"__range": window, "__interval": min_step, "__rate_interval": max(min_step + scrape, 4 * scrape)}
    expr = _GRAFANA_RANGE_VAR.sub(lambda m: f"{int(values[m.group(1)])}s", expr)
    return _GRAFANA_VAR.sub("1", expr) if "$" in expr or "[[" in expr else expr


def _thanos_kept(r: Retentions, min_step: float) -> tuple[str, float]:
    """The coarsest tier a Thanos range query may read at this minimum step, and how far back it
    reaches (coarser tiers are kept longer: the settings require raw <= 5m <= 1h)."""
    best = "raw"
    for name, resolution in RESOLUTIONS[1:]:
        if r.auto_downsampling and min_step / 5 >= resolution:
            best = name
    return best, _kept(r.thanos[best])


def check_dashboards(dashboards: Iterable[tuple[str, Mapping[str, Any]]], r: Retentions) -> list[str]:
    """(title, model) of each dashboard: every Thanos or InfluxDB panel's window against its data."""
    scrape = parse_duration(r.scrape_interval)
    problems = []
    for title, model in dashboards:
        dashboard_window = _relative(str((model.get("time") or {}).get("from", "now-6h")))
        for panel in _panels(model.get("panels", [])):
            window = _relative(str(panel["timeFrom"])) if panel.get("timeFrom") else dashboard_window
            panel_type = _ds_type(panel.get("datasource"), "prometheus")
            min_step = parse_duration(str(panel["interval"])) if panel.get("interval") else scrape
            what = f"panel {panel.get('title', '')!r} (dashboard {title})"
            found = len(problems)
            for target in panel.get("targets") or []:
                if len(problems) > found:
                    break  # one problem per panel
                ds_type = _ds_type(target.get("datasource"), panel_type)
                if ds_type == "prometheus" and target.get("expr"):
                    expr = _promql_for_window(str(target["expr"]), window, min_step, scrape)
                    lookback = lookback_seconds(expr)
                    need = lookback if target.get("instant") else window + lookback
                    tier, kept = _thanos_kept(r, min_step)
                    if need > usable(kept):
                        problems.append(_problem(r.keys[tier], r.thanos[tier], need, what))
                elif ds_type == "influxdb" and target.get("query"):
                    rp = influx_retention_policy(str(target["query"])) or r.influx_default
                    if rp not in r.influx:
                        problems.append(f"{r.keys['influx']}: {what} reads retention policy {rp!r}, which the schema does not create")
                        continue
                    kept, key = r.influx[rp]
                    if window > usable(_kept(kept)):
                        problems.append(_problem(key, kept, window, f"{what}, retention policy {rp}"))
    return problems


def influx_retention_policy(query: str) -> str | None:
    """The retention policy an InfluxQL FROM names (`"db"."rp"."m"` or `"rp"."m"`), else None."""
    match = _INFLUX_FROM.search(query)
    if match is None:
        return None
    names, current, quoted = [], "", False
    for char in match.group(1):
        if char == '"':
            quoted = not quoted
        elif char == "." and not quoted:
            names.append(current)
            current = ""
        else:
            current += char
    names.append(current)
    # "db".."m" names the database and leaves the policy empty: the DEFAULT one.
    return (names[-2] or None) if len(names) >= 2 else None


def check_windows(
    rule_files: Mapping[str, Mapping[str, Any]], dashboards: Iterable[tuple[str, Mapping[str, Any]]], r: Retentions
) -> list[str]:
    """Every rule and panel of a stack against the data its engine keeps; [] when all fit."""
    return [*check_rules(rule_files, r), *check_dashboards(dashboards, r)]
