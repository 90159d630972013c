"""Packed trials through the whole search: the pack size, the executor run_plan picks, the
progress line, and one small real packed campaign against its sequential twin."""

from __future__ import annotations

import pytest

from tuner.execution import pack_size
from tuner.execution.pack_size import MAX_PACK, MODEL_BASED_PACK, auto_pack_size

GIB = 2**30


def test_auto_pack_size_caps(monkeypatch):
    assert auto_pack_size(5_000, memory=64 * GIB) == MAX_PACK
    # Memory: 8 towers x 1M params x 6 copies x 4 bytes = 192 MB in a quarter of 800 MB.
    assert auto_pack_size(1_000_000, memory=800 * 10**6) == 8
    # Arithmetic: a pack of about 2**24 parameters.
    assert auto_pack_size(2**20, memory=64 * GIB) == 16
    assert auto_pack_size(10**9, memory=64 * GIB) == 1
    assert auto_pack_size(5_000, learns_from_results=True, memory=64 * GIB) == MODEL_BASED_PACK
    assert auto_pack_size(0, memory=0) == 1
    # Without `memory`, the machine's own: asked of the system at the call.
    monkeypatch.setattr(pack_size, "available_memory", lambda: 800 * 10**6)
    assert auto_pack_size(1_000_000) == 8


def _campaign(tmp_path, **fields):
    from tuner.campaign import Campaign

    values = dict(
        name="packed",
        dataset="iris",
        results_dir=str(tmp_path / "results"),
        objective="val_accuracy",
        max_trials=4,
        epochs=2,
        seed=0,
        space={"learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log"}},
    )
    values.update(fields)
    return Campaign(**values)


def _executor_of(monkeypatch, tmp_path, **fields):
    """The executor run_plan builds, and its header, without training (the loop is stubbed)."""
    from tuner import run
    from tuner.plan import make_plan

    seen = {}

    def no_trials(oracle, executor, store, **kwargs):
        seen["executor"] = executor
        return 0

    monkeypatch.setattr(run, "run_trials", no_trials)
    lines: list[str] = []
    callbacks = fields.pop("callbacks", ())
    plan = make_plan(_campaign(tmp_path, **fields))
    run.run_plan(plan, quiet=False, print_line=lines.append, callbacks=callbacks)
    return seen["executor"], lines


def test_run_plan_packs_by_default_and_pack_1_turns_it_off(monkeypatch, tmp_path):
    from tuner.execution import PackedExecutor, SequentialExecutor

    executor, lines = _executor_of(monkeypatch, tmp_path / "a")
    assert isinstance(executor, PackedExecutor) and executor.max_pack == 4  # max_trials
    assert (
        "packing: up to 4 trials of one architecture train at once, as one model (auto); "
        '"x4" after a trial\'s time: it trained in a pack of 4 trials'
    ) in lines
    executor, _ = _executor_of(monkeypatch, tmp_path / "b", pack=3, max_trials=10)
    assert isinstance(executor, PackedExecutor) and executor.max_pack == 3
    executor, lines = _executor_of(monkeypatch, tmp_path / "c", pack=1)
    assert isinstance(executor, SequentialExecutor)
    assert not any(line.startswith("packing") for line in lines)


def test_keras_callbacks_keep_trials_one_model_each_and_the_header_says_so(monkeypatch, tmp_path):
    import keras

    from tuner.execution import SequentialExecutor

    executor, lines = _executor_of(
        monkeypatch, tmp_path, callbacks=[keras.callbacks.TerminateOnNaN()]
    )
    assert isinstance(executor, SequentialExecutor)
    assert "packing: off (callbacks: Keras callbacks run on one model a trial)" in lines
    assert lines[-2].startswith("results: ")  # the header's last line; then why it stopped
    assert lines[-1].startswith("stopped after 0 trials")


def test_progress_line_shows_the_pack_size():
    from tuner.console import ProgressEvent, progress_line
    from tuner.trial import COMPLETED, TrialRecord

    record = TrialRecord(
        "3", COMPLETED, {"learning_rate": 0.01}, score=0.9, duration_s=0.2, epochs_run=2
    )
    best = TrialRecord("1", COMPLETED, {"learning_rate": 0.02}, score=0.95)
    event = ProgressEvent(record, 4, 20, best, "val_accuracy", 1.0, 3.0, ["learning_rate"], 8)
    assert "best 0.9500 (#1)  0.2s x8  eta 0:03" in progress_line(event, width=84)
    # When the line is short the duration gives way first, then the pack size.
    assert "best 0.9500 (#1)  x8  eta 0:03" in progress_line(event, width=78)
    assert "x8" not in progress_line(event, width=76)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["random", "grid"])
def test_a_packed_campaign_proposes_what_the_sequential_one_does(strategy, tmp_path):
    from tuner import api

    space = {"learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log"}}
    if strategy == "grid":
        space = {"learning_rate": [1e-3, 3e-3, 1e-2, 3e-2, 1e-1], "dropout": [0.1, 0.2]}
    runs = {}
    for pack in (1, 5):
        lines: list[str] = []
        found = api.search(
            _campaign(
                tmp_path, name=f"p{pack}", strategy=strategy, max_trials=5, space=space, pack=pack
            ),
            quiet=False,
            print_line=lines.append,
        )
        runs[pack] = (found, lines)
    (sequential, _), (packed, lines) = runs[1], runs[5]
    by_id = lambda found: {  # noqa: E731
        r.trial_id: {k: r.hyperparameters[k] for k in space} for r in found.records
    }
    assert by_id(packed) == by_id(sequential) and len(packed.records) == 5
    assert all(r.completed for r in packed.records)
    progress = [line for line in lines if line.startswith("[")]
    assert len(progress) == 5 and " x5" in progress[0]  # on the others it gives way to "best"
    assert packed.best_model() is not None
