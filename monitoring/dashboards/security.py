"""Security dashboard: authentication and authorisation events, network policy drops, vulnerability
scans and compliance.

Three sources (docs/dashboards.md):
- audit logs in Elasticsearch (`logs-audit-*`), ECS fields `event.category` / `event.outcome`;
- the API histogram of the instrumentation contract (401/403 answers);
- Trivy Operator (vulnerabilities, config audits, exposed secrets, cluster compliance;
  security.trivyOperator.enabled) and Cilium / Hubble (drops by network policy; cluster.cni: cilium).
  A stack without them has no such panels (`without`), rather than panels that can never show data.
"""

from __future__ import annotations

from monitoring.dashboards import _grafana as g
from monitoring.dashboards._grafana import ENV, FULL, HALF, QUARTER, THIRD, Step
from monitoring.slo_catalogue import CILIUM_AGENT, HUBBLE, TRIVY_OPERATOR

UID = "tf-security"
TITLE = "Security"

_NS = f'namespace=~"$namespace", {ENV}'
_HTTP_COUNT = "http_server_request_duration_seconds_count"

# ECS: authentication = logins and token checks; iam = access decisions and permission changes.
# Ref: https://www.elastic.co/docs/reference/ecs/ecs-allowed-values-event-category
AUTH_EVENTS_QUERY = "_index:logs-audit-* AND event.category:authentication"
ACCESS_FAILURES_QUERY = "_index:logs-audit-* AND event.category:(authentication OR iam) AND event.outcome:failure"

# Cilium's drop reason text and Hubble's enum for the same event.
# Ref: https://docs.cilium.io/en/stable/observability/metrics/; cilium/cilium pkg/monitor/api/drop.go
# ("Policy denied"), api/v1/flow/flow.proto DropReason POLICY_DENIED (handler.go: GetDropReasonDesc().String()).
CILIUM_POLICY_DROPS = f'cilium_drop_count_total{{reason="Policy denied", {ENV}}}'
HUBBLE_POLICY_DROPS = f'hubble_drop_total{{reason="POLICY_DENIED", {ENV}}}'


def _access() -> list:
    return [
        g.row("Authentication and authorisation"),
        g.timeseries_panel(
            "Authentication events by outcome (audit logs)",
            "Logins and token checks from the audit log family; a rising `failure` band is credential "
            "stuffing or a broken identity provider.",
            [g.lucene(AUTH_EVENTS_QUERY, split_by="event.outcome")],
            unit="short",
            datasource=g.ELASTICSEARCH,
            stacked=True,
        ),
        g.timeseries_panel(
            "Refused requests by service (401 / 403)",
            "Requests answered 401 (not authenticated) or 403 (not authorised), from the API metrics.",
            [
                g.prom(
                    "sum by (service, http_response_status_code) (\n"
                    f'  rate({_HTTP_COUNT}{{http_response_status_code=~"401|403", {ENV}}}[$__rate_interval])\n)',
                    "{{http_response_status_code}} {{service}}",
                )
            ],
            unit="reqps",
            minimum=0,
        ),
        g.table_panel(
            "Failed authentication and authorisation events",
            "The latest failed logins and refused access decisions from the audit logs.",
            [g.lucene(ACCESS_FAILURES_QUERY, metric="raw_data", size=100)],
            datasource=g.ELASTICSEARCH,
            width=FULL - QUARTER,
            height=10,
        ),
        g.stat_panel(
            "Access alerts firing",
            "AuthenticationFailureSpike and UnexpectedAuthErrorRate alerts firing now.",
            [
                g.prom(
                    'count(ALERTS{alertname=~"AuthenticationFailureSpike|UnexpectedAuthErrorRate", '
                    f'alertstate="firing", {ENV}}}) or vector(0)',
                    instant=True,
                )
            ],
            unit="none",
            threshold_config=g.thresholds(Step(None, g.GREEN), Step(1, g.RED)),
            width=QUARTER,
            height=10,
        ),
    ]


def _network(without: frozenset[str]) -> list:
    """The drops panel with a query per CNI producer the stack scrapes; none without either."""
    queries = []
    if CILIUM_AGENT not in without:
        queries.append(g.prom(f"sum by (direction) (rate({CILIUM_POLICY_DROPS}[$__rate_interval]))", "Cilium {{direction}}"))
    if HUBBLE not in without:
        queries.append(g.prom(f"sum by (protocol) (rate({HUBBLE_POLICY_DROPS}[$__rate_interval]))", "Hubble {{protocol}}"))
    if not queries:
        return []
    return [
        g.row("Network policy violations"),
        g.timeseries_panel(
            "Packets dropped by network policy",
            "Packets a network policy denied (Cilium agent and Hubble metrics). Drops right after a "
            "deployment are usually a missing policy; drops from unknown sources are worth a look.",
            queries,
            unit="pps",
            width=FULL,
            minimum=0,
        ),
    ]


def _vulnerabilities() -> list:
    vulns = "trivy_image_vulnerabilities"
    return [
        g.row("Vulnerability scans (Trivy Operator)"),
        *[
            g.stat_panel(
                f"{severity} vulnerabilities",
                f"{severity} CVEs in images running in the selected namespaces.",
                [g.prom(f'sum({vulns}{{severity="{severity}", {_NS}}}) or vector(0)', instant=True)],
                unit="none",
                threshold_config=g.thresholds(Step(None, g.GREEN), Step(1, colour)),
                width=QUARTER,
            )
            for severity, colour in (("Critical", g.RED), ("High", g.ORANGE))
        ],
        g.stat_panel(
            "Exposed secrets",
            "Secrets found inside container images.",
            [g.prom(f"sum(trivy_image_exposedsecrets{{{_NS}}}) or vector(0)", instant=True)],
            unit="none",
            threshold_config=g.thresholds(Step(None, g.GREEN), Step(1, g.RED)),
            width=QUARTER,
        ),
        g.stat_panel(
            "Critical/high config audit findings",
            "Kubernetes resources failing Trivy's configuration checks at critical or high severity.",
            [
                g.prom(
                    f'sum(trivy_resource_configaudits{{severity=~"Critical|High", {_NS}}}) or vector(0)',
                    instant=True,
                )
            ],
            unit="none",
            threshold_config=g.thresholds(Step(None, g.GREEN), Step(1, g.ORANGE)),
            width=QUARTER,
        ),
        g.timeseries_panel(
            "Vulnerabilities by severity",
            "Trend of known CVEs in running images: should fall after each patch cycle.",
            [g.prom(f"sum by (severity) ({vulns}{{{_NS}}})", "{{severity}}")],
            unit="none",
            width=THIRD,
            stacked=True,
        ),
        g.table_panel(
            "Most vulnerable images (critical + high)",
            "Images to rebuild first.",
            [
                g.prom(
                    "topk(15, sum by (namespace, image_repository, image_tag) "
                    f'({vulns}{{severity=~"Critical|High", {_NS}}}))',
                    instant=True,
                    table_format=True,
                )
            ],
            width=2 * THIRD,
        ),
    ]


def _compliance() -> list:
    compliance = "trivy_cluster_compliance"
    return [
        g.row("Compliance"),
        g.bar_gauge_panel(
            "Controls passing, per compliance spec",
            "Share of controls passing in each ClusterComplianceReport (e.g. CIS Kubernetes benchmark, NSA "
            "hardening guide).",
            [
                g.prom(
                    f'sum by (title) ({compliance}{{status="Pass", {ENV}}})\n/\nsum by (title) ({compliance}{{{ENV}}})',
                    "{{title}}",
                    instant=True,
                )
            ],
            unit="percentunit",
            threshold_config=g.higher_is_better(0.8, 0.95),
            minimum=0,
            maximum=1,
        ),
        g.table_panel(
            "Failing controls per spec",
            "Number of failing controls per compliance spec.",
            [
                g.prom(
                    f'sum by (title, description) ({compliance}{{status="Fail", {ENV}}}) > 0',
                    instant=True,
                    table_format=True,
                )
            ],
            width=HALF,
        ),
    ]


def build(environment: str, without: frozenset[str] = frozenset()):
    """`without`: optional producers the stack does not deploy (their panels are left out)."""
    builder = g.new_dashboard(
        UID,
        TITLE,
        "Authentication and authorisation events, network policy violations, vulnerability scans and compliance.",
        ["security"],
        time_from="now-7d",
    )
    for variable in (g.datasource_variable(), g.environment_variable(environment), g.namespace_variable()):
        builder = builder.with_variable(variable)
    panels = [*_access(), *_network(without)]
    if TRIVY_OPERATOR not in without:
        panels += [*_vulnerabilities(), *_compliance()]
    return g.add_panels(builder, panels)
