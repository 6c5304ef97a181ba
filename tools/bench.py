"""`make bench`: how long the program takes under mocks and to render, against the floor of
merely starting Python and importing the SDK and library modules the program uses; all measured in one run and
reported as ratios (absolute seconds vary by machine, ratios much less). Also the dev footprint.

Targets: evaluating prod under mocks <= 1.5x the import floor; the full render (every chart
templated by Helm) <= 4x; dev fits 2 vCPU / 4 GiB. The render without chart templating is shown
so that Helm's share is visible.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REPEATS = 5

# The floor is Python importing every library module the program uses, so that the ratios measure
# the program's own work (building values, rules and dashboards, registering resources). Found, not
# listed, so it cannot go stale: every module of the libraries the program's source imports (read
# from its import statements; not the project, not the standard library) that an evaluation of
# prod loads. That includes what the SDKs load lazily on first attribute access (pulumi_kubernetes'
# `_inputs`/`outputs` modules, about half a second, are loaded when the program first names an
# Args class) and leaves out modules that their package rebinds to another object (a
# pulumi_kubernetes class module shares its class's name: importing it directly would rebind the
# package attribute; the package loads it anyway).
PROGRAM_SOURCES = ("components", "monitoring", "stacks", "tools/mockrun.py", "__main__.py")
LIST_LOADED = (
    "import json, sys; from tools.mockrun import run_stack; run_stack('prod'); "
    "mods = {n: m for n, m in list(sys.modules.items()) if m is not None}; "
    "print(json.dumps(sorted(n for n in mods if '.' not in n or "
    "getattr(mods.get(n.rpartition('.')[0]), n.rpartition('.')[2], mods[n]) is mods[n])))"
)
EVALUATE_PROD = "from tools.mockrun import run_stack; run_stack('prod')"
RENDER_WITHOUT_CHARTS = (
    "import sys; from pathlib import Path; from tools import render; "
    "render.render('prod', Path(sys.argv[1]), charts=False)"
)


def _median_seconds(programs: dict[str, list[str]]) -> dict[str, float]:
    """Median wall time of each program; the runs are interleaved (one of each per round), so a
    change of machine load between rounds weighs on every figure, not on one."""
    times: dict[str, list[float]] = {name: [] for name in programs}
    for _ in range(REPEATS):
        for name, argv in programs.items():
            start = time.perf_counter()
            subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(ts) for name, ts in times.items()}


def library_imports() -> set[str]:
    """Modules the program's source imports from installed libraries (not the project, not stdlib)."""
    project = {p.name.removesuffix(".py") for p in ROOT.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    files = [f for src in PROGRAM_SOURCES for f in ((ROOT / src).rglob("*.py") if (ROOT / src).is_dir() else [ROOT / src])]
    found: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from pkg import sub` imports pkg.sub when sub is a module, not a name in pkg.
                names = [node.module] + [
                    f"{node.module}.{alias.name}" for alias in node.names
                    if importlib.util.find_spec(node.module) and _is_module(f"{node.module}.{alias.name}")
                ]
            else:
                continue
            top = {n for n in names if n.split(".")[0] not in project | set(sys.stdlib_module_names) | {"__future__"}}
            found |= top
    return found


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def import_floor(python: str) -> tuple[str, list[str]]:
    """The floor's program, and the libraries it covers: an import of every library module an
    evaluation of prod loads (from the libraries the program's source imports: modules only the
    tests use stay out)."""
    loaded = json.loads(subprocess.run([python, "-c", LIST_LOADED], cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    libraries = sorted({name.split(".")[0] for name in library_imports()})
    modules = [m for m in loaded if m.split(".")[0] in libraries]
    return f"import importlib\nfor m in {modules!r}:\n    importlib.import_module(m)\n", libraries


def main() -> int:
    python = sys.executable
    floor_program, libraries = import_floor(python)
    with tempfile.TemporaryDirectory() as out:
        medians = _median_seconds({
            "floor": [python, "-c", floor_program],
            "evaluate": [python, "-c", EVALUATE_PROD],
            "no_charts": [python, "-c", RENDER_WITHOUT_CHARTS, out],
            "render": [python, "-m", "tools.render", "--stack", "prod", "--out", out],
        })
        floor, evaluate, no_charts, render = (medians[k] for k in ("floor", "evaluate", "no_charts", "render"))
        subprocess.run([python, "-m", "tools.render", "--stack", "dev", "--out", out], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        requests = json.loads((Path(out) / "dev" / "summary.json").read_text())["requests"]

    print(f"median of {REPEATS} interleaved runs each, same machine, same run")
    print(f"  floor = every module of {', '.join(libraries)} that an evaluation of prod loads")
    print(f"  import floor (python + SDK modules)   {floor:6.2f} s   1.00x")
    print(f"  evaluate prod under mocks             {evaluate:6.2f} s   {evaluate / floor:4.2f}x floor  (target <= 1.50x)")
    print(f"  render prod, charts not templated     {no_charts:6.2f} s   {no_charts / floor:4.2f}x floor")
    print(f"  render prod, every chart templated    {render:6.2f} s   {render / floor:4.2f}x floor  (target <= 4.00x)")
    cpu, mem = Decimal(requests["cpuCores"]), requests["memoryMi"]
    print(f"  dev requests: {cpu} CPU ({cpu / 2:.0%} of 2 vCPU), {mem} Mi ({mem / 4096:.0%} of 4 GiB)")
    for script in ("bench_alerting.py", "bench_history.py", "bench_ha.py"):
        print()
        subprocess.run([python, str(ROOT / "tools" / script)], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
