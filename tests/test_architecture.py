"""docs/architecture.md is the project's design reference: nothing points at the developers' old
shared page any more, the links into and out of it land on real headings, and the layering it
describes holds in the code."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers import ROOT

ARCHITECTURE = ROOT / "docs" / "architecture.md"


def _tracked_files() -> list[Path]:
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True).stdout
    return [ROOT / name for name in names.split("\0") if name and (ROOT / name).is_file()]


def _anchors(markdown: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, -1, -2 on repeats."""
    seen: dict[str, int] = {}
    anchors = set()
    in_code = False
    for line in markdown.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not (match := re.match(r"^#{1,6} (.+)$", line)):
            continue
        slug = re.sub(r"[^\w\- ]", "", match[1].strip().lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_no_tracked_file_points_at_the_old_shared_design_page():
    # Users of the project have no ../shared: docs/architecture.md is the design reference.
    needle = "DESIGN" + ".md"
    mentions = [str(path.relative_to(ROOT)) for path in _tracked_files() if needle in path.read_text(errors="replace")]
    assert mentions == [], f"{needle} is mentioned in {mentions}; point at docs/architecture.md instead"


def test_links_to_the_architecture_page_land_on_its_headings():
    anchors = _anchors(ARCHITECTURE)
    broken = []
    for path in _tracked_files():
        for anchor in re.findall(r"architecture\.md#([\w-]+)", path.read_text(errors="replace")):
            if anchor not in anchors:
                broken.append(f"{path.relative_to(ROOT)}: #{anchor}")
    assert broken == []


def test_links_from_the_architecture_page_land():
    text = ARCHITECTURE.read_text()
    broken = []
    for target, anchor in re.findall(r"\]\(([\w./-]*)(?:#([\w-]+))?\)", text):
        path = ARCHITECTURE if not target else (ARCHITECTURE.parent / target).resolve()
        if not path.exists():
            broken.append(target)
        elif anchor and path.suffix == ".md" and anchor not in _anchors(path):
            broken.append(f"{target}#{anchor}")
    assert broken == []


def _imports(path: Path) -> set[str]:
    """Top-level package of every module a file imports (at any depth in the file)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


LAYER_RULES = [
    # (files, packages they must not import, why)
    ("monitoring/**/*.py", {"pulumi", "pulumi_kubernetes", "pulumiverse_grafana", "pulumi_pagerduty", "plan", "stacks",
                            "components", "tools"},
     "the strategy is pure builders"),
    ("plan/**/*.py", {"pulumi", "pulumi_kubernetes", "pulumi_random", "pulumi_tls", "pulumiverse_grafana",
                      "pulumi_pagerduty", "components", "stacks", "tools"},
     "the plan is computed from the settings alone, before any resource exists"),
    ("components/**/*.py", {"stacks", "tools"}, "components deploy their slice of the plan; they never read the stack"),
    ("stacks/*.py", {"tools"}, "the program never depends on the developer tools"),
]


@pytest.mark.parametrize("pattern, forbidden, why", LAYER_RULES, ids=[rule[0] for rule in LAYER_RULES])
def test_layering(pattern, forbidden, why):
    files = sorted(ROOT.glob(pattern))
    assert files, pattern
    offending = {str(path.relative_to(ROOT)): sorted(_imports(path) & forbidden) for path in files}
    assert {name: found for name, found in offending.items() if found} == {}, why


def test_components_take_no_strategy_builder():
    """Components deploy the plan: from monitoring/ they may read constants (label keys, UIDs,
    names), never call a builder, which would compute content the plan should hold."""
    called = {
        str(path.relative_to(ROOT)): sorted(
            f"{node.module}.{alias.name}"
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "monitoring"
            for alias in node.names
            if not alias.name.isupper()
        )
        for path in sorted(ROOT.glob("components/*.py"))
    }
    assert {name: found for name, found in called.items() if found} == {}
