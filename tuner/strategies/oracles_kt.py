"""KerasTuner's oracles, as the strategies and the loop use them: the only strategy code that
touches KerasTuner's private attributes (the rule: only modules named ``*_kt`` do).

Each function works around one thing KerasTuner 1.4.8 does that we cannot change from outside;
tests/test_keras_tuner_seam.py pins every one of them, so a KerasTuner upgrade that changes any
fails there, saying what changed, instead of somewhere in a campaign. The engine's state on
disk is `tuner.store.engine_kt`'s; the chief's gRPC service `tuner.distributed.servicer_kt`'s.
"""

from __future__ import annotations

import copy
from typing import Any

import keras_tuner as kt

# KerasTuner draws each random value as `random.Random(_seed_state)` and then counts the state
# up by one, from the seed: seed s + k replayed seed s's draws k values later (with 2 tuned
# entries, seeds 0 and 2 shared 99 of 100 random trials). Starting seed s at s * SEED_STRIDE
# keeps two seeds' draws apart unless a campaign draws a million values, and leaves seed 0's
# draws (every committed result's) as they were.
SEED_STRIDE = 1_000_003


def fix_seed(oracle: kt.Oracle, seed: int) -> kt.Oracle:
    """Give the oracle exactly `seed`, and random draws that no other seed shares. Called by
    `create_oracle` on every oracle it builds.

    KerasTuner replaces ``seed=0`` with a random one (``seed or randint``), and draws its random
    values from ``_seed_state`` (see `SEED_STRIDE`).
    """
    oracle.seed = seed
    oracle._seed_state = seed * SEED_STRIDE
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


def next_grid_values(
    oracle: kt.oracles.GridSearchOracle, after: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The grid combination that KerasTuner's grid search runs after `after` (the first one,
    every value at its default, when None); None after the last. Called by our grid oracle's
    ``populate_space``, which walks the grid in KerasTuner's order without its linked list of
    trials (that list is not saved, so KerasTuner's grid search cannot resume, and it hands
    out at most two trials before one ends)."""
    if after is None:
        space = oracle.get_space()
        return {h.name: h.default for h in space.space if space.is_active(h)}
    values: dict[str, Any] | None = oracle._get_next_combination(after)
    return values


def hyperband_first_round_trial(
    oracle: kt.oracles.HyperbandOracle, trial_id: str
) -> dict[str, Any] | None:
    """KerasTuner's Hyperband proposal for `trial_id` when it is a random trial of an open
    bracket's first round; else None, and the oracle as it was. Called by our Hyperband
    oracle's ``populate_space`` while trials are running.

    KerasTuner promotes a round's best as soon as enough of it has finished, and opens the
    next bracket whenever the open ones have nothing to hand out, so trials asked for while
    others run (a packed batch) would be promotions and brackets that one-at-a-time search
    makes later, from more results: the proposals would depend on the batch size. Its bracket
    state (``_brackets``, ``_current_bracket``, ``_current_iteration``) and random draws
    (``_seed_state``) are restored in that case."""
    saved = (
        copy.deepcopy(oracle._brackets),
        oracle._current_bracket,
        oracle._current_iteration,
        oracle._seed_state,
    )
    response: dict[str, Any] = kt.oracles.HyperbandOracle.populate_space(oracle, trial_id)
    values = response.get("values") or {}
    first_round = values.get("tuner/round") == 0
    if first_round and (oracle._current_bracket, oracle._current_iteration) == saved[1:3]:
        return response
    (
        oracle._brackets,
        oracle._current_bracket,
        oracle._current_iteration,
        oracle._seed_state,
    ) = saved
    return None


def queued_to_run_again(oracle: Any) -> int:
    """How many trials a local oracle will hand out again before any new one (the ones that
    were running when the last process stopped; ``reload`` queues them). Called by the loop
    to size a batch: they do not count against ``max_trials``."""
    return len(getattr(oracle, "_retry_queue", ()))


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
