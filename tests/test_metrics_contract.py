"""Issue 9, class 1: every series a rule, SLO or panel reads has a producer in the stack that runs it.

The stack tests render dev and prod (tools.render, the same output `make render` writes) and run the
checker of monitoring/metrics_contract.py over every rule, SLO SLI, dashboard panel, dashboard
variable and datasource query. The unit tests pin the checker itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from monitoring import metrics_contract as mc

STACKS = ("dev", "prod")


@pytest.fixture(scope="module")
def rendered(rendered_dirs) -> dict[str, Path]:
    return rendered_dirs


@pytest.fixture(scope="module")
def checked(rendered) -> dict[str, tuple]:
    """The checker's verdict on each stack's render, once for the module: (inventory, expressions, problems)."""
    return {stack: mc.check_stack(stack, rendered[stack]) for stack in STACKS}


# --- the stacks ---------------------------------------------------------------------------------


# The gaps issue 9 has still to close (producers not deployed yet, names and labels to fix), one line
# each: stack, kind, metric, label, where it is read. A ratchet, not an allow-list: a problem that is
# not listed fails, and so does a listed one that no longer occurs (delete its line).
KNOWN_GAPS = Path(__file__).parent / "data" / "metric_gaps.tsv"


def gap_key(problem: mc.Problem) -> str:
    return "\t".join((problem.stack, problem.kind, problem.metric, problem.label, problem.expression.where))


def known_gaps(stack: str) -> set[str]:
    lines = [line for line in KNOWN_GAPS.read_text().splitlines() if line and not line.startswith("#")]
    return {line for line in lines if line.split("\t", 1)[0] == stack}


@pytest.mark.parametrize("stack", STACKS)
def test_every_expression_has_a_producer_and_its_labels(checked, stack):
    inv, expressions, problems = checked[stack]
    new = [p for p in problems if gap_key(p) not in known_gaps(stack)]
    if new:
        pytest.fail(
            f"{len(new)} new problems in {len(expressions)} expressions of {stack} "
            f"(producers deployed: {', '.join(sorted(inv.producers))}):\n{mc.format_problems(new)}",
            pytrace=False,
        )


@pytest.mark.parametrize("stack", STACKS)
def test_every_known_gap_still_occurs(checked, stack):
    _, _, problems = checked[stack]
    assert sorted(known_gaps(stack) - {gap_key(p) for p in problems}) == []


@pytest.mark.parametrize("stack", STACKS)
def test_every_kind_of_expression_is_checked(rendered, stack):
    expressions = mc.collect_expressions(stack, rendered[stack])
    sources = {e.source for e in expressions}
    assert {"rule", "slo", "panel", "variable", "datasource"} <= sources
    rule_files = {e.file for e in expressions if e.source == "rule"}
    assert len(rule_files) == len(list((rendered[stack] / "prometheus" / "rules").glob("*.yaml")))
    # kube-prometheus-stack's dashboards are read from the ConfigMaps the sidecar loads (patched),
    # exactly the kept ones (monitoring/dashboards/upstream.py).
    from monitoring.dashboards.upstream import KEPT

    config_maps = {e.file for e in expressions if e.source == "panel" and e.file.startswith("objects/kube-prometheus-stack")}
    assert {Path(f).stem.removeprefix("configmap-monitoring-kps-") for f in config_maps} == set(KEPT)
    # Only Prometheus-type panel targets are checked: no InfluxQL, Lucene or trace query slips in.
    assert not any(e.expr.lstrip().upper().startswith("SELECT") for e in expressions)
    assert not any("_index:" in e.expr for e in expressions)


def test_inventory_follows_what_each_stack_deploys(rendered):
    dev, prod = (mc.inventory_from_render(rendered[s]) for s in STACKS)
    common = {"kube-state-metrics", "node-exporter", "kubelet", "cadvisor", "prometheus", "alertmanager",
              "thanos-sidecar", "thanos-compact", "fluent-bit", "otel-collector", "otel-spanmetrics",
              "prometheus-rules", "prometheus-scrape", "application"}
    assert common <= dev.producers and common <= prod.producers
    # prod configures postgres_exporter and blackbox probes; dev configures neither.
    assert {"postgres-exporter", "blackbox-exporter"} <= prod.producers
    assert not {"postgres-exporter", "blackbox-exporter"} & dev.producers
    assert {"app", "service"} <= prod.probe_static_labels
    # Thanos Query deduplicates on the replica label; rules never see external labels.
    assert {"cluster", "environment"} <= prod.thanos_labels
    assert "prometheus_replica" in prod.external_labels and "prometheus_replica" not in prod.thanos_labels
    # kube-prometheus-stack's kubelet ServiceMonitor drops some cAdvisor families.
    assert "container_cpu_cfs_throttled_seconds_total" not in mc.available_families(prod.producers, prod)
    assert "container_cpu_cfs_throttled_periods_total" in mc.available_families(prod.producers, prod)
    assert dev.unmapped == () and prod.unmapped == ()


# --- the contract ---------------------------------------------------------------------------------


def test_every_family_names_known_producers_and_a_ref():
    for family in mc.FAMILIES:
        assert family.producers and all(p in mc.PRODUCERS for p in family.producers), family.name
        assert family.ref, family.name
    for producer in mc.PRODUCERS.values():
        assert producer.ref and producer.description, producer.id
    names = [n for f in mc.FAMILIES for n, _ in mc._expand(f)]
    assert len(names) == len(set(names)), "a series name is declared twice"


def test_available_families_are_conditional_on_the_producers():
    without = mc.available_families({"kube-state-metrics"})
    assert "kube_pod_status_phase" in without and "pg_up" not in without
    with_pg = mc.available_families({"kube-state-metrics", "postgres-exporter"})
    assert with_pg["pg_up"].producers == ("postgres-exporter",)
    # Histograms expand, the bucket carries `le`.
    app = mc.available_families({"application"})
    assert "le" in app["http_server_request_duration_seconds_bucket"].labels
    assert "le" not in app["http_server_request_duration_seconds_count"].labels
    # Exporter labels plus the ServiceMonitor target labels, and honest ones: no `state`.
    assert {"namespace", "pod", "uid", "phase"} | mc.SCRAPE_TARGET_LABELS <= without["kube_pod_status_phase"].labels
    assert "db_client_connection_state" in app["db_client_connection_count"].labels
    assert "state" not in app["db_client_connection_count"].labels


# --- the checker --------------------------------------------------------------------------------

INV = mc.inventory({"kube-state-metrics", "node-exporter", "cadvisor", "prometheus"})


def _rule(expr: str, **kwargs) -> mc.Expression:
    return mc.Expression("unit", "rule", "rules.yaml", kwargs.pop("name", "TestRule"), expr, **kwargs)


def _problems(*expressions: mc.Expression, inv: mc.StackInventory = INV) -> list[mc.Problem]:
    return mc.check_expressions(list(expressions), inv)


def test_a_selector_of_an_unknown_metric_fails():
    problems = _problems(_rule("rate(no_such_metric_total[5m]) > 0"))
    assert [(p.kind, p.metric) for p in problems] == [("undeclared", "no_such_metric_total")]


def test_a_known_metric_whose_producer_is_not_deployed_fails_with_the_producer():
    problems = _problems(_rule("pg_up == 0"))
    assert [(p.kind, p.cause, p.metric) for p in problems] == [("no-producer", "a", "pg_up")]
    assert "postgres-exporter" in problems[0].detail
    browser = _problems(_rule("sum by (app) (rate(browser_js_errors_total[5m]))"))
    assert [(p.kind, p.cause) for p in browser] == [("no-producer", "d")]


def test_a_wrong_name_gets_the_upstream_name():
    problems = _problems(_rule('sum by (processor) (rate({__name__=~"otelcol_processor_refused_spans(_total)?"}[5m]))'))
    assert [(p.kind, p.cause) for p in problems] == [("wrong-name", "b")]
    assert "otelcol_processor_memory_limiter_refused_spans_total" in problems[0].hint


def test_a_by_of_an_unknown_label_fails():
    problems = _problems(_rule("sum by (deployment) (kube_pod_status_phase)"))
    assert [(p.kind, p.metric, p.label) for p in problems] == [("unknown-label", "kube_pod_status_phase", "deployment")]


def test_labels_are_checked_after_the_aggregations_below():
    problems = _problems(_rule("sum by (namespace) (max by (pod) (kube_pod_status_phase))"))
    assert [(p.kind, p.label) for p in problems] == [("unknown-label", "namespace")]
    assert _problems(_rule("sum by (namespace) (max by (namespace, pod) (kube_pod_status_phase))")) == []
    # without keeps the rest
    assert _problems(_rule("sum without (cpu) (rate(node_cpu_seconds_total[5m])) > 0")) == []
    assert [p.label for p in _problems(_rule("sum by (cpu) (sum without (cpu) (rate(node_cpu_seconds_total[5m])))"))] == ["cpu"]


def test_matchers_and_vector_matching_labels_are_checked():
    assert [p.label for p in _problems(_rule('kube_pod_status_phase{state="x"}'))] == ["state"]
    on = _problems(_rule("kube_deployment_spec_replicas / on (namespace, nope) kube_deployment_status_replicas_available"))
    assert {p.label for p in on} == {"nope"}
    group = _problems(
        _rule("sum by (namespace) (kube_pod_info) / on (namespace) group_left (nope) sum by (namespace) (kube_pod_info)")
    )
    assert [p.label for p in group] == ["nope"]
    mismatch = _problems(_rule("kube_deployment_spec_replicas / kube_pod_info"))
    assert [p.kind for p in mismatch] == ["matching"]
    assert [p.label for p in _problems(_rule("histogram_quantile(0.9, sum by (pod) (kube_pod_info))"))] == ["le"]
    assert [p.label for p in _problems(_rule('label_replace(kube_pod_info, "a", "$1", "nope", "(.*)")'))] == ["nope"]


def test_labels_from_the_common_scrape_set_are_accepted():
    expr = 'sum by (job, instance, namespace, service, pod, container, endpoint) (kube_deployment_spec_replicas{job!=""})'
    assert _problems(_rule(expr)) == []
    assert _problems(_rule('max by (node) (container_memory_working_set_bytes{metrics_path="/metrics/cadvisor"})')) == []


def test_external_labels_only_through_thanos():
    thanos = mc.Expression("unit", "panel", "d.json", "D / P", 'sum(kube_pod_info{environment="dev", cluster="c"})', mc.THANOS)
    assert _problems(thanos) == []
    rule = _problems(_rule('sum(kube_pod_info{environment="dev"})'))
    assert [p.label for p in rule] == ["environment"] and "not visible to rule evaluation" in rule[0].detail
    replica = mc.Expression("unit", "panel", "d.json", "D / P", 'kube_pod_info{prometheus_replica="a"}', mc.THANOS)
    assert [p.label for p in _problems(replica)] == ["prometheus_replica"]


def test_a_recorded_series_satisfies_its_reader():
    record = _rule(
        "sum by (namespace) (kube_pod_status_phase)", name="ns:pods:count", record="ns:pods:count", rule_labels=("slo",)
    )
    chained = _rule("max by (namespace, slo) (ns:pods:count)", name="ns:pods:max", record="ns:pods:max")
    reader = _rule('ns:pods:max{namespace="a", slo="x"} > 1')
    assert _problems(record, chained, reader) == []
    assert [p.label for p in _problems(record, _rule('ns:pods:count{pod="a"}'))] == ["pod"]
    assert [p.kind for p in _problems(_rule("ns:pods:count > 1"))] == ["undeclared"]


def test_alerts_series_carries_rule_labels():
    alert = _rule("kube_pod_status_phase > 0", name="PodBad", alert="PodBad", rule_labels=("severity", "environment"))
    panel = mc.Expression(
        "unit", "panel", "d.json", "D / P", 'count by (alertname, severity, namespace) (ALERTS{alertstate="firing"})', mc.THANOS
    )
    assert _problems(alert, panel) == []


def test_grafana_variables_are_substituted_before_parsing():
    text = mc.substitute_grafana('sum(rate(x_total{a=~"$service", b="${env}"}[$__rate_interval])) * $price / ${__range_s}')
    assert "$" not in text and "[5m]" in text
    assert mc.substitute_grafana("increase(x_total[$__range:1m])") == "increase(x_total[5m:1m])"
    variable = mc.Expression("unit", "variable", "d.json", "D / $ns", "kube_pod_info", mc.THANOS, labels_used=("nope",))
    assert [p.label for p in _problems(variable)] == ["nope"]


def test_coverage_claims_need_every_claimed_producer():
    expr = 'sum by (job, exporter) (rate({__name__=~"otelcol_exporter_send_failed_spans(_total)?"}[5m])) > 0'
    inv = mc.inventory({"otel-collector"})
    problems = _problems(_rule(expr, name="TracingSpansDropped", alert="TracingSpansDropped"), inv=inv)
    assert [(p.kind, "jaeger" in p.detail) for p in problems] == [("coverage", True)]
    assert _problems(_rule(expr, name="TracingSpansDropped", alert="TracingSpansDropped"), inv=mc.inventory({"otel-collector", "jaeger"})) == []


# --- optional producers ----------------------------------------------------------------------------


def test_optional_producers_are_the_ones_rules_slos_and_settings_know():
    from monitoring.alert_rules import catalogue_alerts
    from monitoring.slo_catalogue import SLO_CATALOGUE

    from monitoring.dashboards import build_dashboards

    required = {r.requires for r in catalogue_alerts()} | {s.requires for s in SLO_CATALOGUE}
    # Producers only panels read (the Security dashboard's Trivy and Cilium/Hubble panels): leaving
    # one out must change the dashboards, else the setting deploys something nobody reads.
    everything = [d.model for d in build_dashboards("dev")]
    panel_readers = {
        p for p in mc.OPTIONAL_PRODUCERS if [d.model for d in build_dashboards("dev", without=frozenset({p}))] != everything
    }
    assert (required - {None}) | panel_readers == set(mc.OPTIONAL_PRODUCERS)
    assert set(mc.OPTIONAL_PRODUCERS) <= set(mc.PRODUCERS)


def required_by_rules_or_slos(producer: str) -> bool:
    from monitoring.alert_rules import catalogue_alerts
    from monitoring.slo_catalogue import SLO_CATALOGUE

    return any(r.requires == producer for r in catalogue_alerts()) or any(s.requires == producer for s in SLO_CATALOGUE)


@pytest.mark.parametrize("stack", STACKS)
def test_a_stack_renders_the_readers_of_an_optional_producer_exactly_when_it_deploys_it(rendered, stack):
    from monitoring.alert_rules import catalogue_alerts
    from monitoring.slo_catalogue import SLO_CATALOGUE

    inv = mc.inventory_from_render(rendered[stack])
    expressions = mc.collect_expressions(stack, rendered[stack])
    alerts = {e.alert for e in expressions if e.alert}
    groups = {e.group for e in expressions}
    for producer in mc.OPTIONAL_PRODUCERS:
        deployed = producer in inv.producers
        for rule in catalogue_alerts():
            if rule.requires == producer:
                assert (rule.name in alerts) == deployed, (stack, rule.name)
        for slo in SLO_CATALOGUE:
            if slo.requires == producer:
                assert (f"slo-{slo.id}" in groups) == deployed, (stack, slo.id)
        # Panels reading a family only this producer emits (trivy_*, cilium/hubble drops).
        only_its = {f.name for f in mc.FAMILIES if f.producers == (producer,)}
        readers = [e.name for e in expressions if e.source == "panel" and any(n in e.expr for n in only_its)]
        if not required_by_rules_or_slos(producer):
            assert bool(readers) == deployed, (stack, producer, readers)
    # dev deploys none but OpenCost (costs.enabled) and the collector's service graph tier
    # (otelCollector.serviceGraph.enabled), which fit its budget: the others' readers are gone, and
    # nothing else went with them.
    if stack == "dev":
        assert set(mc.OPTIONAL_PRODUCERS) & inv.producers == {"opencost", "otel-servicegraph"}
        assert "PostgresConnectionPoolSaturated" in alerts and "FrontendJsErrorSpike" in alerts
