"""``strategy = "auto"``: a strategy chosen by the space and the budget, from the strategy
suite's measurements (benchmarks/strategy_suite/RESULTS.md).

A space with a choice, a boolean or a conditional entry goes to ``tpe`` (Optuna's TPE models
categories as categories and conditional subspaces apart); an all-numeric space with a budget
of at most `GP_MAX_TRIALS` goes to ``bayesian`` (a GP), a larger one to ``tpe`` (a GP's fit
grows with the cube of the trials). The oracle says what was chosen (``chosen_strategy``), and
the campaign's summary notes it.
"""

from __future__ import annotations

import keras_tuner as kt
from keras_tuner.engine import hyperparameters as hp_module

from tuner.strategies.registry import OracleSettings, get_strategy

GP_MAX_TRIALS = 200


def choose(hyperparameters: kt.HyperParameters, max_trials: int) -> tuple[str, str]:
    """The strategy ``auto`` runs for this space and budget, and why (a short phrase)."""
    tuned = [h for h in hyperparameters.space if not isinstance(h, hp_module.Fixed)]
    if not tuned:
        return "random", "nothing to model: no tuned hyperparameter"
    if any(h.conditions for h in tuned):
        return "tpe", "the space has conditional entries"
    if any(isinstance(h, (hp_module.Choice, hp_module.Boolean)) for h in tuned):
        return "tpe", "the space has choices"
    if max_trials > GP_MAX_TRIALS:
        return "tpe", f"all numeric, but more than {GP_MAX_TRIALS} trials"
    return "bayesian", f"all numeric, at most {GP_MAX_TRIALS} trials"


def auto_oracle(settings: OracleSettings) -> kt.Oracle:
    """The registry's factory for ``auto``: the chosen strategy's oracle, which remembers the
    choice in ``chosen_strategy`` and ``chosen_because``."""
    name, why = choose(settings.hyperparameters, settings.max_trials)
    oracle = get_strategy(name).load_factory()(settings)
    oracle.chosen_strategy = name
    oracle.chosen_because = why
    return oracle
