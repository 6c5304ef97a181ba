"""The trace retention CronJob's script, run with the real sh, date and curl against a local
stand-in for Elasticsearch's _cat/indices and DELETE API (127.0.0.1 only)."""

from __future__ import annotations

import calendar
import os
import subprocess
import time

import pytest
from tests.engines import HandlerServer, StandInHandler
from tests.helpers import require_tool

from monitoring.tracing import trace_index_cleanup_script

INDICES = [
    "traces-jaeger-span-2026-11-10",
    "traces-jaeger-service-2026-11-10",
    "traces-jaeger-span-2026-11-18",
    "traces-jaeger-span-2026-11-19",
    "traces-jaeger-span-2026-11-25",
    "traces-jaeger-dependencies-2026-11-25",
]


@pytest.fixture
def fake_es():
    deleted: list[str] = []
    auth_seen: list[str] = []

    class Handler(StandInHandler):
        def do_GET(self):  # noqa: N802
            auth_seen.append(self.headers.get("Authorization", ""))
            self.reply("\n".join(INDICES).encode() + b"\n")

        def do_DELETE(self):  # noqa: N802
            deleted.append(self.path.lstrip("/"))
            self.reply(b"{}")

    with HandlerServer(Handler) as server:
        yield server.url, deleted, auth_seen


def _run(url: str, tmp_path, retention_days: int) -> subprocess.CompletedProcess:
    require_tool("curl", "apt-get install curl")
    script = tmp_path / "cleanup.sh"
    script.write_text(trace_index_cleanup_script())
    now = calendar.timegm(time.strptime("2026-11-26 03:00", "%Y-%m-%d %H:%M"))
    env = {
        **os.environ,
        "ES_URL": url,
        "ES_USERNAME": "jaeger",
        "ES_PASSWORD": "secret",
        "INDEX_PREFIX": "traces",
        "RETENTION_DAYS": str(retention_days),
        "NOW_EPOCH": str(now),
    }
    return subprocess.run(["/bin/sh", str(script)], env=env, capture_output=True, text=True, timeout=30)


def test_indices_older_than_the_retention_are_deleted(fake_es, tmp_path):
    url, deleted, _ = fake_es
    run = _run(url, tmp_path, retention_days=7)
    assert run.returncode == 0, run.stderr
    # cutoff 2026-11-19: strictly older days go, that day and newer stay.
    assert sorted(deleted) == [
        "traces-jaeger-service-2026-11-10",
        "traces-jaeger-span-2026-11-10",
        "traces-jaeger-span-2026-11-18",
    ]


def test_nothing_is_deleted_within_the_retention(fake_es, tmp_path):
    url, deleted, _ = fake_es
    assert _run(url, tmp_path, retention_days=30).returncode == 0
    assert deleted == []


def test_the_script_authenticates_as_the_jaeger_user(fake_es, tmp_path):
    url, _, auth_seen = fake_es
    _run(url, tmp_path, retention_days=7)
    assert auth_seen == ["Basic amFlZ2VyOnNlY3JldA=="]  # jaeger:secret
