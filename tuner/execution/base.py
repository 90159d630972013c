"""The executor seam: `Executor.run(trials, context) -> outcomes`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from tuner.execution.budget import Budget
from tuner.trial import TrialRecord

if TYPE_CHECKING:
    import keras_tuner as kt


@dataclass
class TrialOutcome:
    """What a trial leaves: its record, and what the store may keep (the trained model, and its
    weights and optimizer state at the best epoch when they were worth copying), and how many
    trials trained together with it in one packed model (1: alone). A packed trial's model is
    built only if the store keeps it (`make_model`): a build costs more than the trial's share
    of a pack."""

    record: TrialRecord
    model: Any = None
    best_weights: list[Any] | None = None
    best_optimizer: list[Any] | None = None  # the optimizer's state with `best_weights`
    pack_size: int = 1
    make_model: Callable[[], Any] | None = None  # builds `model` when the store keeps it

    def kept_model(self) -> Any:
        """The trial's model for the store to keep: `model`, or one `make_model` builds."""
        if self.model is None and self.make_model is not None:
            self.model = self.make_model()
        return self.model


@dataclass(frozen=True)
class PackEpoch:
    """An epoch of trials training together has ended (what a live progress line shows).

    `trial_ids`: the pack's trials; `epoch`: epochs done, of `epochs`; `epochs_run` and
    `epochs_left`: each trial's epochs trained so far and still to train (0 once it stopped);
    `best`: the best objective value any of them has reached (None: none yet)."""

    trial_ids: tuple[str, ...]
    epoch: int
    epochs: int
    epochs_run: tuple[int, ...]
    epochs_left: tuple[int, ...]
    best: float | None

    @property
    def training(self) -> int:
        """How many of the pack's trials are still training."""
        return sum(1 for left in self.epochs_left if left > 0)


@dataclass
class TrialContext:
    """What an executor needs from the campaign for one batch of trials.

    `keep_weights_beyond`: the score a trial must beat to enter the top k (None: any trial
    can), so weights are copied only when they may be saved. `keep_all_weights`: copy the best
    weights of every trial (Hyperband parents). `restore_parent(model, parent_id)`: loads a
    promoted trial's parent weights and optimizer state into its model. `any_completed`:
    whether a trial of the campaign has completed, which tells a failure that will repeat from
    one that will not.

    `on_epoch(report)`: called by an executor at the end of each epoch of trials training
    together (a `PackEpoch`), for live progress. `save_outcomes(outcomes)`: called by an
    executor that trains its trials in several steps (one pack after another) with the
    outcomes of each step as it ends, so they are saved and reported before the next starts;
    `run` still returns every outcome. `budget`: the campaign's (`Budget`): executors count
    each epoch trained in it and, once it is spent, stop their trials at the epoch's end
    (status ``stopped``). `saved()`: the campaign's records saved so far, which a pruner
    judges a trial against (called when the trial starts)."""

    keep_weights_beyond: float | None = None
    keep_all_weights: bool = False
    restore_parent: Callable[[Any, str], None] = field(default=lambda model, trial_id: None)
    any_completed: bool = False
    on_epoch: Callable[[PackEpoch], None] = field(default=lambda report: None)
    save_outcomes: Callable[[Sequence[TrialOutcome]], None] = field(default=lambda outcomes: None)
    budget: Budget = field(default_factory=Budget)
    saved: Callable[[], Sequence[TrialRecord]] = field(default=lambda: ())
    may_leave_unstarted: bool = False


class Unstarted(Exception):
    """An executor that trains a batch in steps found the budget spent before a step: the
    steps before it were handed over (`TrialContext.save_outcomes`), `trial_ids` never began.
    The loop leaves them to the oracle as they are: a resumed campaign trains them."""

    def __init__(self, trial_ids: Sequence[str]) -> None:
        super().__init__(f"{len(trial_ids)} trial(s) not started: the budget is spent")
        self.trial_ids = list(trial_ids)


class Executor(Protocol):
    """Trains trials. The sequential executor trains one model a trial; packed executors and
    test doubles plug in here.

    An executor that trains several trials at once says how many with an int attribute
    ``max_pack`` (the packed executor's pack size); the loop then asks the oracle for up to
    that many trials before calling `run`. Without it the loop hands over one trial at a time
    (`trials_per_run`)."""

    def run(
        self, trials: Sequence[kt.engine.trial.Trial], context: TrialContext
    ) -> list[TrialOutcome]:
        """Called by the loop with the trials the oracle handed out (status RUNNING); returns
        one outcome per trial, in order. Raises `Fatal` for a failure that would repeat in every
        trial and `ConfigError` for bad input; any other failure is one trial's outcome."""
        ...


def trials_per_run(executor: Any) -> int:
    """How many trials the loop hands `executor` in one `run`: its ``max_pack`` when it has
    one (at least 1), else 1."""
    wanted = getattr(executor, "max_pack", 1)
    return max(1, int(wanted)) if isinstance(wanted, int) else 1
