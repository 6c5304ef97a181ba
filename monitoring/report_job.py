"""The weekly SLO report and alert review, run: ask Prometheus (or Thanos Query) what the report
config names, make each team's report, and post it to the team's Slack channel (docs/reports.md).

Standard library only, apart from monitoring/durations.py (itself standard library only): the
in-cluster CronJob runs this module in a plain Python image, from a ConfigMap that holds this file,
monitoring/durations.py and monitoring/__init__.py as they are in the repository, plus the report
config (plan/reports.py). `python -m tools.report` runs the same code from the command line.

The config (`ReportConfig`, JSON) is computed by the program from the stack (monitoring/reports.py):
per ratio SLO its figures' queries, and per team its channel and the services it owns, as routing
knows them (monitoring/alertmanager.py route_owners): a row or an alert belongs to the team owning
its `service` (the SLO label's value for an SLO row; an SLO alert carries that value as `service`),
and everything else (a platform `component`, a service nobody owns) to the fallback team, exactly
as the Alertmanager routes decide (tests/monitoring/test_report_job_live.py checks every amtool
route case against `owner`).

SLO rows, per ratio SLO and per value of its label, at the report's time:
- objective: the effective SLO's target over its window;
- achieved: 1 - the error ratio over the SLO window (`slo:sli_error:ratio_rate<window>`);
- budget left: `slo:error_budget_remaining:ratio`;
- worst burn: the highest error ratio over the fastest burn tier's long window during the period,
  divided by the error budget (1x spends the budget exactly over the window).
Alert review, per alert name and severity over the period, from Prometheus' own `ALERTS` series
(one per firing alert, written at every evaluation): how many times it fired (episodes: runs of
consecutive evaluations), for how long in total and at the longest, and how many episodes ended
within QUICK_RESOLVE (by themselves, before anyone could act: the candidates for tuning). Episodes
come from a range query at the step; a gap of more than one step ends an episode.
Ref: prometheus/prometheus@v3.5.3 rules/alerting.go (the `ALERTS` series and its `alertstate` label);
https://prometheus.io/docs/prometheus/latest/querying/api/ (instant and range queries; the same API
through Thanos Query)

Delivery: one Slack incoming-webhook call per message, JSON with `channel` (the team's, as the
Alertmanager Slack receivers set it), `text` (the notification's fallback) and `blocks`: the report
as preformatted section blocks of at most SECTION_CHARACTERS each, at most MESSAGE_BLOCKS blocks
and MESSAGE_CHARACTERS characters per message; a longer report is several messages ("part 1/2").
Ref: https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks (payload, `ok`,
errors such as 404 channel_not_found); https://docs.slack.dev/reference/block-kit/blocks/section-block
(text: at most 3000 characters); https://docs.slack.dev/reference/block-kit/blocks (at most 50
blocks per message).

Exit status: 0 when every team's report was delivered; 1 when a post failed (every team is still
tried, and the failures are listed on stderr: the Job fails and KubeJobFailed fires); 2 for a bad
config or a failed query, before anything is posted (so a retry posts nothing twice).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitoring.durations import format_duration, parse_duration

# An episode shorter than this resolved by itself before a person could act on it: a P1 pages
# after 10s of group_wait and is acknowledged within minutes at best.
QUICK_RESOLVE = "15m"
ALERTS_QUERY = 'ALERTS{alertstate="firing"}'
# A range query answers at most 11000 points per series (Prometheus' limit): the period is asked in
# chunks of fewer steps.
# Ref: prometheus/prometheus@v3.5.3 web/api/v1/api.go (queryRange: "exceeded maximum resolution of 11,000 points")
MAX_STEPS = 10_000
# Slack's limits (module docstring), with room for the code fence around each section's text.
SECTION_CHARACTERS = 3000 - len("```\n\n```")
MESSAGE_BLOCKS = 50
# Slack refuses a message whose blocks hold much more than ~13k characters in total
# (`msg_blocks_too_long`, below the documented 40k of `text`): stay well under it.
# Ref: https://github.com/slackapi/bolt-js/issues/2509
MESSAGE_CHARACTERS = 12_000
# Incoming webhooks take about one message per second; a 429 says when to try again.
# Ref: https://docs.slack.dev/apis/web-api/rate-limits ("Incoming webhooks ... 1 per second")
POST_INTERVAL_SECONDS = 1.0
POST_ATTEMPTS = 3
WEBHOOK_ENV = "SLACK_WEBHOOK_URL"

EXIT_DELIVERY_FAILED = 1
EXIT_BAD_INPUT = 2


class ReportError(Exception):
    """One line for the user: the URL, the query and what went wrong."""


# --- the config ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SloSpec:
    """One ratio SLO as the report reads it: its promise and the instant queries of its row (each
    answers one series per value of the SLO label)."""

    id: str
    title: str
    target: float
    window: str
    label: str
    error_budget: float
    achieved: str
    budget_left: str
    worst_error_ratio: str | None  # None: no burn tier (no burn record to read)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "target": self.target, "window": self.window, "label": self.label,
            "errorBudget": self.error_budget, "achieved": self.achieved, "budgetLeft": self.budget_left,
            "worstErrorRatio": self.worst_error_ratio,
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SloSpec:
        return cls(
            d["id"], d["title"], float(d["target"]), d["window"], d["label"], float(d["errorBudget"]),
            d["achieved"], d["budgetLeft"], d.get("worstErrorRatio"),
        )  # fmt: skip

    @property
    def queries(self) -> tuple[str, ...]:
        return tuple(q for q in (self.achieved, self.budget_left, self.worst_error_ratio) if q)


@dataclass(frozen=True)
class TeamSpec:
    """A team as routing sees it: its channel and the `service` values of the areas it owns; the
    fallback team owns whatever no team does."""

    team: str
    channel: str
    services: tuple[str, ...]
    fallback: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"team": self.team, "channel": self.channel, "services": list(self.services), "fallback": self.fallback}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TeamSpec:
        return cls(d["team"], d["channel"], tuple(d["services"]), bool(d.get("fallback", False)))


@dataclass(frozen=True)
class ReportConfig:
    title: str  # e.g. "TerraFusion prod"
    period: str
    step: str
    time_zone: str  # IANA zone of the report's date line
    slos: tuple[SloSpec, ...]
    teams: tuple[TeamSpec, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "title": self.title, "period": self.period, "step": self.step, "timeZone": self.time_zone,
            "slos": [s.to_dict() for s in self.slos], "teams": [t.to_dict() for t in self.teams],
        }  # fmt: skip

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReportConfig:
        config = cls(
            d["title"], d["period"], d["step"], d.get("timeZone", "UTC"),
            tuple(SloSpec.from_dict(s) for s in d["slos"]), tuple(TeamSpec.from_dict(t) for t in d["teams"]),
        )  # fmt: skip
        parse_duration(config.period), parse_duration(config.step)
        if config.teams and [t.fallback for t in config.teams].count(True) != 1:
            raise ValueError("teams: exactly one team is the fallback (it owns what no other team does)")
        return config


def owner(service: str | None, teams: Sequence[TeamSpec]) -> TeamSpec:
    """The team an alert with this `service` label (or an SLO row of this label value) belongs to:
    the team owning the service, else the fallback team (routing's last route)."""
    for team in teams:
        if not team.fallback and service in team.services:
            return team
    return next(t for t in teams if t.fallback)


# --- asking Prometheus -----------------------------------------------------------------------------


def _api(url: str, path: str, form: dict[str, str], timeout: float) -> Any:
    request = urllib.request.Request(f"{url.rstrip('/')}{path}", data=urllib.parse.urlencode(form).encode(), method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the configured URL)
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
        form = {"query": ALERTS_QUERY, "start": f"{chunk_start:.3f}", "end": f"{chunk_end:.3f}", "step": f"{step:g}"}
        for s in _api(url, "/api/v1/query_range", form, timeout)["result"]:
            key = json.dumps(s["metric"], sort_keys=True)
            series.setdefault(key, (s["metric"], []))[1].extend(float(ts) for ts, _ in s["values"])
        chunk_start = chunk_end + step
    return list(series.values())


# --- the report ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SloRow:
    slo: SloSpec
    who: str  # the SLO label's value
    achieved: float | None
    budget_left: float | None
    worst_burn: float | None


def slo_rows(slo: SloSpec, answers: Mapping[str, Mapping[str, float]]) -> list[SloRow]:
    """Rows from the answers ({query: {label value: number}}), one per label value any answer has."""
    achieved = answers.get(slo.achieved, {})
    left = answers.get(slo.budget_left, {})
    worst = answers.get(slo.worst_error_ratio, {}) if slo.worst_error_ratio else {}
    return [
        SloRow(slo, who, achieved.get(who), left.get(who), worst[who] / slo.error_budget if who in worst else None)
        for who in sorted({*achieved, *left, *worst})
    ]


@dataclass(frozen=True)
class AlertReview:
    alertname: str
    severity: str
    episodes: int
    firing_seconds: float
    longest_seconds: float
    quick: int  # episodes that ended within QUICK_RESOLVE


def episodes(timestamps: Sequence[float], step: float) -> list[float]:
    """Durations (s) of the runs of consecutive samples; a run of one sample lasted one step."""
    runs: list[float] = []
    start = previous = None
    for ts in timestamps:
        if previous is not None and ts - previous > 1.5 * step:
            runs.append(previous - start + step)
            start = None
        start = ts if start is None else start
        previous = ts
    if start is not None:
        runs.append(previous - start + step)
    return runs


def alert_reviews(series: Iterable[tuple[Mapping[str, str], Sequence[float]]], step: float) -> list[AlertReview]:
    """Per (alertname, severity), from the range answer of ALERTS_QUERY: (labels, sample
    timestamps) per alert series. Sorted by episodes, then firing time, most first."""
    grouped: dict[tuple[str, str], list[float]] = {}
    for labels, timestamps in series:
        key = (labels.get("alertname", ""), labels.get("severity", ""))
        grouped.setdefault(key, []).extend(episodes(sorted(timestamps), step))
    quick = parse_duration(QUICK_RESOLVE)
    reviews = [
        AlertReview(name, severity, len(runs), sum(runs), max(runs), sum(r <= quick for r in runs))
        for (name, severity), runs in grouped.items()
    ]
    return sorted(reviews, key=lambda r: (-r.episodes, -r.firing_seconds, r.alertname))


def _percent(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value * 100:.{digits}f}%"


def _duration(seconds: float) -> str:
    return format_duration(round(seconds / 60) * 60) if seconds >= 60 else f"{seconds:.0f}s"


def markdown(title: str, period: str, rows: Sequence[SloRow], reviews: Sequence[AlertReview]) -> str:
    """The report as Markdown (Slack shows the same tables as preformatted text)."""
    lines = [f"# {title}", "", f"## SLOs (budget window per SLO; worst burn over the last {period})", ""]
    lines += ["| SLO | for | objective | achieved | budget left | worst burn |", "|---|---|---|---|---|---|"]
    for r in rows:
        burn = "n/a" if r.worst_burn is None else f"{r.worst_burn:.1f}x"
        met = "" if r.achieved is None or r.achieved >= r.slo.target else " (missed)"
        lines.append(
            f"| {r.slo.title} | {r.who} | {_percent(r.slo.target)} over {r.slo.window} | {_percent(r.achieved)}{met} "
            f"| {_percent(r.budget_left, 1)} | {burn} |"
        )
    if not rows:
        lines.append("| (no SLO series found) | | | | | |")
    lines += ["", f"## Alert review (last {period}; quick = resolved within {QUICK_RESOLVE})", ""]
    lines += ["| alert | severity | fired | firing in total | longest | quick |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {r.alertname} | {r.severity} | {r.episodes} | {_duration(r.firing_seconds)} | {_duration(r.longest_seconds)} | {r.quick} |"
        for r in reviews
    ]
    if not reviews:
        lines.append("| (no alert fired) | | | | | |")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Observed:
    """What the report's queries answered: every SLO row and every firing alert series."""

    at: float
    rows: tuple[SloRow, ...]
    alerts: tuple[tuple[dict, list[float]], ...]


def observe(config: ReportConfig, url: str, at: float) -> Observed:
    """Ask every query of the report; ReportError on the first that fails."""
    rows: list[SloRow] = []
    for slo in config.slos:
        rows += slo_rows(slo, {q: instant(url, q, at, slo.label) for q in slo.queries})
    step = parse_duration(config.step)
    alerts = firing_alerts(url, at - parse_duration(config.period), at, step)
    return Observed(at, tuple(rows), tuple(alerts))


def report_date(at: float, zone: str) -> str:
    """The report's time in the teams' zone (UTC where the image has no time zone database)."""
    try:
        tz: Any = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        tz = timezone.utc
    return datetime.fromtimestamp(at, tz).isoformat(timespec="minutes")


def whole_report(config: ReportConfig, observed: Observed) -> str:
    """Every team's rows and alerts in one report (the command line's)."""
    title = f"{config.title}: SLO report and alert review, {report_date(observed.at, config.time_zone)}"
    reviews = alert_reviews(observed.alerts, parse_duration(config.step))
    return markdown(title, config.period, observed.rows, reviews)


def team_reports(config: ReportConfig, observed: Observed) -> dict[str, str]:
    """Team -> its report: the SLO rows of the services it owns and the alerts routed to it."""
    step = parse_duration(config.step)
    rows: dict[str, list[SloRow]] = {t.team: [] for t in config.teams}
    alerts: dict[str, list[tuple[dict, list[float]]]] = {t.team: [] for t in config.teams}
    for row in observed.rows:
        rows[owner(row.who, config.teams).team].append(row)
    for labels, timestamps in observed.alerts:
        alerts[owner(labels.get("service"), config.teams).team].append((labels, timestamps))
    date = report_date(observed.at, config.time_zone)
    return {
        t.team: markdown(
            f"{config.title}: SLO report and alert review for {t.team}, {date}",
            config.period, rows[t.team], alert_reviews(alerts[t.team], step),
        )
        for t in config.teams
    }  # fmt: skip


# --- delivery --------------------------------------------------------------------------------------


def _sections(text: str) -> list[str]:
    """The report's lines packed into chunks of at most SECTION_CHARACTERS (a longer line is cut)."""
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.rstrip("\n").split("\n"):
        line = line[:SECTION_CHARACTERS]
        if current and size + len(line) + 1 > SECTION_CHARACTERS:
            chunks.append("\n".join(current))
            current, size = [], 0
        current.append(line)
        size += len(line) + 1
    if current:
        chunks.append("\n".join(current))
    return chunks


def slack_messages(channel: str, summary: str, text: str) -> list[dict[str, Any]]:
    """The incoming-webhook payloads of one report: preformatted sections, split into messages
    within Slack's limits, each with `text` as its notification fallback."""
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": f"```\n{chunk}\n```"}} for chunk in _sections(text)]
    messages: list[list[dict[str, Any]]] = [[]]
    size = 0
    for block in blocks:
        length = len(block["text"]["text"])
        if messages[-1] and (len(messages[-1]) >= MESSAGE_BLOCKS or size + length > MESSAGE_CHARACTERS):
            messages.append([])
            size = 0
        messages[-1].append(block)
        size += length
    total = len(messages)
    return [
        {
            "channel": channel,
            "text": summary if total == 1 else f"{summary} (part {i}/{total})",
            "blocks": message,
        }
        for i, message in enumerate(messages, 1)
    ]


def post(webhook_url: str, payload: Mapping[str, Any], timeout: float = 30, sleep=time.sleep) -> None:
    """One incoming-webhook call; ReportError unless Slack takes it (2xx). A 429 or 5xx answer or
    no answer at all is tried again, POST_ATTEMPTS times in all."""
    body = json.dumps(payload).encode()
    where = urllib.parse.urlsplit(webhook_url)
    shown = f"{where.scheme}://{where.netloc}"  # the path is the webhook's secret
    for attempt in range(1, POST_ATTEMPTS + 1):
        request = urllib.request.Request(webhook_url, data=body, method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 (the configured webhook)
                return
        except urllib.error.HTTPError as error:
            reason = (error.read() or b"").decode(errors="replace")[:200] or error.reason
            problem = f"HTTP {error.code}: {reason}"
            if error.code != 429 and error.code < 500:
                raise ReportError(f"{shown}: {problem}") from None
            wait = float(error.headers.get("Retry-After") or 2 * attempt)
        except (urllib.error.URLError, OSError) as error:
            problem, wait = str(getattr(error, "reason", error)), 2.0 * attempt
        if attempt < POST_ATTEMPTS:
            sleep(min(wait, 30.0))
    raise ReportError(f"{shown}: {problem} (after {POST_ATTEMPTS} attempts)")


def deliver(config: ReportConfig, reports: Mapping[str, str], webhook_url: str, sleep=time.sleep) -> list[str]:
    """Post every team's report to its channel; the failures, one line each (every team is tried)."""
    failures: list[str] = []
    first = True
    for team in config.teams:
        summary = f"{config.title}: weekly SLO report and alert review for {team.team}"
        for message in slack_messages(team.channel, summary, reports[team.team]):
            if not first:
                sleep(POST_INTERVAL_SECONDS)
            first = False
            try:
                post(webhook_url, message, sleep=sleep)
            except ReportError as error:
                failures.append(f"{team.team} ({team.channel}): {error}")
                break  # the rest of this team's parts would make no sense alone
    return failures


def load_config(path: str) -> ReportConfig:
    try:
        with open(path, encoding="utf-8") as file:
            return ReportConfig.from_dict(json.load(file))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ReportError(f"{path}: not a report config ({error})") from None


def report_time(now: float, step: str) -> float:
    """The report's end: the last whole step, so every run of one minute reports the same figures
    and the alert review's steps fall on the step grid."""
    seconds = parse_duration(step)
    return (now // seconds) * seconds


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, help="the report config (JSON, plan/reports.py)")
    parser.add_argument("--url", required=True, help="Prometheus or Thanos Query base URL")
    args = parser.parse_args(argv)
    environ = os.environ if environ is None else environ
    webhook = environ.get(WEBHOOK_ENV, "")
    if not webhook.startswith(("https://", "http://")):
        print(f"report: {WEBHOOK_ENV} is not set to the Slack incoming webhook URL", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        config = load_config(args.config)
        observed = observe(config, args.url, report_time(time.time(), config.step))
    except ReportError as error:
        print(f"report: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    failures = deliver(config, team_reports(config, observed), webhook)
    for failure in failures:
        print(f"report: not delivered to {failure}", file=sys.stderr)
    delivered = len(config.teams) - len(failures)
    print(f"report: delivered to {delivered} of {len(config.teams)} teams", file=sys.stderr)
    return EXIT_DELIVERY_FAILED if failures else 0


if __name__ == "__main__":
    sys.exit(main())
