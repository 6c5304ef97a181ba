"""Bad input is rejected before anything exists (issue 9, class 7).

Three generic checks, each able to fail on the next instance of the class:
- a fuzz table over the settings leaves of both stack files: every known-bad value is either
  rejected by parse_settings with a message naming that key, or the whole program runs to
  completion under mocks with unique URNs and object names; nothing fails once resources exist;
- a static walk: every `raise` in components/ and monitoring/ is reachable from a settings
  validator, or is an invariant listed here with its reason (and raises AssertionError);
- the render CLI: a YAML syntax error, a duplicate key and a bad value each print one line.
"""

from __future__ import annotations

import ast
import collections
import copy
import functools
import importlib
import re
import subprocess
import sys
import types
import typing
from pathlib import Path
from typing import Any, Iterator

import pulumi
import pytest
from pydantic import BaseModel

from stacks import program
from stacks.config import PROJECT, ConfigError, parse_settings
from plan.settings import StackSettings
from tools import render
from tools.mockrun import ROOT, DuplicateUrnError, StackRun, _is_secure, read_stack_file, set_path

# Hundreds of settings validations and a few dozen runs of the program.
pytestmark = pytest.mark.heavy(45)

LONG = "x" * 300
DASHBOARD_TEAMS = [{"name": "Executives"}, {"name": "Operations"}, {"name": "Developers"}, {"name": "Security"}]


# --- (i) fuzz -------------------------------------------------------------------------------

def _leaves(node: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every leaf; a map with dotted keys (label selectors) is a leaf."""
    if isinstance(node, dict) and node and not _is_secure(node) and not any("." in k or "/" in k for k in node):
        for key, value in node.items():
            yield from _leaves(value, f"{prefix}.{key}" if prefix else key)
    else:
        yield prefix, node


def _bad_values(value: Any) -> list[Any]:
    if isinstance(value, bool):
        return ["yes", 0]
    if isinstance(value, (int, float)):
        return [0, -1, "*"]
    if isinstance(value, str):
        return ["*", "/a/b", "", LONG, "a b", "-1d"]
    if isinstance(value, list):
        return [[], ["*"], [""], [LONG]] + ([[value[0], value[0]]] if value else [])
    if isinstance(value, dict):
        return [{}, {"a b": "*"}]
    return []


SAME_PROBE_NAME = ("dev", "exporters.blackbox", {"frontend": [{"app": "web", "url": "http://a/"}],
                                                  "api": [{"service": "web", "url": "http://a/healthz"}]})

# Known-bad values the leaf walk cannot produce: collisions of derived names, reserved names, and
# settings that only mean something together. (stack, key, value).
TABLE: list[tuple[str, str, Any]] = [
    ("dev", "otelCollector.corsOrigins", ["*"]),
    ("dev", "otelCollector.corsOrigins", ["https://app.example.com/"]),
    ("dev", "grafana.teams", [*DASHBOARD_TEAMS, {"name": "security"}]),
    ("dev", "grafana.teams", [*DASHBOARD_TEAMS, {"name": "Ops Team"}, {"name": "ops-team"}]),
    ("dev", "grafana.teams", [*DASHBOARD_TEAMS, {"name": "!!"}]),
    ("dev", "namespace", "kube-system"),
    ("dev", "namespace", "default"),
    ("dev", "namespace", "kube-public"),
    ("dev", "namespace", "kube-node-lease"),
    ("dev", "namespace", "kube"),
    ("dev", "namespace", "ingress-nginx"),
    ("dev", "grafana.ingress", {"enabled": False, "tlsSecretName": "grafana-tls"}),
    ("dev", "grafana.ingress", {"enabled": True, "clusterIssuer": "letsencrypt"}),
    ("dev", "grafana.url", "http://10.0.0.1"),
    ("dev", "grafana.url", "http://[::1"),
    ("dev", "jaeger.indexPrefix", "logs"),
    ("dev", "exporters.blackbox.frontend", [{"app": "web", "url": "http://a/"}, {"app": "web", "url": "http://b/"}]),
    SAME_PROBE_NAME,
    ("dev", "alerting.maintenanceWindows", [{"name": "patch", "weekdays": ["sunday"]}] * 2),
    ("dev", "alerting.sloOverrides", {"api-uptime": {"target": 0.99}}),
    ("dev", "alerting.businessHours.startTime", "19:00"),
    ("dev", "logs.families", {"trace": {"deleteAfter": "1d"}}),
    ("dev", "jaeger.sampling.overrides", [{"service": "a", "operation": "GET /x", "probability": 0.5}] * 2),
]

# Fine, and run to completion: a frontend app and an API service of one name are two Probes
# (frontend-web, api-web), which the unique-name check of the run proves.
RUNS = {(SAME_PROBE_NAME[0], SAME_PROBE_NAME[1], repr(SAME_PROBE_NAME[2]))}



def _section_model(annotation: Any) -> type[BaseModel] | None:
    options = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
    return next((o for o in options if isinstance(o, type) and issubclass(o, BaseModel)), None)


def _defaulted_leaves(model: type[BaseModel], section: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Scalar settings the stack file leaves at their default, inside the sections it sets."""
    for name, field in model.model_fields.items():
        key = field.alias or name
        path = f"{prefix}.{key}" if prefix else key
        if field.exclude:
            continue
        if (sub := _section_model(field.annotation)) is not None:
            if isinstance(section.get(key), dict):
                yield from _defaulted_leaves(sub, section[key], path)
        elif key not in section and isinstance(field.default, (str, int, float, bool)):
            yield path, field.default


def _cases() -> list[tuple[str, str, Any]]:
    cases = list(TABLE)
    for stack in ("dev", "prod"):
        raw = _stack_file(stack)
        tree = {key.removeprefix(f"{PROJECT}:"): value for key, value in raw.items()}
        for path, value in [*_leaves(tree), *_defaulted_leaves(StackSettings, tree)]:
            cases += [(stack, path, bad) for bad in _bad_values(value)]
    return cases


def _plain(raw: dict[str, Any]) -> dict[str, Any]:
    prefix = f"{PROJECT}:"
    return {k.removeprefix(prefix): v for k, v in raw.items() if k.startswith(prefix) and not _is_secure(v)}


@functools.cache
def _stack_file(stack: str) -> dict[str, Any]:
    return read_stack_file(stack)


def _rejection(stack: str, overrides: dict[str, Any]) -> str | None:
    raw = copy.deepcopy(_stack_file(stack))
    for path, value in overrides.items():
        set_path(raw, path, value)
    try:
        parse_settings(_plain(raw))
    except ConfigError as error:
        return str(error)
    return None


def _names_key(message: str, path: str) -> bool:
    key = f"{PROJECT}:{path}"
    return all(line.startswith(key) and line[len(key):len(key) + 1] in ":.[" for line in message.splitlines())


def _check_complete_run(run: StackRun) -> None:
    urns = [r.urn for r in run.resources]
    assert len(urns) == len(set(urns))
    objects = [
        (r.inputs.get("apiVersion"), r.inputs.get("kind"), r.inputs["metadata"].get("namespace"), r.inputs["metadata"].get("name"))
        for r in run.resources
        if r.custom and r.type.startswith("kubernetes:") and isinstance(r.inputs.get("metadata"), dict)
    ]
    duplicates = [name for name, count in collections.Counter(objects).items() if count > 1]
    assert not duplicates, f"two Kubernetes objects with one name: {duplicates}"


@pytest.fixture(scope="module")
def fuzz() -> tuple[list[tuple[str, str, Any, str]], list[tuple[str, str, Any]]]:
    """(rejected cases with their message, accepted cases)."""
    rejected, accepted = [], []
    for stack, path, value in _cases():
        message = _rejection(stack, {path: value})
        if message is None:
            accepted.append((stack, path, value))
        else:
            rejected.append((stack, path, value, message))
    return rejected, accepted


def test_the_fuzz_table_covers_both_stacks(fuzz):
    rejected, accepted = fuzz
    assert len(rejected) > 500 and accepted
    assert {stack for stack, *_ in rejected} == {"dev", "prod"}


def test_every_rejection_is_one_line_per_problem_naming_the_key(fuzz):
    rejected, _ = fuzz
    wrong = [(stack, path, repr(value)[:40], message) for stack, path, value, message in rejected if not _names_key(message, path)]
    assert not wrong, "\n".join(map(str, wrong))


def test_the_table_cases_are_rejected_with_their_key(fuzz):
    rejected, _ = fuzz
    rejected_table = {(stack, path, repr(value)) for stack, path, value, _ in rejected}
    for stack, path, value in TABLE:
        if (stack, path, repr(value)) not in RUNS:
            assert (stack, path, repr(value)) in rejected_table, (stack, path, value)


def test_a_rejected_case_fails_before_the_first_registration(fuzz):
    rejected, _ = fuzz
    # One per key (the program path is the same for every value of a key).
    first = {}
    for stack, path, value, message in rejected:
        first.setdefault((stack, path), (value, message))
    for (stack, path), (value, message) in first.items():
        run = StackRun(stack, {path: value})
        with pytest.raises(ConfigError) as raised:
            run.execute()
        assert _names_key(str(raised.value), path), (path, str(raised.value))
        assert run.registered_at_failure == 0, (path, value)


def _rounds(accepted: list[tuple[str, str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Accepted cases combined into few runs: round k sets the k-th accepted value of every key."""
    by_key: dict[tuple[str, str], list[Any]] = collections.defaultdict(list)
    for stack, path, value in accepted:
        by_key[(stack, path)].append(value)
    rounds: list[tuple[str, dict[str, Any]]] = []
    for stack in ("dev", "prod"):
        keys = [(path, values) for (s, path), values in by_key.items() if s == stack]
        for k in range(max((len(v) for _, v in keys), default=0)):
            rounds += [(stack, o) for o in _compatible(stack, {path: values[k] for path, values in keys if k < len(values)})]
    return rounds


def _compatible(stack: str, overrides: dict[str, Any]) -> list[dict[str, Any]]:
    """The overrides split into as few sets as a greedy pass finds whose values are accepted
    together (two values each fine alone may clash: a value goes to the first set it fits)."""
    if _rejection(stack, overrides) is None:
        return [overrides]
    sets: list[dict[str, Any]] = []
    for path, value in overrides.items():
        home = next((s for s in sets if _rejection(stack, {**s, path: value}) is None), None)
        if home is None:
            sets.append({path: value})
        else:
            home[path] = value
    return sets


def test_every_accepted_case_runs_to_completion_with_unique_names(fuzz):
    _, accepted = fuzz
    for stack, overrides in _rounds(accepted):
        run = StackRun(stack, overrides)
        try:
            run.execute()
        except Exception as error:
            pytest.fail(f"{stack} {overrides}: {type(error).__name__} after {run.registered_at_failure} registrations: {error}")
        _check_complete_run(run)


def test_the_engine_refuses_a_duplicate_urn_in_the_mocks_too(monkeypatch):
    def two_of_one_name(settings, secrets):
        pulumi.ComponentResource("terrafusion:test:Twice", "same")
        pulumi.ComponentResource("terrafusion:test:Twice", "same")
        return program.ProgramResult(platform=None, outputs={})

    monkeypatch.setattr(program, "run", two_of_one_name)
    run = StackRun("dev")
    with pytest.raises(DuplicateUrnError, match="Duplicate resource URN .*Twice::same"):
        run.execute()


def test_a_late_value_error_is_reported_as_a_bug_not_as_guidance(monkeypatch):
    def late_check(settings, secrets):
        pulumi.ComponentResource("terrafusion:test:First", "first")
        raise ValueError("otelCollector.corsOrigins[0]: '*' must be an origin")

    monkeypatch.setattr(program, "run", late_check)
    run = StackRun("dev")
    with pytest.raises(program.ProgramBug, match=r"^bug: ValueError: otelCollector\.corsOrigins\[0\]"):
        run.execute()
    assert run.registered_at_failure == 1


# --- (ii) every raise is settings validation or a listed invariant ---------------------------

# file::function -> why the check cannot fire on user input (each raises AssertionError).
INVARIANTS = {
    "components/exporters.py::Exporters.__init__": "postgresDsn is a required secret when the exporter is enabled (stacks/config.py required_secrets)",
    "components/grafana.py::Grafana.__init__": "grafanaDatabasePassword is a required secret with grafana.database (stacks/config.py required_secrets)",
    "monitoring/alert_rules/_rule.py::AlertRule.__post_init__": "the alert catalogue is program data",
    "components/rollout.py::ContentDigests.record": "each object is recorded once, by the component that declares it",
    "components/rollout.py::ContentDigests.digest": "components record an object before a pod's digest names it",
    "monitoring/dashboards/upstream.py::upstream_dashboard_patch": "the pinned chart's dashboards are all decided in the table; a chart bump that adds one fails here",
    "monitoring/upstream_rules.py::upstream_rule_patch": "the pinned chart's severities are all mapped; a chart bump that adds one fails here",
    "monitoring/metrics_contract.py::<module>": "the module's command-line entry point (SystemExit)",
}
# Code that runs in a pod of the platform, not in `pulumi up`: its raises are the job's exit messages
# (a failed post, an unreadable config), never a settings problem.
IN_CLUSTER_RUNTIME = {"monitoring/report_job.py"}  # the weekly report CronJob (plan/reports.py)
VALIDATOR_DECORATORS = {"field_validator", "model_validator"}
VALIDATOR_WRAPPERS = {"AfterValidator", "BeforeValidator", "PlainValidator", "WrapValidator"}
PLAN_ENTRY_POINTS = {"build_plan"}


def _sources() -> dict[str, ast.Module]:
    return {
        str(path.relative_to(ROOT)): ast.parse(path.read_text())
        for folder in ("components", "monitoring", "plan", "stacks")
        for path in sorted((ROOT / folder).rglob("*.py"))
    }


def _called_names(node: ast.AST) -> set[str]:
    names = set()
    for call in ast.walk(node):
        if isinstance(call, ast.Call):
            if isinstance(call.func, ast.Name):
                names.add(call.func.id)
            elif isinstance(call.func, ast.Attribute):
                names.add(call.func.attr)
    return names


def _functions(tree: ast.Module) -> Iterator[tuple[str, ast.FunctionDef]]:
    def visit(node: ast.AST, prefix: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    yield name, child
                yield from visit(child, f"{name}.")
            else:
                yield from visit(child, prefix)

    yield from visit(tree, "")


def _validator_reachable(sources: dict[str, ast.Module]) -> set[str]:
    """Simple names of every function a settings validator can call (by name: an over-approximation,
    which is what a "can this raise reach a user" check wants)."""
    by_name: dict[str, list[ast.FunctionDef]] = collections.defaultdict(list)
    frontier: set[str] = set()
    for tree in sources.values():
        for qualname, function in _functions(tree):
            by_name[function.name].append(function)
            decorators = {d.func.id if isinstance(d.func, ast.Name) else getattr(d.func, "attr", "")
                          for d in function.decorator_list if isinstance(d, ast.Call)}
            if decorators & VALIDATOR_DECORATORS:
                frontier.add(function.name)
        for call in ast.walk(tree):
            if isinstance(call, ast.Call) and getattr(call.func, "id", None) in VALIDATOR_WRAPPERS:
                frontier |= {a.id for a in call.args if isinstance(a, ast.Name)}
                frontier |= {n for a in call.args if isinstance(a, ast.Lambda) for n in _called_names(a)}
    # The plan is built before the first resource and its errors are reported like settings errors
    # (stacks/config.py plan_stack): what it calls is validation too.
    frontier |= PLAN_ENTRY_POINTS
    reachable: set[str] = set()
    while frontier:
        name = frontier.pop()
        if name in reachable:
            continue
        reachable.add(name)
        for function in by_name.get(name, []):
            frontier |= _called_names(function) - reachable
    return reachable


def _raises(sources: dict[str, ast.Module]) -> list[tuple[str, str, ast.Raise]]:
    """(file, enclosing function's qualified name or <module>, raise) in components/ and monitoring/."""
    found = []
    for file, tree in sources.items():
        if not file.startswith(("components/", "monitoring/", "plan/")) or file in IN_CLUSTER_RUNTIME:
            continue
        inner = {}
        for qualname, function in _functions(tree):
            for node in ast.walk(function):
                if isinstance(node, ast.Raise):
                    inner[id(node)] = (qualname, node)  # innermost function wins (visited last)
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise):
                qualname, _ = inner.get(id(node), ("<module>", node))
                found.append((file, qualname, node))
    return found


def _raises_an_assertion(file: str, node: ast.Raise) -> bool:
    """`raise AssertionError(...)`, or of a class of the module that subclasses it."""
    if not isinstance(node.exc, ast.Call) or not isinstance(node.exc.func, ast.Name):
        return False
    if node.exc.func.id == "AssertionError":
        return True
    raised = getattr(importlib.import_module(file.removesuffix(".py").replace("/", ".")), node.exc.func.id, None)
    return isinstance(raised, type) and issubclass(raised, AssertionError)


def test_every_raise_is_settings_validation_or_a_listed_invariant():
    sources = _sources()
    reachable = _validator_reachable(sources)
    unlisted, not_assertions = [], []
    for file, qualname, node in _raises(sources):
        function = qualname.rsplit(".", 1)[-1]
        key = f"{file}::{qualname}"
        if function in reachable:
            continue
        if key not in INVARIANTS:
            unlisted.append(f"{key}:{node.lineno}: {ast.unparse(node)[:100]}")
        elif qualname != "<module>" and not _raises_an_assertion(file, node):
            not_assertions.append(f"{key}:{node.lineno}")
    assert not unlisted, (
        "a check that no settings validator reaches: move it into plan/settings.py (a user can reach it) "
        "or list it in INVARIANTS with the reason it cannot fire:\n" + "\n".join(unlisted)
    )
    assert not not_assertions, "invariants raise AssertionError (a bug, not user guidance): " + ", ".join(not_assertions)


def test_every_listed_invariant_still_exists():
    sources = _sources()
    reachable = _validator_reachable(sources)
    present = {f"{file}::{qualname}" for file, qualname, _ in _raises(sources) if qualname.rsplit(".", 1)[-1] not in reachable}
    assert set(INVARIANTS) <= present, sorted(set(INVARIANTS) - present)


def test_the_cors_check_is_reached_from_settings_validation():
    # The example of the issue: it raised after 57 resources when only the builder called it.
    assert "validate_cors_origins" in _validator_reachable(_sources())


# --- (iii) the render CLI ---------------------------------------------------------------------

def _render(tmp_path: Path, stack_file: str, *args: str) -> subprocess.CompletedProcess:
    """`python -m tools.render --stack broken [args]` in a real process, against a stack file in tmp_path."""
    (tmp_path / "Pulumi.broken.yaml").write_text(stack_file)
    bootstrap = (
        "import pathlib, sys; import tools.mockrun as m; m.ROOT = pathlib.Path(sys.argv[1]); "
        "from tools import render; sys.exit(render.main(sys.argv[2:]))"
    )
    return subprocess.run(
        [sys.executable, "-c", bootstrap, str(tmp_path), "--stack", "broken", "--out", str(tmp_path / "out"), *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )


def _one_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


DEV_FILE = (ROOT / "Pulumi.dev.yaml").read_text()


def test_render_reports_a_yaml_syntax_error_as_file_line_column(tmp_path):
    broken = DEV_FILE.replace("  terrafusion-monitoring:cluster:\n", "  terrafusion-monitoring:cluster: [\n", 1)
    line = _one_line(_render(tmp_path, broken))
    assert re.fullmatch(r"error: Pulumi\.broken\.yaml:\d+:\d+: .+", line), line


def test_render_refuses_a_duplicate_key_that_yaml_would_silently_drop(tmp_path):
    retention = next(line for line in DEV_FILE.splitlines() if line.startswith("    retention: "))
    broken = DEV_FILE.replace(f"{retention}\n", f"{retention}\n    retention: 30d\n", 1)
    first = DEV_FILE.splitlines().index(retention) + 1
    line = _one_line(_render(tmp_path, broken))
    assert line == f"error: Pulumi.broken.yaml:{first + 1}:5: duplicate key 'retention' (first set on line {first})"


def test_render_reports_a_bad_value_as_one_line_naming_the_key(tmp_path):
    broken = DEV_FILE.replace('corsOrigins: ["http://app.localtest.me"]', 'corsOrigins: ["*"]', 1)
    assert broken != DEV_FILE
    line = _one_line(_render(tmp_path, broken))
    assert line.startswith(f"error: {PROJECT}:otelCollector.corsOrigins[0]: '*' must be an origin"), line


def test_a_what_if_setting_is_validated_like_the_stack_file_and_leaves_it_alone(tmp_path):
    # `--set` reaches the settings validation (a bad value is the same one line as in the file) ...
    line = _one_line(_render(tmp_path, DEV_FILE, "--set", "otelCollector.corsOrigins=['*']"))
    assert line.startswith(f"error: {PROJECT}:otelCollector.corsOrigins[0]: '*' must be an origin"), line
    assert (tmp_path / "Pulumi.broken.yaml").read_text() == DEV_FILE
    # ... and a flag that is not KEY=VALUE stops before anything runs.
    malformed = _render(tmp_path, DEV_FILE, "--set", "prometheus.retention")
    assert malformed.returncode == 2 and "'prometheus.retention' is not KEY=VALUE" in malformed.stderr


def test_a_what_if_value_is_typed_as_in_a_stack_file():
    assert render._setting("jaeger.sampling.defaultProbability=0.5") == ("jaeger.sampling.defaultProbability", 0.5)
    assert render._setting("prometheus.retention=20d") == ("prometheus.retention", "20d")
    assert render._setting("logs.families.app.deleteAfter= 31d") == ("logs.families.app.deleteAfter", "31d")


def test_a_missing_stack_file_is_one_line():
    with pytest.raises(ConfigError, match=r"^Pulumi\.qa\.yaml: no such stack file; known stacks are .*\bdev\b"):
        read_stack_file("qa")
