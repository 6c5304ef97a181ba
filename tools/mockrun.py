"""Run the real program for one stack under the Pulumi SDK's mock runtime and record everything.

Used by the tests (tests/conftest.py) and by the offline render (tools/render.py). The run is a
real update, not a preview (`preview=False`), so every Output resolves and assertions on
resolved values run. The stack's config comes from `Pulumi.<stack>.yaml`, exactly as the CLI
would pass it: objects as JSON, `secure:` values as secrets. Only the Pulumi CLI can decrypt
`secure:` values, so they are replaced by placeholders, still marked secret.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.settings import SETTINGS
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from stacks.config import PROJECT, ConfigError, parse_settings, required_secrets

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
    inputs: dict[str, Any]

    @property
    def plain_inputs(self) -> dict[str, Any]:
        return unwrap(self.inputs)


# Types whose generated value the mocks make up (a rotation test can change one by resource name).
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
        return f"{args.name}-id", state

    def call(self, args: pulumi_mocks.MockCallArgs):
        return {}


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping the options the engine would see (protect, parent)."""

    def __init__(self, mocks: pulumi_mocks.Mocks):
        super().__init__(mocks)
        self.recorded: list[Resource] = []

    def RegisterResource(self, request):
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.recorded.append(
                Resource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=request.custom,
                    protect=bool(request.protect),
                    provider=request.provider,
                    depends_on=list(request.dependencies),
                    inputs=rpc.deserialize_properties(request.object),
                )
            )
        return response


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def read_stack_file(stack: str) -> dict[str, Any]:
    path = ROOT / f"Pulumi.{stack}.yaml"
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}: known stacks are {known_stacks()}")
    return yaml.safe_load(path.read_text()).get("config", {}) or {}


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
        monitor = _RecordingMonitor(_Mocks(self.rotate))
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
            _sync_await(run_pulumi_func(body))
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
