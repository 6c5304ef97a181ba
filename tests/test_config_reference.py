"""The configuration reference (tools/config_reference.py): generated files up to date, every setting
described, the stack-file JSON Schema accepting the real stack files and refusing broken ones, and
Pulumi.yaml's declarations reading exactly as the program's own defaults."""

from __future__ import annotations

import copy
import inspect
import json
import typing

import jsonschema
import pytest
from pydantic import BaseModel

from tests.helpers import ROOT
from monitoring import yaml_text
from stacks.config import PROJECT, SECRET_KEYS, parse_settings
from plan.settings import StackSettings
from tools import config_reference
from tools.mockrun import known_stacks, read_stack_file

STACKS = known_stacks()


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(config_reference.SCHEMA_JSON.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _stack_document(stack: str) -> dict:
    return yaml_text.load((ROOT / f"Pulumi.{stack}.yaml").read_text())


def _errors(validator: jsonschema.Draft202012Validator, document: dict) -> list[str]:
    return [f"{error.json_path}: {error.message}" for error in validator.iter_errors(document)]


# --- generated files ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(config_reference.outputs(), key=str), ids=lambda p: p.name)
def test_generated_file_is_up_to_date(path):
    expected = config_reference.outputs()[path]
    assert path.read_text(encoding="utf-8") == expected, (
        f"{path.relative_to(ROOT)} is stale: run `make docs` ({config_reference.COMMAND}) and commit the result"
    )


def test_check_mode_reports_a_stale_file(tmp_path, monkeypatch, capsys):
    stale_copy = tmp_path / "configuration.md"
    stale_copy.write_text("# an old reference\n")
    monkeypatch.setattr(config_reference, "CONFIGURATION_MD", stale_copy)
    assert config_reference.main(["--check"]) == 1
    assert f"{stale_copy}: out of date" in capsys.readouterr().err
    assert stale_copy.read_text() == "# an old reference\n"  # --check writes nothing


def _models(model: type[BaseModel], seen: set) -> None:
    if model in seen:
        return
    seen.add(model)
    for field in model.model_fields.values():
        stack = [field.annotation]
        while stack:
            annotation = stack.pop()
            if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
                _models(annotation, seen)
            stack.extend(typing.get_args(annotation))


def test_every_setting_has_a_description():
    models: set[type[BaseModel]] = set()
    _models(StackSettings, models)
    missing = sorted(
        f"{model.__module__}.{model.__name__}.{name}"
        for model in models
        for name, field in model.model_fields.items()
        if not (field.description or "").strip()
    )
    assert not missing, "fields without description= (docs/configuration.md shows it): " + ", ".join(missing)


def test_every_key_in_the_reference_has_a_description():
    rows = list(config_reference.model_rows(StackSettings))
    assert len(rows) > 100  # the walk reached the nested keys
    assert [row.path for row in rows if not row.description] == []


def test_reference_lists_nested_keys_as_the_stack_file_spells_them():
    paths = {row.path for row in config_reference.model_rows(StackSettings)}
    assert {"thanos.storeGateway.storageSize", "grafana.teams[].name", "alerting.sloOverrides.<key>.target",
            "thanos.compactor.retention5m"} <= paths  # fmt: skip
    # `environment` under alerting and jaeger.sampling is the top-level key's, not a stack-file key.
    assert "alerting.environment" not in paths and "jaeger.sampling.environment" not in paths


def test_every_schema_property_has_a_description():
    schema = config_reference.stack_schema()
    undescribed = []

    def walk(node, where):
        if isinstance(node, dict):
            for name, sub in node.get("properties", {}).items():
                if "description" not in sub:
                    undescribed.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(schema, "#")
    assert undescribed == []


# --- the stack-file JSON Schema ---------------------------------------------------------------


@pytest.mark.parametrize("stack", STACKS)
def test_checked_in_stack_file_matches_the_schema(validator, stack):
    assert _errors(validator, _stack_document(stack)) == []


def test_schema_rejects_a_misspelt_top_level_key(validator):
    document = _stack_document("dev")
    document["config"][f"{PROJECT}:prometeus"] = document["config"][f"{PROJECT}:prometheus"]
    assert any("prometeus" in error for error in _errors(validator, document))


def test_schema_rejects_a_misspelt_nested_key(validator):
    document = _stack_document("dev")
    document["config"][f"{PROJECT}:thanos"]["compactor"]["retentionRow"] = "35d"
    assert any("retentionRow" in error for error in _errors(validator, document))


def test_schema_rejects_a_wrong_type(validator):
    document = _stack_document("dev")
    document["config"][f"{PROJECT}:cluster"]["nodes"] = "one"
    errors = _errors(validator, document)
    assert any("nodes" in error and "'one'" in error for error in errors), errors


def test_schema_rejects_a_value_outside_an_enum(validator):
    document = _stack_document("dev")
    document["config"][f"{PROJECT}:elasticsearch"]["maxMapCount"] = "sysctl"
    assert _errors(validator, document)


def test_schema_rejects_an_unknown_slo_override(validator):
    document = _stack_document("dev")
    document["config"][f"{PROJECT}:alerting"]["sloOverrides"] = {"api-availabilty": {"target": 0.99}}
    assert _errors(validator, document)


def test_schema_requires_the_required_keys(validator):
    document = _stack_document("dev")
    del document["config"][f"{PROJECT}:prometheus"]
    assert any("prometheus" in error for error in _errors(validator, document))


def test_schema_takes_secret_keys_only_as_secure_values(validator):
    document = _stack_document("dev")
    document["config"][f"{PROJECT}:objectStorageAccessKey"] = {"secure": "v1:c2FsdA==:Y2lwaGVy"}
    assert _errors(validator, document) == []
    document["config"][f"{PROJECT}:objectStorageAccessKey"] = "AKIA-in-plain-text"
    assert _errors(validator, document)


def test_schema_knows_every_secret_the_program_reads():
    properties = config_reference.stack_schema()["properties"]["config"]["properties"]
    assert {f"{PROJECT}:{key}" for key in SECRET_KEYS} <= set(properties)


def test_schema_leaves_other_namespaces_alone(validator):
    document = _stack_document("dev")
    document["config"]["kubernetes:context"] = "kind-dev"
    document["config"]["pulumi:tags"] = {"team": "platform"}
    assert _errors(validator, document) == []


def test_schema_accepts_a_partial_log_family_as_the_program_does(validator):
    document = _stack_document("dev")
    document["config"][f"{PROJECT}:logs"] = {"families": {"app": {"deleteAfter": "10d"}}}
    assert _errors(validator, document) == []
    plain = {k.removeprefix(f"{PROJECT}:"): v for k, v in document["config"].items()}
    assert parse_settings(plain).logs.families["app"].delete_after == "10d"


def test_schema_accepts_an_empty_storage_class_as_the_program_does(validator):
    document = _stack_document("dev")
    document["config"][f"{PROJECT}:storageClass"] = ""
    assert _errors(validator, document) == []


# --- Pulumi.yaml declarations ------------------------------------------------------------------


def _declarations() -> dict:
    return yaml_text.load(config_reference.PULUMI_YAML.read_text(encoding="utf-8"))["config"]


def test_pulumi_yaml_declares_every_top_level_key():
    keys = {key for key, _, _ in config_reference.stack_fields(StackSettings)}
    assert set(_declarations()) == keys


def test_pulumi_yaml_requires_exactly_the_keys_the_program_requires():
    required = set(StackSettings.model_json_schema(by_alias=True)["required"])
    assert {key for key, d in _declarations().items() if "default" not in d} == required


_PULUMI_TYPES = {"string": str, "integer": int, "boolean": bool, "object": dict, "array": list}


@pytest.mark.parametrize("stack", STACKS)
def test_stack_values_have_the_declared_pulumi_types(stack):
    # The CLI refuses a stack whose value is not of the declared type (ValidateConfigValue).
    config = read_stack_file(stack)
    wrong = [
        f"{key}: {type(config[f'{PROJECT}:{key}']).__name__} is not {d['type']}"
        for key, d in _declarations().items()
        if f"{PROJECT}:{key}" in config and not isinstance(config[f"{PROJECT}:{key}"], _PULUMI_TYPES[d["type"]])
    ]
    assert wrong == []


@pytest.mark.parametrize(
    "key", [key for key, d in yaml_text.load(config_reference.PULUMI_YAML.read_text(encoding="utf-8"))["config"].items() if "default" in d]
)
def test_pulumi_yaml_default_reads_as_the_key_left_out(key):
    # The CLI passes a declared default for a key the stack leaves out; the program must read it
    # exactly as the key absent, so Pulumi.yaml changes nothing a stack deploys.
    plain = {k.removeprefix(f"{PROJECT}:"): v for k, v in read_stack_file("dev").items() if k.removeprefix(f"{PROJECT}:") not in SECRET_KEYS}
    plain.pop(key, None)
    with_default = {**plain, key: copy.deepcopy(_declarations()[key]["default"])}
    assert parse_settings(with_default) == parse_settings(plain)
