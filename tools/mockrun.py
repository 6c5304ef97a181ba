"""Run the real program for one stack under the Pulumi SDK's mock runtime and record everything.

Used by the tests (tests/conftest.py) and by the offline render (tools/render.py). The run is a
real update, not a preview (`preview=False`), so every Output resolves and assertions on
resolved values run. The stack's config comes from `Pulumi.<stack>.yaml`, exactly as the CLI
would pass it: objects as JSON, `secure:` values as secrets. Only the Pulumi CLI can decrypt
`secure:` values, so they are replaced by placeholders, still marked secret.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import resource as resource_runtime
from pulumi.runtime import rpc
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from monitoring import yaml_text
from plan.secrets import required_secrets
from stacks.config import PROJECT, ConfigError, parse_settings

ROOT = Path(__file__).resolve().parent.parent
REDACTED = "[secret]"
DELETE = object()  # config override value that removes a key


ROTATED = "-rotated"  # what a rotated generated value or placeholder gets appended


def placeholder_secret(key: str, rotate: frozenset[str] = frozenset()) -> str:
    return f"placeholder-{key}" + (ROTATED if key in rotate else "")


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(rpc._special_sig_key) == rpc._special_secret_sig


def redact(value: Any) -> Any:
    """The value with every secret replaced by "[secret]", for output and for leak checks."""
    if is_secret(value):
        return REDACTED
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def unwrap(value: Any) -> Any:
    """The value with secret markers removed (tests that check wiring through a secret)."""
    if is_secret(value):
        return unwrap(value["value"])
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [unwrap(v) for v in value]
    return value


@dataclass
class Resource:
    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    protect: bool
    provider: str
    depends_on: list[str]
    serialized_inputs: Any = field(repr=False)  # the request's protobuf Struct, read on first use
    # Outputs the engine is to keep secret in the state although the provider does not mark them.
    additional_secret_outputs: list[str] = field(default_factory=list)
    # The id the mocks gave it (what other resources' inputs refer to it by).
    id: str = ""

    @functools.cached_property
    def inputs(self) -> dict[str, Any]:
        """The inputs as the engine receives them (secrets still marked). Deserialized on first use:
        most runs (the bench, most tests) read a few resources' inputs, not all of them."""
        return rpc.deserialize_properties(self.serialized_inputs)

    @property
    def plain_inputs(self) -> dict[str, Any]:
        return unwrap(self.inputs)


# Types whose generated value the mocks make up (a rotation test can change one by resource name).
# A PagerDuty integration's key is made up too (`_Mocks`), but not listed: it reaches the cluster only
# in the receiver Secret, whose rotation the secret config keys beside it already test
# (tests/test_config_changes.py renders the stack once per rotation).
GENERATED_TYPES = (
    "random:index/randomPassword:RandomPassword",
    "tls:index/privateKey:PrivateKey",
    "tls:index/certRequest:CertRequest",
    "tls:index/selfSignedCert:SelfSignedCert",
    "tls:index/locallySignedCert:LocallySignedCert",
)


class _Mocks(pulumi_mocks.Mocks):
    def __init__(self, rotate: frozenset[str] = frozenset()) -> None:
        super().__init__()
        self.rotate = rotate

    def new_resource(self, args: pulumi_mocks.MockResourceArgs):
        state = dict(args.inputs)
        # Deterministic, so two renders are byte-identical, unless the run rotates this resource.
        mark = f"mock{ROTATED if args.name in self.rotate else ''}-"
        if args.typ == "random:index/randomPassword:RandomPassword":
            # The SDK marks `result` secret.
            state["result"] = f"{mark}password-{args.name}"
        elif args.typ == "tls:index/privateKey:PrivateKey":
            state["privateKeyPem"] = f"{mark}private-key-{args.name}"
        elif args.typ == "tls:index/certRequest:CertRequest":
            state["certRequestPem"] = f"{mark}csr-{args.name}"
        elif args.typ in ("tls:index/selfSignedCert:SelfSignedCert", "tls:index/locallySignedCert:LocallySignedCert"):
            state["certPem"] = f"-----BEGIN CERTIFICATE-----\n{mark}{args.name}\n-----END CERTIFICATE-----\n"
        elif args.typ == "pagerduty:index/serviceIntegration:ServiceIntegration":
            # PagerDuty generates the key of an Events API v2 integration (the component marks it secret).
            state["integrationKey"] = f"{mark}integration-key-{args.name}"
        return f"{args.name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs):
        # PagerDuty lookups: a user by email, a user's contact method by type and label.
        if args.token == "pagerduty:index/getUser:getUser":
            email = args.args["email"]
            return {"id": f"mock-user-{email}", "email": email, "name": email.split("@")[0]}
        if args.token == "pagerduty:index/getUserContactMethod:getUserContactMethod":
            user, kind, label = args.args["userId"], args.args["type"], args.args["label"]
            return {"id": f"mock-{kind}-{user}-{label}", "userId": user, "type": kind, "label": label}
        return {}


class DuplicateUrnError(Exception):
    """Two resources with one URN: the engine refuses the second, after the first exists."""


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping the options the engine would see (protect, parent), and
    refusing a duplicate URN as the engine does (the SDK's mock monitor accepts it silently)."""

    def __init__(self, mocks: pulumi_mocks.Mocks, on_record: Callable[[Resource], None] | None = None):
        super().__init__(mocks)
        self.recorded: list[Resource] = []
        self.on_record = on_record
        self._urns: set[str] = set()

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if response.urn in self._urns:
            # Ref: pulumi/pulumi sdk/go/common/diag/errors.go GetDuplicateResourceURNError (diagnostic 2001)
            raise DuplicateUrnError(f"Duplicate resource URN '{response.urn}'; try giving it a unique name")
        self._urns.add(response.urn)
        if request.type != "pulumi:pulumi:Stack":
            resource = Resource(
                type=request.type,
                name=request.name,
                urn=response.urn,
                parent=request.parent,
                custom=request.custom,
                protect=bool(request.protect),
                provider=request.provider,
                depends_on=list(request.dependencies),
                serialized_inputs=request.object,
                additional_secret_outputs=list(request.additionalSecretOutputs),
                id=response.id,
            )
            self.recorded.append(resource)
            if self.on_record is not None:
                self.on_record(resource)
        return response


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


class _StackFileLoader(yaml_text.SafeLoader):  # type: ignore[misc,valid-type]
    """Safe YAML that refuses a duplicate mapping key: YAML requires keys to be unique, but PyYAML
    silently keeps the last one, so a render could differ from what the Pulumi CLI reads.
    Ref: https://yaml.org/spec/1.2.2/#mapping ("each of the keys is unique")"""


def _unique_key_mapping(loader: _StackFileLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    first_line: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            line = first_line.setdefault(key, key_node.start_mark.line + 1)
        except TypeError:
            continue  # an unhashable key: construct_mapping reports it
        if line != key_node.start_mark.line + 1:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first set on line {line})", key_node.start_mark
            )
    return loader.construct_mapping(node, deep)


_StackFileLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_key_mapping)


def _yaml_problem(name: str, error: yaml.YAMLError) -> str:
    """`Pulumi.dev.yaml:12:5: <problem>`: one line, positioned like a compiler error."""
    if not isinstance(error, yaml.MarkedYAMLError) or error.problem_mark is None:
        return f"{name}: {' '.join(str(error).split())}"
    mark = error.problem_mark
    problem = error.problem or "invalid YAML"
    if error.context:
        where = f" at line {error.context_mark.line + 1}" if error.context_mark else ""
        problem += f" ({error.context}{where})"
    return f"{name}:{mark.line + 1}:{mark.column + 1}: {problem}"


def read_stack_file(stack: str) -> dict[str, Any]:
    """The `config:` mapping of `Pulumi.<stack>.yaml`; a missing or malformed file is a one-line
    ConfigError naming the file (and line:column), never a traceback. A fresh copy each call."""
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise ConfigError(f"{path.name}: no such stack file; known stacks are {', '.join(known_stacks())}")
    return copy.deepcopy(_stack_config(path.name, path.read_text()))


@functools.lru_cache(maxsize=16)
def _stack_config(name: str, text: str) -> dict[str, Any]:
    """The parse of a stack file's text, kept per text: the tests run the program hundreds of times
    on the same two files (callers get a deep copy, so a cached parse is never edited)."""
    try:
        document = yaml.load(text, Loader=_StackFileLoader)
    except yaml.YAMLError as error:
        raise ConfigError(_yaml_problem(name, error)) from None
    if document is None:
        document = {}  # an empty file: no config yet
    config = (document.get("config") or {}) if isinstance(document, dict) else None
    if not isinstance(config, dict) or not all(isinstance(key, str) for key in config):
        raise ConfigError(f"{name}: needs a `config:` mapping of key: value (as `pulumi config set` writes)")
    return config


def plain_settings(stack: str) -> dict[str, Any]:
    """The plain (non-secret) settings of `Pulumi.<stack>.yaml`, keys without the project prefix (a
    fresh copy each call): what parse_settings takes where no secret is needed."""
    prefix = f"{PROJECT}:"
    return {k.removeprefix(prefix): v for k, v in read_stack_file(stack).items() if k.startswith(prefix) and not _is_secure(v)}


def known_stacks() -> list[str]:
    return sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))


def set_path(config: dict[str, Any], path: str, value: Any) -> None:
    """`pulumi config set --path` on a raw stack config: `prometheus.retention` -> nested key."""
    top, *rest = path.split(".")
    full = f"{PROJECT}:{top}"
    if not rest:
        if value is DELETE:
            config.pop(full, None)
        else:
            config[full] = value
        return
    node = config.setdefault(full, {})
    for part in rest[:-1]:
        node = node.setdefault(part, {})
    if value is DELETE:
        node.pop(rest[-1], None)
    else:
        node[rest[-1]] = value


@contextlib.contextmanager
def _no_source_positions() -> Iterator[None]:
    """The SDK walks the Python stack at every registration to send the engine the resource's source
    position; the mock monitor drops it (MockMonitor.RegisterResource reads neither `sourcePosition`
    nor `stackTrace`), and the walk is a tenth of a run. Skipped for the run only, if the SDK still
    has the function (a renamed one is simply walked as before).
    Ref: pulumi 3.272.0 sdk/python/lib/pulumi/runtime/resource.py _get_stack_trace, mocks.py."""
    original = getattr(resource_runtime, "_get_stack_trace", None)
    if original is None:
        yield
        return
    resource_runtime._get_stack_trace = lambda: source_pb2.StackTrace()
    try:
        yield
    finally:
        resource_runtime._get_stack_trace = original


@dataclass
class StackRun:
    """One run of the program: its config in, every resource and output out."""

    stack: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    fill_required_secrets: bool = True
    # Generated resources (by name) and secret config keys whose value differs from the default run's:
    # a rotation, for tests that check what a changed secret reaches.
    rotate: frozenset[str] = frozenset()
    resources: list[Resource] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    warnings: list[str] = field(default_factory=list)
    placeholder_secrets: list[str] = field(default_factory=list)
    result: Any = None
    # How many resources the engine had registered when the run failed (None: it did not fail).
    # Bad config must fail at 0: before anything exists.
    registered_at_failure: int | None = None
    # Called with each resource as the engine registers it (the render starts Helm on a chart then).
    on_record: Callable[[Resource], None] | None = None

    def config(self) -> tuple[dict[str, str], list[str]]:
        """(config as the CLI passes it, secret keys): objects as JSON, secure values as placeholders."""
        raw = copy.deepcopy(read_stack_file(self.stack))
        for path, value in self.overrides.items():
            set_path(raw, path, value)
        config: dict[str, str] = {}
        secret_keys: list[str] = []
        for key, value in raw.items():
            if isinstance(value, dict) and set(value) == {"secure"}:
                config[key] = placeholder_secret(key.split(":", 1)[1], self.rotate)
                secret_keys.append(key)
                self.placeholder_secrets.append(key)
            else:
                config[key] = value if isinstance(value, str) else json.dumps(value)
        if self.fill_required_secrets:
            self._fill_required_secrets(raw, config, secret_keys)
        return config, secret_keys

    def _fill_required_secrets(self, raw: dict, config: dict[str, str], secret_keys: list[str]) -> None:
        prefix = f"{PROJECT}:"
        plain = {k.removeprefix(prefix): v for k, v in raw.items() if k.startswith(prefix)}
        try:
            settings = parse_settings({k: v for k, v in plain.items() if not _is_secure(v)})
        except ConfigError:
            return  # the program itself reports the bad config
        for secret in required_secrets(settings):
            full = prefix + secret.key
            if full not in config:
                config[full] = placeholder_secret(secret.key, self.rotate)
                secret_keys.append(full)
                self.placeholder_secrets.append(full)
                self.warnings.append(
                    f"{full} is not set in Pulumi.{self.stack}.yaml; this run uses a placeholder. "
                    f"`pulumi up` needs: pulumi config set --secret {secret.key} <value>"
                )

    def execute(self) -> StackRun:
        from stacks import program  # imported late: config must be set before the program reads it

        config, secret_keys = self.config()
        pulumi.runtime.set_all_config(config, secret_keys)
        collector = _WarningCollector()
        logger = logging.getLogger(f"terrafusion.mockrun.{self.stack}")
        logger.propagate = False
        logger.handlers = [collector]
        monitor = _RecordingMonitor(_Mocks(self.rotate), self.on_record)
        # set_mocks makes a root Stack resource only when there is none: without this, every later run
        # in the process (tests, the bench) parents its resources to the first run's stack.
        pulumi.runtime.settings.ROOT.set(None)
        pulumi_mocks.set_mocks(
            _Mocks(self.rotate), project=PROJECT, stack=self.stack, preview=False, logger=logger, monitor=monitor
        )
        SETTINGS.rpc_manager.clear()
        SETTINGS.outputs.clear()

        async def resolve_outputs(result) -> None:
            for key, value in result.outputs.items():
                output = pulumi.Output.from_input(value)
                self.outputs[key] = await output.future()
                if await output.is_secret():
                    self.secret_outputs.add(key)

        def body():
            self.result = program.main()
            return resolve_outputs(self.result)

        try:
            with _no_source_positions():
                _sync_await(run_pulumi_func(body))
        except BaseException:
            self.registered_at_failure = len(monitor.recorded)
            raise
        finally:
            self.resources = sorted(monitor.recorded, key=lambda r: (r.type, r.name))
            self.warnings.extend(collector.messages)
        return self

    # --- queries used by tests and the render -------------------------------------------------

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Resource:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_)]
            raise LookupError(f"expected one {type_} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def chart(self, chart_name: str) -> Resource:
        charts = [r for r in self.of_type("kubernetes:helm.sh/v4:Chart") if r.inputs.get("chart") == chart_name]
        if len(charts) != 1:
            raise LookupError(f"expected one chart {chart_name}, found {len(charts)}")
        return charts[0]

    def children_of(self, resource: Resource) -> list[Resource]:
        return [r for r in self.resources if r.parent == resource.urn]


def _is_secure(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {"secure"}


def run_stack(stack: str, overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> StackRun:
    return StackRun(stack=stack, overrides=dict(overrides or {}), **kwargs).execute()
