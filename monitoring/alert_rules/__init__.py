"""The rule catalogue: one module per area, assembled into Prometheus rule files.

`build_rule_files(spec)` returns {file_stem: {"groups": [...]}}: the Pulumi side creates one
PrometheusRule per stem (spec = the dict) and the offline render writes
prometheus/rules/<stem>.yaml. Stems and group order are fixed, so renders are deterministic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitoring.anomaly import build_anomaly_rule_groups
from monitoring.alert_rules import api, costs, database, frontend, kubernetes, platform, security
from monitoring.alert_rules._rule import AlertRule, RecordingRule, RuleGroup
from monitoring.slo_catalogue import Area
from monitoring.slo import build_slo_rule_groups

if TYPE_CHECKING:
    from monitoring.alerting_spec import AlertingSpec

# File stem -> catalogue groups, in render order.
CATALOGUE_FILES: dict[str, tuple[RuleGroup, ...]] = {
    "kubernetes": kubernetes.GROUPS,
    "api": api.GROUPS,
    "database": database.GROUPS,
    "frontend": frontend.GROUPS,
    "platform": platform.GROUPS,
    "security": security.GROUPS,
    "costs": costs.GROUPS,
    "watchdog": (platform.WATCHDOG,),
}
# File stem -> SLO area whose recording rules and burn-rate alerts it holds.
SLO_FILES: dict[str, Area] = {"slo-api": Area.API, "slo-frontend": Area.FRONTEND, "slo-database": Area.DATABASE}

# The seasonal baselines and their anomaly alerts (monitoring/anomaly.py).
ANOMALY_FILE = "anomaly"

RULE_FILE_STEMS: tuple[str, ...] = tuple(SLO_FILES) + (ANOMALY_FILE,) + tuple(CATALOGUE_FILES)


def _catalogue_rules(kind: type) -> list:
    return [rule for groups in CATALOGUE_FILES.values() for group in groups for rule in group.rules if isinstance(rule, kind)]


def catalogue_alerts() -> list[AlertRule]:
    """Every non-SLO alert of the catalogue, in file order."""
    return _catalogue_rules(AlertRule)


def catalogue_records() -> list[RecordingRule]:
    """Every recording rule of the catalogue (outside the SLO files), in file order."""
    return _catalogue_rules(RecordingRule)


def build_rule_files(spec: AlertingSpec, *, without: frozenset[str] = frozenset()) -> dict[str, dict]:
    """All rule files of a stack. `without` names the optional producers the stack does not deploy (StackSettings.undeployed_producers):
    the rules and SLOs that read them are left out, and so is a group left empty."""
    files: dict[str, dict] = {}
    for stem, area in SLO_FILES.items():
        files[stem] = {"groups": build_slo_rule_groups(spec, area=area, without=without)}
    files[ANOMALY_FILE] = {"groups": build_anomaly_rule_groups(spec, without)}
    for stem, groups in CATALOGUE_FILES.items():
        rendered = [g.render(spec, without) for g in groups]
        files[stem] = {"groups": [g for g in rendered if g["rules"]]}
    return files


def iter_alerts(rule_files: dict[str, dict]):
    """(file_stem, group name, alerting rule) for every alert in built rule files."""
    for stem, content in rule_files.items():
        for group in content["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    yield stem, group["name"], rule
