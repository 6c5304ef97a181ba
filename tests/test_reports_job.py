"""The weekly report CronJob as rendered (plan/reports.py, components/reports.py): restricted pod,
scheduling and retries, its code equal to the repository's files, its NetworkPolicies evaluated
(tests/network_policy_evaluator.py), the job-failure alert covering it, and the team of every
amtool route case equal to the report's owner (the live run: tests/monitoring/test_report_job_live.py)."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
import yaml

from monitoring import report_job
from monitoring.report_job import ReportConfig, owner, slack_messages
from plan.reports import CODE_DIR, RUNTIME_FILES, SOURCE_ROOT, configmap_key
from plan.versions import PYTHON_IMAGE
from tests import renders
from tests.helpers import config_error
from tests.network_policy_evaluator import External, Pod
from tests.test_network_policies import known_ports, model, pods_of, services, workload

KEY = "terrafusion-monitoring"


def _objects(rendered_objects, kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in rendered_objects["prod"] if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


@pytest.fixture(scope="module")
def cron_job(rendered_objects) -> dict[str, Any]:
    (job,) = _objects(rendered_objects, "CronJob", "weekly-report")
    return job


def _pod(cron_job) -> dict[str, Any]:
    return cron_job["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def test_prod_runs_the_report_weekly_on_monday_morning_in_the_teams_zone(cron_job):
    spec = cron_job["spec"]
    assert (spec["schedule"], spec["timeZone"]) == ("0 8 * * 1", "Europe/Berlin")
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == 1
    job = spec["jobTemplate"]["spec"]
    assert job["activeDeadlineSeconds"] > 0 and job["backoffLimit"] >= 1
    # a failed post fails the Job at once: a retry would post the other teams' reports again
    (rule,) = job["podFailurePolicy"]["rules"]
    assert rule == {"action": "FailJob", "onExitCodes": {"containerName": "report", "operator": "In",
                                                         "values": [report_job.EXIT_DELIVERY_FAILED]}}  # fmt: skip
    assert _pod(cron_job)["restartPolicy"] == "Never"


def test_dev_has_no_report_job_without_channels(rendered_objects):
    assert not [o for o in rendered_objects["dev"] if o["kind"] == "CronJob" and o["metadata"]["name"] == "weekly-report"]


def test_the_report_pod_is_restricted_and_mounts_no_token(cron_job, rendered_objects):
    pod = _pod(cron_job)
    assert pod["securityContext"]["runAsNonRoot"] and pod["securityContext"]["runAsUser"] > 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    (container,) = pod["containers"]
    context = container["securityContext"]
    assert context["readOnlyRootFilesystem"] and not context["allowPrivilegeEscalation"]
    assert context["capabilities"] == {"drop": ["ALL"]}
    assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    (account,) = _objects(rendered_objects, "ServiceAccount", pod["serviceAccountName"])
    assert account["automountServiceAccountToken"] is False


def test_the_webhook_is_the_alertmanager_receivers_secret_by_reference(cron_job, rendered_objects):
    (container,) = _pod(cron_job)["containers"]
    secret_refs = [v for v in container["env"] if "valueFrom" in v]
    assert secret_refs == [{"name": report_job.WEBHOOK_ENV, "valueFrom": {"secretKeyRef": {
        "name": "alertmanager-receivers", "key": "slack-webhook-url"}}}]  # fmt: skip
    (cm,) = _objects(rendered_objects, "ConfigMap", "weekly-report")
    assert "hooks.slack.com" not in json.dumps(cm) and "slack-webhook-url" not in json.dumps(cm)


def test_the_configmap_code_is_the_repositorys_files(cron_job, rendered_objects):
    (cm,) = _objects(rendered_objects, "ConfigMap", "weekly-report")
    for path in RUNTIME_FILES:
        assert cm["data"][configmap_key(path)] == (SOURCE_ROOT / path).read_text(), path
    (volume,) = _pod(cron_job)["volumes"]
    assert {i["key"]: i["path"] for i in volume["configMap"]["items"]} == {
        **{configmap_key(p): p for p in RUNTIME_FILES}, "report.json": "report.json"}  # fmt: skip
    (container,) = _pod(cron_job)["containers"]
    assert container["volumeMounts"] == [{"mountPath": CODE_DIR, "name": volume["name"], "readOnly": True}]


def test_the_runtime_imports_only_the_standard_library_and_the_mounted_files():
    imported = set()
    for path in RUNTIME_FILES:
        for line in (SOURCE_ROOT / path).read_text().splitlines():
            if m := re.match(r"^(?:from|import) ([\w.]+)", line):
                imported.add(m.group(1))
    project = {i for i in imported if i.split(".")[0] not in sys.stdlib_module_names}
    assert project <= {p.removesuffix(".py").replace("/", ".") for p in RUNTIME_FILES}, project


def test_the_pod_template_digest_changes_with_the_code(cron_job):
    annotations = cron_job["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"]
    assert re.fullmatch(r"[0-9a-f]{16}", annotations["terrafusion.io/config-digest"])


def test_the_pinned_image_is_the_python_the_tests_run_the_job_on():
    tag = PYTHON_IMAGE.rsplit(":", 1)[1]
    assert tag.startswith(f"{sys.version_info.major}.{sys.version_info.minor}.") and "slim" in tag


def test_the_job_asks_thanos_query_from_the_typed_endpoint(cron_job, prod):
    (container,) = _pod(cron_job)["containers"]
    command = container["command"]
    assert command[command.index("--url") + 1] == prod.result.plan.endpoints()["thanos_query"]
    assert command[:4] == ["python", "-S", "-m", "monitoring.report_job"]


# --- NetworkPolicies -------------------------------------------------------------------------------


def test_the_report_pod_reaches_thanos_query_and_nothing_else_in_the_cluster(rendered_objects, prod):
    objects, table = rendered_objects["prod"], prod.result.plan.network_policies.table
    cluster, svcs = model(objects), services(objects)
    job = workload(table, "report-job")
    (pod,) = pods_of(cluster, job)
    queries = set(pods_of(cluster, workload(table, "thanos-query")))
    reached = set()
    for destination in cluster.pods:
        for port in known_ports(cluster, svcs, destination) | {(443, "TCP"), (53, "UDP")}:
            if cluster.allowed(pod, destination, *port):
                reached.add((destination, port))
    assert reached == {(q, (10902, "TCP")) for q in queries}
    # the pod accepts nothing
    assert not [s for s in cluster.pods if cluster.allowed(s, pod, 10902)]


def test_the_report_pod_reaches_dns_and_slack_over_https_only(rendered_objects):
    cluster = model(rendered_objects["prod"])
    cluster.add_namespace("kube-system")
    (pod,) = [p for p in cluster.pods if p.name == "cronjob/weekly-report"]
    dns = Pod("coredns", "kube-system", {"k8s-app": "kube-dns"}, ip="10.96.0.10")
    assert cluster.egress_allowed(pod, dns, 53, "UDP") and cluster.egress_allowed(pod, dns, 53, "TCP")
    assert not cluster.egress_allowed(pod, dns, 443)
    slack = External("hooks.slack.com", "34.226.36.50")
    assert cluster.egress_allowed(pod, slack, 443) and not cluster.egress_allowed(pod, slack, 80)
    for private in ("10.244.1.7", "172.20.0.5", "192.168.1.1", "169.254.169.254", "fd00::5"):
        assert not cluster.egress_allowed(pod, External("in-cluster", private), 443), private


def test_the_report_pods_dns_is_the_clusters_own_where_it_differs(tmp_path_factory):
    # OpenShift's DNS pods: their own namespace and label (networkPolicy.dns).
    dns_labels = {"dns.operator.openshift.io/daemonset-dns": "default"}
    out = renders.shared_render(tmp_path_factory, "prod", {"networkPolicy.dns": {"namespace": "openshift-dns", "podLabels": dns_labels}})
    cluster = model(renders.objects(out))
    cluster.add_namespace("openshift-dns")
    cluster.add_namespace("kube-system")
    (pod,) = [p for p in cluster.pods if p.name == "cronjob/weekly-report"]
    openshift = Pod("dns-default", "openshift-dns", dns_labels, ip="172.30.0.10")
    kube_dns = Pod("coredns", "kube-system", {"k8s-app": "kube-dns"}, ip="10.96.0.10")
    assert cluster.egress_allowed(pod, openshift, 53, "UDP") and cluster.egress_allowed(pod, openshift, 53, "TCP")
    assert not cluster.egress_allowed(pod, kube_dns, 53, "UDP")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"networkPolicy.dns.podLabels": {}}, "networkPolicy.dns.podLabels: must have at least one label; an empty selector matches every pod of the namespace"),
        ({"networkPolicy.dns.namespace": "Kube_System"}, "networkPolicy.dns.namespace: 'Kube_System' string should match pattern"),
    ],
)
def test_bad_dns_settings_are_one_line_naming_the_key(overrides, message):
    assert (error := config_error("prod", overrides)).startswith(f"{KEY}:{message}"), error


# --- the job-failure alert ----------------------------------------------------------------------------


def test_kube_job_failed_covers_the_report_jobs_namespace(rendered_dirs, cron_job):
    rules = yaml.safe_load((rendered_dirs["prod"] / "prometheus" / "rules" / "kps-kubernetes-apps.yaml").read_text())
    (rule,) = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "KubeJobFailed"]
    matcher = re.search(r'namespace=~"([^"]*)"', rule["expr"])
    namespace = cron_job["metadata"]["namespace"]
    assert matcher is None or re.fullmatch(matcher.group(1), namespace), rule["expr"]
    assert "kube_job_failed" in rule["expr"] and rule["labels"]["severity"] in ("P2", "P3")


# --- ownership, as routing sees it ------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_route_case_goes_to_the_team_the_report_gives_it(stack, dev, prod):
    plan = {"dev": dev, "prod": prod}[stack].result.plan
    from monitoring.reports import report_teams

    teams = report_teams(plan.alerting.owners)
    cases = [c for c in plan.alerting.route_tests if c.team is not None]
    assert cases
    for case in cases:
        assert owner(case.labels.get("service"), teams).team == case.team, case.what


def test_the_config_names_every_team_once_with_its_channel(prod):
    config: ReportConfig = prod.result.plan.reports.config
    assert {t.team: (t.channel, t.fallback) for t in config.teams} == {
        "api-team": ("#team-api", False), "web-team": ("#team-web", False),
        "data-team": ("#team-data", False), "platform-team": ("#team-platform", True),
    }  # fmt: skip
    assert len(config.teams) == 4
    assert ReportConfig.from_dict(json.loads(config.to_json())) == config


# --- Slack limits --------------------------------------------------------------------------------------


def test_a_long_report_is_split_within_slacks_limits():
    text = "\n".join(f"| alert {i:05d} | P3 | 1 | 5m | 5m | 1 |" + "x" * 40 for i in range(2000))
    messages = slack_messages("#team-api", "summary", text)
    assert len(messages) > 1
    assert [m["text"] for m in messages][:2] == [f"summary (part 1/{len(messages)})", f"summary (part 2/{len(messages)})"]
    for m in messages:
        assert m["channel"] == "#team-api" and 0 < len(m["blocks"]) <= 50
        assert sum(len(b["text"]["text"]) for b in m["blocks"]) <= report_job.MESSAGE_CHARACTERS
        assert all(len(b["text"]["text"]) <= 3000 for b in m["blocks"])
    lines = [line for m in messages for b in m["blocks"] for line in b["text"]["text"].split("\n") if line.startswith("|")]
    assert lines == text.split("\n"), "nothing lost, nothing reordered"


# --- settings --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"reports.enabled": True}, "alerting.receivers.slack.enabled: is off, but reports.enabled posts the weekly report"),
        ({"reports.schedule": "CRON_TZ=UTC 0 8 * * 1"}, "reports.schedule: 'CRON_TZ=UTC 0 8 * * 1' is not a cron schedule"),
        ({"reports.timeZone": "Mars/Olympus"}, "reports.timeZone: 'Mars/Olympus' is not an IANA time zone"),
    ],
)
def test_bad_report_settings_are_one_line_naming_the_key(overrides, message):
    assert (error := config_error("dev", overrides)).startswith(f"{KEY}:{message}"), error


def test_a_period_longer_than_the_raw_history_is_refused():
    assert config_error("prod", {"reports.period": "60d"}) == (
        f"{KEY}:reports.period: 60d is longer than thanos.compactor.retentionRaw (35d), the raw history the report reads"
    )
