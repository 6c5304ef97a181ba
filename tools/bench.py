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
# listed, so it cannot go stale: the modules the program's source imports from outside the project
# and the standard library (read from its import statements), and the SDK packages whose resource
# classes it instantiates (pulumi_kubernetes loads those lazily on attribute access, so no import
# statement names them). The package, not the class's own module: importing
# `pulumi_kubernetes.apiextensions.CustomResource` would rebind the package's class attribute.
PROGRAM_SOURCES = ("components", "monitoring", "stacks", "tools/mockrun.py", "__main__.py")
LIST_LOADED = (
    "import gc, json, sys, pulumi; from tools.mockrun import run_stack; run_stack('prod'); "
    "print(json.dumps({'loaded': sorted(sys.modules), 'resources': sorted({type(o).__module__.rpartition('.')[0] "
    "for o in gc.get_objects() if isinstance(o, pulumi.Resource) and type(o).__module__.startswith(('pulumi_', 'pulumiverse_'))})}))"
)
EVALUATE_PROD = "from tools.mockrun import run_stack; run_stack('prod')"
RENDER_WITHOUT_CHARTS = (
    "import sys; from pathlib import Path; from tools import render; "
    "render.render('prod', Path(sys.argv[1]), charts=False)"
)


def _median_seconds(argv: list[str]) -> float:
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


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


def import_floor(python: str) -> str:
    """The floor's program: one import statement of every library module an evaluation of prod uses
    (imported by the program's source and loaded by the run: modules only the tests use stay out)."""
    run = json.loads(subprocess.run([python, "-c", LIST_LOADED], cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    return "import " + ", ".join(sorted((library_imports() & set(run["loaded"])) | set(run["resources"])))


def main() -> int:
    python = sys.executable
    floor_program = import_floor(python)
    with tempfile.TemporaryDirectory() as out:
        floor = _median_seconds([python, "-c", floor_program])
        evaluate = _median_seconds([python, "-c", EVALUATE_PROD])
        no_charts = _median_seconds([python, "-c", RENDER_WITHOUT_CHARTS, out])
        render = _median_seconds([python, "-m", "tools.render", "--stack", "prod", "--out", out])
        subprocess.run([python, "-m", "tools.render", "--stack", "dev", "--out", out], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        requests = json.loads((Path(out) / "dev" / "summary.json").read_text())["requests"]

    print(f"median of {REPEATS} runs each, same machine, same run")
    print(f"  floor = {floor_program}")
    print(f"  import floor (python + SDK modules)   {floor:6.2f} s   1.00x")
    print(f"  evaluate prod under mocks             {evaluate:6.2f} s   {evaluate / floor:4.2f}x floor  (target <= 1.50x)")
    print(f"  render prod, charts not templated     {no_charts:6.2f} s   {no_charts / floor:4.2f}x floor")
    print(f"  render prod, every chart templated    {render:6.2f} s   {render / floor:4.2f}x floor  (target <= 4.00x)")
    cpu, mem = Decimal(requests["cpuCores"]), requests["memoryMi"]
    print(f"  dev requests: {cpu} CPU ({cpu / 2:.0%} of 2 vCPU), {mem} Mi ({mem / 4096:.0%} of 4 GiB)")
    alerting = ROOT / "tools" / "bench_alerting.py"
    if alerting.exists():
        print()
        subprocess.run([python, str(alerting)], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
