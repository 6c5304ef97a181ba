"""One environment policy (monitoring/environments.py): the table covers exactly the environments a
stack may name, every field of it changes what a stack deploys or accepts, and nothing else in the
program decides by an environment's name."""

from __future__ import annotations

import ast
import copy
import dataclasses
import json
import typing
from pathlib import Path

import pytest

from monitoring.environments import ENVIRONMENTS, POLICIES, EnvironmentPolicy, MinimumReplicas
from stacks.config import PROJECT, ConfigError, parse_settings
from plan.settings import StackSettings
from tools.mockrun import ROOT, StackRun, _is_secure, read_stack_file, run_stack, set_path

TABLE = Path("monitoring/environments.py")
CODE = ("components", "monitoring", "plan", "stacks")


def _sources() -> dict[Path, ast.Module]:
    return {
        path.relative_to(ROOT): ast.parse(path.read_text())
        for folder in CODE
        for path in sorted((ROOT / folder).rglob("*.py"))
    }


# --- the table --------------------------------------------------------------------------------


def test_the_table_covers_exactly_the_environments_a_stack_may_name():
    accepted = typing.get_args(StackSettings.model_fields["environment"].annotation)
    assert set(POLICIES) == set(accepted) == {"dev", "staging", "prod"}
    assert ENVIRONMENTS == tuple(POLICIES)
    assert all(name == policy.name for name, policy in POLICIES.items())


def _attributes_read(include_table: bool) -> set[str]:
    return {
        node.attr
        for path, tree in _sources().items()
        if include_table or path != TABLE
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
    }


def test_every_policy_field_is_read_by_the_program():
    # The rows spell fields as keywords, never as attributes: a field read nowhere is dead policy.
    fields = {f.name for cls in (EnvironmentPolicy, MinimumReplicas) for f in dataclasses.fields(cls)}
    assert fields - _attributes_read(include_table=True) == set(), "policy fields nothing reads"
    # The table's own rule is read outside it (the builders' and the settings' side).
    assert "index_replicas" in _attributes_read(include_table=False)


def test_index_replicas_follow_the_nodes_that_can_hold_them():
    for policy in POLICIES.values():
        assert [policy.index_replicas(n) for n in (1, 2, 3, 5)] == [0, 1, 1, 1]


# --- nothing else decides by name ----------------------------------------------------------------


def _names_an_environment(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in ENVIRONMENTS
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return any(_names_an_environment(e) for e in node.elts)
    return False


def _decisions_by_name(tree: ast.Module) -> list[tuple[int, str]]:
    """Comparisons with an environment's name, dicts keyed by one, lookups by one, `case "prod":`."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare) and any(_names_an_environment(n) for n in (node.left, *node.comparators)):
            found.append(node)
        elif isinstance(node, ast.Dict) and any(k is not None and _names_an_environment(k) for k in node.keys):
            found.append(node)
        elif isinstance(node, ast.Subscript) and _names_an_environment(node.slice):
            found.append(node)
        elif isinstance(node, ast.MatchValue) and _names_an_environment(node.value):
            found.append(node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
                and node.args and _names_an_environment(node.args[0]):
            found.append(node)
    return [(n.lineno, ast.unparse(n)[:80]) for n in found]


def test_no_code_outside_the_table_decides_by_an_environments_name():
    found = {
        f"{path}:{line}": text
        for path, tree in _sources().items()
        if path != TABLE
        for line, text in _decisions_by_name(tree)
    }
    assert found == {}


def test_the_name_check_finds_the_ways_of_deciding_by_name():
    samples = [
        'if settings.environment == "prod": pass',
        'protect = env in ("staging", "prod")',
        'DEFAULTS = {"prod": 0.1}',
        'probability = DEFAULTS["dev"]',
        'probability = DEFAULTS.get("prod", 1.0)',
        'match env:\n    case "prod": pass',
    ]
    for sample in samples:
        assert _decisions_by_name(ast.parse(sample)), sample
    assert not _decisions_by_name(ast.parse('message = f"{policy.name} needs {n}"; label = environment'))


# --- each field changes a stack: prod's stack file as staging -----------------------------------


@pytest.fixture(scope="module")
def staging() -> StackRun:
    # prod's file as another environment: every difference from a prod run is the policy's.
    return run_stack("prod", {"environment": "staging"})


def _sampling_default(run: StackRun) -> float:
    return json.loads(run.result.plan.tracing.sampling_json)["default_strategy"]["param"]


def _log_index_replicas(run: StackRun) -> set[int]:
    return {
        body["template"]["settings"]["index.number_of_replicas"]
        for _, path, body in run.result.plan.elasticsearch.lifecycle_requests
        if path.startswith("/_index_template/")
    }


def _trace_index_replicas(run: StackRun) -> set[int]:
    values = run.chart("jaeger").plain_inputs["values"]
    indices = values["userconfig"]["extensions"]["jaeger_storage"]["backends"]["es_traces"]["elasticsearch"]["indices"]
    return {options["replicas"] for name, options in indices.items() if isinstance(options, dict)}


def test_protection_follows_the_environment(prod, staging):
    assert POLICIES["prod"].protect_stateful and not POLICIES["staging"].protect_stateful
    assert any(r.protect for r in prod.resources)
    assert not any(r.protect for r in staging.resources)


def test_default_sampling_follows_the_environment(prod, staging):
    assert _sampling_default(prod) == POLICIES["prod"].default_sampling_probability
    assert _sampling_default(staging) == POLICIES["staging"].default_sampling_probability
    assert _sampling_default(staging) != _sampling_default(prod)


def test_log_and_trace_indices_get_the_same_replicas_from_the_node_count(prod, dev):
    # prod: 3 nodes, one replica each; dev: 1 node, none (a replica there would stay unassigned).
    assert _log_index_replicas(prod) == _trace_index_replicas(prod) == {1}
    assert _log_index_replicas(dev) == _trace_index_replicas(dev) == {0}


def test_a_single_node_staging_cluster_has_no_replica_shards():
    run = run_stack("prod", {"environment": "staging", "elasticsearch.nodes": 1})
    assert _log_index_replicas(run) == _trace_index_replicas(run) == {0}


@pytest.mark.parametrize(
    ("key", "value", "minimum"),
    [
        ("prometheus.replicas", 1, lambda m: m.prometheus),
        ("alertmanager.replicas", 2, lambda m: m.alertmanager),
        ("thanos.query.replicas", 1, lambda m: m.thanos_query),
        ("thanos.queryFrontend.replicas", 1, lambda m: m.thanos_query_frontend),
        ("thanos.storeGateway.replicas", 1, lambda m: m.thanos_store_gateway),
        ("elasticsearch.nodes", 2, lambda m: m.elasticsearch_nodes),
    ],
)
def test_minimum_replicas_follow_the_environment(key, value, minimum):
    prod_minimum = minimum(POLICIES["prod"].minimum_replicas)
    with pytest.raises(ConfigError) as raised:
        _parses("prod", {key: value})
    assert str(raised.value) == f"{PROJECT}:{key}: is {value}; prod needs at least {prod_minimum} for high availability"
    assert value >= minimum(POLICIES["staging"].minimum_replicas)
    _parses("prod", {"environment": "staging", key: value})


@pytest.mark.parametrize(
    ("family", "value", "message"),
    [
        ("audit", "30d", "'30d' is below the prod minimum of 365d (the audit trail is kept at least a year)"),
        ("debug", "30d", "'30d' exceeds the prod maximum of 7d (debug logs are kept only days)"),
    ],
)
def test_log_retention_bounds_follow_the_environment(family, value, message):
    key = f"logs.families.{family}.deleteAfter"
    with pytest.raises(ConfigError) as raised:
        _parses("prod", {key: value})
    assert str(raised.value) == f"{PROJECT}:{key}: {message}"
    assert POLICIES["staging"].min_audit_log_retention is None and POLICIES["staging"].max_debug_log_retention is None
    _parses("prod", {"environment": "staging", key: value})


def _parses(stack: str, overrides: dict) -> StackSettings:
    """Settings validation only, as the program runs it first (no resources declared)."""
    raw = copy.deepcopy(read_stack_file(stack))
    for path, value in overrides.items():
        set_path(raw, path, value)
    prefix = f"{PROJECT}:"
    return parse_settings({k.removeprefix(prefix): v for k, v in raw.items() if k.startswith(prefix) and not _is_secure(v)})
