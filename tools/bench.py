"""`make bench`: how long the program takes under mocks and to render, against the floor of
merely starting Python and importing the SDK modules the program uses; all measured in one run and
reported as ratios (absolute seconds vary by machine, ratios much less). Also the dev footprint.

Targets: evaluating prod under mocks <= 1.5x the import floor; the full render (every chart
templated by Helm) <= 4x; dev fits 2 vCPU / 4 GiB. The render without chart templating is shown
so that Helm's share is visible.
"""

from __future__ import annotations

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

IMPORT_FLOOR = (
    "import pulumi, pulumi_kubernetes, pulumi_kubernetes.core.v1, pulumi_kubernetes.meta.v1, "
    "pulumi_kubernetes.helm.v4, pulumiverse_grafana, pulumiverse_grafana.oss, "
    "pulumiverse_grafana.alerting, pulumi_random, pulumi_tls, pydantic, yaml"
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


def main() -> int:
    python = sys.executable
    with tempfile.TemporaryDirectory() as out:
        floor = _median_seconds([python, "-c", IMPORT_FLOOR])
        evaluate = _median_seconds([python, "-c", EVALUATE_PROD])
        no_charts = _median_seconds([python, "-c", RENDER_WITHOUT_CHARTS, out])
        render = _median_seconds([python, "-m", "tools.render", "--stack", "prod", "--out", out])
        subprocess.run([python, "-m", "tools.render", "--stack", "dev", "--out", out], cwd=ROOT, check=True,
                       stdout=subprocess.DEVNULL)
        requests = json.loads((Path(out) / "dev" / "summary.json").read_text())["requests"]

    print(f"median of {REPEATS} runs each, same machine, same run")
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
