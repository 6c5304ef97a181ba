"""The layers, from the import statements (function-level and TYPE_CHECKING ones included):
monitoring/ is pure (no Pulumi, no components, stacks or tools) and does not spell stack-file keys
(its specs name keys relative to themselves; plan/settings.py adds the prefix), and no project
module imports itself back through others."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from plan.settings import StackSettings
from tools.mockrun import ROOT

PACKAGES = ("components", "monitoring", "plan", "stacks", "tools")
FORBIDDEN_IN_MONITORING = ("pulumi", "pulumi_kubernetes", "pulumi_random", "pulumi_tls", "pulumiverse_grafana",
                           "components", "plan", "stacks", "tools")
# Keyword arguments whose strings are prose for people (what a producer is, how to deploy it), not
# keys a message is built from.
PROSE_KEYWORDS = {"description", "how_to_deploy"}


def _module_name(path: Path) -> str:
    parts = list(path.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _project_modules() -> dict[str, Path]:
    modules = {_module_name(p.relative_to(ROOT)): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}
    modules["__main__"] = ROOT / "__main__.py"
    return modules


def _imports(module: str, path: Path) -> list[tuple[str, ...]]:
    """What each import statement of the file names, at any depth: `import a.b` names a.b; `from a
    import b` names a.b if that is a module, else a (the alternatives, first the submodule)."""
    found: list[tuple[str, ...]] = []
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name,) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            found += [(f"{base}.{alias.name}", base) for alias in node.names]
    return found


def _imported(module: str, path: Path) -> set[str]:
    return {name for alternatives in _imports(module, path) for name in alternatives}


def _graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Project module -> the project modules it imports (a name resolves to its longest module
    prefix). A package's __init__, which Python runs before any of its submodules, is not counted
    as imported by `from package import submodule`: that is how a package is built, not a cycle."""

    def resolve(alternatives: tuple[str, ...]) -> str | None:
        for name in alternatives:
            parts = name.split(".")
            if found := next((".".join(parts[:i]) for i in range(len(parts), 0, -1) if ".".join(parts[:i]) in modules), None):
                return found
        return None

    return {m: {r for a in _imports(m, p) if (r := resolve(a)) and r != m} for m, p in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), or a module importing itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while (w := stack.pop()) != v:
                component.append(w)
            component.append(v)
            if len(component) > 1 or v in graph[v]:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_monitoring_imports_neither_pulumi_nor_the_program_layers():
    modules = _project_modules()
    wrong = {
        module: sorted(n for n in _imported(module, path) if n.split(".")[0] in FORBIDDEN_IN_MONITORING)
        for module, path in modules.items()
        if module.startswith("monitoring")
    }
    assert {m: names for m, names in wrong.items() if names} == {}


def test_no_project_module_imports_itself_back():
    assert _cycles(_graph(_project_modules())) == []


def test_the_cycle_check_sees_function_level_and_type_checking_imports(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    module = tmp_path / "x.py"
    module.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from p import q\n"
                      "def f():\n    import r.s\n    from . import t\n")
    assert {"p", "p.q", "r.s"} <= _imported("pkg.x", module)
    assert "pkg.t" in _imported("pkg.x", module)


# --- stack-file keys -------------------------------------------------------------------------------


def _key_pattern() -> re.Pattern[str]:
    """A string that starts with a stack-file key path (a top-level key and a sub-key, or a key and
    the ": " of a message): what a module spelling stack-file keys writes."""
    tops = sorted({field.alias or name for name, field in StackSettings.model_fields.items()}, key=len, reverse=True)
    # ": " (not a bare ":"): a recording rule's name such as `namespace:<metric>:sum` is no key.
    return re.compile(rf"^({'|'.join(map(re.escape, tops))})(([.\[][\w.\[\]*{{}}-]+)|(?=: )|(?= \())")


def _strings(tree: ast.Module) -> list[tuple[int, str]]:
    """The string constants of a module, and the literal start of each f-string, except docstrings
    and prose keyword arguments."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.keyword) and node.arg in PROSE_KEYWORDS:
            skip |= {id(n) for n in ast.walk(node.value)}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            skip |= {id(v) for v in node.values}
            text = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
            found.append((node.lineno, text))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append((node.lineno, node.value))
    return found


def _spelled_keys(tree: ast.Module, pattern: re.Pattern[str]) -> list[str]:
    names = [f"{n.lineno}: {n.id}" for n in ast.walk(tree) if isinstance(n, ast.Name) and "CONFIG_ROOT" in n.id]
    return names + [f"{line}: {text[:80]!r}" for line, text in _strings(tree) if pattern.match(text)]


def test_monitoring_spells_no_stack_file_key():
    pattern = _key_pattern()
    found = {
        str(path.relative_to(ROOT)): spelled
        for path in sorted((ROOT / "monitoring").rglob("*.py"))
        if (spelled := _spelled_keys(ast.parse(path.read_text()), pattern))
    }
    assert found == {}, "monitoring/ names keys relative to its specs; plan/settings.py adds the prefix"


def test_the_key_check_finds_a_spelled_key():
    pattern = _key_pattern()
    spelled = [
        'CONFIG_ROOT = "jaeger.sampling"',
        'raise ValueError(f"{CONFIG_ROOT}.overrides[{i}]: duplicate")',
        'raise ValueError(f"otelCollector.corsOrigins[{i}]: bad")',
        'KEYS = {"raw": "thanos.compactor.retentionRaw"}',
        'problem = f"prometheus.retention: {kept} is too short"',
        'warning = "alerting: no receiver"',
        'warning = f"alerting ({env}): nobody"',
    ]
    for sample in spelled:
        assert _spelled_keys(ast.parse(sample), pattern), sample
    fine = [
        'raise SpecError(f"overrides[{i}]", "duplicate")',
        'GROUPS = {"security": 1, "alerting": 2}',
        '"""Stack config `logs.families.audit.deleteAfter`."""',
        'x = Field(description="alerting.receivers: the receivers")',
        'url = "https://grafana.com/docs"',
    ]
    for sample in fine:
        assert not _spelled_keys(ast.parse(sample), pattern), sample
