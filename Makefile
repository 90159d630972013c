# `make demo` runs a small real campaign into build/demo (untracked); `make test` runs the test
# suite; `make reference` regenerates the committed reference results in results/quickstart,
# on purpose (their durations change on every run); `make experiments` reruns the textbook
# experiments (experiments/*.toml, issue 25) into results/, about 25 minutes on 2 CPU cores.
# All create and reuse a local virtualenv in .venv.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
DEMO_DIR := build/demo

TUNER := $(VENV)/bin/tuner
SEARCH := $(TUNER) search --overwrite --quiet
# Side-by-side comparisons, rerun with seeds 1 and 2 into results/seed<N>/ (the toolkit has no
# repeats of a configuration yet); the strategies with seeds 0-4 into results/strategies/.
SEEDED := saito_initialisation saito_batchnorm saito_overfitting optimizers \
	geron_regression_losses geron_regression_losses_clean
STRATEGIES := random grid bayesian tpe hyperband evolution pbt

.PHONY: demo reference experiments test lint clean

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

experiments: $(STAMP)
	for f in experiments/*.toml; do \
		case $$(basename $$f .toml) in quickstart|strategies_compare_*) continue;; esac; \
		$(SEARCH) $$f --results-dir results || exit 1; \
	done
	for s in 1 2; do for n in $(SEEDED); do \
		$(SEARCH) experiments/$$n.toml --seed $$s --results-dir results/seed$$s || exit 1; \
	done; done
	for s in 0 1 2 3 4; do for n in $(STRATEGIES); do \
		$(SEARCH) experiments/strategies_compare_$$n.toml --seed $$s \
			--results-dir results/strategies/seed$$s || exit 1; \
	done; done
	$(TUNER) results compare results/strategies/seed*/strategies_compare_* --format markdown \
		--plot results/strategies/best_so_far.png > results/strategies/compare.md
	$(TUNER) activations saito_initialisation --all --initial-only
	$(TUNER) activations saito_initialisation
	$(TUNER) lr-find experiments/lr_range.toml --start-lr 1e-5 --end-lr 10 --num-iter 300 \
		--results-dir results/lr_range_geron
	$(VENV)/bin/python experiments/perceptron.py --results-dir results
# every report in one process (Keras starts once); results/quickstart is `make reference`'s
	$(VENV)/bin/python -c 'import sys, tuner; [print(tuner.write_report(p)) for p in sys.argv[1:]]' \
		$$(dirname $$(ls results/*/campaign.toml results/*/*/campaign.toml \
			results/*/*/*/campaign.toml 2>/dev/null) | grep -v '^results/quickstart$$')

test: lint
	$(VENV)/bin/python -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(DEMO_DIR)
