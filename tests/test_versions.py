"""plan/versions.py: every pin is one line Renovate can bump, and each image tag agrees with its
chart's appVersion where it must.

The Renovate check runs renovate.json's own regex with a JavaScript engine (node; Renovate matches
with RE2 in ECMAScript syntax, which this regex keeps to: no lookaround, no backreference) over the
module's text and compares what it extracts with what the module pins, read from its values: a pin
without its `# renovate:` line, or an annotation that names another package, fails.
Ref: https://docs.renovatebot.com/modules/manager/regex/ (matchStrings, named capture groups)
"""

from __future__ import annotations

import ast
import json
import subprocess
import tarfile
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import yaml

from plan import versions
from plan.versions import (
    ECK_OPERATOR,
    GRAFANA,
    INFLUXDB,
    KUBE_PROMETHEUS_STACK,
    OTEL_COLLECTOR,
    THANOS,
    ChartRef,
)
from tests.helpers import ROOT, require_tool
from tools import helm

VERSIONS_PY = ROOT / "plan" / "versions.py"

# Each matchString compiled as Renovate compiles it (flag `g`, every match of the whole file).
# Ref: renovatebot/renovate lib/modules/manager/custom/regex/strategies.ts handleAny (regEx(matchString, 'g'))
EXTRACT_JS = """
const fs = require("fs");
const [config, file] = process.argv.slice(1);
const text = fs.readFileSync(file, "utf8");
const found = [];
for (const manager of JSON.parse(fs.readFileSync(config, "utf8")).customManagers) {
  for (const source of manager.matchStrings) {
    for (const match of text.matchAll(new RegExp(source, "g"))) found.push(match.groups);
  }
}
console.log(JSON.stringify(found));
"""


def _extract(text: str, tmp_path) -> list[dict[str, Any]]:
    node = require_tool("node", "apt-get install nodejs")
    file = tmp_path / "versions.py"
    file.write_text(text)
    proc = subprocess.run(
        [node, "-e", EXTRACT_JS, str(ROOT / "renovate.json"), str(file)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _key(dep: dict[str, Any]) -> tuple[str, str, str, str | None]:
    return dep["datasource"], dep["depName"], dep["currentValue"], dep.get("registryUrl")


def _module_constants() -> list[str]:
    """Names of the module-level constants, in file order."""
    tree = ast.parse(VERSIONS_PY.read_text())
    return [
        target.id
        for node in tree.body
        if isinstance(node, (ast.Assign, ast.AnnAssign))
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and target.id.isupper()
    ]


def _image_pins() -> dict[str, tuple[str, str]]:
    """Constant -> (image, tag) for every image version the module pins: `X_IMAGE = "image:tag"`, or
    a tag (`X_IMAGE_TAG`, `X_VERSION`) whose image is `X_IMAGE`."""
    pins: dict[str, tuple[str, str]] = {}
    for name in _module_constants():
        value = getattr(versions, name)
        if not isinstance(value, str):
            continue
        if name.endswith("_IMAGE"):
            if ":" in value:
                image, tag = value.rsplit(":", 1)
                pins[name] = (image, tag)
            else:
                assert hasattr(versions, f"{name}_TAG") or hasattr(versions, f"{name.removesuffix('_IMAGE')}_VERSION"), (
                    f"{name} names an image without a tag constant"
                )
        elif name.endswith("_IMAGE_TAG"):
            pins[name] = (getattr(versions, name.removesuffix("_TAG")), value)
        elif name.endswith("_VERSION"):
            pins[name] = (getattr(versions, f"{name.removesuffix('_VERSION')}_IMAGE"), value)
        else:
            pytest.fail(f"{name} = {value!r}: not a pin shape this test knows (X_IMAGE, X_IMAGE_TAG, X_VERSION)")
    return pins


def _pinned() -> set[tuple[str, str, str, str | None]]:
    """(datasource, package, version, registry) of everything the module pins, from its values."""
    charts = [getattr(versions, name) for name in _module_constants() if isinstance(getattr(versions, name), ChartRef)]
    assert set(charts) == set(versions.ALL_CHARTS)
    return {("helm", ref.chart, ref.version, ref.repository) for ref in charts} | {
        ("docker", image, tag, None) for image, tag in _image_pins().values()
    }


def test_renovate_extracts_exactly_what_the_module_pins(tmp_path):
    extracted = _extract(VERSIONS_PY.read_text(), tmp_path)
    keys = [_key(dep) for dep in extracted]
    assert len(keys) == len(set(keys)), "a pin is matched twice"
    assert set(keys) == _pinned()
    # Docker tags are compared the docker way (a `-alpine` suffix stays); charts by semver.
    # Ref: https://docs.renovatebot.com/modules/versioning/docker/
    assert {(dep["datasource"], dep.get("versioning")) for dep in extracted} == {("helm", None), ("docker", "docker")}


def test_a_pin_without_its_annotation_is_not_extracted(tmp_path):
    """What the comparison above relies on: the version line alone is not matched."""
    text = VERSIONS_PY.read_text()
    annotation = "# renovate: datasource=docker depName=quay.io/thanos/thanos versioning=docker\n"
    assert annotation in text
    keys = {_key(dep) for dep in _extract(text.replace(annotation, ""), tmp_path)}
    assert ("docker", versions.THANOS_IMAGE, versions.THANOS_IMAGE_TAG, None) not in keys
    assert keys == _pinned() - {("docker", versions.THANOS_IMAGE, versions.THANOS_IMAGE_TAG, None)}


def test_renovate_regex_stays_within_re2():
    # RE2 has no lookaround and no backreferences. Ref: https://github.com/google/re2/wiki/Syntax
    config = json.loads((ROOT / "renovate.json").read_text())
    for manager in config["customManagers"]:
        assert manager["managerFilePatterns"] == ["/^plan/versions\\.py$/"]
        for source in manager["matchStrings"]:
            for construct in ("(?=", "(?!", "(?<=", "(?<!", "\\1"):
                assert construct not in source, construct


# --- image tags against their chart's appVersion ----------------------------------------------


@dataclass(frozen=True)
class Agrees:
    """The tag must be the one the chart derives from its appVersion."""

    chart: ChartRef
    tag: Callable[[str], str]
    ref: str


@dataclass(frozen=True)
class Differs:
    """The tag is deliberately not the chart's (or no chart deploys the image)."""

    chart: ChartRef | None
    why: str
    ref: str


IMAGE_TAGS: dict[str, Agrees | Differs] = {
    "THANOS_IMAGE_TAG": Agrees(
        THANOS, lambda app: f"v{app}",
        "thanos 1.24.1 values.yaml image.tag (`printf \"v%s\" .Chart.AppVersion`); the same tag goes to "
        "kube-prometheus-stack prometheusOperator.thanosImage, so the sidecar and the ruler run the Thanos "
        "chart's release",
    ),
    "GRAFANA_IMAGE_TAG": Agrees(
        GRAFANA, str,
        "grafana 12.11.1 values.yaml image.tag (\"default is the chart appVersion\"); set explicitly because "
        "the reset-admin-password init container (plan/grafana.py) runs the same image",
    ),
    "OTEL_COLLECTOR_IMAGE_TAG": Agrees(
        OTEL_COLLECTOR, str,
        "opentelemetry-collector 0.170.0 values.yaml image.tag (default appVersion); the contrib image is "
        "released with every collector version",
    ),
    "INFLUXDB_IMAGE_TAG": Differs(
        INFLUXDB,
        "the chart's appVersion 1.8.10 is an old 1.x; 1.11 is the maintained 1.x line (never 2.x/3.x: the "
        "platform needs InfluxQL continuous queries)",
        "influxdata/influxdata-docker influxdb/1.11/alpine/Dockerfile (INFLUXDB_VERSION 1.11.8); influxdb "
        "4.12.5 values.yaml image.tag 1.8.10-alpine",
    ),
    "ELASTICSEARCH_VERSION": Differs(
        ECK_OPERATOR,
        "eck-operator's appVersion is the operator's own release; the Elasticsearch it runs is versioned on "
        "its own (the Elasticsearch resource's spec.version)",
        "elastic/cloud-on-k8s v3.5.0 config/samples/elasticsearch/elasticsearch.yaml (spec.version 9.4.3)",
    ),
    "CURL_IMAGE": Differs(
        None, "the program's own Jobs (Elasticsearch lifecycle, trace retention): no chart deploys it",
        "plan/elasticsearch.py, components/tracing.py",
    ),
    "PYTHON_IMAGE": Differs(
        None, "the program's own weekly report CronJob (plan/reports.py): no chart deploys it",
        "docker-library/python 3.11/slim-bookworm/Dockerfile",
    ),
    "SPARK_DEPENDENCIES_IMAGE": Differs(
        None, "the program's own dependency-links CronJob (plan/tracing.py): the jaeger chart's spark "
        "CronJob can mount no /tmp emptyDir and defaults to the old Docker Hub image",
        "jaegertracing/spark-dependencies v0.7.2 .github/workflows/ci-cd.yml; jaeger 4.11.1 values.yaml spark.image",
    ),
    "MAX_MAP_COUNT_IMAGE": Differs(
        None, "the program's own vm.max_map_count DaemonSet: no chart deploys it",
        "https://www.elastic.co/docs/deploy-manage/deploy/cloud-on-k8s/virtual-memory",
    ),
}


def _chart_file(ref: ChartRef, name: str) -> dict[str, Any]:
    """A file of the pinned chart's archive (the chart cache tools/helm.py reads)."""
    with tarfile.open(helm.chart_archive(ref)) as archive:
        member = archive.extractfile(f"{ref.chart}/{name}")
        assert member is not None, name
        return yaml.safe_load(member.read())


def test_every_pinned_image_tag_has_a_row():
    assert set(IMAGE_TAGS) == set(_image_pins())
    for name, row in IMAGE_TAGS.items():
        assert row.ref, name
        if isinstance(row, Differs):
            assert row.why, name


@pytest.mark.parametrize("name", sorted(n for n, row in IMAGE_TAGS.items() if isinstance(row, Agrees)))
def test_image_tag_is_its_charts_app_version(name):
    row = IMAGE_TAGS[name]
    assert isinstance(row, Agrees)
    app_version = str(_chart_file(row.chart, "Chart.yaml")["appVersion"])
    assert _image_pins()[name][1] == row.tag(app_version), f"{name} vs {row.chart.chart} {row.chart.version}: {row.ref}"


@pytest.mark.parametrize("name", sorted(n for n, row in IMAGE_TAGS.items() if isinstance(row, Differs) and row.chart))
def test_a_deliberately_different_tag_still_differs(name):
    """A row that says "differs" while the two agree is stale: move it to Agrees (or drop the pin)."""
    row = IMAGE_TAGS[name]
    assert isinstance(row, Differs) and row.chart is not None
    app_version = str(_chart_file(row.chart, "Chart.yaml")["appVersion"])
    tag = _image_pins()[name][1]
    assert tag.split("-")[0].removeprefix("v") != app_version.removeprefix("v"), f"{name}: {row.why}"


def test_a_tag_set_alone_runs_the_image_its_annotation_names():
    """Where the program sets only the tag, the chart's default image is the one Renovate looks up.
    Ref: thanos 1.24.1, grafana 12.11.1, kube-prometheus-stack 88.5.3 values.yaml (`image`,
    `prometheusOperator.thanosImage`)."""
    thanos = _chart_file(THANOS, "values.yaml")["image"]
    assert thanos["repository"] == versions.THANOS_IMAGE
    grafana = _chart_file(GRAFANA, "values.yaml")["image"]
    assert f"{grafana['registry']}/{grafana['repository']}" == versions.GRAFANA_IMAGE
    sidecar = _chart_file(KUBE_PROMETHEUS_STACK, "values.yaml")["prometheusOperator"]["thanosImage"]
    assert f"{sidecar['registry']}/{sidecar['repository']}" == versions.THANOS_IMAGE
