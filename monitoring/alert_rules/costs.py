"""Cost by component (monitoring/costs.py): the hourly cost of every pod, namespace and workload,
recorded from OpenCost's allocation metrics. Recording only: a cost is a trend for the executive
dashboard, not something to page on."""

from __future__ import annotations

from monitoring import costs
from monitoring.alert_rules._rule import RecordingRule, RuleGroup
from monitoring.slo_catalogue import OPENCOST

# In order: a group evaluates its rules one after the other, so the sums read this evaluation's pods.
COSTS = RuleGroup(
    "opencost-costs",
    (
        RecordingRule(costs.POD_COST_RECORD, costs.pod_cost_expr(), requires=OPENCOST),
        RecordingRule(costs.NAMESPACE_COST_RECORD, costs.namespace_cost_expr(), requires=OPENCOST),
        RecordingRule(costs.WORKLOAD_COST_RECORD, costs.workload_cost_expr(), requires=OPENCOST),
    ),
)

GROUPS = (COSTS,)
