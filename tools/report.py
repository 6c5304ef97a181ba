"""The weekly SLO report and alert review of a stack, on demand, against any Prometheus or Thanos
Query URL (docs/reports.md; the report itself: monitoring/reports.py).

    python -m tools.report --stack prod --url http://localhost:9090 [--period 7d] [--at 2026-12-01T09:00:00Z]

Reads the stack file for the effective SLOs (no secret needed), asks the URL's HTTP API (instant
queries at `--at`, a range query over the period for the alert review) and prints Markdown. Bad
input or an unreachable URL is one line on stderr and exit status 2.
Ref: https://prometheus.io/docs/prometheus/latest/querying/api/ (the same API through Thanos Query)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any

from monitoring import reports
from monitoring.durations import parse_duration
from monitoring.slo import effective_slos
from monitoring.slo_catalogue import Slo
from plan.alerting import alerting_plan
from stacks.config import ConfigError, parse_settings
from tools.mockrun import plain_settings

# A range query answers at most 11000 points per series (Prometheus' limit): the period is asked in
# chunks of fewer steps.
# Ref: prometheus/prometheus@v3.5.3 web/api/v1/api.go (queryRange: "exceeded maximum resolution of 11,000 points")
MAX_STEPS = 10_000


class ReportError(Exception):
    """One line for the user: the URL, the query and what went wrong."""


def _api(url: str, path: str, form: dict[str, str], timeout: float) -> Any:
    request = urllib.request.Request(f"{url.rstrip('/')}{path}", data=urllib.parse.urlencode(form).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the user's URL)
            answer = json.loads(response.read())
    except urllib.error.HTTPError as error:
        answer = json.loads(error.read() or b"{}") if error.headers.get_content_type() == "application/json" else {}
        raise ReportError(f"{url}{path}: HTTP {error.code}: {answer.get('error', error.reason)} ({form.get('query')})") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ReportError(f"{url}{path}: {getattr(error, 'reason', error)}") from None
    if answer.get("status") != "success":
        raise ReportError(f"{url}{path}: {answer.get('error', 'no answer')} ({form.get('query')})")
    return answer["data"]


def instant(url: str, query: str, at: float, label: str, timeout: float = 30) -> dict[str, float]:
    """{value of `label`: number} of an instant query."""
    data = _api(url, "/api/v1/query", {"query": query, "time": f"{at:.3f}"}, timeout)
    return {s["metric"].get(label, ""): float(s["value"][1]) for s in data["result"]}


def firing_alerts(url: str, start: float, end: float, step: float, timeout: float = 60) -> list[tuple[dict, list[float]]]:
    """(labels, sample timestamps) of every firing alert series over [start, end], at `step`."""
    series: dict[str, tuple[dict, list[float]]] = {}
    chunk_start = start
    while chunk_start <= end:
        chunk_end = min(end, chunk_start + (MAX_STEPS - 1) * step)
        form = {"query": reports.ALERTS_QUERY, "start": f"{chunk_start:.3f}", "end": f"{chunk_end:.3f}", "step": f"{step:g}"}
        for s in _api(url, "/api/v1/query_range", form, timeout)["result"]:
            key = json.dumps(s["metric"], sort_keys=True)
            series.setdefault(key, (s["metric"], []))[1].extend(float(ts) for ts, _ in s["values"])
        chunk_start = chunk_end + step
    return list(series.values())


def stack_slos(stack: str) -> list[Slo]:
    """The SLOs the stack's report covers: its effective ratio SLOs (overrides applied, those of
    undeployed producers left out)."""
    settings = parse_settings(plain_settings(stack))
    return reports.report_slos(effective_slos(alerting_plan(settings).spec, settings.undeployed_producers))


def build_report(stack: str, url: str, period: str, at: float, step: float) -> str:
    rows = []
    for slo in stack_slos(stack):
        queries = reports.slo_queries(slo, period)
        asked = [q for q in (queries.achieved, queries.budget_left, queries.worst_error_ratio) if q]
        rows += reports.slo_rows(queries, {q: instant(url, q, at, slo.label) for q in asked})
    reviews = reports.alert_reviews(firing_alerts(url, at - parse_duration(period), at, step), step)
    title = f"TerraFusion {stack}: SLO report and alert review, {datetime.fromtimestamp(at).astimezone().isoformat(timespec='minutes')}"
    return reports.markdown(title, period, rows, reviews)


def _time(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is neither unix seconds nor an RFC 3339 time") from None


def _duration(text: str) -> str:
    try:
        parse_duration(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r} {error}") from None
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="the stack whose SLOs to report (dev, prod)")
    parser.add_argument("--url", required=True, help="Prometheus or Thanos Query base URL")
    parser.add_argument("--period", type=_duration, default="7d", help="the report period (default 7d)")
    parser.add_argument("--at", type=_time, default=None, help="the report's end (unix seconds or RFC 3339; default now)")
    parser.add_argument("--step", type=_duration, default="1m", help="resolution of the alert review (default 1m)")
    args = parser.parse_args(argv)
    try:
        print(build_report(args.stack, args.url, args.period, args.at or time.time(), parse_duration(args.step)), end="")
    except (ConfigError, ReportError) as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
