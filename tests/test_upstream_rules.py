"""Issue 9, class 6: kube-prometheus-stack's default rules are on and keep the alert contract.

The stack tests render dev and prod with the real chart (tools.render: `helm template`, the object
patch applied as Pulumi applies it) and read every PrometheusRule, ours and the chart's. A real
Prometheus then loads all of them (each alert made to fire) and sends to a recording fake
Alertmanager: what arrives is what a real Alertmanager would route. amtool routes a mapped upstream
alert through the rendered prod config.
"""

from __future__ import annotations

import json
import re
import tarfile
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from tests.helpers import engine_params, require_engine, wait_until

from plan.versions import KUBE_PROMETHEUS_STACK
from monitoring import upstream_rules as ur
from monitoring.alertmanager import WATCHDOG_ALERT
from monitoring.severity import UPSTREAM_SEVERITY, Severity
from tools import checks, engines, helm, render
from tests.engines import WebhookRecorder, run_prometheus

STACKS = ("dev", "prod")
P_LEVELS = {s.value for s in Severity}


@pytest.fixture(scope="module")
def rendered(rendered_dirs) -> dict[str, Path]:
    return rendered_dirs


def _prometheus_rules(out: Path) -> list[dict]:
    return [o for o in render.read_objects(out) if o.get("kind") == "PrometheusRule"]


def _alerts(rules: list[dict]):
    """(PrometheusRule name, group name, alert rule) of every alerting rule."""
    for obj in rules:
        for group in obj["spec"]["groups"]:
            for rule in group.get("rules") or []:
                if "alert" in rule:
                    yield obj["metadata"]["name"], group["name"], rule


def _upstream(rules: list[dict]) -> list[dict]:
    return [o for o in rules if o["metadata"]["name"].startswith(ur.UPSTREAM_RULE_PREFIX)]


@pytest.fixture(scope="module")
def chart_templates() -> str:
    """The text of every default-rule template of the pinned chart."""
    with tarfile.open(helm.chart_archive(KUBE_PROMETHEUS_STACK)) as archive:
        return "\n".join(
            archive.extractfile(m).read().decode()
            for m in archive.getmembers()
            if "/templates/prometheus/rules-1.14/" in m.name and m.isfile()
        )


# --- the tables against the pinned chart ------------------------------------------------------------


def test_every_rule_group_key_of_the_chart_is_decided(chart_templates):
    keys = set(re.findall(r"\.Values\.defaultRules\.rules\.(\w+)", chart_templates))
    assert keys == {g.key for g in ur.RULE_GROUPS}


def test_every_disabled_alert_is_a_disabled_key_of_the_chart(chart_templates):
    keys = set(re.findall(r"\.Values\.defaultRules\.disabled\.(\w+)", chart_templates))
    assert set(ur.disabled_alerts()) <= keys


def test_every_duplicate_names_an_alert_of_our_catalogue():
    from monitoring.alert_rules import catalogue_alerts

    ours = {rule.name for rule in catalogue_alerts()}
    assert {d.ours for d in ur.DUPLICATES} <= ours


def test_upstream_rule_objects_are_named_after_the_release_fullname():
    from plan.prometheus_stack import FULLNAME

    assert ur.UPSTREAM_RULE_PREFIX == f"{FULLNAME}-"


def test_control_plane_groups_are_left_to_the_chart_s_target_switches():
    """On in the table; whether the chart renders them follows cluster.controlPlane
    (tests/test_cluster_flavour.py renders both flavours)."""
    groups = {g.key: g.enabled for g in ur.RULE_GROUPS}
    for key in ("etcd", "kubeControllerManager", "kubeSchedulerAlerting", "kubeSchedulerRecording"):
        assert groups[key] is True, key


# --- the rendered rules --------------------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_upstream_rules_are_rendered(rendered, stack):
    upstream = list(_alerts(_upstream(_prometheus_rules(rendered[stack]))))
    assert len(upstream) > 90
    groups = {group for _, group, _ in upstream}
    assert {"kubernetes-apps", "kubernetes-system-kubelet", "kube-apiserver-slos", "node-exporter", "prometheus"} <= groups


@pytest.mark.parametrize("stack", STACKS)
def test_every_alert_carries_a_p_level_an_owner_and_a_runbook(rendered, stack):
    bad = []
    for name, group, rule in _alerts(_prometheus_rules(rendered[stack])):
        labels, annotations = rule.get("labels") or {}, rule.get("annotations") or {}
        if labels.get("severity") not in P_LEVELS:
            bad.append(f"{name}/{group}/{rule['alert']}: severity {labels.get('severity')!r}")
        # Ours name a service (from the series) or a component by construction (AlertRule); the
        # chart's get a component per group.
        if name.startswith(ur.UPSTREAM_RULE_PREFIX) and not labels.get("component"):
            bad.append(f"{name}/{group}/{rule['alert']}: no component")
        if not str(annotations.get("runbook_url", "")).startswith("https://"):
            bad.append(f"{name}/{group}/{rule['alert']}: no runbook_url")
    assert bad == []


@pytest.mark.parametrize("stack", STACKS)
def test_no_alert_name_comes_from_two_rule_objects(rendered, stack):
    owners: dict[str, set[str]] = {}
    for name, _, rule in _alerts(_prometheus_rules(rendered[stack])):
        owners.setdefault(rule["alert"], set()).add(name)
    assert {alert: objs for alert, objs in owners.items() if len(objs) > 1} == {}


@pytest.mark.parametrize("stack", STACKS)
def test_disabled_groups_and_alerts_are_absent(rendered, stack):
    names = {rule["alert"] for _, _, rule in _alerts(_upstream(_prometheus_rules(rendered[stack])))}
    assert names & set(ur.disabled_alerts()) == set()
    assert not names & {"Watchdog", "InfoInhibitor", "TargetDown", "etcdMembersDown", "KubeSchedulerDown", "KubeProxyDown"}


@pytest.mark.parametrize("stack", STACKS)
def test_no_rule_group_is_empty(rendered, stack):
    for obj in _prometheus_rules(rendered[stack]):
        for group in obj["spec"]["groups"]:
            assert group.get("rules"), f"{obj['metadata']['name']} group {group['name']}"


@pytest.mark.parametrize("stack", STACKS)
def test_promtool_of_both_generations_checks_the_upstream_rule_files(rendered, stack):
    from tools import checks

    files = {p.name for p in (rendered[stack] / "prometheus" / "rules").glob("*.yaml")}
    objects = {f"{o['metadata']['name']}.yaml" for o in _upstream(_prometheus_rules(rendered[stack]))}
    assert objects and objects <= files
    assert checks.check_rules(rendered[stack]) == []


def test_two_tier_alerts_keep_two_p_levels(rendered):
    tiers: dict[str, set[str]] = {}
    for _, _, rule in _alerts(_upstream(_prometheus_rules(rendered["prod"]))):
        tiers.setdefault(rule["alert"], set()).add(rule["labels"]["severity"])
    assert tiers["KubeAPIErrorBudgetBurn"] == {"P2", "P3"}
    assert tiers["KubeClientCertificateExpiration"] == {"P2", "P3"}


def test_upstream_severities_map_critical_warning_info_to_p2_p3_p4():
    assert UPSTREAM_SEVERITY == {"critical": Severity.P2, "warning": Severity.P3, "info": Severity.P4}


def test_the_patch_rejects_an_upstream_severity_without_a_p_level():
    rule = {"kind": "PrometheusRule", "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expr": "1", "labels": {"severity": "none"}}]}]}}
    with pytest.raises(ur.UpstreamSeverityError, match="A .*'none'"):
        ur.upstream_rule_patch(rule)


def test_the_patch_leaves_other_objects_and_recording_rules_alone():
    service = {"kind": "Service", "metadata": {"name": "x"}}
    recording = {"kind": "PrometheusRule", "spec": {"groups": [{"name": "g", "rules": [{"record": "r", "expr": "1"}]}]}}
    assert ur.upstream_rule_patch(service) is service
    assert ur.upstream_rule_patch(recording) is recording


# --- a real Prometheus sends every alert with a P-level and a runbook ----------------------------------


def _firing_rule_files(out: Path) -> dict[str, dict]:
    """Every rendered rule file with its alerts made to fire at once (expr `vector(1)`, for 0s) and
    its recording rules left out: what is tested is what the rules attach, not when they fire."""
    files = {}
    for path in sorted((out / "prometheus" / "rules").glob("*.yaml")):
        groups = []
        for group in yaml.safe_load(path.read_text())["groups"]:
            alerts = [
                {**{k: v for k, v in rule.items() if k != "keep_firing_for"}, "expr": "vector(1)", "for": "0s"}
                for rule in group["rules"] if "alert" in rule
            ]  # fmt: skip
            if alerts:
                groups.append({"name": group["name"], "rules": alerts})
        if groups:
            files[path.stem] = {"groups": groups}
    return files


def _external_labels(out: Path) -> dict[str, str]:
    prometheus = next(o for o in render.read_objects(out) if o.get("kind") == "Prometheus")
    return dict(prometheus["spec"].get("externalLabels") or {})


def _deliver(binary: str, out: Path, workdir: Path) -> tuple[Counter, dict]:
    """Every rendered alert made to fire in a real Prometheus: (what should arrive, what arrived)."""
    files = _firing_rule_files(out)
    expected = Counter(
        (rule["alert"], rule.get("labels", {}).get("severity"))
        for content in files.values() for group in content["groups"] for rule in group["rules"]
    )  # fmt: skip
    with WebhookRecorder() as alertmanager:

        def arrived() -> dict:
            alerts = [a for n in alertmanager.received("/api/v2/alerts") for a in n.body]
            return {(a["labels"]["alertname"], a["labels"].get("severity")): a for a in alerts}

        with run_prometheus(
            binary, workdir, rule_files=files, scrape_target="127.0.0.1:1", alertmanager_url=alertmanager.url,
            external_labels=_external_labels(out),
        ) as prom:  # fmt: skip
            try:
                wait_until(lambda: set(expected) <= set(arrived()), timeout=60, what="every alert at the fake Alertmanager")
            except TimeoutError as exc:
                missing = sorted(set(expected) - set(arrived()))[:10]
                raise AssertionError(f"{exc}; missing {missing}\n{prom.log_tail()}") from None
            time.sleep(2)
        return expected, arrived()


@pytest.fixture(scope="module")
def deliveries(rendered, tmp_path_factory) -> dict[str, Future]:
    """`_deliver` for every generation whose Prometheus is there, all at once (the run is mostly
    waiting; each has its own Prometheus, recorder and ports); a failure stays in its Future."""
    available = {g: engines.find("prometheus", g) for g in engines.GENERATIONS}
    pool = ThreadPoolExecutor(max_workers=len(available))
    futures = {
        g: pool.submit(_deliver, binary, rendered["prod"], tmp_path_factory.mktemp(f"deliver-{g}"))
        for g, binary in available.items() if binary
    }  # fmt: skip
    pool.shutdown(wait=False)
    return futures


@pytest.mark.parametrize("generation", engine_params("prometheus"))
def test_every_alert_reaches_alertmanager_with_a_p_level_and_a_runbook(deliveries, generation):
    require_engine("prometheus", generation)
    expected, received = deliveries[generation].result()
    assert sum(expected.values()) > 150
    bad = [
        f"{name}: severity {severity!r}, runbook {a.get('annotations', {}).get('runbook_url')!r}"
        for (name, severity), a in received.items()
        if severity not in P_LEVELS or not a.get("annotations", {}).get("runbook_url", "").startswith("https://")
    ]
    assert bad == []
    # The external labels the inhibit rules and routes match on come along.
    assert all(a["labels"].get("environment") == "prod" for a in received.values())


# --- our Alertmanager routes a mapped upstream alert ---------------------------------------------------


def _upstream_alert(out: Path, alert: str, severity: str) -> dict:
    for _, _, rule in _alerts(_upstream(_prometheus_rules(out))):
        if rule["alert"] == alert and rule["labels"]["severity"] == severity:
            return rule
    raise AssertionError(f"{alert} at {severity} is not rendered")


@pytest.mark.parametrize(
    ("alert", "severity"),
    [("KubeAPIErrorBudgetBurn", "P2"), ("KubeStatefulSetReplicasMismatch", "P3"), ("KubeQuotaAlmostFull", "P4")],
)
@pytest.mark.parametrize("generation", engine_params("amtool"))
def test_amtool_routes_a_mapped_upstream_alert_to_its_p_level_receivers(rendered, generation, alert, severity):
    amtool = require_engine("amtool", generation)
    out = rendered["prod"]
    rule = _upstream_alert(out, alert, severity)
    # An upstream alert names a component: the platform area's, whose receivers at this severity the
    # render's route cases give (plan/alerting.py route_tests).
    cases = json.loads((out / "alertmanager" / "route-tests.json").read_text())
    (receivers,) = {
        tuple(c["receivers"]) for c in cases
        if c["labels"].get("component") and c["labels"]["severity"] == severity and "alertname" not in c["labels"]
    }  # fmt: skip
    assert receivers and receivers[0] != "null", f"prod has no receiver for {severity}"
    labels = {**rule["labels"], "alertname": alert, "environment": "prod"}
    result = checks.route_test(amtool, out / "alertmanager" / "alertmanager.yml", labels, list(receivers))
    assert result.returncode == 0, result.stdout + result.stderr
    assert alert != WATCHDOG_ALERT
