"""Bad input, wide (issue 11, item 4): a table of malformed stack files, each rejected before any
resource exists with one line naming the key and the rule, a non-zero exit status and no traceback.

Every case goes through the two entry points users hit:
- the program as `pulumi up` runs it: tools/mockrun's StackRun on the case's stack file, which must
  raise ConfigError having registered no resource;
- the render CLI, `tools.render.main`, called in-process with its stderr captured (what `python -m
  tools.render` prints and returns: its `__main__` is `sys.exit(main())`); three cases run it as a real
  process too, to prove that the in-process path is the CLI's (a subprocess costs ~2 s each).
The render fills secrets it cannot decrypt with placeholders (an offline preview), so the "receiver
enabled without its secret" cases are the program's only (`render=False`).
This table is the wide net; tests/test_early_validation.py fuzzes every leaf of both stack files.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import io
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import tools.mockrun as mockrun
from stacks.config import PROJECT, ConfigError
from tools import render
from tools.mockrun import ROOT, StackRun, set_path

STACK = "broken"
SECURE = {"secure": "v1:AAAAplaceholder"}  # what `pulumi config set --secret` writes
OBJECT_STORAGE_SECRETS = ("objectStorageAccessKey", "objectStorageSecretKey")
FRONTEND = [{"app": "shop", "url": "http://shop.example/"}]


@dataclass(frozen=True)
class Case:
    name: str
    key: str  # the stack-file key the one line must name (after `error: `)
    rule: str  # a part of the rule it must state
    overrides: tuple[tuple[str, Any], ...] = ()
    text: str | None = None  # the whole stack file instead of dev's with overrides
    render: bool = True  # the render CLI rejects it too
    stack: str = STACK


def case(name: str, key: str, rule: str, **overrides: Any) -> Case:
    return Case(name, key, rule, tuple(overrides.items()))


def keyed(name: str, key: str, rule: str, path: str, value: Any, **kwargs: Any) -> Case:
    return Case(name, key, rule, ((path, value),), **kwargs)


@functools.cache
def _dev() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())


def stack_text(c: Case) -> str:
    if c.text is not None:
        return c.text
    document = copy.deepcopy(_dev())
    config = document["config"]
    # Secrets as `pulumi config set --secret` leaves them, so that only the case is wrong.
    for key in OBJECT_STORAGE_SECRETS:
        config[f"{PROJECT}:{key}"] = SECURE
    for path, value in c.overrides:
        set_path(config, path, value)
    return yaml.safe_dump(document, sort_keys=False)


DEV_TEXT = (ROOT / "Pulumi.dev.yaml").read_text()
SLACK_ON = {"enabled": True, "channels": {"P1": "#p1", "P2": "#p2"}}

CASES: list[Case] = [
    # wrong types
    keyed("replicas-a-word", "prometheus.replicas", "valid integer", "prometheus.replicas", "two"),
    keyed("nodes-a-list", "cluster.nodes", "valid integer", "cluster.nodes", [1]),
    keyed("section-a-number", "prometheus", "valid dictionary", "prometheus", 5),
    keyed("flag-a-word", "objectStorage.insecure", "valid boolean", "objectStorage.insecure", "maybe"),
    keyed("teams-a-string", "grafana.teams", "valid tuple", "grafana.teams", "Ops"),
    keyed("quantity-a-word", "prometheus.storageSize", "quantity", "prometheus.storageSize", "lots"),
    # out-of-range numbers
    keyed("no-alertmanager", "alertmanager.replicas", "greater than or equal to 1", "alertmanager.replicas", 0),
    keyed("negative-nodes", "cluster.nodes", "greater than or equal to 1", "cluster.nodes", -1),
    keyed("zero-trace-days", "jaeger.retentionDays", "greater than or equal to 1", "jaeger.retentionDays", 0),
    keyed("probability-over-one", "jaeger.sampling.defaultProbability", "less than or equal to 1",
          "jaeger.sampling.defaultProbability", 1.5),
    keyed("too-many-scan-jobs", "security.trivyOperator.concurrentScanJobs", "less than or equal to 10",
          "security.trivyOperator.concurrentScanJobs", 11),
    # prices: non-negative, finite numbers, in a currency the cost panels can show
    keyed("negative-cpu-price", "costs.cpuCoreHourly", "greater than or equal to 0", "costs.cpuCoreHourly", -0.01),
    keyed("negative-storage-price", "costs.storageGiBHourly", "greater than or equal to 0", "costs.storageGiBHourly", -1),
    keyed("price-a-word", "costs.ramGiBHourly", "valid number", "costs.ramGiBHourly", "cheap"),
    keyed("price-infinite", "costs.gpuHourly", "finite number", "costs.gpuHourly", float("inf")),
    keyed("unknown-currency", "costs.currency", "'USD', 'EUR', 'GBP' or 'CHF'", "costs.currency", "DOGE"),
    keyed("limit-below-request", "prometheus.resources.limits.memory", "below requests.memory",
          "prometheus.resources.limits.memory", "100Mi"),
    # negative and zero durations
    keyed("negative-retention", "prometheus.retention", "is not a duration", "prometheus.retention", "-3d"),
    keyed("zero-retention", "prometheus.retention", "longer than 0s", "prometheus.retention", "0s"),
    keyed("zero-scrape-interval", "prometheus.scrapeInterval", "longer than 0s", "prometheus.scrapeInterval", "0s"),
    keyed("zero-evaluation-interval", "prometheus.evaluationInterval", "longer than 0s", "prometheus.evaluationInterval", "0s"),
    keyed("negative-silence-retention", "alertmanager.retention", "is not a duration", "alertmanager.retention", "-1h"),
    keyed("zero-silence-retention", "alertmanager.retention", "longer than 0s", "alertmanager.retention", "0s"),
    keyed("zero-probe-interval", "exporters.blackbox.interval", "longer than 0s", "exporters.blackbox.interval", "0s"),
    keyed("negative-batch-timeout", "otelCollector.batchTimeout", "is not a duration", "otelCollector.batchTimeout", "-1s"),
    keyed("zero-influx-retention", "influxdb.retention.rawRetention", "shorter than 1h", "influxdb.retention.rawRetention", "0s"),
    # unknown keys at every level
    keyed("unknown-top-level", "promethues", "unknown config key", "promethues", {"replicas": 2}),
    keyed("unknown-section-key", "prometheus.replica", "extra inputs are not permitted", "prometheus.replica", 2),
    keyed("unknown-nested-key", "thanos.compactor.retentionRaww", "extra inputs are not permitted",
          "thanos.compactor.retentionRaww", "40d"),
    keyed("unknown-spec-key", "influxdb.retention.rawRetentionn", "extra inputs are not permitted",
          "influxdb.retention.rawRetentionn", "7d"),
    keyed("unknown-receiver-key", "alerting.receivers.slack.webhook", "extra inputs are not permitted",
          "alerting.receivers.slack.webhook", "https://hooks.example/x"),
    keyed("unknown-team-key", "ownership.teams.api-team.slackchannel", "extra inputs are not permitted",
          "ownership.teams.api-team.slackchannel", "#api"),
    # impossible SLOs
    keyed("slo-target-one", "alerting.sloOverrides.api-availability.target", "strictly between 0 and 1",
          "alerting.sloOverrides", {"api-availability": {"target": 1.0}}),
    keyed("slo-target-over-one", "alerting.sloOverrides.api-availability.target", "strictly between 0 and 1",
          "alerting.sloOverrides", {"api-availability": {"target": 1.5}}),
    keyed("slo-target-zero", "alerting.sloOverrides.api-latency.target", "strictly between 0 and 1",
          "alerting.sloOverrides", {"api-latency": {"target": 0}}),
    keyed("slo-window-shorter-than-alerts", "alerting.sloOverrides.api-availability.window", "burn-rate window",
          "alerting.sloOverrides", {"api-availability": {"window": "30m"}}),
    keyed("slo-window-equal-to-alerts", "alerting.sloOverrides.api-availability.window", "not longer than 1h",
          "alerting.sloOverrides", {"api-availability": {"window": "1h"}}),
    # retention shorter than downsampling
    keyed("raw-blocks-gone-before-5m", "thanos.compactor.retentionRaw", "must exceed 40h",
          "thanos.compactor.retentionRaw", "30h"),
    keyed("5m-blocks-gone-before-1h", "thanos.compactor.retention5m", "must exceed 10d",
          "thanos.compactor.retention5m", "9d"),
    keyed("influx-5m-tier-shorter-than-raw", "influxdb.retention.fiveMinuteRetention", "must outlive",
          "influxdb.retention.fiveMinuteRetention", "5d"),
    # receivers enabled without their secret (`pulumi up` only: the render uses placeholders)
    keyed("slack-without-webhook", "slackWebhookUrl", "pulumi config set --secret slackWebhookUrl",
          "alerting.receivers", {"slack": SLACK_ON}, render=False),
    keyed("ticket-without-token", "ticketWebhookToken", "pulumi config set --secret ticketWebhookToken",
          "alerting.receivers", {"ticket": {"enabled": True, "url": "https://tickets.example/hook"}}, render=False),
    # a secret in plain text
    Case("plain-text-webhook", "slackWebhookUrl", "plain text but is a secret",
         (("alerting.receivers", {"slack": SLACK_ON}), ("slackWebhookUrl", "https://hooks.slack.example/T/B/x"))),
    Case("plain-text-bucket-key", "objectStorageAccessKey", "plain text but is a secret",
         (("objectStorageAccessKey", "AKIAPLAINTEXT"),)),
    # references to things that do not exist
    keyed("area-of-an-unknown-team", "ownership.areas.api.team", "is not a key of teams", "ownership.areas.api.team", "nobody"),
    keyed("service-in-no-area", "ownership.areas.frontend.services", "is in no area's services",
          "exporters.blackbox.frontend", FRONTEND),
    keyed("storage-class-with-capitals", "storageClass", "should match pattern", "storageClass", "FastSSD"),
    keyed("unknown-slo", "alerting.sloOverrides.api-uptime", "unknown SLO id", "alerting.sloOverrides", {"api-uptime": {"target": 0.99}}),
    keyed("unknown-environment", "environment", "'dev', 'staging' or 'prod'", "environment", "qa"),
    # the file itself
    Case("broken-yaml", f"Pulumi.{STACK}.yaml:", "expected",
         text=DEV_TEXT.replace("  terrafusion-monitoring:cluster:\n", "  terrafusion-monitoring:cluster: [\n", 1)),
    Case("duplicate-key", f"Pulumi.{STACK}.yaml:", "duplicate key 'terrafusion-monitoring:namespace'",
         text=DEV_TEXT.replace("  terrafusion-monitoring:namespace: monitoring\n",
                               "  terrafusion-monitoring:namespace: monitoring\n  terrafusion-monitoring:namespace: other\n", 1)),
    Case("empty-stack-file", "environment", "no settings at all", text=""),
    Case("no-config-mapping", f"Pulumi.{STACK}.yaml:", "needs a `config:` mapping", text="config: [1, 2]\n"),
    Case("unknown-stack-name", "qa", "known stacks are", stack="qa"),
]
SUBPROCESS_CASES = ("broken-yaml", "unknown-stack-name", "zero-scrape-interval")


def _message_names(line: str, c: Case) -> bool:
    """`error: <project>:<key>: <rule>` (or the file's position / the stack name for file errors)."""
    text = line.removeprefix("error: ")
    if c.stack != STACK:  # the stack name is the key: the program names its file, the CLI the name
        return (text.startswith(f"Pulumi.{c.stack}.yaml:") or f"stack {c.stack!r}" in text) and c.rule in text
    key = c.key if c.key.startswith("Pulumi.") else f"{PROJECT}:{c.key}"
    return text.startswith(key) and c.rule in text


@pytest.fixture
def stack_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(mockrun, "ROOT", tmp_path)
    return tmp_path


def _write(directory: Path, c: Case) -> None:
    (directory / f"Pulumi.{STACK}.yaml").write_text(stack_text(c))
    (directory / "Pulumi.dev.yaml").write_text(DEV_TEXT)  # so "known stacks" has more than the case


def _render_in_process(c: Case, out: Path) -> tuple[int, str]:
    stderr, stdout = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        try:
            status = render.main(["--stack", c.stack, "--out", str(out)])
        except SystemExit as exit_:  # argparse's way; the CLI's too
            status = exit_.code
    return status, stderr.getvalue()


def _one_line(status: int, stderr: str, c: Case) -> str:
    assert status not in (0, None), f"{c.name}: accepted"
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"{c.name}: {stderr}"
    assert _message_names(lines[0], c), f"{c.name}: {lines[0]!r} does not name {c.key!r} and {c.rule!r}"
    return lines[0]


def test_the_table_is_wide():
    assert len(CASES) >= 40 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("c", CASES, ids=lambda c: c.name)
def test_pulumi_up_rejects_it_before_any_resource(c, stack_dir):
    _write(stack_dir, c)
    run = StackRun(c.stack, fill_required_secrets=False)
    with pytest.raises(ConfigError) as raised:
        run.execute()
    assert run.resources == [] and not run.registered_at_failure
    assert len(str(raised.value).splitlines()) == 1, str(raised.value)
    assert _message_names(str(raised.value), c), str(raised.value)


@pytest.mark.parametrize("c", [c for c in CASES if c.render], ids=lambda c: c.name)
def test_the_render_cli_rejects_it_in_one_line(c, stack_dir):
    _write(stack_dir, c)
    status, stderr = _render_in_process(c, stack_dir / "out")
    _one_line(status, stderr, c)
    assert not (stack_dir / "out").exists() or not any((stack_dir / "out").rglob("*.yaml"))


@pytest.mark.parametrize("name", SUBPROCESS_CASES)
def test_the_in_process_render_is_the_cli(name, stack_dir):
    c = next(c for c in CASES if c.name == name)
    _write(stack_dir, c)
    bootstrap = (
        "import pathlib, sys; import tools.mockrun as m; m.ROOT = pathlib.Path(sys.argv[1]); "
        "from tools import render; sys.exit(render.main(sys.argv[2:]))"
    )
    process = subprocess.run(
        [sys.executable, "-c", bootstrap, str(stack_dir), "--stack", c.stack, "--out", str(stack_dir / "out-cli")],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    line = _one_line(process.returncode, process.stderr, c)
    status, stderr = _render_in_process(c, stack_dir / "out")
    assert (status, stderr.strip()) == (process.returncode, line)


def test_a_secret_the_cli_marks_secret_is_not_plain_text(monkeypatch):
    # `pulumi up`: the language host passes the secret keys in PULUMI_CONFIG_SECRET_KEYS, not through
    # set_all_config (the mocks' way, which the table above exercises).
    from pulumi.runtime import config as runtime_config

    from stacks.config import _plain_text_secrets

    monkeypatch.setattr(runtime_config, "_SECRET_KEYS", runtime_config.ContextVar("test_secret_keys", default=set()))
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", f'["{PROJECT}:slackWebhookUrl"]')
    assert _plain_text_secrets({"slackWebhookUrl", "namespace"}) == []
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", "[]")
    assert _plain_text_secrets({"slackWebhookUrl", "namespace"}) == ["slackWebhookUrl"]
