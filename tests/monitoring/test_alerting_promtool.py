"""Real promtool: every rendered rule file loads, and unit tests prove the alerts fire when they should.

`promtool check rules` validates syntax and semantics as Prometheus loads them; `promtool test
rules` evaluates the rules over synthetic series: every SLO alert fires just above its burn rate and
stays silent just below it, and the main platform alerts fire on their failure scenario.

Engines (tools/engines.py): every test runs on 3.5.3, the generation the charts deploy, and on 2.42
(bookworm), except that 2.42's SLO cases cover one area only (SLO_AREAS, for run time).
"""

from __future__ import annotations

import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from tests.monitoring.alerting_promtool_cases import (
    SCENARIOS,
    rule_test_file,
    rules_by_name,
    scenario_case,
    slo_case,
    without_recorded_inputs,
)
from tests.monitoring.alerting_helpers import make_spec, write_yaml
from tests.helpers import engine_params, require_engine

from monitoring.alert_rules import CATALOGUE_FILES, SLO_FILES, build_rule_files
from monitoring.durations import parse_duration
from monitoring.slo_catalogue import Area
from monitoring.slo import BUDGET_GROUP_SUFFIX, build_slo_rule_groups, effective_slos, group_slo_id

# Independent promtool runs on cheap fixtures: each test may go to any worker.
pytestmark = pytest.mark.spread


def _run(args: list[str], timeout: int = 150) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def spec():
    return make_spec()


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, spec) -> dict[str, Path]:
    """The rule files exactly as the render writes them: prometheus/rules/<stem>.yaml."""
    out = tmp_path_factory.mktemp("prometheus") / "rules"
    return {stem: write_yaml(out / f"{stem}.yaml", content) for stem, content in build_rule_files(spec).items()}


@pytest.fixture(params=engine_params("promtool"))
def generation(request) -> str:
    return request.param


@pytest.fixture
def promtool(generation) -> str:
    return require_engine("promtool", generation)


def test_promtool_check_rules_accepts_every_rendered_file(promtool, rendered):
    result = _run([promtool, "check", "rules", *map(str, rendered.values())])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(rendered)


def test_promtool_check_rules_accepts_overridden_slos(promtool, tmp_path):
    spec = make_spec(
        sloOverrides={"api-availability": {"target": 0.995, "window": "7d"}, "db-replication-lag": {"target": 30}}
    )
    paths = [write_yaml(tmp_path / f"{s}.yaml", c) for s, c in build_rule_files(spec).items()]
    result = _run([promtool, "check", "rules", *map(str, paths)])
    assert result.returncode == 0, result.stdout + result.stderr


# Evaluating every 5 minutes over three synthetic days takes minutes; the series are constant (a
# recovered probe's last phase included, for longer than any short window), so an evaluation every
# 2h reaches the same verdicts in seconds: every `for:` is at most that long (an alert pending at
# one step fires at the next) and every eval_time of the cases is a step (both checked below). The
# windows longer than 5m sum the SLO's 5m records, which the case feeds as input series at every
# 5m (and checks against the SLO's record rules there): a range selector reads every sample of its
# range, not one per step, so the coarse step leaves them whole (alerting_promtool_cases.py).
SLO_TEST_EVALUATION_INTERVAL = "2h"
# The SLO cases are the slowest tests (~10 s of CPU on 3.5.3, which runs every area; 2.42 runs the
# database area only (ratio and threshold SLOs, every burn tier), which keeps 2.42's window
# semantics (LEFT_OPEN_RANGES in alerting_promtool_cases.py) covered for a third of that.
SLO_AREAS = {"2": ("slo-database",), "3": tuple(SLO_FILES)}


def _slo_test_files(spec, tmp_path: Path, generation: str) -> list[Path]:
    """One promtool test file per SLO of that generation's areas, against that SLO's rendered groups.

    An SLO's case loads only its own groups (`slo-<id>`, `-slow`, `-tiles`, `-budget`): the SLOs of an area
    read the same metrics, so with the whole area loaded every case also evaluated every other SLO's
    recording rules over its 3-day series (4x the work for the API area), and those can never change
    the verdict of this SLO's alerts, which select `slo="<id>"` only (checked here). The rules that
    record the SLO's 5m inputs and what is derived from them at each 5m step (30m records, tiles)
    are left out: the case feeds those records and checks the rules' expressions against them.
    The slow, tiles and error-budget groups carry a fixed 5m interval; the test copy evaluates them
    at the same step as the rest, for the same reason.
    """
    files = []
    step = parse_duration(SLO_TEST_EVALUATION_INTERVAL)
    for stem in SLO_AREAS[generation]:
        area_groups = build_slo_rule_groups(spec, area=SLO_FILES[stem])
        for slo in (s for s in effective_slos(spec) if s.area == Area(SLO_FILES[stem])):
            groups = [g for g in area_groups if group_slo_id(g["name"]) == slo.id]
            assert {f"slo-{slo.id}", f"slo-{slo.id}{BUDGET_GROUP_SUFFIX}"} <= {g["name"] for g in groups}, slo.id
            alerts = [r for g in groups for r in g["rules"] if "alert" in r]
            assert alerts and all(f'{{slo="{slo.id}"}}' in r["expr"] for r in alerts if "slo:" in r["expr"]), slo.id
            assert all(parse_duration(r["for"]) <= step for r in alerts), slo.id
            tested = without_recorded_inputs(slo, groups)
            stepped = [{**g, "interval": SLO_TEST_EVALUATION_INTERVAL} if "interval" in g else g for g in tested]
            rules = write_yaml(tmp_path / f"slo-{slo.id}.yaml", {"groups": stepped})
            case = slo_case(slo, groups, generation)
            assert all(parse_duration(c["eval_time"]) % step == 0 for c in case["alert_rule_test"]), slo.id
            # The slow tiers' group reads the alerting group's records: in production those are at
            # most one 30s evaluation old; at the test's step they must be this step's.
            test = rule_test_file([str(rules)], [case], evaluation_interval=SLO_TEST_EVALUATION_INTERVAL,
                                  group_eval_order=[g["name"] for g in stepped])
            files.append(write_yaml(tmp_path / f"test-slo-{slo.id}.yaml", test))
    return files


@pytest.mark.heavy(20)
def test_every_slo_alert_fires_at_its_burn_rate_and_not_below(promtool, generation, spec, tmp_path):
    files = _slo_test_files(spec, tmp_path, generation)
    # Two promtools, each with half the files: the 3-day windows make these the slowest rule tests.
    halves = [files[0::2], files[1::2]]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda half: _run([promtool, "test", "rules", *map(str, half)]), [h for h in halves if h]))
    failures = [r.stdout + r.stderr for r in results if r.returncode != 0]
    assert failures == []
    assert sum(r.stdout.count("SUCCESS") for r in results) == len(files)


def test_every_slo_alert_has_a_promtool_case(spec, tmp_path):
    import yaml

    tested = set()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the cases hold long series strings
    for path in _slo_test_files(spec, tmp_path, "3"):
        for case in yaml.load(path.read_text(), Loader=loader)["tests"]:
            tested |= {t["alertname"] for t in case["alert_rule_test"] if t["exp_alerts"]}
    slo_alerts = {
        rule["alert"]
        for group in build_slo_rule_groups(spec)
        for rule in group["rules"]
        if "alert" in rule
    }
    assert tested == slo_alerts


def test_main_platform_alerts_fire_on_their_failure_scenario(promtool, spec, rendered, tmp_path):
    # Each scenario runs against the rendered file that defines its alert, all in one promtool: the
    # catalogue's alerts read raw series, some an SLO's 5m records (its SLI: monitoring/slo.py
    # `sli_rate`) or a record before them in their own group (`rate_record`), never another group's
    # catalogue record (the cost ones feed panels only) nor ALERTS (checked here), so the other
    # files cannot change a verdict, and promtool evaluates every rule
    # of a test file at every step, which made the day-long AuthenticationFailureSpike case cost
    # seconds against all of them. A file whose alerts read an SLO's records is tested with that
    # SLO's alerting group (which records them from the scenario's raw series), evaluated first at
    # every step, as Prometheus has them at most one interval old.
    files = build_rule_files(spec)
    catalogue = {stem: content for stem, content in files.items() if stem in CATALOGUE_FILES}
    catalogue_rules = [r for content in catalogue.values() for g in content["groups"] for r in g["rules"]]
    recorded = {r["record"] for r in catalogue_rules if "record" in r}
    foreign = [
        rule["alert"]
        for content in catalogue.values() for group in content["groups"] for i, rule in enumerate(group["rules"]) if "alert" in rule
        if "ALERTS" in rule["expr"]
        or any(name in rule["expr"] for name in recorded - {r["record"] for r in group["rules"][:i] if "record" in r})
    ]  # fmt: skip
    assert not foreign
    assert any(name in r["expr"] for r in catalogue_rules if "alert" in r for name in recorded)  # the exception is taken
    home = {r["alert"]: stem for stem, content in catalogue.items() for g in content["groups"] for r in g["rules"] if "alert" in r}
    rules = rules_by_name(files)
    slo_groups = {g["name"]: g for g in build_slo_rule_groups(spec)}
    cases: dict[str, list[dict]] = {}
    for scenario in SCENARIOS:
        cases.setdefault(home[scenario.alertname], []).append(scenario_case(scenario, rules))
    paths = []
    for stem, stem_cases in cases.items():
        read = sorted({f"slo-{i}" for g in catalogue[stem]["groups"] for r in g["rules"] if "alert" in r
                       for i in re.findall(r'\{slo="([a-z0-9-]+)"\}', r["expr"])})
        rule_files, order = [str(rendered[stem])], None
        if read:
            rule_files.append(str(write_yaml(tmp_path / f"slo-inputs-{stem}.yaml", {"groups": [slo_groups[n] for n in read]})))
            order = read + [g["name"] for g in catalogue[stem]["groups"]]
        test = rule_test_file(rule_files, stem_cases, evaluation_interval="1m", group_eval_order=order)
        paths.append(write_yaml(tmp_path / f"test-{stem}.yaml", test))
    assert any(len(rule_files) > 1 for rule_files in [yaml.safe_load(p.read_text())["rule_files"] for p in paths])
    result = _run([promtool, "test", "rules", *map(str, paths)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") == len(paths)
