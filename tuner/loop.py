"""Claim the results folder (`claim`, `attach_oracle`), then run trials until the oracle stops
(`run_trials`); the plan that comes first is `tuner.plan`'s.

The loop is KerasTuner's `BaseTuner.search` in shape: ask the oracle for trials (as many as the
executor takes at once), STOPPED ends, IDLE waits (with backoff, where KerasTuner spins),
RUNNING trials go to the executor together and their outcomes to the store; its collaborators
are passed in, so a worker-side oracle client, a packed executor or an in-memory store plug in
unchanged.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import keras_tuner as kt

from tuner import backends
from tuner.campaign import Campaign
from tuner.datasets import Dataset
from tuner.errors import Fatal, Interrupted
from tuner.execution import (
    Executor,
    PackEpoch,
    TrialContext,
    TrialOutcome,
    Unstarted,
    trials_per_run,
)
from tuner.execution.budget import Budget
from tuner.store import ResultsFolder, Store, repair
from tuner.store.claim import claim as claim_folder
from tuner.strategies import end_trial, is_client
from tuner.strategies.asking import STOPPED, ask_batch, settle, slot_id, trials_left
from tuner.trial import canonical_id

CHIEF = "chief"


# --------------------------------------------------------------------------- the folder


def claim(
    campaign: Campaign,
    *,
    overwrite: bool = False,
    overwrite_hint: str = "overwrite=True",
    dataset: Dataset | None = None,
) -> None:
    """Make the campaign's folder its own: start over, resume or reconfigure
    (`tuner.store.claim`). Called after `make_plan`, so bad input never deletes anything."""
    claim_folder(
        ResultsFolder(campaign.folder),
        campaign,
        overwrite=overwrite,
        overwrite_hint=overwrite_hint,
        dataset=dataset,
    )


def attach_oracle(oracle: kt.Oracle, folder: Path, *, rebuild: bool = False) -> kt.Oracle:
    """Point a local oracle at the folder's engine state, repairing it from the records
    (`tuner.store.repair`)."""
    return repair.attach_oracle(ResultsFolder(folder), oracle, rebuild=rebuild)


# --------------------------------------------------------------------------- the loop


class Backoff:
    """Waits that double from `first` to `longest` seconds while the oracle has nothing."""

    def __init__(
        self, first: float = 0.05, longest: float = 2.0, sleep: Callable[[float], None] = time.sleep
    ):
        self.first, self.longest, self.sleep = first, longest, sleep
        self.next = first

    def wait(self) -> None:
        self.sleep(self.next)
        self.next = min(self.next * 2, self.longest)

    def reset(self) -> None:
        self.next = self.first


def _has_ongoing_trials(oracle: Any) -> bool:
    ongoing = getattr(oracle, "ongoing_trials", None)
    return ongoing is None or bool(ongoing)  # an oracle client cannot tell: assume yes


def batch_limit(oracle: Any, wanted: int) -> int:
    """How many trials to ask for at once: `wanted` (what the executor takes in one run),
    capped by the trials the oracle can still hand out: new ones up to ``max_trials``, and
    those queued to run again after a restart, and spread evenly over the batches those take
    (a packed executor compiles once per pack size). Never below 1 (one ask finds out that the
    campaign is done). A distributed worker's oracle client cannot tell what is left: it asks
    for `wanted`, and `ask_batch` stops at the chief's first answer that is not a trial."""
    left = trials_left(oracle)
    if left is not None:
        if left > wanted:  # batches of even size: 100 trials at 64 go as 50 + 50, not 64 + 36
            batches = -(-left // wanted)
            wanted = -(-left // batches)
        wanted = min(wanted, left)
    return max(1, wanted)


def run_trials(
    oracle: Any,
    executor: Executor,
    store: Store,
    *,
    tuner_id: str = CHIEF,
    on_trial_begin: Callable[[kt.engine.trial.Trial], None] | None = None,
    on_trial_end: Callable[[TrialOutcome], None] | None = None,
    on_epoch: Callable[[PackEpoch], None] | None = None,
    backoff: Backoff | None = None,
    budget: Budget | None = None,
) -> int:
    """Run trials until the oracle says STOPPED or the `budget` is spent (no trial starts
    after; the executor stops running ones at an epoch's end); return how many ran in this
    call.

    Each round asks the oracle for as many trials as the executor takes in one run
    (`trials_per_run`, capped by `batch_limit` and by the trials the budget's epochs left
    can train: `Budget.trials_affordable`), hands them to the executor together, then
    for each outcome, in order: names this process's device in its record (unless the
    executor did), saves it to the store (the tables are flushed once the
    batch is saved), reports its score to the oracle, calls `on_trial_end` and ends the
    trial. A batch that is interrupted leaves its unfinished trials ongoing in the oracle's
    saved state; KerasTuner's ``reload`` queues them to run again, under their own ids: those
    whose record was saved end with it, the others train again, and the store keeps one
    record per id, so none is counted twice. An executor that trains a batch in steps (one
    pack after another) hands over each step's outcomes as it ends
    (`TrialContext.save_outcomes`): they are saved, told and reported then. `on_epoch` gets
    each epoch's report of trials training together. Trials an executor leaves `Unstarted`
    (the budget spent before their pack) stay with the oracle for a later run. Ctrl-C raises
    `Interrupted`, saying which trials' training was lost and how many finished trials are
    kept."""
    backoff = backoff or Backoff()
    budget = budget or Budget()
    wanted = trials_per_run(executor)
    ran = 0
    while True:
        if budget.limited:
            budget.settle(store.records())
            if budget.spent() is not None:
                break
        limit = batch_limit(oracle, wanted)
        affordable = budget.trials_affordable()
        if affordable is not None:
            limit = min(limit, affordable)
        trials, answer = ask_batch(oracle, tuner_id, limit)
        if not trials:
            if answer.status == STOPPED:
                break
            if not _has_ongoing_trials(oracle):
                break  # a local oracle with nothing running and nothing to give: done
            backoff.wait()
            continue
        backoff.reset()
        if on_trial_begin is not None:
            for trial in trials:
                on_trial_begin(trial)
        # A trial whose record was saved before the last process stopped, but that the oracle
        # never saw end, is ended with that record: it does not train again. Records spell ids
        # as `canonical_id` does; the engine's may be padded ("07"), and a resumed campaign's
        # may mix widths (its max_trials changed).
        saved = {r.trial_id: r for r in store.records()}
        finished = [t for t in trials if canonical_id(t.trial_id) in saved]
        to_run = {
            canonical_id(t.trial_id): t for t in trials if canonical_id(t.trial_id) not in saved
        }
        ended: set[str] = set()
        save_and_end = functools.partial(
            _save_and_end, oracle, store, to_run, ended, on_trial_end, budget
        )
        context = TrialContext(
            keep_weights_beyond=store.entry_score(),
            keep_all_weights=store.keeps_parents,
            restore_parent=store.restore_parent,
            any_completed=store.best() is not None,
            on_epoch=on_epoch or (lambda report: None),
            save_outcomes=save_and_end,
            budget=budget,
            saved=store.records,
            # A chief waits for every trial it handed out: a worker starts all it was given.
            may_leave_unstarted=not is_client(oracle),
        )
        training: list[str] = []
        try:
            for trial in finished:
                outcome = TrialOutcome(saved[canonical_id(trial.trial_id)])
                _end(oracle, store, trial, outcome, on_trial_end)
            training = list(to_run)
            outcomes = executor.run(list(to_run.values()), context) if to_run else []
            if len(outcomes) != len(to_run):
                raise Fatal(
                    f"the executor returned {len(outcomes)} outcome(s) for {len(to_run)} trial(s)"
                )
            save_and_end(outcomes)
        except Unstarted:
            # The budget was spent before the batch's later packs began: they stay with the
            # oracle, unstarted, and a resumed campaign trains them (as after Ctrl-C).
            pass
        except KeyboardInterrupt as stop:
            raise _interrupted(stop, training, store) from None
        finally:
            ran += len(ended)
    # No flush here: each batch flushed its own, and the caller flushes once more with why the
    # search stopped (a finished campaign run again writes nothing).
    return ran


def _save_and_end(
    oracle: Any,
    store: Store,
    trials: Mapping[str, kt.engine.trial.Trial],
    ended: set[str],
    on_trial_end: Callable[[TrialOutcome], None] | None,
    budget: Budget,
    outcomes: Sequence[TrialOutcome],
) -> None:
    """Save the outcomes not `ended` yet, flush the tables, count their epochs in the
    `budget`, then end each of their `trials`."""
    fresh = [o for o in outcomes if o.record.trial_id not in ended]
    for outcome in fresh:
        if outcome.record.device is None:  # this process's (a worker's own) device
            outcome.record.device = backends.device()
        store.save_outcome(outcome)
    store.flush()
    if budget.limited:
        budget.settle(store.records())
    for outcome in fresh:
        ended.add(outcome.record.trial_id)
        _end(oracle, store, trials[outcome.record.trial_id], outcome, on_trial_end)


def _interrupted(stop: KeyboardInterrupt, running: list[str], store: Store) -> Interrupted:
    """Ctrl-C during a batch, as what it cost: the trials that were training (the executor's
    `Interrupted` names them; else every trial of the batch) less those whose records were
    saved, and the finished trials kept."""
    lost = stop.lost if isinstance(stop, Interrupted) else running
    epoch = stop.epoch if isinstance(stop, Interrupted) else None
    saved = {r.trial_id for r in store.records()}
    unsaved = [canonical_id(t) for t in lost if canonical_id(t) not in saved]
    return Interrupted(unsaved, epoch=epoch, kept=len(saved))


def _end(
    oracle: Any,
    store: Store,
    trial: kt.engine.trial.Trial,
    outcome: TrialOutcome,
    on_trial_end: Callable[[TrialOutcome], None] | None,
) -> None:
    """Tell the oracle one trial's result and end it (its outcome already saved). A trial
    the budget stopped is told its score as a completed one is: strategies learn from it."""
    record = outcome.record
    metrics = store.oracle_metrics(record) if record.scored else None
    settle(oracle, trial, metrics, record.error)
    if on_trial_end is not None:
        on_trial_end(outcome)
    try:
        end_trial(oracle, trial)
    except RuntimeError as error:  # KerasTuner's consecutive-failure limit
        raise Fatal(
            f"stopped after {_consecutive_failures(store, trial.trial_id)} consecutive failed "
            f"trials; last: {record.error}"
        ) from error


def _consecutive_failures(store: Store, last: str) -> int:
    """Failed records in a row up to the trial `last` (later trials of its batch are saved
    already)."""
    records = store.records()
    ids = [r.trial_id for r in records]
    last = canonical_id(last)
    count = 0
    for record in reversed(records[: ids.index(last) + 1] if last in ids else records):
        if record.scored:
            break
        count += 1
    return count


__all__ = [
    "claim",
    "attach_oracle",
    "run_trials",
    "Backoff",
    "ask_batch",
    "batch_limit",
    "slot_id",
    "CHIEF",
]
