# `make demo` runs a small real campaign into build/demo (untracked); `make test` runs the test
# suite; `make reference` regenerates the committed reference results in results/quickstart,
# on purpose (their durations change on every run). All create and reuse a local virtualenv in .venv.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
DEMO_DIR := build/demo

.PHONY: demo reference test lint clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/tuner search experiments/quickstart.toml --results-dir $(DEMO_DIR) --overwrite
	$(VENV)/bin/tuner report quickstart --results-dir $(DEMO_DIR)

reference: $(STAMP)
	$(VENV)/bin/tuner search experiments/quickstart.toml --results-dir results --overwrite
	$(VENV)/bin/tuner report quickstart --results-dir results

test: lint
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(DEMO_DIR)
