"""The weekly SLO report and alert review of a stack, on demand, against any Prometheus or Thanos
Query URL (docs/reports.md): the code the weekly in-cluster job runs (monitoring/report_job.py),
with the stack's report config (monitoring/reports.py), printing every team's rows in one report.

    python -m tools.report --stack prod --url http://localhost:9090 [--period 7d] [--at 2026-12-01T09:00:00Z]

Reads the stack file for the effective SLOs (no secret needed), asks the URL's HTTP API (instant
queries at `--at`, a range query over the period for the alert review) and prints Markdown. Bad
input or an unreachable URL is one line on stderr and exit status 2.
Ref: https://prometheus.io/docs/prometheus/latest/querying/api/ (the same API through Thanos Query)
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime

from monitoring import report_job, reports
from monitoring.durations import parse_duration
from monitoring.slo import effective_slos
from monitoring.slo_catalogue import Slo
from plan.alerting import alerting_plan
from stacks.config import ConfigError, parse_settings
from tools.mockrun import plain_settings

ReportError = report_job.ReportError


def stack_slos(stack: str) -> list[Slo]:
    """The SLOs the stack's report covers: its effective ratio SLOs (overrides applied, those of
    undeployed producers left out)."""
    settings = parse_settings(plain_settings(stack))
    return reports.report_slos(effective_slos(alerting_plan(settings).spec, settings.undeployed_producers))


def build_report(stack: str, url: str, period: str, at: float, step: str) -> str:
    """The whole stack's report (every team's rows and alerts), as the weekly job makes each team's."""
    settings = parse_settings(plain_settings(stack))
    plan = alerting_plan(settings)
    config = reports.report_config(
        f"TerraFusion {stack}", effective_slos(plan.spec, settings.undeployed_producers), plan.owners, period, step,
        settings.alerting.business_hours.location,
    )  # fmt: skip
    return report_job.whole_report(config, report_job.observe(config, url, at))


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
        print(build_report(args.stack, args.url, args.period, args.at or time.time(), args.step), end="")
    except (ConfigError, ReportError) as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
