"""``strategy = "auto"``: a strategy chosen by the space and the budget, from the published
rule of thumb as the strategy suite measured it (benchmarks/strategy_suite/RESULTS.md).

The rule of thumb: a GP for low-dimensional continuous spaces under a few hundred trials,
where it models the smooth response closely; TPE for discrete, categorical and conditional
spaces, and for large budgets, where a GP's refit (cubic in the trials) gets slow
(Eggensperger et al. 2013, "Towards an empirical foundation for assessing Bayesian
optimization of hyperparameters": Spearmint's GP best on low-dimensional continuous
benchmarks, TPE and SMAC on high-dimensional and conditional ones; Optuna's sampler guide).
The suite measured it, and added a lower bound on the budget. Under 50 trials ``tpe`` was
best or tied-best on every problem, even the all-numeric Hartmann-6, and the GP
(``bayesian``, 5 random points first) was not (the digits table at 10 trials), so the GP is
used from 50 trials on. At 50 and 100 trials ``bayesian`` was best or tied-best on every
problem, and ``tpe`` missed Branin at 50 (median regret 0.0090 against the GP's 0.0025): a
smooth response over continuous ranges, where TPE's Parzen estimators converge more
coarsely. So:

- nothing tuned: ``random`` (nothing to model);
- several objectives: ``tpe`` (the GP optimises one);
- under `GP_MIN_TRIALS` or over `GP_MAX_TRIALS` trials: ``tpe``;
- otherwise, at least as many continuous ranges (floats without a step) as discrete entries
  (choices, booleans, integer and stepped ranges): ``bayesian``; else ``tpe``, which models
  a discrete value as a category or a grid point, where a GP interpolates between them.

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


def is_continuous(h: hp_module.HyperParameter) -> bool:
    """A float range without a step (the GP's home ground); anything else is discrete."""
    return isinstance(h, hp_module.Float) and h.step is None


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
    continuous = sum(is_continuous(h) for h in tuned)
    counts = f"{continuous} of {len(tuned)} tuned entries continuous"
    if 2 * continuous >= len(tuned):
        return (
            "bayesian",
            f"{GP_MIN_TRIALS}-{GP_MAX_TRIALS} trials, half or more continuous ({counts})",
        )
    return "tpe", f"mostly discrete ({counts}): tpe models choices and grids as they are"


def auto_oracle(settings: OracleSettings) -> kt.Oracle:
    """The registry's factory for ``auto``: the chosen strategy's oracle, which remembers the
    choice in ``chosen_strategy`` and ``chosen_because``; a resumed search's choice
    (``settings.auto_choice``) is kept."""
    name, why = choose(settings.hyperparameters, settings.max_trials, settings.objectives)
    if settings.auto_choice is not None and settings.auto_choice != name:
        why = (
            f"chosen when the search started and kept on resume (for max_trials = "
            f"{settings.max_trials} it would choose {name}: {why})"
        )
        name = settings.auto_choice
    oracle = get_strategy(name).load_factory()(settings)
    oracle.chosen_strategy = name
    oracle.chosen_because = why
    return oracle
