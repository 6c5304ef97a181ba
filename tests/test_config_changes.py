"""Every config change reaches the running pods (issue 9, class 3), checked over the whole render.

Each stack is rendered once as is, then once per change: every generated secret (RandomPassword,
TLS key and certificate) and every secret config value rotated on its own, and a few settings and
code constants that change rendered config. For each change, the ConfigMaps and Secrets whose
content differs are compared against what every workload reads, discovered from the rendered
objects themselves (volumes, projected sources, env `valueFrom`, `envFrom`, and the operator CRs'
Secret references). A workload that reads a changed object must have a changed pod template (or,
for a Job, a new name), unless it is on the self-reloading list of components/rollout.py with its
reason. The charts are templated by the real Helm, with the real (unredacted) values.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable

import pytest

import plan.influxdb
import plan.alerting
import plan.fluent_bit
import plan.tracing
import stacks.config
from components.chart import patch_objects
from components.rollout import DIGEST_KEY, SELF_RELOADING, ObjectRef, hmac_digest
from plan.versions import ALL_CHARTS
from tools import cluster_checks, helm
from tools.mockrun import GENERATED_TYPES, StackRun, is_secret, read_stack_file, set_path, unwrap

POD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}
CONTENT_KEYS = ("data", "stringData", "binaryData")
_TEMPLATES: dict[str, list[dict[str, Any]]] = {}


# --- the render ------------------------------------------------------------------------------------


def _template(release: helm.Release) -> list[dict[str, Any]]:
    """The release's objects, templated once per distinct values (most changes leave a chart's values
    alone). Shared between runs, so read-only: nothing here edits an object. Without the CRDs: they
    are neither config nor workloads, and they are most of kube-prometheus-stack's output."""
    key = json.dumps([release.name, release.namespace, release.values], sort_keys=True, default=str)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = patch_objects(release.name, helm.template(release, crds=False))
    return _TEMPLATES[key]


def rendered(run: StackRun) -> dict[tuple, dict[str, Any]]:
    """Every Kubernetes object of a run, keyed by a slot stable across runs (the Pulumi resource of a
    program object; release, kind, namespace and name of a chart's), with plain (unwrapped) content."""
    refs = {(ref.chart, ref.version): ref for ref in ALL_CHARTS}
    objects: dict[tuple, dict[str, Any]] = {}
    for resource in run.resources:
        if resource.type == "kubernetes:helm.sh/v4:Chart":
            inputs = resource.plain_inputs
            release = helm.Release(
                name=inputs["name"], ref=refs[(inputs["chart"], inputs["version"])],
                namespace=inputs["namespace"], values=inputs.get("values", {}),
            )  # fmt: skip
            for obj in _template(release):
                meta = obj.get("metadata", {})
                objects[(release.name, obj.get("kind"), meta.get("namespace"), meta.get("name"))] = obj
        elif resource.custom and resource.type.startswith("kubernetes:") and not resource.type.startswith("pulumi:"):
            objects[("program", resource.name)] = resource.plain_inputs
    return objects


def _content(objects: dict[tuple, dict[str, Any]]) -> dict[ObjectRef, Any]:
    out = {}
    for obj in objects.values():
        if obj.get("kind") in ("ConfigMap", "Secret"):
            meta = obj["metadata"]
            out[ObjectRef(obj["kind"], meta.get("namespace"), meta["name"])] = {k: obj.get(k) for k in CONTENT_KEYS}
    return out


# --- what a workload reads, and its pod template ----------------------------------------------------


OPERATED_KINDS = {"Prometheus", "Alertmanager", "ThanosRuler", "Elasticsearch"}


def reads(obj: dict[str, Any]) -> set[ObjectRef]:
    """The ConfigMaps and Secrets a workload's pods read: the reference rules of the cluster checks
    (volumes, projected sources, env, envFrom; the operators' custom-resource fields)."""
    return {ObjectRef(kind, ns, name) for kind, ns, name in cluster_checks.referenced(obj, ("ConfigMap", "Secret"))}


def pod_template(obj: dict[str, Any]) -> str:
    """What rolls the pods: the pod template (for a Job, also its name: a renamed Job is a new run);
    for an operator's resource, the pod metadata or templates it propagates to its pods."""
    spec = obj.get("spec", {})
    if obj["kind"] in ("Prometheus", "Alertmanager", "ThanosRuler"):
        template: Any = spec.get("podMetadata")
    elif obj["kind"] == "Elasticsearch":
        template = [n.get("podTemplate") for n in spec.get("nodeSets") or []]
    elif obj["kind"] == "CronJob":
        template = spec.get("jobTemplate", {}).get("spec", {}).get("template")
    else:
        template = [obj["metadata"]["name"], spec.get("template")] if obj["kind"] == "Job" else spec.get("template")
    return json.dumps(template, sort_keys=True)


def workloads(objects: dict[tuple, dict[str, Any]]) -> dict[tuple, dict[str, Any]]:
    return {slot: o for slot, o in objects.items() if o.get("kind") in POD_KINDS | OPERATED_KINDS}


def self_reloading(workload: dict[str, Any], ref: ObjectRef) -> bool:
    return any(rule.covers(workload["kind"], workload["metadata"]["name"], ref) for rule in SELF_RELOADING)


# --- the changes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    what: str
    overrides: dict[str, Any]
    rotate: frozenset[str] = frozenset()
    patch: Callable[[pytest.MonkeyPatch], None] | None = None
    stacks: frozenset[str] | None = None  # None: every stack the keys apply to


def _append_to(module: Any, function: str, text: str) -> Callable[[pytest.MonkeyPatch], None]:
    """A code change: `function` of `module` returns its text with `text` appended."""
    original = getattr(module, function)
    return lambda mp: mp.setattr(module, function, lambda *a, **k: original(*a, **k) + text)


def _influxdb_config_change(mp: pytest.MonkeyPatch) -> None:
    original = plan.influxdb.influxdb_values

    def changed(*args: Any, **kwargs: Any) -> dict[str, Any]:
        values = original(*args, **kwargs)
        values["config"] = {**values["config"], "logging": {"level": "warn"}}
        return values

    mp.setattr(plan.influxdb, "influxdb_values", changed)


# Settings and code constants that change rendered config (secrets are all rotated on their own).
CONFIG_CHANGES = (
    Change("jaeger.indexPrefix (Jaeger's userconfig, the trace-retention CronJob, ES roles)", {"jaeger.indexPrefix": "spans"}),
    Change("otelCollector.corsOrigins (the collector's config)", {"otelCollector.corsOrigins": ["http://other.localtest.me"]}),
    Change("grafana.url (grafana.ini)", {"grafana.url": "https://grafana-2.example.com"}),
    Change("logs.families (the node pipeline, the lifecycle requests)", {"logs.families.app.deleteAfter": "31d"}),
    Change("jaeger sampling (the strategies ConfigMap)", {"jaeger.sampling.defaultProbability": 0.5}),
    # (dev runs no weekly report: reports.enabled is off there)
    Change("reports.period (the weekly report's config)", {"reports.period": "14d"}, stacks=frozenset({"prod"})),
    Change("node pipeline (code)", {}, patch=_append_to(plan.fluent_bit, "fluentbit_config", "\n# changed\n")),
    Change("Alertmanager routing (code)", {}, patch=_append_to(plan.alerting, "alertmanager_config_yaml", "\n# changed\n")),
    Change("Thanos Ruler's Alertmanagers (code)", {}, patch=_append_to(plan.alerting, "ruler_alertmanagers_yaml", "\n# changed\n")),
    Change("events pipeline (code)", {}, patch=_append_to(plan.fluent_bit, "fluentbit_events_config", "\n# changed\n")),
    Change("schema Job script (code)", {}, patch=_append_to(plan.influxdb, "apply_script", "\n# changed\n")),
    Change("trace retention script (code)", {}, patch=_append_to(plan.tracing, "trace_index_cleanup_script", "\n# changed\n")),
    # (dev runs no dependency-links job: jaeger.dependencies.enabled is off there)
    Change("Jaeger dependencies script (code)", {}, patch=_append_to(plan.tracing, "dependencies_job_script", "\n# changed\n"), stacks=frozenset({"prod"})),
    Change("InfluxDB server config (code)", {}, patch=_influxdb_config_change),
)


def _run(stack: str, change: Change, monkeypatch: pytest.MonkeyPatch) -> StackRun:
    with monkeypatch.context() as mp:
        if change.patch:
            change.patch(mp)
            # A code change: the plans built so far were built by the code as it was.
            mp.setattr(stacks.config, "_PLANS", {})
        return StackRun(stack, overrides=change.overrides, rotate=change.rotate).execute()


# One stack per xdist group: each is a few dozen runs of the program, so dev and prod go to two workers.
# Secret config keys no Kubernetes object holds: rotating one changes nothing a pod reads.
# pagerdutyToken authenticates the PagerDuty provider only (tests/test_pagerduty.py).
OUTSIDE_THE_CLUSTER = frozenset({"pagerdutyToken"})


@pytest.fixture(
    scope="module",
    params=[pytest.param(s, marks=[pytest.mark.xdist_group(f"config-changes-{s}"), pytest.mark.heavy(w)]) for s, w in (("prod", 90), ("dev", 60))],
)
def stack_runs(request) -> dict[str, Any]:
    """The base render of a stack, and per change: the objects whose content changed and the
    workloads (read in the base render) that should have rolled but did not."""
    stack = request.param
    monkeypatch = pytest.MonkeyPatch()
    base_run: StackRun = request.getfixturevalue(stack)  # the session's run of the stack as it is
    base = rendered(base_run)
    generated = [r.name for r in base_run.resources if r.type in GENERATED_TYPES]
    secrets = [key.split(":", 1)[1] for key in base_run.placeholder_secrets if key.split(":", 1)[1] not in OUTSIDE_THE_CLUSTER]
    changes = [Change(f"rotate {name}", {}, frozenset({name})) for name in [*generated, *secrets]]
    changes += [c for c in CONFIG_CHANGES if _applies(stack, c)]

    def outcome(change: Change) -> tuple[set[ObjectRef], list[str]]:
        variant = rendered(_run(stack, change, monkeypatch))
        before, after = _content(base), _content(variant)
        changed = {ref for ref in before.keys() | after.keys() if before.get(ref) != after.get(ref)}
        stale = []
        for slot, workload in workloads(base).items():
            moved = slot not in variant or pod_template(variant[slot]) != pod_template(workload)
            for ref in sorted(reads(workload) & changed):
                if not moved and not self_reloading(workload, ref):
                    stale.append(f"{workload['kind']} {workload['metadata']['name']} reads changed {ref}")
        return changed, stale

    # The rotations that should change no object's content are tried together in one run (a program
    # run per change is most of this test's time). If together they change nothing, none of them
    # does alone (independent values cannot cancel out), so each one's outcome is that: nothing
    # changed, nothing stale. If they change something, each runs on its own, as every other change.
    quiet = [c for c in changes if _expected_quiet(c)]
    names = frozenset().union(*(c.rotate for c in quiet))
    results: list[tuple[Change, set[ObjectRef], list[str]]] = []
    if quiet and outcome(Change("rotate " + ", ".join(sorted(names)), {}, names)) == (set(), []):
        results = [(c, set(), []) for c in quiet]
        changes = [c for c in changes if c not in quiet]
    results += [(change, *outcome(change)) for change in changes]
    return {"stack": stack, "base": base, "base_run": base_run, "results": results}


def _expected_quiet(change: Change) -> bool:
    """A rotation test_every_change_changes_something allows to change nothing, but for the digest
    key: it changes every digest, so it would move the pod templates of every other change run with it."""
    return bool(change.rotate) and not change.overrides and not change.patch and (
        change.what.endswith(QUIET_UNDER_MOCKS) or change.what.startswith(GRAFANA_ONLY)
    )


def _applies(stack: str, change: Change) -> bool:
    """Whether the stack file has the keys the change sets (`pulumi config set --path` can descend)."""
    if change.stacks is not None and stack not in change.stacks:
        return False
    raw = copy.deepcopy(read_stack_file(stack))
    try:
        for path, value in change.overrides.items():
            set_path(raw, path, value)
    except Exception:  # noqa: BLE001 (a key this stack has not)
        return False
    return True


# --- the checks ------------------------------------------------------------------------------------


def test_every_workload_reading_a_changed_object_rolls_or_reloads(stack_runs):
    stale = [f"{change.what}: {line}" for change, _, lines in stack_runs["results"] for line in lines]
    assert not stale, "\n".join(stale)


# Generated values that change no object's content by themselves: the digest key (it changes digests,
# which are not content), and, under the mocks, the CA key and the CSR (a mocked certificate is not
# derived from them; the certificates themselves are rotated).
QUIET_UNDER_MOCKS = ("-ca-key", "-http-csr", "-webhook-csr")
CONTENT_FREE = ("-content-digest-key", *QUIET_UNDER_MOCKS)
# Generated passwords that reach Grafana's database only, through the Grafana provider (the people's
# users, components/grafana_content.py): no Kubernetes object holds them, like pagerdutyToken.
GRAFANA_ONLY = "rotate terrafusion-grafana-content-user-"


def test_every_change_changes_something(stack_runs):
    # A change that changes nothing tests nothing (e.g. a settings key that moved).
    idle = [change.what for change, changed, _ in stack_runs["results"] if not changed]
    assert [what for what in idle if not what.endswith(CONTENT_FREE) and not what.startswith(GRAFANA_ONLY)] == []


def test_every_object_the_program_declares_and_a_workload_reads_is_changed_by_some_change(stack_runs):
    base = stack_runs["base"]
    # (An object with no content, such as dev's empty receiver Secret, has nothing to change.)
    program = {
        _ref(o) for slot, o in base.items() if slot[0] == "program" and _ref(o) and any(o.get(k) for k in CONTENT_KEYS)
    }
    read = set().union(*(reads(w) for w in workloads(base).values()))
    covered = set().union(*(changed for _, changed, _ in stack_runs["results"]))
    uncovered = sorted(map(str, (program & read) - covered))
    assert not uncovered, "no change in this test changes: " + ", ".join(uncovered)


def _ref(obj: dict[str, Any]) -> ObjectRef | None:
    if obj.get("kind") not in ("ConfigMap", "Secret"):
        return None
    return ObjectRef(obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])


def test_every_workload_of_the_render_is_seen(stack_runs):
    # The discovery must see the pods the issue named (a broken walk would pass everything).
    names = {(o["kind"], o["metadata"]["name"]) for o in workloads(stack_runs["base"]).values()}
    expected = {("DaemonSet", "fluent-bit"), ("Deployment", "fluent-bit-events"), ("Deployment", "jaeger"),
                ("Deployment", "grafana"), ("StatefulSet", "influxdb"), ("StatefulSet", "thanos-compact"),
                ("Prometheus", "kps-prometheus"), ("Alertmanager", "kps-alertmanager")}  # fmt: skip
    assert expected <= names
    fluent_bit = next(o for o in stack_runs["base"].values() if o.get("kind") == "DaemonSet" and o["metadata"]["name"] == "fluent-bit")
    assert ObjectRef("ConfigMap", fluent_bit["metadata"]["namespace"], "fluent-bit-pipeline") in reads(fluent_bit)


def test_the_digest_reveals_no_secret_content(stack_runs):
    run = stack_runs["base_run"]
    key = next(r for r in run.resources if r.name.endswith("-content-digest-key"))
    values = next(r for r in run.of_type("kubernetes:helm.sh/v4:Chart") if r.inputs.get("chart") == "influxdb").inputs["values"]
    annotation = values["podAnnotations"][DIGEST_KEY]
    # Plain in the chart values (reviewable), made with a key that stays secret.
    assert isinstance(annotation, str) and len(annotation) == 16
    assert not is_secret(annotation)
    auth = next(r for r in run.of_type("kubernetes:core/v1:Secret") if r.plain_inputs["metadata"]["name"] == "influxdb-auth")
    content = unwrap(auth.inputs["stringData"])
    assert annotation != hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()[:16]
    assert hmac_digest("another key", content) != hmac_digest("mock-password-" + key.name, content)


EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def test_a_chart_checksum_of_nothing_is_never_all_that_rolls_a_pod(stack_runs):
    # fluent-bit with `existingConfigMap` hashes an empty template into `checksum/config`.
    empty = []
    for obj in workloads(stack_runs["base"]).values():
        if obj["kind"] not in POD_KINDS - {"CronJob"}:
            continue
        annotations = (obj["spec"]["template"].get("metadata") or {}).get("annotations") or {}
        if EMPTY_SHA256 in annotations.values() and DIGEST_KEY not in annotations:
            empty.append(f"{obj['kind']} {obj['metadata']['name']}")
    assert not empty
