"""The history `make bench` measures on (tools/bench_history.py) is what the issue asks for: at
least 1000 series of every metric an SLO reads, the SLOs' 5m records beside them, and an old
formulation that reads every SLO window from raw series."""

from __future__ import annotations

import re
from collections import defaultdict

import pytest

from tests.engines import instant_query, run_prometheus
from tests.helpers import require_engine
from tests.history import HISTORY_FLAGS, REMOTE_WRITE_RECEIVER
from tests.monitoring.alerting_helpers import make_spec

from monitoring.alert_rules import catalogue_records
from monitoring.otel import BROWSER_BUCKETS_SECONDS, CONTRACT_BUCKET_BOUNDS_SECONDS
from monitoring.slo import (
    PERIOD_GROUP_SUFFIX,
    PERIOD_SUFFIX,
    SLOW_GROUP_SUFFIX,
    TILES_GROUP_SUFFIX,
    derived_inputs,
    effective_slos,
    format_number,
    group_slo_id,
    is_derived,
    le_matcher,
    ratio_record,
    recorded_inputs,
)
from monitoring.slo_catalogue import EventRatioSli, GaugeLimitSli, LatencySli, UptimeSli
from tools import bench_history


def _selectors(slo) -> list[str]:
    sli = slo.sli
    if isinstance(sli, EventRatioSli):
        return [sli.bad, sli.total]
    if isinstance(sli, LatencySli):
        return [f"{sli.metric}_bucket{{{le_matcher(sli.threshold_seconds)}}}", f"{sli.metric}_count"]
    if isinstance(sli, (UptimeSli, GaugeLimitSli)):
        return [sli.metric]
    raise AssertionError(type(sli).__name__)


@pytest.fixture(scope="module")
def raw() -> list[bench_history.Series]:
    """The bench's raw series (read-only: 52,600 of them, shared by the module's tests)."""
    return bench_history._raw_series()


@pytest.fixture(scope="module")
def named(raw) -> dict[str, list[bench_history.Series]]:
    """The raw series by metric name, so that a selector is matched against its metric's series only."""
    out = defaultdict(list)
    for series in raw:
        out[series.name].append(series)
    return dict(out)


def _matching(named, selector: str) -> list[bench_history.Series]:
    """The raw series a `name{matchers}` selector selects (bench_history._matcher)."""
    match = bench_history._matcher(selector)
    return [s for s in named.get(selector.split("{")[0], []) if match(s)]


def test_every_slo_metric_has_at_least_1000_synthetic_series(named):
    for slo in effective_slos(make_spec()):
        for selector in _selectors(slo):
            assert len(_matching(named, selector.split("{")[0])) >= 1000, (slo.id, selector)
            assert _matching(named, selector), (slo.id, selector)


def test_every_histogram_has_the_buckets_its_producer_emits(named):
    # The series count the 1M extrapolation scales holds every bucket a quantile reads: the
    # browsers' histograms as the collector builds them, the API's and the database client's at
    # least at the bounds the application contract asks for; each with +Inf, _count and _sum.
    contract = {"browser_page_load_duration_seconds": BROWSER_BUCKETS_SECONDS,
                "browser_time_to_interactive_seconds": BROWSER_BUCKETS_SECONDS,
                "http_server_request_duration_seconds": CONTRACT_BUCKET_BOUNDS_SECONDS,
                "db_client_operation_duration_seconds": bench_history.DB_BOUNDS}  # fmt: skip
    for metric, bounds in contract.items():
        counts = named.get(f"{metric}_count", [])
        assert counts and len(named.get(f"{metric}_sum", [])) == len(counts), metric
        for count in counts[:: len(counts) // 7]:
            buckets = [s for s in named[f"{metric}_bucket"] if set(count.labels) < set(s.labels)]
            assert {dict(s.labels)["le"] for s in buckets} >= {format_number(b) for b in bounds} | {"+Inf"}, (metric, count.labels)
            values = [s.value for s in buckets]
            assert values == sorted(values) and max(values) == count.value, metric  # cumulative, +Inf is the count


def test_the_history_holds_the_catalogue_records_its_alerts_read_at_earlier_instants(raw, named):
    records = bench_history._catalogue_record_series(raw)
    rate_records = [r for r in catalogue_records() if r.rate_of]
    assert {r.record for r in rate_records} == {s.name for s in records} and len(rate_records) >= 2
    for rule in rate_records:
        selector, by = rule.rate_of
        want = {tuple((k, dict(s.labels)[k]) for k in by) for s in _matching(named, selector)}
        assert {s.labels for s in records if s.name == rule.record} == want, rule.record


def test_the_history_holds_each_slos_records_per_slo_label_value(raw, named):
    spec = make_spec()
    records = bench_history._record_series(spec, raw)
    for slo in effective_slos(spec):
        values = {dict(s.labels)[slo.label] for s in _matching(named, _selectors(slo)[-1])}
        for name in recorded_inputs(slo):
            got = {dict(r.labels)[slo.label] for r in records if r.name == name and dict(r.labels)["slo"] == slo.id}
            assert got == values, (slo.id, name)


def test_the_old_formulation_reads_every_slo_window_from_raw_series():
    spec = make_spec()
    old = bench_history._groups(bench_history.old_rule_files(spec))
    new = bench_history._groups(bench_history.new_rule_files(spec))
    # The same groups less the slow, tiles and period groups (the old formulation evaluates every
    # window and alert in the alerting group, has no tiles, and the SLO window in the budget group).
    later = (SLOW_GROUP_SUFFIX, TILES_GROUP_SUFFIX, PERIOD_GROUP_SUFFIX)
    assert [g["name"] for g in old] == [g["name"] for g in new if not g["name"].endswith(later)]

    def names(groups, *group_names):
        return sorted((r.get("record") or r["alert"], r["labels"].get("severity", "")) for g in groups
                      if g["name"] in group_names for r in g["rules"])

    for slo in effective_slos(spec):
        inputs = {r for r in (*recorded_inputs(slo), *derived_inputs(slo)) if not r.startswith("slo:sli_error:ratio_rate") or r.endswith("_tile")}
        alerting, slow = f"slo-{slo.id}", f"slo-{slo.id}{SLOW_GROUP_SUFFIX}"
        assert names(old, alerting) == [n for n in names(new, alerting, slow) if n[0] not in inputs], slo.id
    reads_records = re.compile(r"slo:sli_(bad|total):rate(5m|30m)|slo:sli_error:ratio_rate(5m|30m)(_tile)?\{")
    slos = {s.id: s for s in effective_slos(spec)}
    derived = 0
    for o in old:
        for rule in o["rules"]:
            if rule.get("record", "").startswith("slo:sli_error:ratio_rate"):
                assert not reads_records.search(rule["expr"]), (o["name"], rule["record"])
    for n in new:
        slo = slos.get(group_slo_id(n["name"]) or "")
        for rule in n["rules"]:
            name = rule.get("record", "")
            window = name.removeprefix("slo:sli_error:ratio_rate").removesuffix(PERIOD_SUFFIX)
            if PERIOD_SUFFIX in rule["expr"]:
                continue  # the budget group's copy of the period group's record (checked there)
            if slo and name.startswith("slo:sli_error:ratio_rate") and not name.endswith("_tile") and is_derived(slo, window) and name != ratio_record("5m"):
                assert reads_records.search(rule["expr"]), (n["name"], name)
                derived += 1
    assert derived > 0


def test_the_newest_history_goes_into_the_head_of_both_engines(named, tmp_path):
    """The bench pushes the newest HEAD_SPAN through the remote-write receiver (tests/history.py
    `push_head`): the head takes every sample, in 2.42 and 3.5.3 alike, and no block holds them."""
    series = named["pg_up"][:3]
    step = 120
    for generation in ("2", "3"):
        prometheus = require_engine("prometheus", generation)
        with run_prometheus(prometheus, tmp_path / generation, flags=(*HISTORY_FLAGS, REMOTE_WRITE_RECEIVER)) as prom:
            bench_history.push_head_history(prom.url, series, step)
            # A minute more than the head's span: 3.x's left-open range keeps the first sample too.
            answer = instant_query(prom.url, f"count_over_time(pg_up[{bench_history.HEAD_SPAN + 60}s])", at=bench_history.END)
        counts = sorted(float(r["value"][1]) for r in answer["data"]["result"])
        assert counts == [bench_history.HEAD_SPAN / step] * len(series), generation
        assert not [p for p in (tmp_path / generation / "data").iterdir() if (p / "meta.json").is_file()]


def test_the_breakdown_adds_a_rule_up_over_its_groups_each_once_per_its_interval():
    cost = bench_history.RuleCost
    costs = [
        cost("slo-a", "slo:sli_total:rate5m", "raw", 30.0, 300.0, 0.3, 10.0),
        cost("slo-b", "slo:sli_total:rate5m", "raw", 30.0, 300.0, 0.2, 10.0),
        cost("slo-a-budget", "slo:sli_error:ratio_rate30d", "tile", 300.0, 2592000.0, 4.0, 10.0),
        cost("api-red", "ApiHighLatency", "raw", 30.0, 300.0, 0.1, 10.0),
    ]
    ranked = bench_history.by_rule(costs)
    assert [rule for rule, _ in ranked] == ["slo:sli_total:rate5m", "slo:sli_error:ratio_rate30d", "ApiHighLatency"]
    assert [round(seconds, 9) for _, seconds in ranked] == [0.5, 0.4, 0.1]
    assert round(sum(seconds for _, seconds in ranked), 9) == round(bench_history.load(costs), 9)
