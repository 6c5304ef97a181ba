"""`extraValues`: every chart's escape hatch in the stack file (README, "Escape hatch: extraValues").

Each section that deploys a chart takes any values of that chart under `extraValues`; the program
merges them last over the values it builds from the typed settings, in components/chart.py
declare_chart (the one place a chart is declared, which requires them), so they reach Helm and beat a
typed value. The program checks only that they are a mapping; a chart that ships a
values.schema.json (opentelemetry-collector) checks them when `helm template` renders it.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Iterator

import pytest

from components.chart import deep_merge
from plan.versions import ALL_CHARTS
from stacks.config import PROJECT, ConfigError, parse_settings
from tests.helpers import ROOT
from tools import helm, render
from tools.mockrun import _is_secure, read_stack_file, set_path

MARK = "terrafusion.io/extra-values-test"
MEMORY = "9999Mi"  # a memory limit no stack sets

# Render stem (objects/<stem>/) -> the stack-file key, a chart value the program sets from the typed
# settings with the value that overrides it, and the chart value that takes pod annotations (or
# labels). Read in each chart's values.yaml: kube-prometheus-stack 88.5.3
# `prometheus.prometheusSpec.podMetadata`; thanos 1.24.1 `compact.podAnnotations`; grafana 12.11.1,
# prometheus-blackbox-exporter 11.17.2, prometheus-elasticsearch-exporter 7.4.0,
# prometheus-pushgateway 3.8.0, influxdb 4.12.5, eck-operator 3.5.0, fluent-bit 0.58.1,
# opentelemetry-collector 0.170.0 and trivy-operator 0.34.0 `podAnnotations`; opencost 2.5.17
# `opencost.exporter.resources` and `podAnnotations`; opentelemetry-operator 0.122.0
# `manager.resources` and `manager.podAnnotations`;
# prometheus-postgres-exporter 8.2.0 `annotations` (its pod template's); jaeger 4.11.1 `jaeger.podLabels`.
LIMIT = ("resources", "limits", "memory")
CHARTS: dict[str, tuple[str, tuple[str, ...], Any, tuple[str, ...]]] = {
    "kube-prometheus-stack": (
        "prometheus.extraValues", ("prometheus", "prometheusSpec", *LIMIT), MEMORY,
        ("prometheus", "prometheusSpec", "podMetadata", "annotations"),
    ),
    "thanos": ("thanos.extraValues", ("query", *LIMIT), MEMORY, ("compact", "podAnnotations")),
    "grafana": ("grafana.extraValues", LIMIT, MEMORY, ("podAnnotations",)),
    "prometheus-blackbox-exporter": ("exporters.blackbox.extraValues", LIMIT, MEMORY, ("podAnnotations",)),
    "prometheus-postgres-exporter": ("exporters.postgres.extraValues", LIMIT, MEMORY, ("annotations",)),
    "prometheus-elasticsearch-exporter": ("exporters.elasticsearch.extraValues", LIMIT, MEMORY, ("podAnnotations",)),
    "prometheus-pushgateway": ("exporters.pushgateway.extraValues", LIMIT, MEMORY, ("podAnnotations",)),
    "influxdb": ("influxdb.extraValues", LIMIT, MEMORY, ("podAnnotations",)),
    # The operator's resources are the chart's defaults; its pod security context is the program's.
    "eck-operator": ("elasticsearch.extraValues", ("podSecurityContext", "runAsUser"), 23456, ("podAnnotations",)),
    "terrafusion-fluent-bit-node": ("fluentBit.extraValues", LIMIT, MEMORY, ("podAnnotations",)),
    "terrafusion-fluent-bit-events": ("fluentBit.eventsExtraValues", LIMIT, MEMORY, ("podAnnotations",)),
    "jaeger": ("jaeger.extraValues", ("jaeger", *LIMIT), MEMORY, ("jaeger", "podLabels")),
    # The collector chart twice: the gateway and the service graph tier, each with its own escape hatch.
    "terrafusion-tracing-collector": ("otelCollector.extraValues", LIMIT, MEMORY, ("podAnnotations",)),
    "terrafusion-tracing-servicegraph": ("otelCollector.serviceGraph.extraValues", LIMIT, MEMORY, ("podAnnotations",)),
    "trivy-operator": ("security.trivyOperator.extraValues", LIMIT, MEMORY, ("podAnnotations",)),
    "opencost": ("costs.extraValues", ("opencost", "exporter", *LIMIT), MEMORY, ("podAnnotations",)),
    "opentelemetry-operator": ("otelOperator.extraValues", ("manager", *LIMIT), MEMORY, ("manager", "podAnnotations")),
}


def _nested(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    tree: Any = value
    for key in reversed(path):
        tree = {key: tree}
    return tree


def _extra_values(stem: str) -> dict[str, Any]:
    _, typed_path, value, marked_path = CHARTS[stem]
    return deep_merge(_nested(typed_path, value), _nested(marked_path, {MARK: "set"}))


def _at(values: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        values = values[key]
    return values


def _at_or_empty(values: Any, path: tuple[str, ...]) -> Any:
    try:
        return _at(values, path)
    except KeyError:
        return {}


def _mappings(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _mappings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _mappings(value)


def _objects(out: Path, stem: str) -> list[dict[str, Any]]:
    paths = sorted((out / "objects" / stem).glob("*.yaml"))
    return helm.parse_documents(["".join(f"---\n{p.read_text()}" for p in paths)])[0]


def _chart_values(out: Path, stem: str) -> dict[str, Any]:
    return helm.parse_documents([(out / "charts" / f"{stem}.yaml").read_text()])[0][0]["values"]


@pytest.fixture(scope="module")
def releases(prod) -> dict[str, helm.Release]:
    """prod's charts as declared with its stack file (no extraValues)."""
    return render.chart_releases(prod)


@pytest.fixture(scope="module")
def overridden(tmp_path_factory) -> Path:
    """prod rendered, every chart templated by Helm, with every chart's extraValues set at once."""
    overrides = {CHARTS[stem][0]: _extra_values(stem) for stem in CHARTS}
    out, _ = render.render("prod", tmp_path_factory.mktemp("extra-values"), overrides=overrides)
    return out


def test_the_table_covers_every_chart_the_program_declares(releases):
    # prod declares every pinned chart; a new chart (or a second release of one) needs its row here.
    assert set(releases) == set(CHARTS)
    assert {release.ref for release in releases.values()} == set(ALL_CHARTS)


@pytest.mark.parametrize("stem", sorted(CHARTS))
def test_each_override_replaces_a_value_the_program_sets(releases, stem):
    """Without extraValues the program itself sets the overridden value (so the override beats a typed
    value, not a chart default) and puts no mark where the annotations go."""
    _, typed_path, value, marked_path = CHARTS[stem]
    typed = _at(releases[stem].values, typed_path)
    assert typed is not None and typed != value
    assert MARK not in (_at_or_empty(releases[stem].values, marked_path))


@pytest.mark.parametrize("stem", sorted(CHARTS))
def test_extra_values_reach_helm_merged_last(overridden, releases, stem):
    """What Helm gets (the render's charts/<stem>.yaml: the Chart resource's inputs): the override
    instead of the typed value, and the mark next to what the program annotates (merged, not replaced)."""
    _, typed_path, value, marked_path = CHARTS[stem]
    values = _chart_values(overridden, stem)
    assert _at(values, typed_path) == value
    marked = _at(values, marked_path)
    assert marked[MARK] == "set"
    assert set(_at_or_empty(releases[stem].values, marked_path)) <= set(marked)


@pytest.mark.parametrize("stem", sorted(CHARTS))
def test_extra_values_reach_the_rendered_objects(overridden, stem):
    _, typed_path, value, _ = CHARTS[stem]
    objects = _objects(overridden, stem)
    leaf = typed_path[-1]
    assert any(m.get(leaf) == value for o in objects for m in _mappings(o)), f"no object of {stem} has {leaf}: {value}"
    marked = [
        o["kind"] for o in objects for m in _mappings(o)
        for key in ("annotations", "labels") if isinstance(m.get(key), dict) and m[key].get(MARK) == "set"
    ]  # fmt: skip
    assert marked, f"no object of {stem} carries {MARK}"


def _plain(raw: dict[str, Any]) -> dict[str, Any]:
    prefix = f"{PROJECT}:"
    return {k.removeprefix(prefix): v for k, v in raw.items() if k.startswith(prefix) and not _is_secure(v)}


@pytest.mark.parametrize("bad", [["podAnnotations"], "podAnnotations: {}", 3, None])
def test_a_non_mapping_is_one_line_naming_the_key(bad):
    for key, *_ in CHARTS.values():
        raw = copy.deepcopy(read_stack_file("prod"))
        set_path(raw, key, bad)
        with pytest.raises(ConfigError) as raised:
            parse_settings(_plain(raw))
        message = str(raised.value)
        assert len(message.splitlines()) == 1, message
        assert message.startswith(f"{PROJECT}:{key}: ") and "must be a mapping of chart values" in message, message


def test_a_chart_schema_rejects_a_bad_extra_value(tmp_path):
    """opentelemetry-collector ships values.schema.json: `helm template` (the render, and the Helm SDK
    inside the v4 Chart) refuses values it does not allow, here a `mode` outside its enum.
    Ref: opentelemetry-collector 0.170.0 values.schema.json (`mode`: daemonset, deployment, statefulset)."""
    with pytest.raises(helm.HelmError, match="schema"):
        render.render("prod", tmp_path, overrides={"otelCollector.extraValues": {"mode": "sideways"}})


def test_the_readme_lists_every_key():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Escape hatch: extraValues", 1)[1].split("\n## ", 1)[0]
    missing = [key for key, *_ in CHARTS.values() if f"`{key}`" not in section]
    assert not missing, missing
