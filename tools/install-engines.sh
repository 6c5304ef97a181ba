#!/usr/bin/env bash
# Extract the generation-3 engines the charts deploy (Prometheus/promtool 3.5.3, Alertmanager/amtool
# 0.33.1) from Debian's packages into .tools/engines/3 (no installation, no root: `dpkg -x`), beside
# bookworm's 2.42/0.25 on PATH. tools/engines.py is where the checks and tests look them up.
#   DEBS_DIR  the packages' directory (default ../shared/debs; relative paths from the project root)
# Idempotent: a stamp of the pinned checksums makes a second run a no-op. Without the packages it
# prints one line and exits 0; the tests that need 3.x then fail under CI=true and skip locally.
set -euo pipefail
cd "$(dirname "$0")/.."
DEBS_DIR="${DEBS_DIR:-../shared/debs}"
DEST=.tools/engines/3
BINARIES=(prometheus promtool prometheus-alertmanager amtool)
# file and sha256, as listed in ../shared/debs/README.md (a different package is an error, not a skip)
PINS=(
  "prometheus_3.5.3+ds1-6_amd64.deb 593bcced02d8082688ea034dfc543848ad145c5f793aae5aad756c4dbdfa98da"
  "promtool_3.5.3+ds1-6_amd64.deb 1fb8bad7b932e7a44bccb12517f0bd96d5d5d83f15d3a1c0e2aa705cbf93fe90"
  "prometheus-alertmanager_0.33.1-5_amd64.deb ec1be21dd7ffeec3d6f42dd1cc8e97b8a9e93888f1953b4fb4cb9234be70185f"
)
STAMP="$DEST/.installed"

installed() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$(printf '%s\n' "${PINS[@]}")" ] || return 1
  for bin in "${BINARIES[@]}"; do [ -x "$DEST/usr/bin/$bin" ] || return 1; done
}

installed && exit 0
skip() {
  echo "engines 3.x not extracted: $1; tests needing Prometheus 3.5.3/Alertmanager 0.33.1 skip (fail under CI=true)" >&2
  exit 0
}
[ -d "$DEBS_DIR" ] || skip "DEBS_DIR=$DEBS_DIR does not exist"
command -v dpkg-deb >/dev/null 2>&1 || skip "dpkg-deb is not installed"
missing=()
for pin in "${PINS[@]}"; do
  [ -f "$DEBS_DIR/${pin%% *}" ] || missing+=("${pin%% *}")
done
[ ${#missing[@]} -eq 0 ] || skip "${missing[*]} not in DEBS_DIR=$DEBS_DIR"
for pin in "${PINS[@]}"; do
  echo "${pin#* }  $DEBS_DIR/${pin%% *}"
done | sha256sum --check --quiet --strict
# Extract next to the destination and swap it in, so an interrupted run never leaves a half tree.
mkdir -p "$(dirname "$DEST")"
tmp="$(mktemp -d "$DEST.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
for pin in "${PINS[@]}"; do
  dpkg-deb -x "$DEBS_DIR/${pin%% *}" "$tmp"
done
printf '%s\n' "${PINS[@]}" > "$tmp/.installed"
rm -rf "$DEST"
mv "$tmp" "$DEST"
echo "extracted $(for bin in "${BINARIES[@]}"; do "$DEST/usr/bin/$bin" --version 2>&1 | head -1 | cut -d' ' -f1,3; done | paste -sd' ' | sed 's/,//g') into $DEST"
