"""The shape every catalogue alert is written in, and its rendering to a Prometheus rule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from monitoring.slo_catalogue import kebab
from monitoring.severity import Severity

if TYPE_CHECKING:
    from monitoring.alerting_spec import AlertingSpec


@dataclass(frozen=True)
class AlertRule:
    """One alert of the catalogue.

    What is broken is named either by a `service` label (service=True: taken from the series; or a
    templated `service` in extra_labels) or by a fixed platform `component` (e.g. "thanos").
    """

    name: str
    expr: str
    for_: str
    severity: Severity
    summary: str
    description: str
    service: bool = False
    component: str | None = None
    extra_labels: dict[str, str] = field(default_factory=dict)
    # The optional producer (metrics_contract.py PRODUCERS id) whose series it reads: a stack that
    # does not deploy it gets no such rule (an alert that could never fire).
    requires: str | None = None

    def __post_init__(self) -> None:
        names_service = self.service or "service" in self.extra_labels
        if names_service == (self.component is not None):
            raise AssertionError(f"{self.name}: name exactly one of a service or a component")

    @property
    def runbook(self) -> str:
        return f"{kebab(self.name)}.md"

    def render(self, spec: AlertingSpec) -> dict[str, Any]:
        labels: dict[str, str] = {"severity": self.severity.value, "environment": spec.environment}
        if self.component is not None:
            labels["component"] = self.component
        labels.update(self.extra_labels)
        return {
            "alert": self.name,
            "expr": self.expr,
            "for": self.for_,
            "labels": labels,
            "annotations": {
                "summary": self.summary,
                "description": self.description,
                "runbook_url": f"{spec.runbook_base_url.rstrip('/')}/{self.runbook}",
            },
        }


@dataclass(frozen=True)
class RecordingRule:
    """A recorded series of the catalogue: what a panel would otherwise recompute at every refresh, or
    what alerts of its group read instead of raw series (`rate_record`)."""

    record: str
    expr: str
    # As AlertRule.requires: a stack without this producer records nothing from it.
    requires: str | None = None
    # rate_record's selector and labels (tools/bench_history.py writes the record's history from them).
    rate_of: tuple[str, tuple[str, ...]] | None = None

    def render(self, spec: AlertingSpec) -> dict[str, Any]:
        return {"record": self.record, "expr": self.expr}


def rate_record(selector: str, by: tuple[str, ...]) -> RecordingRule:
    """`sum by (by) (rate(selector[5m]))`, named by the Prometheus convention (`level:metric:operations`),
    for the alerts after it in its group: the group evaluates its rules in order at one timestamp,
    each one's output committed before the next, so they read this evaluation's value; a window longer
    than 5m is the mean of its 5m steps (monitoring/slo.py `stitched_rate`).
    Under `--enable-feature=concurrent-rule-eval` a rule that reads another's name still runs after it.
    Ref: https://prometheus.io/docs/practices/rules/ (naming); prometheus/prometheus@v3.5.3
    rules/group.go (`Eval`: each rule's appender committed before the next), rules/manager.go
    (`SplitGroupIntoBatches`); @v2.42.0 rules/manager.go (`Eval`)."""
    record, expr = f"{'_'.join(by)}:{selector.split('{')[0]}:rate5m", f"sum by ({', '.join(by)}) (rate({selector}[5m]))"
    return RecordingRule(record, expr, rate_of=(selector, by))


@dataclass(frozen=True)
class RuleGroup:
    name: str
    rules: tuple[AlertRule | RecordingRule, ...]

    def render(self, spec: AlertingSpec, without: frozenset[str] = frozenset()) -> dict[str, Any]:
        """`without`: optional producers the stack does not deploy (their rules are left out)."""
        rules = [r.render(spec) for r in self.rules if r.requires not in without]
        return {"name": self.name, "rules": rules}
