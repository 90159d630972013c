"""What the model-based strategies (bayesian, tpe) share: a stepped range searched through the
index of its values, one seed per proposal, and the answer to KerasTuner's ``populate_space``
(a repeated proposal replaced by untried values, or the end of the search)."""

from __future__ import annotations

from typing import Any

import keras_tuner as kt
import numpy as np
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine import trial as trial_module

from tuner.errors import ConfigError
from tuner.strategies.oracles_kt import untried_random_values, was_tried

# The engine state's key for what ``strategy = "auto"`` chose (see `keep_auto_choice`).
AUTO_CHOSE = "auto_chose"


def is_stepped(h: hp_module.HyperParameter) -> bool:
    """A range searched through the index of its grid of values."""
    return (isinstance(h, hp_module.Float) and h.step is not None) or (
        isinstance(h, hp_module.Int) and h.step not in (None, 1)
    )


def grid_index(h: hp_module.HyperParameter, value: Any) -> int:
    """The index of the value of stepped range `h` nearest to `value`."""
    grid = list(h.values)
    return min(range(len(grid)), key=lambda i: abs(grid[i] - value))


def grid_value(h: hp_module.HyperParameter, index: Any) -> Any:
    """The value of stepped range `h` at `index`."""
    return list(h.values)[int(index)]


def proposal_seed(seed: int, trials: int) -> int:
    """The random state of the proposal made after `trials` trials: from the campaign's seed
    and that count alone, so that a resumed campaign draws what an uninterrupted one does."""
    return int(np.random.SeedSequence([seed, trials]).generate_state(1)[0])


def answer(oracle: kt.Oracle, values: dict[str, Any] | None) -> dict[str, Any]:
    """``populate_space``'s answer for a proposal: run it, or untried random values in place
    of one already tried, or STOPPED when the space looks exhausted."""
    if values is not None and was_tried(oracle, values):
        values = untried_random_values(oracle)
        if values is None:
            return {"status": trial_module.TrialStatus.STOPPED, "values": None}
    return {"status": trial_module.TrialStatus.RUNNING, "values": values}


def note_auto_choice(oracle: kt.Oracle, state: dict[str, Any]) -> None:
    """Record in the oracle's saved `state` what ``auto`` chose, when it chose this oracle."""
    chosen = getattr(oracle, "chosen_strategy", None)
    if chosen is not None:
        state[AUTO_CHOSE] = chosen


class AutoChoiceChanged(ConfigError):
    """A search ``auto`` started with the strategy `saved` is resumed by an oracle of another
    (its choice depends on ``max_trials``, which a resume may raise). Whoever resumes builds
    the oracle again with ``create_oracle(..., auto_choice=saved)``; uncaught, it says why."""

    def __init__(self, saved: str, mine: str, max_trials: int) -> None:
        super().__init__(
            f'strategy = "auto" chose {saved} when this search started, and would choose '
            f'{mine} for max_trials = {max_trials}; resume it with strategy = "{saved}".'
        )
        self.saved = saved


def keep_auto_choice(oracle: kt.Oracle, state: dict[str, Any]) -> None:
    """Refuse to reload the state of a search that ``auto`` started with another strategy
    (`AutoChoiceChanged`): the resumed search must go on with the strategy that made its
    earlier proposals."""
    saved, mine = state.get(AUTO_CHOSE), getattr(oracle, "chosen_strategy", None)
    if saved is not None and mine is not None and saved != mine:
        raise AutoChoiceChanged(saved, mine, oracle.max_trials)
