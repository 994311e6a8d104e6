# The two commands a newcomer needs:
#   make demo   -- set up everything and run the main job on the embedded server
#   make test   -- set up everything and run the whole suite (lint, types, tests)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit e2e clean install bench bench-compare

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python scripts/install.py -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python examples/demo.py

lint: $(STAMP)
	$(BIN)/ruff check src tests examples bench scripts
	$(BIN)/ruff format --check src tests examples bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest tests/unit tests/contract tests/api -q

e2e: $(STAMP)
	$(BIN)/pytest tests/e2e tests/chaos tests/frameworks -q

# Fault injection, long versions (CHAOS_SEED=N replays; AGENTSPAN_TEST_DATABASE_URL adds
# the PostgreSQL scenarios); writes the results table into docs/reliability.md.
.PHONY: chaos
chaos: $(STAMP)
	CHAOS_FULL=1 $(BIN)/python tests/chaos/chaos_report.py

# Benchmarks side by side with LangGraph and DBOS, in their own venv (bench/.venv);
# regenerates docs/benchmarks.md and docs/benchmarks/*.png (about 17 minutes on 2 cores).
# BENCH_FULL=1 for the long version; BENCH_DATABASE_URL for another PostgreSQL.
BENCH_VENV  := bench/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed

$(BENCH_STAMP): pyproject.toml bench/requirements.txt
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -e '.[postgres,otel]' -r bench/requirements.txt
	@touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/run.py

# Figure 1 (the durable turn) for commit BASE and this checkout, interleaved in one run
# (BACKEND=postgres for PostgreSQL): make bench-compare BASE=94ecc43
BASE ?= HEAD
BACKEND ?= sqlite
bench-compare: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python bench/compare.py --base $(BASE) --backend $(BACKEND)

test: lint typecheck
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
