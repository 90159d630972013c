"""Asking a strategy's oracle for trials and telling it their results: the one implementation
that the campaign loop (`tuner.loop`) and the ask-and-tell `tuner.Study` both go through, so
every registered strategy is driven the same way whoever asks.

Light on purpose: it knows KerasTuner's public oracle calls (``plan_batch`` where an oracle has
it, ``create_trial``, ``update_trial``) and `end_trial`, nothing of a store or an executor.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping
from typing import Any

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

from tuner.strategies.oracles_kt import end_trial, is_client, queued_to_run_again

RUNNING = trial_module.TrialStatus.RUNNING
STOPPED = trial_module.TrialStatus.STOPPED
IDLE = trial_module.TrialStatus.IDLE


def slot_id(tuner_id: str, slot: int) -> str:
    """The tuner id under which the `slot`-th trial of a batch is asked for.

    KerasTuner's oracle keeps one ongoing trial per tuner id (asking again with the same id
    returns that trial), so the trials of one batch are asked for under distinct ids: the
    first under `tuner_id` itself, the others under ``tuner_id/1``, ``tuner_id/2``, ...
    After a restart every ongoing trial, whichever id it had, is queued to run again."""
    return tuner_id if slot == 0 else f"{tuner_id}/{slot}"


def trials_left(oracle: Any) -> int | None:
    """How many trials a local oracle can still hand out: new ones up to ``max_trials``, and
    those queued to run again after a restart (they do not count against it). None when it
    cannot tell: a distributed worker's oracle client, an oracle without ``max_trials``."""
    if is_client(oracle) or not hasattr(oracle, "remaining_trials"):
        return None
    remaining = oracle.remaining_trials()
    if remaining is None:
        return None
    return max(remaining, 0) + queued_to_run_again(oracle)


def ask_batch(
    oracle: Any, tuner_id: str, limit: int, *, busy: Collection[str] = ()
) -> tuple[list[kt.engine.trial.Trial], kt.engine.trial.Trial]:
    """Ask the oracle for up to `limit` trials, none of which finishes before the last is
    asked; stop asking at the first answer that is not RUNNING (IDLE or STOPPED). Returns the
    RUNNING trials and the last answer. An oracle with a ``plan_batch(n)`` method (the
    Bayesian one) is told first how many proposals are coming, so that it can make them
    distinct. Slot ids in `busy` (those that hold a trial not told yet: an ask-and-tell
    user's pending ones) are passed over."""
    plan = getattr(oracle, "plan_batch", None)
    if plan is not None:
        plan(limit)
    ids = (slot_id(tuner_id, slot) for slot in itertools.count())
    trials: list[kt.engine.trial.Trial] = []
    for asked_as in itertools.islice((i for i in ids if i not in busy), limit):
        answer = oracle.create_trial(asked_as)
        if answer.status != RUNNING:
            return trials, answer
        trials.append(answer)
    return trials, answer


def settle(
    oracle: Any,
    trial: kt.engine.trial.Trial,
    metrics: Mapping[str, Any] | None,
    error: str | None = None,
) -> None:
    """Give the oracle one trial's result without ending it: its `metrics` (the trial is then
    completed), or, with `metrics` None, failed with the `error` text."""
    if metrics is not None:
        oracle.update_trial(trial.trial_id, dict(metrics))
        trial.status = trial_module.TrialStatus.COMPLETED
    else:
        trial.status = trial_module.TrialStatus.FAILED
        trial.message = error


def tell(
    oracle: Any,
    trial: kt.engine.trial.Trial,
    metrics: Mapping[str, Any] | None,
    error: str | None = None,
) -> None:
    """`settle` the trial, then end it (`end_trial`: the oracle's state is saved). KerasTuner's
    consecutive-failure limit raises ``RuntimeError`` here; the caller words it."""
    settle(oracle, trial, metrics, error)
    end_trial(oracle, trial)


__all__ = ["IDLE", "RUNNING", "STOPPED", "ask_batch", "settle", "slot_id", "tell", "trials_left"]
