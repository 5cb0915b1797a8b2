# Two commands for a new user: `make demo` (the platform locally, with a simulated fleet)
# and `make test` (everything CI runs). Both set themselves up from the lock file.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: demo test typecheck screenshots test-unit test-integration test-infra test-e2e local synth layer bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	touch $@

setup: $(VENV)/.synced

demo: setup
	$(VENV)/bin/csms demo

local: setup
	$(VENV)/bin/csms local

test: setup typecheck
	$(PY) -m pytest

# The domain package's ports are Protocols: the type check is what holds adapters and fakes to them.
typecheck: setup
	$(VENV)/bin/mypy

test-unit: setup
	$(PY) -m pytest tests/unit

test-integration: setup
	$(PY) -m pytest tests/integration

test-infra: setup
	$(PY) -m pytest tests/infra

test-e2e: setup
	$(PY) -m pytest tests/e2e

synth: setup
	JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1 CDK_OUTDIR=cdk.out $(PY) app.py
	@echo "template: cdk.out/Csms.template.json"

layer: setup
	UV=$(UV) bash layers/build.sh
	UV=$(UV) LAYER_GROUP=lambda-planner bash layers/build.sh

# Every benchmark at its documented size (docs/benchmarks.md, docs/reliability.md, docs/scale.md); about 15 minutes on
# 2 cores, plus the scale model (fills 5,000 chargers into moto: 17 minutes measured on 2 loaded, shared cores).
bench: setup
	$(PY) -m bench.bench_handler
	$(PY) -m bench.bench_requests
	$(PY) -m bench.bench_planner --sizes 1000,10000
	$(PY) -m bench.bench_throughput --chargers 100,300 --messages 10 --compare-ocpp
	$(PY) -m bench.bench_store
	$(PY) -m bench.fuzz_frames --frames 100000
	$(PY) -m bench.bench_scale --sizes 100,1000,5000
	$(PY) -m bench.bench_fanout --sites
	$(PY) -m bench.bench_replan --sizes 100,5000

# The page's screenshots in docs/ (headless Chromium); `make test` saves them to a temporary directory instead.
screenshots: setup
	CSMS_SCREENSHOTS=1 $(PY) -m pytest -o addopts="" -q tests/e2e -m screenshot

clean:
	rm -rf $(VENV) $(TOOLS) cdk.out cdk.out.staging layers/build layers/build-planner .pytest_cache .hypothesis
