"""Random, grid and Hyperband search on KerasTuner's own oracles, with their sharp edges filed
off. Each function is a registry factory: called by `create_oracle` with checked settings."""

from __future__ import annotations

from typing import Any

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

from tuner.errors import ConfigError
from tuner.space import distinct_configurations
from tuner.strategies.oracles_kt import (
    hyperband_first_round_trial,
    next_grid_values,
    was_tried,
)
from tuner.strategies.registry import OracleSettings, check_epoch_range


def random_oracle(settings: OracleSettings) -> kt.Oracle:
    return kt.oracles.RandomSearchOracle(
        max_trials=settings.max_trials, **settings.oracle_arguments()
    )


class GridOracle(kt.oracles.GridSearchOracle):
    """KerasTuner's grid search, in its order, that hands out any number of trials before one
    ends (a packed batch) and carries on where it stopped after a resume.

    The next trial is the first combination after the last one handed out that no trial has
    had; after a restart (nothing handed out yet in this process) the walk starts at the
    first combination and skips every one already tried."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._cursor: dict[str, Any] | None = None

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        values = next_grid_values(self, self._cursor)
        while values is not None and was_tried(self, values):
            values = next_grid_values(self, values)
        if values is not None:
            self._cursor = values
            return {"status": trial_module.TrialStatus.RUNNING, "values": values}
        if self.ongoing_trials:  # as KerasTuner: others may still fail and be retried
            return {"status": trial_module.TrialStatus.IDLE, "values": None}
        return {"status": trial_module.TrialStatus.STOPPED, "values": None}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self._cursor = None


def grid_oracle(settings: OracleSettings) -> kt.Oracle:
    size = distinct_configurations(settings.hyperparameters)
    if size is None:
        ranges = [
            h.name
            for h in settings.hyperparameters.space
            if isinstance(h, kt.engine.hyperparameters.Float) and h.step is None
        ]
        raise ConfigError(
            f"grid search needs a step on every float range; {', '.join(ranges)} "
            "has none (add step = ..., or give a list of values)."
        )
    oracle = GridOracle(max_trials=min(settings.max_trials, size), **settings.oracle_arguments())
    oracle.grid_size = size
    return oracle


class HyperbandOracle(kt.oracles.HyperbandOracle):
    """KerasTuner's Hyperband, making the same trials in the same order whether they are asked
    for one at a time or in batches: while trials are running it hands out only the random
    trials of an open bracket's first round, and answers IDLE where KerasTuner would promote
    a trial or open the next bracket (one-at-a-time search does both only once the running
    trials have ended). A batch is therefore (up to its size) one bracket's first round, the
    trials that train from scratch for the same epochs and so pack together, or a single
    promoted trial, which trains on from its finished parent's weights."""

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        if not self.ongoing_trials:
            response: dict[str, Any] = super().populate_space(trial_id)
            return response
        proposal = hyperband_first_round_trial(self, trial_id)
        if proposal is None:
            return {"status": trial_module.TrialStatus.IDLE, "values": None}
        return proposal


def hyperband_oracle(settings: OracleSettings) -> kt.Oracle:
    options = settings.options
    max_epochs = options.get("max_epochs", settings.epochs)
    if max_epochs < 2:
        raise ConfigError(
            f"[strategy_options] max_epochs must be at least 2, but got {max_epochs}."
        )
    min_epochs = options.get("min_epochs", 1)
    check_epoch_range(min_epochs, max_epochs)
    oracle = HyperbandOracle(
        max_epochs=max_epochs,
        factor=options.get("factor", 3),
        hyperband_iterations=options.get("iterations", 1),
        **settings.oracle_arguments(),
    )
    oracle.min_epochs = min_epochs
    oracle.max_trials = settings.max_trials
    return oracle
