"""Live: the weekly report CronJob's entry point, run exactly as the rendered prod CronJob runs it
(its command and plain environment, its ConfigMap's files laid out at their mount paths), against
a real Prometheus holding a week of synthetic history (tests/monitoring/report_history.py) and a
local HTTP server standing in for the Slack incoming webhook (tests/engines.py WebhookRecorder).

What the test changes, and only that: the mount directory (/opt/report -> a temporary directory),
`python` (-> this interpreter, the same minor version as the pinned image: tests/test_reports_job.py),
the `--url` value (Thanos Query -> the live Prometheus) and the webhook Secret's value (-> the
recorder). `python -S` stays: without site-packages the job can only import the standard library
and the mounted files, so a stray project import fails here as it would in the image.

The history ends 20 minutes after the test starts: the job reports at the last whole minute of its
run (report_job.report_time), so every instant query finds the sample of that minute (with the
history's `--query.lookback-delta=1s`), and every episode lies well inside its 7-day period.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from monitoring import report_job
from monitoring.durations import format_duration
from plan.reports import CODE_DIR
from tests.engines import WebhookRecorder
from tests.helpers import engine_params
from tools import report
from tests.monitoring.report_history import STEP, WEEK, alert_series, history_prometheus, slo_series

pytestmark = pytest.mark.heavy(15)

# Label values and the team routing gives them in prod (Pulumi.prod.yaml ownership).
OWNED = {"checkout": "api-team", "terrafusion-db": "data-team", "search": "platform-team"}
FRONTEND = ("web", "web-team")
# (alertname, severity, labels) -> episodes (start minute after the week began, length in minutes)
ALERTS: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[tuple[int, int]]] = {
    ("ApiHighErrorRate", "P2", (("service", "checkout"),)): [(300, 10), (3000, 120)],
    ("PostgresDown", "P1", (("service", "terrafusion-db"),)): [(7000, 3)],
    ("FrontendErrorsHigh", "P3", (("service", "web"),)): [(400, 30)],
    ("KubePodCrashLooping", "P3", (("component", "kubernetes"),)): [(500, 600), (2000, 5)],
    ("SearchSlow", "P3", (("service", "search"),)): [(800, 20)],
}
TEAM_OF_ALERT = {"ApiHighErrorRate": "api-team", "PostgresDown": "data-team", "FrontendErrorsHigh": "web-team",
                 "KubePodCrashLooping": "platform-team", "SearchSlow": "platform-team"}  # fmt: skip


def _cron_job(objects: list[dict[str, Any]]) -> dict[str, Any]:
    (job,) = [o for o in objects if o["kind"] == "CronJob" and o["metadata"]["name"] == "weekly-report"]
    return job


def _config_map(objects: list[dict[str, Any]], name: str) -> dict[str, str]:
    (cm,) = [o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == name]
    return cm["data"]


@pytest.fixture(scope="module")
def job(rendered_objects, tmp_path_factory):
    """The rendered prod CronJob's container, and its ConfigMap laid out as the kubelet mounts it."""
    objects = rendered_objects["prod"]
    pod = _cron_job(objects)["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    (volume,) = pod["volumes"]
    (mount,) = container["volumeMounts"]
    assert mount["mountPath"] == CODE_DIR
    root = tmp_path_factory.mktemp("weekly-report-mount")
    data = _config_map(objects, volume["configMap"]["name"])
    for item in volume["configMap"]["items"]:
        (root / item["path"]).parent.mkdir(parents=True, exist_ok=True)
        (root / item["path"]).write_text(data[item["key"]])
    config = report_job.ReportConfig.from_dict(json.loads(data["report.json"]))
    return container, root, config


def run_job(container: dict[str, Any], root: Path, url: str, webhook: str, cwd: Path) -> subprocess.CompletedProcess:
    command = [str(part).replace(CODE_DIR, str(root)) for part in container["command"]]
    assert command[0] == "python"
    command[0] = sys.executable
    command[command.index("--url") + 1] = url
    env = {}
    for var in container["env"]:
        if "valueFrom" in var:
            assert var["valueFrom"]["secretKeyRef"] == {"name": "alertmanager-receivers", "key": "slack-webhook-url"}
            env[var["name"]] = webhook
        else:
            env[var["name"]] = var["value"].replace(CODE_DIR, str(root))
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module", params=engine_params("prometheus"))
def history(request, tmp_path_factory, job):
    _, _, config = job
    work = tmp_path_factory.mktemp(f"report-job-{request.param}")
    at = (int(time.time()) // STEP) * STEP
    start = at - WEEK
    grid = range(start, at + 20 * 60 + 1, STEP)
    # The config's SLOs, as the catalogue defines them (their burn tier names the burn record).
    slos = [s for s in report.stack_slos("prod") if s.id in {spec.id for spec in config.slos}]
    by_service = next(s for s in slos if s.label == "service")
    by_app = next(s for s in slos if s.label == "app")
    spike = {t: 14.4 for t in range(at - 2 * 86400, at - 2 * 86400 + 3600, STEP)}
    series = [
        *slo_series(by_service, "checkout", grid, window_ratio=0.0004, budget_left=0.6, burn=spike, burn_elsewhere=0.2),
        *slo_series(by_service, "terrafusion-db", grid, window_ratio=0.25 * by_service.error_budget, budget_left=0.75,
                    burn_elsewhere=0.5),
        *slo_series(by_service, "search", grid, window_ratio=0.5 * by_service.error_budget),
        *slo_series(by_app, "web", grid, window_ratio=2 * by_app.error_budget, budget_left=0.0, burn_elsewhere=3.0),
    ]  # fmt: skip
    for (name, severity, labels), runs in ALERTS.items():
        series.append(alert_series({"alertname": name, "severity": severity, **dict(labels)}, start, runs))
    with history_prometheus(request.param, work, series) as server:
        yield server.url, by_service, by_app


def _posts_by_channel(recorder: WebhookRecorder) -> dict[str, list[dict[str, Any]]]:
    posts: dict[str, list[dict[str, Any]]] = {}
    for n in recorder.received():
        posts.setdefault(n.body["channel"], []).append(n.body)
    return posts


def _text(bodies: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"]["text"].removeprefix("```\n").removesuffix("\n```") for body in bodies for b in body["blocks"])


def _row(slo, who: str, achieved: str, left: str, burn: str) -> str:
    return f"| {slo.title} | {who} | {slo.target * 100:.3f}% over {slo.window} | {achieved} | {left} | {burn} |"


def _alert_row(name: str, severity: str, runs: list[tuple[int, int]]) -> str:
    lengths = [n for _, n in runs]
    return (f"| {name} | {severity} | {len(runs)} | {format_duration(sum(lengths) * 60)} "
            f"| {format_duration(max(lengths) * 60)} | {sum(n <= 15 for n in lengths)} |")  # fmt: skip


def test_each_team_receives_its_own_slos_and_alerts_and_no_others(job, history, tmp_path):
    container, root, config = job
    url, by_service, by_app = history
    with WebhookRecorder() as recorder:
        result = run_job(container, root, url, f"{recorder.url}/slack/T000/B000/secret", tmp_path)
        posts = _posts_by_channel(recorder)
    assert result.returncode == 0, result.stderr
    channels = {t.team: t.channel for t in config.teams}
    assert set(posts) == set(channels.values()), "every team gets its report, in its own channel"
    texts = {team: _text(posts[channel]) for team, channel in channels.items()}
    budget = by_service.error_budget
    rows = {
        "checkout": _row(by_service, "checkout", "99.960%", "60.0%", "14.4x"),
        "terrafusion-db": _row(by_service, "terrafusion-db", f"{(1 - 0.25 * budget) * 100:.3f}%", "75.0%", "0.5x"),
        "search": _row(by_service, "search", f"{(1 - 0.5 * budget) * 100:.3f}%", "n/a", "n/a"),
        "web": _row(by_app, "web", f"{(1 - 2 * by_app.error_budget) * 100:.3f}% (missed)", "0.0%", "3.0x"),
    }
    owners = {**OWNED, FRONTEND[0]: FRONTEND[1]}
    for who, row in rows.items():
        for team, text in texts.items():
            assert (row in text) == (team == owners[who]), (who, team, row)
    for (name, severity, _), runs in ALERTS.items():
        for team, text in texts.items():
            assert (_alert_row(name, severity, runs) in text) == (team == TEAM_OF_ALERT[name]), (name, team)
            if team != TEAM_OF_ALERT[name]:
                assert f"| {name} |" not in text
    for body in (b for bodies in posts.values() for b in bodies):
        assert body["text"].startswith("TerraFusion prod: weekly SLO report and alert review for ")
        assert all(len(b["text"]["text"]) <= 3000 for b in body["blocks"]) and len(body["blocks"]) <= 50


def test_a_failed_post_exits_non_zero_after_trying_every_team(job, history, tmp_path):
    container, root, config = job
    url, _, _ = history
    # Prometheus itself answers 404 for a path it does not serve: a webhook that refuses the post.
    result = run_job(container, root, url, f"{url}/slack/T000/B000/revoked", tmp_path)
    assert result.returncode == report_job.EXIT_DELIVERY_FAILED
    for team in config.teams:
        assert f"report: not delivered to {team.team} ({team.channel}):" in result.stderr
    assert "HTTP 404" in result.stderr and "revoked" not in result.stderr, "the webhook's path is its secret"


def test_an_unreachable_query_posts_nothing_and_exits_2(job, tmp_path):
    container, root, _ = job
    with WebhookRecorder() as recorder:
        result = run_job(container, root, "http://127.0.0.1:9", f"{recorder.url}/slack/T000/B000/secret", tmp_path)
        assert recorder.received() == []
    assert result.returncode == report_job.EXIT_BAD_INPUT
    assert result.stderr.startswith("report: http://127.0.0.1:9/api/v1/query:")
