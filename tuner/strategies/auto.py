"""``strategy = "auto"``: a strategy chosen by the space and the budget, from the strategy
suite's measurements (benchmarks/strategy_suite/RESULTS.md) and the published rule of thumb.

The rule of thumb (Optuna's sampler guide; Bergstra et al. 2011 for TPE; Snoek et al. 2012
for GP-EI): TPE for spaces of choices and conditionals, and for large budgets, where a GP's
refit (cubic in the trials) gets slow; a GP for mostly numeric spaces under a few hundred
trials, where it models the smooth response closely. The suite measured it, with one change
to the GP's half. Under 50 trials ``tpe`` was best or tied-best on every problem, and the GP
(``bayesian``, 5 random points first) was not (the digits table at 10 trials), so the GP is
used from 50 trials on. From 50 to 100 trials ``bayesian`` was best or tied-best on every
problem, and ``tpe`` missed Branin at 50 (median regret 0.0090 against the GP's 0.0025): a
smooth, mostly numeric response, where TPE's Parzen estimators converge more coarsely. So:

- nothing tuned: ``random`` (nothing to model);
- several objectives: ``tpe`` (the GP optimises one);
- under `GP_MIN_TRIALS` or over `GP_MAX_TRIALS` trials: ``tpe``;
- otherwise, more numeric than categorical tuned entries (ranges against choices and
  booleans): ``bayesian``; else ``tpe``, which models choices as categories.

The oracle says what was chosen (``chosen_strategy``, ``chosen_because``), and the campaign's
summary notes it.
"""

from __future__ import annotations

import keras_tuner as kt
from keras_tuner.engine import hyperparameters as hp_module

from tuner.strategies.registry import OracleSettings, get_strategy

# The budgets the GP is chosen for: from where it led or tied TPE on every problem of the
# suite (50) to the rule of thumb's "few hundred" (200), past which the refit, cubic in the
# trials, makes proposals slow.
GP_MIN_TRIALS = 50
GP_MAX_TRIALS = 200


def choose(
    hyperparameters: kt.HyperParameters,
    max_trials: int,
    objectives: tuple[tuple[str, str], ...] = (),
) -> tuple[str, str]:
    """The strategy ``auto`` runs for this space, budget and objectives, and why (a phrase)."""
    tuned = [h for h in hyperparameters.space if not isinstance(h, hp_module.Fixed)]
    if not tuned:
        return "random", "nothing to model: no tuned hyperparameter"
    if len(objectives) > 1:
        return "tpe", "several objectives: tpe models them together, the GP optimises one"
    if max_trials < GP_MIN_TRIALS:
        return "tpe", f"under {GP_MIN_TRIALS} trials tpe measured ahead of the GP's random start"
    if max_trials > GP_MAX_TRIALS:
        return "tpe", f"over {GP_MAX_TRIALS} trials the GP's refit gets slow"
    choices = sum(isinstance(h, (hp_module.Choice, hp_module.Boolean)) for h in tuned)
    numeric = len(tuned) - choices
    counts = f"{numeric} of {len(tuned)} tuned entries numeric"
    if numeric > choices:
        return "bayesian", f"{GP_MIN_TRIALS}-{GP_MAX_TRIALS} trials, mostly numeric ({counts})"
    return "tpe", f"mostly choices ({counts}): tpe models them as categories"


def auto_oracle(settings: OracleSettings) -> kt.Oracle:
    """The registry's factory for ``auto``: the chosen strategy's oracle, which remembers the
    choice in ``chosen_strategy`` and ``chosen_because``."""
    name, why = choose(settings.hyperparameters, settings.max_trials, settings.objectives)
    oracle = get_strategy(name).load_factory()(settings)
    oracle.chosen_strategy = name
    oracle.chosen_because = why
    return oracle
