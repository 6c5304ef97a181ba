"""The configuration reference, generated from the settings model (plan/settings.py), so that the
reference, the schema and the project file cannot drift from what the program validates.

    .venv/bin/python -m tools.config_reference           # rewrite the three outputs (`make docs`)
    .venv/bin/python -m tools.config_reference --check   # exit 1 naming each stale output

Outputs:
- docs/configuration.md: every key path as a stack file spells it, with its type, default, allowed
  values and description, and the secret keys;
- docs/stack-config.schema.json: a JSON Schema (2020-12) of a whole `Pulumi.<stack>.yaml`, for
  editors and CI; the program's own validation stays the authority (cross-field rules, durations);
- the `config:` block of Pulumi.yaml: one declaration per top-level key, which the Pulumi CLI checks
  before the program runs.

Everything is read from the pydantic models (fields, aliases, defaults, descriptions) and from the
JSON Schema pydantic derives from them (types and constraints), so a field added to the settings
appears in all three by running this again. A field whose shape the outputs cannot express stops
the run with a message naming it, rather than being left out.
"""

from __future__ import annotations

import argparse
import copy
import functools
import inspect
import json
import re
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Literal

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pydantic  # noqa: E402
import yaml  # noqa: E402
from pydantic import BaseModel, TypeAdapter  # noqa: E402
from pydantic.fields import FieldInfo  # noqa: E402
from pydantic_core import PydanticUndefined, to_jsonable_python  # noqa: E402

from monitoring import yaml_text  # noqa: E402
from plan.secrets import all_secrets  # noqa: E402
from stacks.config import PROJECT  # noqa: E402
from plan.settings import StackSettings  # noqa: E402

CONFIGURATION_MD = ROOT / "docs" / "configuration.md"
SCHEMA_JSON = ROOT / "docs" / "stack-config.schema.json"
PULUMI_YAML = ROOT / "Pulumi.yaml"
COMMAND = ".venv/bin/python -m tools.config_reference"

# Config keys of other namespaces (providers, `pulumi:tags`): Pulumi's business, not read here.
OTHER_NAMESPACE_PATTERN = rf"^(?!{PROJECT}:)[^:]+:.+$"
# What `pulumi config set --secret` writes. Ref: pulumi/pulumi sdk/go/common/resource/config/value.go
# (a secure value is the mapping {secure: <ciphertext>})
SECURE_VALUE = {
    "type": "object",
    "description": "A secret as `pulumi config set --secret <key> <value>` writes it: the value encrypted "
    "by the stack's secrets provider.",
    "properties": {"secure": {"type": "string", "minLength": 1, "description": "The ciphertext."}},
    "required": ["secure"],
    "additionalProperties": False,
}


# --- reading the models ------------------------------------------------------------------------


@functools.cache
def model_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema pydantic derives from one model, with camelCase keys (its own $defs)."""
    return model.model_json_schema(by_alias=True)


def stack_key(name: str, field: FieldInfo) -> str:
    return field.alias or name


def stack_fields(model: type[BaseModel]) -> Iterator[tuple[str, FieldInfo, dict[str, Any]]]:
    """(stack-file key, field, its JSON Schema) of each field a stack file may set, in model order.
    A field the schema leaves out (SkipJsonSchema: set by the program, not the stack) is skipped."""
    properties = model_schema(model).get("properties", {})
    for name, field in model.model_fields.items():
        key = stack_key(name, field)
        if key in properties:
            yield key, field, properties[key]


def _strip(annotation: Any) -> Any:
    """The annotation without Annotated metadata and without `| None`."""
    while typing.get_origin(annotation) is Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return _strip(members[0])
    return annotation


def _is_model(annotation: Any) -> bool:
    return inspect.isclass(annotation) and issubclass(annotation, BaseModel)


def _container(annotation: Any) -> tuple[str, Any] | None:
    """("map", value type) or ("list", item type) for the collection annotations settings use."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (dict, Mapping) and len(args) == 2:
        return "map", args[1]
    if origin in (list, tuple, set, frozenset) and args:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            raise TypeError(f"fixed-length tuple {annotation} has no stack-file shape")
        return "list", args[0]
    return None


def _resolve(schema: dict[str, Any] | bool, defs: Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(schema, bool):  # JSON Schema's `true`: any value (e.g. a chart's extraValues)
        return {}
    while "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _branches(schema: dict[str, Any], defs: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a schema other than null and the empty-string spelling of "unset"."""
    schema = _resolve(schema, defs)
    if "anyOf" not in schema:
        return [schema]
    return [_resolve(b, defs) for b in schema["anyOf"] if b.get("type") != "null" and b.get("const") != ""]


def _one_branch(schema: dict[str, Any], defs: Mapping[str, Any], where: str) -> dict[str, Any]:
    branches = _branches(schema, defs)
    if len(branches) != 1:
        raise TypeError(f"{where}: a union of {len(branches)} shapes has no single stack-file shape")
    return branches[0]


def _defaults(model: type[BaseModel]) -> BaseModel | None:
    """The model as validated from an empty mapping (what leaving the whole key out gives), or None
    when the model has required keys. Its attributes are the effective defaults, including what a
    before-validator fills in (logs.families)."""
    try:
        return model.model_validate({})
    except pydantic.ValidationError:
        return None


# --- docs/configuration.md ----------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    path: str
    type: str
    default: str
    allowed: str
    description: str


def _flow(value: Any) -> str:
    """A default as a stack file would write it, in one line (unset members left out)."""

    def prune(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: prune(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [prune(x) for x in v]
        return v

    value = prune(value)
    if value is None:
        return "unset"
    if value == "":
        return '`""`'
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (int, float, str)):
        return f"`{value}`"
    if not value:
        return "`{}`" if isinstance(value, dict) else "`[]`"
    text = yaml.dump(value, Dumper=yaml_text.SafeDumper, sort_keys=False, default_flow_style=True, width=10**6)
    return f"`{text.strip()}`"


def _default_text(key: str, field: FieldInfo, required: set[str], defaults: BaseModel | None, name: str) -> str:
    if key in required:
        return "required"
    if defaults is not None:
        value = getattr(defaults, name)
    elif field.default is PydanticUndefined and field.default_factory is None:
        return "from the enclosing key's default"
    else:
        value = field.get_default(call_default_factory=True)
    if isinstance(value, BaseModel) and _defaults(type(value)) == value:
        return "`{}`"  # every key below at its own default
    return _flow(to_jsonable_python(value, by_alias=True))


_VALUE_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _scalar_type(schema: dict[str, Any], defs: Mapping[str, Any]) -> str:
    schema = _resolve(schema, defs)
    if "format" in schema:
        return schema["format"]
    if "anyOf" in schema:
        names = list(dict.fromkeys(_scalar_type(b, defs) for b in _branches(schema, defs)))
        return " or ".join(names)
    if "enum" in schema or "const" in schema:
        kinds = {_VALUE_TYPES.get(type(v), "value") for v in schema.get("enum", [schema.get("const")])}
        return kinds.pop() if len(kinds) == 1 else "value"
    return schema.get("type") if schema.get("type") in _VALUE_TYPES.values() else "value"


def _code_list(values: list[Any]) -> str:
    return ", ".join(f"`{v}`" for v in values)


def _allowed(schema: dict[str, Any], defs: Mapping[str, Any]) -> str:
    """Constraints of one key, from its JSON Schema (enums, bounds, lengths, patterns, map keys)."""
    parts: list[str] = []
    raw = _resolve(schema, defs)
    if any(b.get("const") == "" for b in raw.get("anyOf", [])):
        parts.append('`""` (unset)')
    for branch in _branches(schema, defs):
        if "enum" in branch:
            parts.append(f"one of {_code_list(branch['enum'])}")
        if "const" in branch:
            parts.append(f"`{branch['const']}`")
        for keyword, text in (
            ("minimum", "≥ {}"), ("exclusiveMinimum", "> {}"), ("maximum", "≤ {}"), ("exclusiveMaximum", "< {}"),
            ("minLength", "at least {} characters"), ("maxLength", "at most {} characters"),
            ("minItems", "at least {} items"), ("maxItems", "at most {} items"),
            ("pattern", "matches `{}`"),
        ):  # fmt: skip
            if keyword in branch:
                parts.append(text.format(branch[keyword]))
        if "propertyNames" in branch:
            names = _resolve(branch["propertyNames"], defs)
            if "enum" in names:
                parts.append(f"keys: {_code_list(names['enum'])}")
        for keyword, label in (("items", "each"), ("additionalProperties", "each value")):
            inner = branch.get(keyword)
            if isinstance(inner, dict) and "properties" not in _resolve(inner, defs):
                if text := _allowed(inner, defs):
                    parts.append(f"{label}: {text}")
    return "; ".join(parts)


def _describe(annotation: Any, schema: dict[str, Any], defs: Mapping[str, Any], path: str) -> tuple[str, list[Row]]:
    """(type text, rows of the keys below) of one key."""
    annotation = _strip(annotation)
    if _is_model(annotation):
        return "object", list(model_rows(annotation, path))
    if container := _container(annotation):
        kind, inner = container
        branch = _one_branch(schema, defs, path)
        inner_schema = branch.get("additionalProperties" if kind == "map" else "items", {})
        inner_type, rows = _describe(inner, inner_schema, defs, f"{path}.<key>" if kind == "map" else f"{path}[]")
        return f"{kind} of {inner_type}", rows
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        if any(_is_model(_strip(a)) or _container(_strip(a)) for a in typing.get_args(annotation)):
            raise TypeError(f"{path}: a union with an object or a collection has no single stack-file shape")
    return _scalar_type(schema, defs), []


def _cell(text: str) -> str:
    """One table cell: one line, `|` escaped, and `<...>` outside code spans kept as text (Markdown
    would read `https://<host>/` as an HTML tag and drop it)."""
    parts = " ".join(text.split()).replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = re.sub(r"<(?=[A-Za-z/!])", "&lt;", parts[i])
    return "`".join(parts)


def model_rows(model: type[BaseModel], prefix: str = "") -> Iterator[Row]:
    """One row per key of `model` (and, depth first, per key below it), paths from `prefix`."""
    schema = model_schema(model)
    defs = schema.get("$defs", {})
    required = set(schema.get("required", ()))
    defaults = _defaults(model)
    for name, field in model.model_fields.items():
        key = stack_key(name, field)
        if key not in schema.get("properties", {}):
            continue
        field_schema = schema["properties"][key]
        path = f"{prefix}.{key}" if prefix else key
        kind, rows = _describe(field.annotation, field_schema, defs, path)
        yield Row(
            path=path,
            type=kind,
            default=_default_text(key, field, required, defaults, name),
            allowed=_allowed(field_schema, defs),
            description=field.description or "",
        )
        yield from rows


def _table(rows: list[Row]) -> list[str]:
    lines = ["| Key | Type | Default | Allowed | Description |", "|---|---|---|---|---|"]
    for row in rows:
        cells = (f"`{row.path}`", row.type, row.default, row.allowed, row.description)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return lines


def configuration_markdown() -> str:
    rows = list(model_rows(StackSettings))
    top = [row for row in rows if "." not in row.path and "[" not in row.path]
    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated by tools/config_reference.py from plan/settings.py; edit the model and run "
        f"`make docs` (or `{COMMAND}`). tests/test_config_reference.py fails when this file is stale. -->",
        "",
        f"Every key a stack file (`Pulumi.<stack>.yaml`) may set. Top-level keys are "
        f"`{PROJECT}:<key>` entries of its `config:` mapping; the keys below them are nested YAML, as in",
        "",
        "```yaml",
        "config:",
        f"  {PROJECT}:prometheus:",
        "    retention: 15d",
        "    resources: {requests: {cpu: 500m, memory: 2Gi}}",
        "```",
        "",
        f"or, from the CLI, `pulumi config set --path prometheus.retention 15d`. In the paths below, "
        "`<key>` stands for a key of a map and `[]` for each item of a list.",
        "",
        "The program validates the whole file before it declares anything: an unknown key, a wrong type "
        "or a broken rule (including the cross-field rules no table can show, such as prod's replica "
        "minimums or a retention shorter than a rule's window) stops it with one line naming the key "
        "(README, \"Bad config\"). The same model gives",
        "",
        "- [`stack-config.schema.json`](stack-config.schema.json), a JSON Schema of a whole stack file for "
        "editors and CI (keys, types, allowed values; secrets only as `{secure: ...}`). With the YAML "
        "language server, put `# yaml-language-server: $schema=docs/stack-config.schema.json` on the first "
        "line of a stack file;",
        "- the `config:` declarations of `Pulumi.yaml`, which the Pulumi CLI checks before the program runs.",
        "",
        "Types: `duration` is a Prometheus duration (`30s`, `15d`, `1h30m`), `quantity` a Kubernetes "
        "quantity (`250m`, `1`, `512Mi`), `byte-size` a size with a B unit (`8GiB`, `50GB`). A default of "
        "`{}` leaves every key below at its own default; a default written out is what leaving out the "
        "whole key gives.",
        "",
        "## Secrets",
        "",
        "Set with `pulumi config set --secret <key> <value>`; never plain text in a stack file. Which "
        "ones a stack needs follows from its settings (README, \"Deploying\"); a missing one stops the "
        "program with the command to run.",
        "",
        "| Key | Value |",
        "|---|---|",
        *(f"| `{s.key}` | {_cell(s.description)} |" for s in all_secrets()),
        "",
        "## Keys",
        "",
        "| Key | Type | Default |",
        "|---|---|---|",
        *(f"| [`{row.path}`](#{row.path.lower()}) | {row.type} | {_cell(row.default)} |" for row in top),
    ]
    for section in top:
        lines += ["", f"### {section.path}", ""]
        lines += _table([row for row in rows if row.path == section.path or row.path.startswith(section.path + ".")])
    return "\n".join(lines) + "\n"


# --- docs/stack-config.schema.json ---------------------------------------------------------------


def _without_titles(schema: Any) -> Any:
    """pydantic's generated `title`s (the field name again) left out: the descriptions say more."""
    if isinstance(schema, list):
        return [_without_titles(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for keyword, value in schema.items():
        if keyword == "title":
            continue
        if keyword in ("properties", "$defs", "patternProperties"):
            out[keyword] = {name: _without_titles(sub) for name, sub in value.items()}
        else:
            out[keyword] = _without_titles(value)
    return out


def stack_schema() -> dict[str, Any]:
    settings = _without_titles(copy.deepcopy(model_schema(StackSettings)))
    defs = settings.pop("$defs")
    defs["SecureValue"] = SECURE_VALUE
    properties = {f"{PROJECT}:{key}": sub for key, sub in settings["properties"].items()}
    for secret in all_secrets():
        properties[f"{PROJECT}:{secret.key}"] = {
            "$ref": "#/$defs/SecureValue",
            "description": f"Secret: {secret.description}.",
        }
    config = {
        "type": "object",
        "description": f"The stack's configuration: `{PROJECT}:<key>` entries (docs/configuration.md), and "
        "other namespaces' keys (providers, pulumi:tags), which this program does not read.",
        "properties": properties,
        "required": [f"{PROJECT}:{key}" for key in settings.get("required", [])],
        "patternProperties": {OTHER_NAMESPACE_PATTERN: {"description": "Another namespace's key."}},
        "additionalProperties": False,
    }
    # The stack settings file's own keys. Ref: pulumi/pulumi sdk/go/common/workspace/project.go (ProjectStack)
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Pulumi.<stack>.yaml of {PROJECT}",
        "description": "A stack settings file of this project. Generated from plan/settings.py by "
        "tools/config_reference.py; the program's validation is the authority (it also checks the "
        "cross-field rules).",
        "type": "object",
        "properties": {
            "config": config,
            "secretsprovider": {"type": "string", "description": "The stack's secrets provider (set by the CLI)."},
            "encryptedkey": {"type": "string", "description": "Encrypted data key of a cloud secrets provider (set by the CLI)."},
            "encryptionsalt": {"type": "string", "description": "Salt of the passphrase secrets provider (set by the CLI)."},
            "environment": {"description": "Pulumi ESC environments imported into the stack's configuration."},
        },
        "additionalProperties": False,
        "$defs": defs,
    }
    return schema


def schema_json() -> str:
    return json.dumps(stack_schema(), indent=2, ensure_ascii=False) + "\n"


# --- Pulumi.yaml `config:` -----------------------------------------------------------------------

PULUMI_YAML_HEADER = """\
config:
  # Generated by tools/config_reference.py from plan/settings.py (`make docs`): edit the model, not
  # this block. The Pulumi CLI checks these types before the program runs; the program's own
  # validation then checks every key below them (docs/configuration.md).
  # Object-valued keys are `type: object`, which needs Pulumi CLI 3.187.0 or newer (older CLIs read
  # the type but reject every value as "must be of type 'object'").
  # Ref: pulumi/pulumi@v3.187.0 sdk/go/common/workspace/project.go ValidateConfigValue (objectTypeName)
  # A declared key without a default is required by every stack, so an optional object defaults to
  # {}, which the program reads exactly as the key left out (tests/test_config_reference.py).
  # The secret keys are not declared: each is needed by some stacks only; without a default a
  # declaration would require it everywhere, and a default is a plain value, which `secret: true`
  # refuses. The program names a missing secret with the command to set it.
  # Ref: pulumi/pulumi pkg/workspace/config.go mergeConfig, validateStackConfigValue
"""


def _pulumi_type(annotation: Any, key: str) -> dict[str, Any]:
    """The Pulumi config type declaration of one annotation: string, integer, boolean, array, object.
    Ref: pulumi/pulumi sdk/go/common/workspace/project.json ($defs.simpleConfigType)"""
    annotation = _strip(annotation)
    if _is_model(annotation):
        return {"type": "object"}
    if container := _container(annotation):
        kind, inner = container
        if kind == "map":
            return {"type": "object"}
        return {"type": "array", "items": _pulumi_type(inner, key)}
    if annotation is bool:
        return {"type": "boolean"}
    if annotation is int:
        return {"type": "integer"}
    if annotation is str or typing.get_origin(annotation) is Literal or (
        inspect.isclass(annotation) and issubclass(annotation, Enum)
    ):
        return {"type": "string"}
    raise TypeError(f"{key}: {annotation} has no Pulumi config type (string, integer, boolean, array, object)")


def _pulumi_default(name: str, field: FieldInfo, declared: str) -> Any:
    """The Pulumi.yaml default of an optional top-level key: one the program reads exactly as its own
    default, or an error naming the key when there is none (a declaration without a default would
    make the key required)."""
    key = stack_key(name, field)
    default = field.get_default(call_default_factory=True)
    adapter = TypeAdapter(Annotated[field.annotation, *field.metadata]) if field.metadata else TypeAdapter(field.annotation)
    if declared == "object":
        if adapter.validate_python({}) != default:
            raise ValueError(f"{key}: {{}} does not read as its default; Pulumi.yaml has no honest default for it")
        return {}
    if default is None:
        if adapter.validate_python("") is not None:
            raise ValueError(f"{key}: optional without a default, and \"\" is not read as unset")
        return ""
    return to_jsonable_python(default, by_alias=True)


def pulumi_declarations() -> dict[str, dict[str, Any]]:
    required = set(model_schema(StackSettings).get("required", ()))
    declarations = {}
    defs = model_schema(StackSettings).get("$defs", {})
    for key, field, schema in stack_fields(StackSettings):
        name = next(n for n, f in StackSettings.model_fields.items() if f is field)
        description = " ".join((field.description or "").split())
        # Pulumi.yaml has no enum; the values go into the description the CLI shows.
        if enum := _resolve(schema, defs).get("enum"):
            description += f" One of: {', '.join(map(str, enum))}."
        declaration = {**_pulumi_type(field.annotation, key), "description": description}
        if key not in required:
            declaration["default"] = _pulumi_default(name, field, declaration["type"])
        declarations[key] = declaration
    return declarations


def pulumi_yaml(current: str) -> str:
    """Pulumi.yaml with its `config:` block (the file's last top-level key) regenerated."""
    lines = current.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip() == "config:" or line.startswith("config:")]
    head = lines[: starts[0]] if starts else lines
    if starts:
        after = [line for line in lines[starts[0] + 1 :] if line.strip() and not line.startswith((" ", "#"))]
        if after:
            raise ValueError(f"Pulumi.yaml: `config:` must be the last top-level key, but {after[0].strip()!r} follows it")
    body = yaml_text.dump(pulumi_declarations(), sort_keys=False, width=100)
    indented = "".join(f"  {line}" if line.strip() else line for line in body.splitlines(keepends=True))
    return "".join(head) + PULUMI_YAML_HEADER + indented


# --- entry point ---------------------------------------------------------------------------------


def outputs() -> dict[Path, str]:
    """Each generated file and the text it must have."""
    return {
        CONFIGURATION_MD: configuration_markdown(),
        SCHEMA_JSON: schema_json(),
        PULUMI_YAML: pulumi_yaml(PULUMI_YAML.read_text(encoding="utf-8")),
    }


def _shown(path: Path) -> str:
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def stale() -> list[Path]:
    return [path for path, text in outputs().items() if not path.exists() or path.read_text(encoding="utf-8") != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail when a generated file is out of date")
    args = parser.parse_args(argv)
    if args.check:
        if paths := stale():
            for path in paths:
                print(f"{_shown(path)}: out of date; run `make docs` ({COMMAND})", file=sys.stderr)
            return 1
        return 0
    for path, text in outputs().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {_shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
