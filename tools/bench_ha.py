#!/usr/bin/env python3
"""Benchmark of the prod HA pair and cluster under an alert storm (issue 11, item 5): the run of
tests/monitoring/test_alerting_ha_live.py (tests/ha_scenario.py), once, on Prometheus 3.5.3 +
Alertmanager 0.33.1, reported as figures:

- the storm: alerts per wave and over how many seconds every alert of waves a and b had reached
  every receiver it is owed to;
- notifications per receiver;
- lost alert-receiver deliveries, misrouted ones, and duplicates (a group's notification repeated
  with the same alerts) against the at-least-once bound of PEERS - 1 per group and receiver;
- P1 latency (the wave's series appear -> the last P1 group's first page) per wave against its
  floor (next scrape + next evaluation + group_wait), with the Alertmanager that notifies first
  killed (wave b: floor + one peer timeout) and with a Prometheus replica killed (wave c).

Usage: python tools/bench_ha.py [--scale 1.0]. Everything listens on 127.0.0.1 and stops at the
end; the run takes about a minute.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the project root, for its packages and tests/

from tests.ha_scenario import (
    FLOOR_SECONDS,
    PEER_TIMEOUT_SECONDS,
    PEERS,
    StormOutcome,
    run_storm,
)

WAVES = {"a": "healthy", "b": "first Alertmanager killed", "c": "one Prometheus replica killed"}


def report(outcome: StormOutcome) -> list[str]:
    duplicates = outcome.duplicates()
    p1_duplicates = sum(n for (_, group), n in duplicates.items() if group[0] == "P1")
    lines = [
        "HA storm (3 Alertmanagers clustered, 2 Prometheus replicas; prod routing and rules; tests/ha_scenario.py)",
        f"  storm: {outcome.size()} alerts ({', '.join(f'{w}: {outcome.size(w)}' for w in WAVES)}); "
        f"waves a+b ({outcome.size('ab')}) all delivered within {outcome.notified_within('ab'):.1f} s of the first",
        "  notifications per receiver: " + ", ".join(f"{r} {n}" for r, n in sorted(outcome.per_receiver.items())),
        f"  lost {outcome.lost()}, misrouted {outcome.misrouted()}, split groups {outcome.split_groups()}, "
        f"replica-doubled {outcome.doubled}",
        f"  duplicates: {sum(duplicates.values())} in {len(duplicates)} of {len(set(outcome.groups.values()))} groups "
        f"(max {max(duplicates.values(), default=0)} per group and receiver; bound {PEERS - 1}); P1 duplicates {p1_duplicates}",
    ]
    for (receiver, group), count in sorted(duplicates.items()):
        times = ", ".join(f"{t:.1f}" for t in outcome.duplicate_times(receiver, group))
        lines.append(f"    duplicate: {receiver} {'/'.join(v for v in group if v)} (wave {outcome.wave_of(group)}) at {times} s")
    for wave, what in WAVES.items():
        bound = FLOOR_SECONDS + (PEER_TIMEOUT_SECONDS if wave == "b" else 0)
        latency = outcome.p1_latency(wave)
        lines.append(f"  P1 latency, wave {wave} ({what}): {latency:5.2f} s = {latency / FLOOR_SECONDS:4.2f}x floor "
                     f"{FLOOR_SECONDS:g} s (bound {bound:g} s{' = floor + peer timeout' if wave == 'b' else ''})")  # fmt: skip
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="alert counts x this (1.0: 1,000+ alerts in waves a and b)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ha-") as work:
        outcome = run_storm("3", Path(work), args.scale)
    print("\n".join(report(outcome)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
