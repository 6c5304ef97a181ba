"""Synthetic history in a real TSDB: series written as OpenMetrics and turned into blocks by
promtool, records backfilled from them by promtool against a running Prometheus, and the flags a
Prometheus serving such history needs. Used by tests that measure windows of days (a promtool unit
test loads at most 10000 samples per query) and by the bench (tools/bench_alerting.py).

The steps, on either engine generation (the same flags on promtool 2.42 and 3.5.3):
1. `write_openmetrics`: every series with explicit timestamps (seconds), then `# EOF`.
2. `create_blocks`: `promtool tsdb create-blocks-from openmetrics`. promtool parses the whole input
   once to find its time range and once more per block it writes, so a long history is written in
   large blocks (`BLOCK_DURATION`) or one input file per block.
   Ref: https://prometheus.io/docs/prometheus/latest/storage/#backfilling-from-openmetrics-format
   ("Longer Block Durations": `--max-block-duration`, a hidden flag of `create-blocks-from` in 2.42
   and 3.5.3)
   Ref: prometheus/prometheus@v3.5.3 cmd/promtool/backfill.go (`createBlocks`: one pass over the
   input per block range; `getCompatibleBlockDuration`: the largest of 2h, 6h, 18h, 54h, ... not
   above `--max-block-duration`).
3. `backfill_records`: `promtool tsdb create-blocks-from rules` evaluates recording rules as range
   queries (step: the group's interval, else `--eval-interval`) against the Prometheus serving the
   raw blocks, one query per block range, and writes the results as blocks: what those rules would
   have recorded had they run over that history. A range query holds at most 11000 points per
   series, so a block range must not span more than 11000 steps.
   Ref: prometheus/prometheus@v3.5.3 cmd/promtool/rules.go (`importRule`)
   Ref: https://prometheus.io/docs/prometheus/latest/storage/#backfilling-for-recording-rules
4. Prometheus is started again with both sets of blocks in its data directory (`HISTORY_FLAGS`);
   they overlap in time, which Prometheus 2.39 and later accept and merge at query time.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from pathlib import Path

import yaml

# Ranges up to 54h: 6480 steps at 30s, under a range query's 11000 points.
BLOCK_DURATION = "54h"
# A Prometheus serving backfilled history: time retention counts back from the newest block
# (tsdb/db.go `BeyondTimeRetention`), so a long one keeps every block; equal minimum and maximum
# block durations stop compaction (as with a Thanos sidecar), so no block is rewritten while it
# serves. Ref: prometheus/prometheus@v3.5.3 tsdb/db.go, cmd/prometheus/main.go (the
# `storage.tsdb.{min,max}-block-duration` flags, hidden, in 2.42 too).
HISTORY_FLAGS = (
    "--storage.tsdb.retention.time=10y",
    "--storage.tsdb.min-block-duration=2h",
    "--storage.tsdb.max-block-duration=2h",
)


def openmetrics_lines(series: str, samples: Iterable[tuple[int, float]]) -> str:
    """One series' samples as OpenMetrics lines (`series` is `name{labels}`, timestamps in s). The
    OpenMetrics parser wants no blank between labels: `{a="1",b="2"}`."""
    return "".join(f"{series} {value!r} {ts}\n" for ts, value in samples)


def write_openmetrics(path: Path, series: Iterable[tuple[str, Iterable[tuple[int, float]]]]) -> Path:
    """Every series' samples (each series contiguous, in time order), then `# EOF`."""
    with path.open("w") as out:
        for text, samples in series:
            out.write(openmetrics_lines(text, samples))
        out.write("# EOF\n")
    return path


def _run(args: Sequence[str], timeout: float) -> None:
    result = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:4])} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def create_blocks(promtool: str, source: Path, out_dir: Path, block_duration: str = BLOCK_DURATION, timeout: float = 600) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    _run(
        [promtool, "tsdb", "create-blocks-from", f"--max-block-duration={block_duration}", "openmetrics", "-q", str(source), str(out_dir)],
        timeout,
    )


def backfill_records(
    promtool: str,
    prometheus_url: str,
    groups: list[dict],
    start: int,
    end: int,
    interval: str,
    out_dir: Path,
    block_duration: str = BLOCK_DURATION,
    timeout: float = 600,
) -> None:
    """Blocks of what the recording rules of `groups` (no interval of their own: evaluated every
    `interval`) would have recorded from `start` to `end` (unix seconds)."""
    assert all("interval" not in g and all("record" in r for r in g["rules"]) for g in groups)
    rules = out_dir.parent / f"{out_dir.name}-rules.yaml"
    rules.parent.mkdir(parents=True, exist_ok=True)
    rules.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    _run(
        [
            promtool, "tsdb", "create-blocks-from", f"--max-block-duration={block_duration}", "rules",
            f"--url={prometheus_url}", f"--start={start}", f"--end={end}", f"--eval-interval={interval}",
            f"--output-dir={out_dir}", str(rules),
        ],
        timeout,
    )


def move_blocks(source: Path, data_dir: Path) -> list[str]:
    """Move every block (a directory with a meta.json) of `source` into `data_dir`."""
    data_dir.mkdir(parents=True, exist_ok=True)
    moved = []
    for block in sorted(p for p in source.iterdir() if (p / "meta.json").is_file()):
        shutil.move(str(block), data_dir / block.name)
        moved.append(block.name)
    return moved


# --- samples into the head: the remote-write receiver ----------------------------------------------
# Blocks are what a Prometheus keeps of its older history; the newest hours are in its head (in
# memory, the full chunks memory-mapped), where the short windows (5m rates, 30m records) read them.
# `push_head` sends samples to a Prometheus started with REMOTE_WRITE_RECEIVER, as remote write 1.0
# does: a snappy-compressed protobuf WriteRequest per POST. The head takes samples from the end of
# the newest block on, in time order per series, and none older than an hour before its newest
# sample (`minValidTime`), so callers send consecutive time slices.
# Ref: https://prometheus.io/docs/specs/prw/remote_write_spec/ (WriteRequest, TimeSeries, Label,
# Sample; Content-Encoding: snappy, block format; labels sorted by name)
# Ref: prometheus/prometheus@v3.5.3 prompb/types.proto, tsdb/head_append.go (appendableMinValidTime)
# Ref: https://github.com/google/snappy/blob/main/format_description.txt (a block of literals)
REMOTE_WRITE_RECEIVER = "--web.enable-remote-write-receiver"


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (wire type 2)."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def write_request(series: Iterable[tuple[dict[str, str], Sequence[tuple[int, float]]]]) -> bytes:
    """A remote-write 1.0 WriteRequest of (labels with __name__, [(unix ms, value)]) pairs."""
    body = bytearray()
    for labels, samples in series:
        one = b"".join(_field(1, _field(1, k.encode()) + _field(2, v.encode())) for k, v in sorted(labels.items()))
        one += b"".join(_field(2, b"\x09" + struct.pack("<d", value) + b"\x10" + _varint(ms)) for ms, value in samples)
        body += _field(1, one)
    return bytes(body)


def snappy_block(data: bytes) -> bytes:
    """`data` as a snappy block of literals (valid snappy, uncompressed: the receiver only decodes)."""
    out = bytearray(_varint(len(data)))
    for at in range(0, len(data), 1 << 16):
        chunk = data[at:at + (1 << 16)]
        out += bytes((61 << 2,)) + (len(chunk) - 1).to_bytes(2, "little") + chunk  # tag 61: 2-byte length
    return bytes(out)


def push_head(url: str, series: Iterable[tuple[dict[str, str], Sequence[tuple[int, float]]]], timeout: float = 120) -> None:
    """POST one WriteRequest to Prometheus' /api/v1/write; an error names the receiver's answer."""
    request = urllib.request.Request(
        f"{url}/api/v1/write", data=snappy_block(write_request(series)), method="POST",
        headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
                 "X-Prometheus-Remote-Write-Version": "0.1.0"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout):  # noqa: S310 (127.0.0.1)
            return
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"remote write to {url}: HTTP {error.code}: {error.read()[:500]!r}") from error
