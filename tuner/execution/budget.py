"""A campaign's budget (``max_time``, ``max_epochs_total``): what is spent, counted from the
records already saved (so a resumed campaign counts them) and from this run's clock and
epochs; and the reason it is spent, in words."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tuner.trial import TrialRecord


def spell_duration(seconds: float) -> str:
    """Seconds as ``"1h30m"``, ``"30m"``, ``"90s"`` (whole seconds)."""
    left = int(round(seconds))
    hours, left = divmod(left, 3600)
    minutes, secs = divmod(left, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


class Budget:
    """Time and epochs a campaign may spend. `max_time_s` and `max_epochs` (None: no limit)
    bound the total over every run of the campaign: the saved records' durations and epochs
    count (`time_before`, `settle`), and so do this run's clock since the budget was made and
    the epochs trained since the records were last settled (`add_epochs`). `epochs_per_trial`
    (the most a trial of the campaign trains; None: unknown) lets the loop ask only for the
    trials the epochs left can train (`trials_affordable`). `clock` is ``time.monotonic``
    unless a test fakes it."""

    def __init__(
        self,
        max_time_s: float | None = None,
        max_epochs: int | None = None,
        *,
        time_before: float = 0.0,
        epochs_per_trial: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_time_s, self.max_epochs = max_time_s, max_epochs
        self.epochs_per_trial = epochs_per_trial
        self.time_before, self.clock = time_before, clock
        self.started = clock()
        self.epochs_saved = 0
        self.epochs_training = 0

    @classmethod
    def from_records(
        cls,
        records: Sequence[TrialRecord],
        max_time_s: float | None,
        max_epochs: int | None,
        epochs_per_trial: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> Budget:
        """A budget that counts the time and epochs of `records` (the campaign's, saved)."""
        budget = cls(
            max_time_s,
            max_epochs,
            time_before=sum(r.duration_s for r in records),
            epochs_per_trial=epochs_per_trial,
            clock=clock,
        )
        budget.settle(records)
        return budget

    @property
    def limited(self) -> bool:
        return self.max_time_s is not None or self.max_epochs is not None

    def settle(self, records: Sequence[TrialRecord]) -> None:
        """Count the epochs of every saved record, and none still training."""
        self.epochs_saved = sum(r.epochs_run for r in records)
        self.epochs_training = 0

    def add_epochs(self, count: int) -> None:
        """`count` epochs have ended in trials still training."""
        self.epochs_training += count

    def trials_affordable(self) -> int | None:
        """How many trials the epochs left can train to their last epoch, at least 1 (a trial
        started with fewer is stopped where they run out); None: no epoch limit, or the
        epochs of a trial unknown. Asking no more than this keeps a pack of many towers from
        spending the whole budget a few epochs into every one of them."""
        if self.max_epochs is None or not self.epochs_per_trial:
            return None
        return max(1, (self.max_epochs - self.epochs_spent()) // self.epochs_per_trial)

    def time_spent(self) -> float:
        return self.time_before + self.clock() - self.started

    def epochs_spent(self) -> int:
        return self.epochs_saved + self.epochs_training

    def spent(self) -> str | None:
        """Why the budget is spent, in words (None: it is not)."""
        if self.max_time_s is not None:
            used = self.time_spent()
            if used >= self.max_time_s:
                return (
                    f"max_time = {spell_duration(self.max_time_s)} spent "
                    f"({spell_duration(used)} elapsed)"
                )
        if self.max_epochs is not None:
            used_epochs = self.epochs_spent()
            if used_epochs >= self.max_epochs:
                return (
                    f"max_epochs_total = {self.max_epochs} reached ({used_epochs} epochs trained)"
                )
        return None


__all__ = ["Budget", "spell_duration"]
