# The two README commands are `make run` and `make test`; the rest are conveniences.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint train evaluate bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python setup.cfg pyproject.toml
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/triage serve --demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

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

clean:
	rm -rf $(VENV) build *.egg-info
