"""Progress while a campaign runs: the time left in seconds per trial-epoch, the live line of a
training pack, and a batch of packs saved pack by pack (Ctrl-C says what it cost)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import keras_tuner as kt
import pytest
from campaigns import write_campaign

import tuner
from tuner import console, progress
from tuner.errors import Interrupted
from tuner.execution import PackEpoch, TrialOutcome
from tuner.loop import run_trials
from tuner.store import MemoryStore
from tuner.trial import COMPLETED, TrialRecord

OBJECTIVE = kt.Objective("val_accuracy", "max")


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def record(trial_id: str, score: float, epochs: int = 15) -> TrialRecord:
    return TrialRecord(
        trial_id,
        COMPLETED,
        {"learning_rate": 0.01},
        history={"val_accuracy": [score] * epochs},
        score=score,
        best_epoch=epochs,
        epochs_run=epochs,
        duration_s=1.5,
    )


def plan(total: int, epochs: int = 15) -> Any:
    campaign = SimpleNamespace(objective="val_accuracy", epochs=epochs)
    return SimpleNamespace(campaign=campaign, tuned=["learning_rate"], planned_trials=lambda: total)


def pack_epoch(ids: list[str], epoch: int, epochs: int = 15, best: float = 0.9) -> PackEpoch:
    return PackEpoch(
        tuple(ids), epoch, epochs, (epoch,) * len(ids), (epochs - epoch,) * len(ids), best
    )


def eta_of(line: str) -> str:
    return line.split("eta ")[1].split()[0]


def test_the_lines_of_a_pack_count_its_trial_epochs_not_its_trials():
    # A pack of 8 trials (15 epochs: 120 trial-epochs) took 12 s: 0.1 s a trial-epoch. Its 8
    # lines, printed as it ends, leave 32 trials of 15 epochs: 48 s. (Counting trials, the
    # first line said 12 s a trial for 39 trials: 7:48.)
    clock, store, lines = Clock(), MemoryStore(OBJECTIVE), []
    shown = progress.Progress(plan(40), store, lines.append, clock=clock)
    clock.now += 12
    outcomes = [TrialOutcome(record(str(i), 0.5 + i / 100), pack_size=8) for i in range(8)]
    for outcome in outcomes:
        store.save_outcome(outcome)
    for outcome in outcomes:
        shown(outcome)
    assert [eta_of(line) for line in lines] == ["0:48"] * 8
    assert lines[0].startswith("[ 1/40] trial 0") and "x8" in lines[0]


def test_the_lines_of_the_last_pack_leave_nothing_to_wait_for():
    # The 8-trial demo: one batch whose lines all come at its end said `eta 1:36` first.
    clock, store, lines = Clock(), MemoryStore(OBJECTIVE), []
    shown = progress.Progress(plan(8), store, lines.append, clock=clock)
    clock.now += 14
    outcomes = [TrialOutcome(record(str(i), 0.5), pack_size=8) for i in range(8)]
    for outcome in outcomes:
        store.save_outcome(outcome)
    for outcome in outcomes:
        shown(outcome)
    assert [eta_of(line) for line in lines] == ["0:00"] * 8


def test_the_live_line_counts_the_running_pack_and_the_trials_not_started(monkeypatch):
    # 2 trials finished alone (15 epochs each, 30 trial-epochs), then 5 epochs of a pack of 8
    # (40 more): 70 trial-epochs in 14 s, 0.2 s each. Left: 8 x 10 epochs of the pack and
    # 30 trials not started x 15 epochs = 530 trial-epochs: 106 s.
    clock, store, lines = Clock(), MemoryStore(OBJECTIVE), []
    shown = progress.Progress(plan(40), store, lines.append, clock=clock)
    for trial_id in ("0", "1"):
        store.save_outcome(TrialOutcome(record(trial_id, 0.8)))
        shown(TrialOutcome(record(trial_id, 0.8)))
    lines.clear()
    ids = [str(i) for i in range(2, 10)]
    clock.now += 14
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)
    shown.epoch(pack_epoch(ids, 5, best=0.96111))
    assert lines == ["[ 2/40] pack of 8, epoch 5/15  pack best 0.9611  elapsed 0:14  eta 1:46"]


def test_without_a_terminal_the_live_line_is_an_occasional_plain_line():
    clock, store, lines = Clock(), MemoryStore(OBJECTIVE), []
    shown = progress.Progress(plan(4, epochs=100), store, lines.append, clock=clock)
    for epoch in range(1, 100):
        clock.now += 1.0
        shown.epoch(pack_epoch(["0", "1", "2", "3"], epoch, epochs=100))
    # One line every PLAIN_EVERY_S (30 s) of 99 s: at 30, 60 and 90 s.
    assert [line.split(",")[1].split()[1] for line in lines] == ["30/100", "60/100", "90/100"]


def test_on_a_terminal_the_live_line_is_redrawn_in_place_at_most_4_times_a_second():
    class Terminal:
        def __init__(self) -> None:
            self.text = ""

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    clock, store, lines, terminal = Clock(), MemoryStore(OBJECTIVE), [], Terminal()
    shown = progress.Progress(
        plan(2, epochs=20), store, lines.append, terminal=terminal, clock=clock
    )
    for epoch in range(1, 21):
        clock.now += 0.1
        shown.epoch(pack_epoch(["0", "1"], epoch, epochs=20))
    drawn = [part for part in terminal.text.split("\r") if part]
    # Epochs end every 0.1 s: drawn at the first, then every 0.3 s (the first at or past 0.25).
    epochs = [part.split(",")[1].split()[1] for part in drawn]
    assert epochs == [f"{epoch}/20" for epoch in (1, 4, 7, 10, 13, 16, 19)]
    assert lines == [] and all(part.endswith("\x1b[K") for part in drawn)
    shown.close()
    assert terminal.text.endswith("\r\x1b[K")  # nothing left behind for the next line


def test_a_short_live_line_drops_the_elapsed_time_then_the_best():
    report = PackEpoch(("1", "2", "3"), 5, 15, (5, 5, 3), (10, 10, 0), 0.96111)
    line = console.live_line(report, done=3, total=40, elapsed_s=5, eta_s=32, width=80)
    assert line == "[ 3/40] pack of 3, epoch 5/15 (2 still training)  pack best 0.9611  eta 0:32"
    line = console.live_line(report, done=3, total=40, elapsed_s=5, eta_s=32, width=60)
    assert line == "[ 3/40] pack of 3, epoch 5/15 (2 still training)  eta 0:32"


class PacksExecutor:
    """Trains its batch as packs of `size`, handing each pack's outcomes over as it ends (as
    the packed executor does); Ctrl-C in the pack holding `interrupt`."""

    max_pack = 6

    def __init__(self, size: int, store: MemoryStore, interrupt: str | None = None):
        self.size, self.store, self.interrupt = size, store, interrupt
        self.saved_before: list[list[str]] = []

    def run(self, trials, context):
        outcomes = []
        for start in range(0, len(trials), self.size):
            pack = trials[start : start + self.size]
            ids = [t.trial_id for t in pack]
            self.saved_before.append(sorted(r.trial_id for r in self.store.records()))
            if self.interrupt in ids:
                raise Interrupted(ids, epoch=(2, 3))
            done = [TrialOutcome(record(i, 0.5, epochs=3), pack_size=len(pack)) for i in ids]
            context.save_outcomes(done)
            outcomes += done
        return outcomes


def oracle(max_trials: int, tmp_path) -> kt.Oracle:
    from tuner.store.engine_kt import set_project_dir
    from tuner.strategies import create_oracle

    hp = kt.HyperParameters()
    hp.Int("units", 1, 1000)
    made = create_oracle(
        "random", objective=OBJECTIVE, hyperparameters=hp, max_trials=max_trials, seed=0
    )
    set_project_dir(made, str(tmp_path), ".engine")
    return made


def test_a_batch_of_packs_is_saved_and_ended_pack_by_pack(tmp_path):
    made, ended, store = oracle(6, tmp_path), [], MemoryStore(OBJECTIVE)
    executor = PacksExecutor(2, store)
    assert run_trials(made, executor, store, on_trial_end=ended.append) == 6
    # Each pack starts with the earlier packs of its batch saved (and ended: reported).
    assert executor.saved_before == [[], ["0", "1"], ["0", "1", "2", "3"]]
    assert [o.record.trial_id for o in ended] == ["0", "1", "2", "3", "4", "5"]
    assert made.end_order == ["0", "1", "2", "3", "4", "5"]


def test_ctrl_c_in_a_pack_names_the_trials_lost_and_the_finished_ones_kept(tmp_path):
    made, store = oracle(6, tmp_path), MemoryStore(OBJECTIVE)
    with pytest.raises(Interrupted) as stopped:
        run_trials(made, PacksExecutor(2, store, interrupt="3"), store)
    assert stopped.value.lost == ["2", "3"] and stopped.value.kept == 2
    assert str(stopped.value) == (
        "the 2 trials of the running pack (2, 3) stopped at epoch 2 of 3 and will train again "
        "from the start; 2 finished trial(s) are kept; run the same command to resume"
    )
    assert made.end_order == ["0", "1"]  # the first pack is ended; the others run on resume


@pytest.mark.slow
def test_a_packed_campaign_shows_its_epochs_before_its_trials_end(tmp_path, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_EVERY_S", 0.0)
    campaign = write_campaign(
        tmp_path, max_trials=3, epochs=2, pack=3, space={"learning_rate": [0.01, 0.03, 0.1]}
    )
    lines: list[str] = []
    tuner.search(str(campaign), strategy="grid", quiet=False, print_line=lines.append)
    shown = [line for line in lines if line.startswith("[")]
    assert [line.split("  ")[0] for line in shown] == [
        "[0/3] pack of 3, epoch 1/2",
        "[0/3] pack of 3, epoch 2/2",
        "[1/3] trial 0",
        "[2/3] trial 1",
        "[3/3] trial 2",
    ]
    assert "pack best " in shown[1] and "eta " in shown[1]
    # The one pack is every trial: once it ends nothing is left.
    assert [eta_of(line) for line in shown[2:]] == ["0:00"] * 3
