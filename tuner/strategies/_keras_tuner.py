"""The one module that touches KerasTuner's private attributes and behaviours.

Each function works around one thing KerasTuner 1.4.8 does that we cannot change from outside;
tests/test_keras_tuner_seam.py pins every one of them, so a KerasTuner upgrade that changes any
fails there, saying what changed, instead of somewhere in a campaign.
"""

from __future__ import annotations

import os
from typing import Any

import keras_tuner as kt


def set_project_dir(oracle: Any, directory: str | os.PathLike[str], project_name: str) -> None:
    """Make the oracle keep its state (``oracle.json``, ``trial_*/``) in
    ``directory/project_name``. Called once, after `create_oracle` and before ``reload()``.

    KerasTuner only does this from inside a ``Tuner``. A worker-side client keeps no state (the
    chief does), so for one this does nothing.
    """
    if is_client(oracle):
        return
    oracle._set_project_dir(str(directory), project_name)


def fix_seed(oracle: kt.Oracle, seed: int) -> kt.Oracle:
    """Give the oracle exactly `seed`. Called by `create_oracle` on every oracle it builds.

    KerasTuner replaces ``seed=0`` with a random one (``seed or randint``), and draws its random
    values from ``_seed_state``, which starts at the seed.
    """
    oracle.seed = seed
    oracle._seed_state = seed
    return oracle


def silence(oracle: kt.Oracle) -> kt.Oracle:
    """Stop KerasTuner printing a table per trial (the caller prints one line instead). Called
    by `create_oracle` on every oracle it builds."""
    oracle._display.verbose = 0
    return oracle


def was_tried(oracle: kt.Oracle, values: dict[str, Any]) -> bool:
    """Whether a trial with these values was already created. Called by an oracle's
    ``populate_space`` to refuse a repeated proposal."""
    return oracle._duplicate(values)


def untried_random_values(oracle: kt.Oracle) -> dict[str, Any] | None:
    """Random values (drawn from the oracle's seed) that no trial has had, or None when the
    space looks exhausted (KerasTuner gives up after 20 repeats in a row). Called by an oracle's
    ``populate_space`` in place of a repeated proposal."""
    return oracle._random_values()


def is_client(oracle: Any) -> bool:
    """Whether `oracle` is KerasTuner's worker-side proxy of the chief's oracle (gRPC), which
    has no ``save()``, ``reload()`` or project folder of its own."""
    if isinstance(oracle, kt.Oracle):
        return False  # without importing gRPC and KerasTuner's protos into a local run
    from keras_tuner.src.distribute.oracle_client import OracleClient

    return isinstance(oracle, OracleClient)


def end_trial(oracle: Any, trial: kt.engine.trial.Trial) -> None:
    """End a trial (its status and metrics already set). Called once per trial by the loop.

    KerasTuner's ``end_trial`` saves the state *before* it removes the trial from the ongoing
    ones, so after a restart the last finished trial would be run (and counted) again: a local
    oracle saves once more. A worker's client has no ``save()``: the chief saves its own.
    """
    oracle.end_trial(trial)
    if not is_client(oracle):
        oracle.save()
