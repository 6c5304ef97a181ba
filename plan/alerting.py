"""The alerting slice of the plan: the Alertmanager config (routed by owner), the rule files as each
evaluator gets them, the receiver credentials the stack needs (secret config keys, and the PagerDuty
integration keys of each area's services), the SLOs in effect, and the `amtool config routes test`
cases of the ownership model. components/alerting.py declares them; nothing there is computed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from monitoring import yaml_text
from monitoring.alert_rules import build_rule_files
from monitoring.alerting_spec import AlertingSpec
from monitoring.alertmanager import (
    FALLBACK_RECEIVER,
    NOTIFICATIONS_FAILING_ALERT,
    NULL_RECEIVER,
    PAGERDUTY_INTEGRATION,
    RECEIVER_SECRET_KEYS,
    WATCHDOG_ALERT,
    WATCHDOG_RECEIVER,
    RouteOwner,
    build_alertmanager_config,
    owner_receivers,
    pagerduty_routing_key,
    route_owners,
)
from monitoring.pagerduty import paging_severities
from monitoring.severity import SEVERITIES, ReceiverKind, Severity
from monitoring.slo import effective_slos
from monitoring.slo_catalogue import Slo
from monitoring.windows import EvaluatedRuleFile, split_rule_files
from plan.endpoints import Endpoint
from plan.ownership import platform_components
from plan.secrets import RECEIVER_SECRETS
from plan.settings import StackSettings

ALERTMANAGER_CONFIG_SECRET = "alertmanager-config"
# The Thanos Ruler's Alertmanager config (no credential: a Secret only because the CR takes one).
RULER_ALERTMANAGERS_SECRET = "thanos-ruler-alertmanagers"
RULER_ALERTMANAGERS_KEY = "alertmanagers.yaml"
RULE_NAME_PREFIX = "terrafusion"
# The operator's governing Service of the Alertmanager pods, and the web port's name there (kps
# alertmanager.alertmanagerSpec.portName default `http-web`).
# Ref: prometheus-operator@v0.93.0 pkg/alertmanager/statefulset.go (governing Service ports);
# kube-prometheus-stack@88.5.3 values.yaml alertmanager.alertmanagerSpec.portName
ALERTMANAGER_OPERATED_SERVICE = "alertmanager-operated"
ALERTMANAGER_WEB_PORT_NAME = "http-web"
ALERTMANAGER_WEB_PORT = 9093


@dataclass(frozen=True)
class AlertingPlan:
    spec: AlertingSpec
    # The SLOs in effect: the catalogue with the stack's overrides, less those whose producer the
    # stack does not deploy. Every SLO text, rule and dashboard threshold comes from these.
    slos: tuple[Slo, ...]
    alertmanager_config_yaml: str
    ruler_alertmanagers_yaml: str
    # Every rule file the stack deploys (monitoring/alert_rules), and the same split by evaluator
    # (monitoring/windows.py: groups Prometheus' retention does not cover go to the Thanos Ruler).
    rule_files: Mapping[str, Mapping[str, Any]]
    rule_parts: tuple[EvaluatedRuleFile, ...]
    # Key of the receivers Secret (monitoring/alertmanager.py RECEIVER_SECRET_KEYS) -> the secret
    # config key whose value it holds, for the enabled receivers only.
    receiver_secrets: Mapping[str, str]
    # Key of the receivers Secret -> (area, severity) of the PagerDuty service whose integration key
    # it holds (components/pagerduty.py); empty with PagerDuty off.
    pagerduty_routing_keys: Mapping[str, tuple[str, Severity]]
    # The owners routing sees (monitoring/alertmanager.py route_owners), the fallback area last.
    owners: tuple[RouteOwner, ...]
    # `amtool config routes test` cases: every area's services at every severity, and more.
    route_tests: tuple[RouteTest, ...]


@dataclass(frozen=True)
class RouteTest:
    """One `amtool config routes test`: an alert's labels and the receivers it must reach, in order."""

    what: str
    labels: Mapping[str, str]
    receivers: tuple[str, ...]
    # The owning team whose receivers these are (None: the Watchdog's).
    team: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "labels": dict(self.labels), "receivers": list(self.receivers), "team": self.team}


# A `service` no area owns (tests/test_ownership.py holds that none does): its alerts go to the
# fallback area.
UNOWNED_SERVICE = "no-area-owns-this-service"


def rule_resource_name(file_stem: str) -> str:
    return f"{RULE_NAME_PREFIX}-{file_stem}"


def ruler_alertmanagers_yaml(alertmanagers: str) -> str:
    """The Thanos Ruler's Alertmanager config: one HA group, every replica found through `alertmanagers`
    (a `dnssrv+` address of the operator's governing Service).
    Ref: thanos-io/thanos@v0.42.4 docs/components/rule.md ("Alertmanager" config format: one HA
    group; static addresses may be dnssrv+, pkg/alert/config_test.go)."""
    config = {"alertmanagers": [{"api_version": "v2", "static_configs": [alertmanagers]}]}
    return yaml_text.dump(config, sort_keys=False)


def alertmanager_config_yaml(spec: AlertingSpec, owners: tuple[RouteOwner, ...]) -> str:
    return yaml_text.dump(build_alertmanager_config(spec, owners), sort_keys=False)


def route_tests(spec: AlertingSpec, owners: tuple[RouteOwner, ...], components: tuple[str, ...]) -> tuple[RouteTest, ...]:
    """The route cases of the ownership model: every service of every area (the fallback area: also
    each platform `component`, and a service nobody owns) at every severity reaches its owner's
    receivers of that severity and nobody else's; the Watchdog its own; an alert outside the
    contract the owner's P3 receivers; PagerDuty's failure alert the fallback receiver too."""
    env = spec.environment

    def expected(severity: Severity, owner: RouteOwner) -> tuple[str, ...]:
        return tuple(owner_receivers(spec, severity, owner)) or (NULL_RECEIVER,)

    cases: list[RouteTest] = []
    for owner in owners:
        names = [("service", s) for s in owner.services]
        if owner.fallback:
            # Every component takes the fallback area's one route: the first at every severity, the
            # others where it matters most, the page.
            names += [("component", components[0]), ("service", UNOWNED_SERVICE)]
            for component in components[1:]:
                cases.append(
                    RouteTest(
                        f"P1 of component {component} pages area {owner.area} (team {owner.team})",
                        {"severity": Severity.P1.value, "component": component, "environment": env},
                        expected(Severity.P1, owner),
                        owner.team,
                    )
                )
        for label, value in names:
            for severity in SEVERITIES:
                cases.append(
                    RouteTest(
                        f"{severity.value} of {label} {value} reaches area {owner.area} (team {owner.team})",
                        {"severity": severity.value, label: value, "environment": env},
                        expected(severity, owner),
                        owner.team,
                    )
                )
        if owner.services:
            cases.append(
                RouteTest(
                    f"an alert of {owner.services[0]} without a P-level reaches team {owner.team} like a P3",
                    {"severity": "critical", "service": owner.services[0], "environment": env},
                    expected(Severity.P3, owner),
                    owner.team,
                )
            )
    cases.append(
        RouteTest("the Watchdog reaches the dead man's switch only", {"alertname": WATCHDOG_ALERT, "severity": "P4",
                                                                        "component": "alerting-pipeline", "environment": env},
                  (WATCHDOG_RECEIVER,))
    )
    if ReceiverKind.PAGERDUTY in spec.receivers.enabled_kinds():
        fallback = owners[-1]
        labels = {"alertname": NOTIFICATIONS_FAILING_ALERT, "integration": PAGERDUTY_INTEGRATION, "severity": "P2",
                  "component": "alertmanager", "environment": env}
        has_fallback = {ReceiverKind.SLACK, ReceiverKind.EMAIL} & spec.receivers.enabled_kinds()
        cases.append(
            RouteTest(
                "PagerDuty failing reaches the fallback receiver, then the platform area's P2 receivers",
                labels,
                ((FALLBACK_RECEIVER,) if has_fallback else ()) + expected(Severity.P2, fallback),
                fallback.team,
            )
        )
    return tuple(cases)


def alertmanager_pods(namespace: str) -> Endpoint:
    """Every Alertmanager replica, one by one (the Thanos Ruler sends to each)."""
    return Endpoint(ALERTMANAGER_OPERATED_SERVICE, namespace, {ALERTMANAGER_WEB_PORT_NAME: ALERTMANAGER_WEB_PORT})


def alerting_plan(settings: StackSettings) -> AlertingPlan:
    spec = settings.alerting_spec
    without = settings.undeployed_producers
    rule_files = build_rule_files(spec, without=without)
    enabled = spec.receivers.enabled_kinds()
    owners = route_owners(settings.ownership)
    return AlertingPlan(
        spec=spec,
        slos=tuple(effective_slos(spec, without)),
        alertmanager_config_yaml=alertmanager_config_yaml(spec, owners),
        ruler_alertmanagers_yaml=ruler_alertmanagers_yaml(alertmanager_pods(settings.namespace).srv(ALERTMANAGER_WEB_PORT_NAME)),
        rule_files=rule_files,
        rule_parts=tuple(sorted(split_rule_files(rule_files, settings.prometheus.retention), key=lambda p: p.stem)),
        receiver_secrets={
            RECEIVER_SECRET_KEYS[kind]: secret.key for kind, secret in sorted(RECEIVER_SECRETS.items()) if kind in enabled
        },
        pagerduty_routing_keys={
            pagerduty_routing_key(owner.area, severity): (owner.area, severity)
            for owner in owners
            for severity in paging_severities()
            if ReceiverKind.PAGERDUTY in enabled
        },
        owners=owners,
        route_tests=route_tests(spec, owners, platform_components()),
    )
