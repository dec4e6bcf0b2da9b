# The two README commands are `make run` and `make test`; the rest are conveniences.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint train evaluate bench bench-service clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/triage serve --demo

# The fast tier runs on two workers, the slow tier (real processes, timed recovery) one test at a time.
test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"
	$(BIN)/python -m pytest -q -m slow -n 0

# The fast tier: no multi-process, real-server or real-worker tests (those are marked slow).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .

train: $(STAMP)
	$(BIN)/python -m classifier train

evaluate: $(STAMP)
	$(BIN)/python -m classifier evaluate

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/classifier_bench.py
	$(BIN)/python bench/pipeline_bench.py

# Issue 15: throughput and latency with a million reviews (docs/benchmarks.md).
bench-service: $(STAMP)
	$(BIN)/python bench/bigdb.py
	$(BIN)/python bench/pipeline_bench.py --db fresh
	$(BIN)/python bench/pipeline_bench.py --db big
	$(BIN)/python bench/webhook_latency_bench.py
	$(BIN)/python bench/read_api_bench.py
	$(BIN)/python bench/apply_bench.py --db fresh
	$(BIN)/python bench/apply_bench.py --db big

clean:
	rm -rf $(VENV) build *.egg-info
