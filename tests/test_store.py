"""The store contract: every store (on disk, in memory) passes the same cases."""

from __future__ import annotations

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tuner.execution import TrialOutcome
from tuner.store import DiskStore, MemoryStore
from tuner.trial import COMPLETED, FAILED, TrialRecord

OBJECTIVE = kt.Objective("val_accuracy", "max")


def tiny_model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def outcome(trial_id: str, score: float | None, **fields) -> TrialOutcome:
    status = COMPLETED if score is not None else FAILED
    record = TrialRecord(
        trial_id,
        status,
        {"units": 8},
        score=score,
        history={"val_accuracy": [score or 0.0]},
        best_epoch=1 if score is not None else None,
        epochs_run=1,
        **fields,
    )
    return TrialOutcome(record, model=tiny_model(int(trial_id)) if score is not None else None)


@pytest.fixture(params=["disk", "memory"])
def make_store(request, tmp_path):
    def make(**kwargs):
        if request.param == "disk":
            return DiskStore(tmp_path / "c", OBJECTIVE, **kwargs)
        return MemoryStore(OBJECTIVE, **kwargs)

    return make


def test_records_come_back_in_trial_order_and_rank_best_first(make_store):
    store = make_store()
    for trial_id, score in (("10", 0.5), ("2", 0.9), ("1", None), ("3", 0.7)):
        store.save_outcome(outcome(trial_id, score))
    assert [r.trial_id for r in store.records()] == ["1", "2", "3", "10"]
    assert [r.trial_id for r in store.ranked()] == ["2", "3", "10"]
    assert store.best().trial_id == "2"
    table = store.table()
    assert list(table["trial_id"]) == ["2", "3", "10", "1"]
    assert list(table["status"]) == ["completed"] * 3 + ["failed"]
    assert list(store.history()["trial_id"]) == ["1", "2", "3", "10"]


def test_only_the_top_k_models_are_kept_and_load_with_their_best_weights(make_store):
    store = make_store(keep_top=2)
    kept = {}
    for trial_id, score in (("0", 0.5), ("1", 0.9), ("2", 0.7)):
        item = outcome(trial_id, score)
        kept[trial_id] = item.model.get_weights()
        store.save_outcome(item)
    assert sorted(store._saved_models()) == ["1", "2"]
    assert store.entry_score() == 0.7
    x = np.ones((1, 3), dtype="float32")
    for trial_id in ("1", "2"):
        loaded = store.load_model(trial_id)
        np.testing.assert_allclose(loaded.get_weights()[0], kept[trial_id][0])
        assert loaded.predict(x, verbose=0).shape == (1, 2)
    with pytest.raises((KeyError, FileNotFoundError)):
        store.load_model("0")


def test_best_weights_replace_the_last_epoch_before_saving(make_store):
    store = make_store()
    item = outcome("0", 0.5)
    best = [np.full_like(w, 0.25) for w in item.model.get_weights()]
    item.best_weights = best
    store.save_outcome(item)
    np.testing.assert_allclose(store.load_model("0").get_weights()[0], best[0])


def test_parents_are_restored_into_a_fresh_model(make_store):
    store = make_store(keeps_parents=True)
    parent = outcome("0", 0.5)
    weights = parent.model.get_weights()
    store.save_outcome(parent)
    child = tiny_model(99)
    store.restore_parent(child, "0")
    np.testing.assert_allclose(child.get_weights()[0], weights[0])
    untouched = tiny_model(98)
    before = untouched.get_weights()[0].copy()
    store.restore_parent(untouched, "missing")
    np.testing.assert_allclose(untouched.get_weights()[0], before)


def test_a_disk_store_reopens_its_records(tmp_path):
    store = DiskStore(tmp_path / "c", OBJECTIVE)
    store.save_outcome(outcome("0", 0.5))
    store.save_outcome(outcome("1", None, error="diverged: loss became nan at epoch 1"))
    store.flush()
    reopened = DiskStore(tmp_path / "c", OBJECTIVE)
    assert reopened.records() == store.records()
    assert (tmp_path / "c" / "trials.csv").read_text().count("\n") == 3
