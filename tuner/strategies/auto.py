"""``strategy = "auto"``: a strategy chosen by the space, from the strategy suite's
measurements (benchmarks/strategy_suite/RESULTS.md).

The published rule of thumb (TPE for choices and conditionals, a GP for an all-numeric space
under a few hundred trials) was measured there, and its GP half did not hold: on the
all-numeric Hartmann-6, ``tpe`` had a lower median regret than ``bayesian`` at 20, 50 and 100
trials (0.026 against 0.057 at 100) and tied at 10. Over the four problems ``tpe`` is best or
tied-best in 15 of the 16 (problem, budget) cells (not Branin at 50 trials, where the GPs
lead), ``bayesian`` in 15 too (not Branin at 10), at a sixth of the proposal time
(0.06-0.11 s against 0.32-0.53 s at 100 trials on the loaded 2-core machine). So every space
with a tuned entry goes to ``tpe``; one with none to ``random`` (nothing to model). The oracle
says what was chosen (``chosen_strategy``), and the campaign's summary notes it.
"""

from __future__ import annotations

import keras_tuner as kt
from keras_tuner.engine import hyperparameters as hp_module

from tuner.strategies.registry import OracleSettings, get_strategy


def choose(hyperparameters: kt.HyperParameters, max_trials: int) -> tuple[str, str]:
    """The strategy ``auto`` runs for this space and budget, and why (a short phrase)."""
    tuned = [h for h in hyperparameters.space if not isinstance(h, hp_module.Fixed)]
    if not tuned:
        return "random", "nothing to model: no tuned hyperparameter"
    if any(h.conditions for h in tuned):
        return "tpe", "the space has conditional entries"
    if any(isinstance(h, (hp_module.Choice, hp_module.Boolean)) for h in tuned):
        return "tpe", "the space has choices"
    return "tpe", "all numeric: tpe measured ahead of the GP (benchmarks/strategy_suite)"


def auto_oracle(settings: OracleSettings) -> kt.Oracle:
    """The registry's factory for ``auto``: the chosen strategy's oracle, which remembers the
    choice in ``chosen_strategy`` and ``chosen_because``."""
    name, why = choose(settings.hyperparameters, settings.max_trials)
    oracle = get_strategy(name).load_factory()(settings)
    oracle.chosen_strategy = name
    oracle.chosen_because = why
    return oracle
