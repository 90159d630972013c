"""What a running campaign shows: one line a finished trial, and a live line while trials train
together (a pack), both with a time left measured in seconds per trial-epoch.

The plan and the store are only read; the text of each line is `console`'s.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import keras_tuner as kt

from tuner import console
from tuner.execution.base import PackEpoch, TrialOutcome
from tuner.trial import TrialRecord

if TYPE_CHECKING:
    from tuner.plan import Plan
    from tuner.store import Store

LIVE_EVERY_S = 0.25  # a terminal's live line is redrawn at most 4 times a second
PLAIN_EVERY_S = 30.0  # elsewhere (a pipe, a file, CI) a plain line at most this often


class Pace:
    """Seconds per trial-epoch in this run, and the time left at that pace.

    A trial-epoch is one epoch of one trial: a pack of 8 trials training for 15 epochs is 120
    of them, however long the pack takes. The trials still to come are counted at the mean
    epochs of those finished in this run (the campaign's `epochs` before any has)."""

    def __init__(
        self,
        total: int,
        epochs: int,
        before: set[str],
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.total, self.epochs, self.before, self.clock = total, epochs, before, clock
        self.started = clock()
        self.running: PackEpoch | None = None

    def elapsed(self) -> float:
        return self.clock() - self.started

    def eta(self, records: Sequence[TrialRecord]) -> float | None:
        """Seconds left for the planned trials, given every record saved so far (None: nothing
        trained yet to measure the pace by)."""
        saved = {r.trial_id for r in records}
        now = [r for r in records if r.trial_id not in self.before]
        trained = sum(r.epochs_run for r in now)
        left = 0
        training = 0
        if self.running is not None:
            report = self.running
            for trial_id, run, to_go in zip(
                report.trial_ids, report.epochs_run, report.epochs_left
            ):
                if trial_id not in saved:
                    trained, left, training = trained + run, left + to_go, training + 1
        if trained <= 0:
            return None
        per_trial = sum(r.epochs_run for r in now) / len(now) if now else float(self.epochs)
        to_start = max(self.total - len(saved) - training, 0)
        return self.elapsed() / trained * (left + to_start * per_trial)


class LiveLine:
    """One line redrawn in place on a terminal (`terminal`), at most every `LIVE_EVERY_S`;
    without a terminal, a plain line through `print_line` at most every `PLAIN_EVERY_S`."""

    def __init__(
        self,
        print_line: Callable[[str], None],
        terminal: TextIO | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.print_line, self.terminal, self.clock = print_line, terminal, clock
        self.last: float | None = None if terminal is not None else clock()
        self.drawn = False

    def width(self) -> int:
        return shutil.get_terminal_size((80, 24)).columns - 1 if self.terminal else 80

    def due(self) -> bool:
        every = LIVE_EVERY_S if self.terminal is not None else PLAIN_EVERY_S
        return self.last is None or self.clock() - self.last >= every

    def show(self, text: str) -> None:
        self.last = self.clock()
        if self.terminal is None:
            self.print_line(text)
            return
        self.terminal.write(f"\r{text}\x1b[K")
        self.terminal.flush()
        self.drawn = True

    def clear(self) -> None:
        """Take the live line off the terminal (before a line that stays, and at the end)."""
        if self.terminal is not None and self.drawn:
            self.terminal.write("\r\x1b[K")
            self.terminal.flush()
            self.drawn = False


def value_spans(hyperparameters: kt.HyperParameters | None) -> dict[str, list[Any]]:
    """The values each numeric hyperparameter of a space may take: a range's ends, or a
    choice's values (what decides how progress lines write it)."""
    spans: dict[str, list[Any]] = {}
    for hp in [] if hyperparameters is None else hyperparameters.space:
        if isinstance(hp, kt.engine.hyperparameters.Choice):
            spans[hp.name] = list(hp.values)
        elif isinstance(hp, (kt.engine.hyperparameters.Float, kt.engine.hyperparameters.Int)):
            spans[hp.name] = [hp.min_value, hp.max_value]
    return spans


class Progress:
    """Prints each finished trial's line (call it with the trial's outcome, once saved) and,
    for trials training together, a live line at each epoch's end (`epoch`); `close` when the
    campaign stops."""

    def __init__(
        self,
        plan: Plan,
        store: Store,
        print_line: Callable[[str], None],
        *,
        terminal: TextIO | None = None,
        hyperparameters: kt.HyperParameters | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ):
        self.plan, self.store, self.print_line = plan, store, print_line
        self.hyperparameters = hyperparameters
        self.total = plan.planned_trials()
        # A batch's records may all be saved before the first is reported: the line of each
        # trial counts, and ranks, only the trials reported before it.
        self.shown = {r.trial_id for r in store.records()}
        # A cross-validated trial trains once per fold: K times the epochs.
        epochs = plan.campaign.epochs * (getattr(plan.campaign, "cross_validation", None) or 1)
        self.pace = Pace(self.total, epochs, set(self.shown), clock)
        self.live = LiveLine(print_line, terminal, clock)

    def __call__(self, outcome: TrialOutcome) -> None:
        record = outcome.record
        self.shown.add(record.trial_id)
        best = next((r for r in self.store.ranked() if r.trial_id in self.shown), None)
        self.live.clear()
        self.print_line(
            console.progress_line(
                console.ProgressEvent(
                    record=record,
                    done=len(self.shown),
                    total=self.total,
                    best=best,
                    objective=self.store.objective.name,  # the first of several
                    elapsed_s=self.pace.elapsed(),
                    eta_s=self.pace.eta(self.store.records()),
                    tuned=self.plan.tuned,
                    pack_size=outcome.pack_size,
                    formats=console.value_formats(value_spans(self.hyperparameters)),
                )
            )
        )

    def epoch(self, report: PackEpoch) -> None:
        """An epoch of a pack has ended: redraw the live line (when it is due)."""
        self.pace.running = report
        if not self.live.due():
            return
        self.live.show(
            console.live_line(
                report,
                done=len(self.shown),
                total=self.total,
                elapsed_s=self.pace.elapsed(),
                eta_s=self.pace.eta(self.store.records()),
                width=self.live.width(),
            )
        )

    def close(self) -> None:
        self.live.clear()
