"""Every Keras backend runs a campaign; TensorFlow's extras fall back with a note elsewhere."""

from __future__ import annotations

import keras
import numpy as np
import pandas as pd
import pytest

from tests.campaigns import write_campaign
from tests.processes import IMPORTED, run_on_jax
from tuner import backends, tf_backend
from tuner.builders.mlp import OPTIMIZERS
from tuner.results.render import summary_markdown


def test_tensorflow_gets_no_notes(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    assert backends.campaign_notes(pack_requested=True, threads=1, tensorboard=True) == []
    assert backends.packs_trials()


def test_each_fallback_off_tensorflow_is_one_note(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    assert not backends.packs_trials()
    assert backends.campaign_notes(pack_requested=False, threads=0, tensorboard=True) == [
        "backend: torch; trials train on NumPy arrays (the cached tf.data pipeline is TensorFlow's)"
    ]
    notes = backends.campaign_notes(pack_requested=True, threads=2, tensorboard=False)
    assert notes[1:] == [
        "packing: off (packed trials need the TensorFlow or JAX backend; on torch trials train "
        "one model at a time)"
    ]
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    assert backends.packs_trials()  # packing is no fallback on JAX: no note for it
    assert backends.campaign_notes(pack_requested=True, threads=2, tensorboard=False)[1:] == [
        "threads = 2: not applied on jax, which sets its own"
    ]
    monkeypatch.setattr(tf_backend, "available", lambda: False)
    assert backends.campaign_notes(pack_requested=False, threads=0, tensorboard=True)[-1] == (
        "tensorboard: off (TensorFlow writes its logs, and it is not installed)"
    )


def test_summary_lists_the_notes_before_the_settings():
    table = pd.DataFrame(
        {"trial_id": ["0"], "status": ["completed"], "score": [0.5], "best_epoch": [2]}
    ).assign(error=None)
    text = summary_markdown(
        table, objective="val_accuracy", direction="max", settings={"name": "c"}, notes=["a", "b"]
    )
    assert "\n## Notes\n\n- a\n- b\n\n## Settings\n" in text
    plain = summary_markdown(table, objective="val_accuracy", direction="max", settings={})
    assert "## Notes" not in plain


@pytest.mark.slow
def test_jax_packs_exactly_reuses_compiled_models_and_matches_fresh_ones(tmp_path):
    """Every JAX check in one process (`jax_checks.py`): the toolkit imports without start-up
    lines on stderr; for every optimizer a packed epoch is
    each trial's; a diverging tower leaves the others bit-identical; one traced step serves
    two loads; the packed executor's epoch orders are `fit`'s batches; then a tiny campaign
    packed, on reused compiled models and on fresh ones. TensorFlow cannot be imported in that
    process (`run_on_jax`), as on the GPU machine's image: the JAX path never needs it."""
    space = {
        "learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log"},
        "l2": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
        "units": 8,
        "n_layers": 1,
        "optimizer": "sgd",  # the smallest step to compile: XLA takes seconds for each
        "dropout": 0.1,
        "batch_size": 40,  # iris' 120 training rows in whole batches: one compiled train step
    }
    campaign = write_campaign(tmp_path, space=space, max_trials=2, epochs=3, keep_top=1)
    result, stderr = run_on_jax("jax_checks.py", str(campaign), str(tmp_path))
    # Importing the toolkit and Keras and seeding, as a user's script does, printed nothing.
    assert stderr.startswith(IMPORTED), stderr[:3000]
    assert result["every_optimizer"] == {name: 1 for name in OPTIMIZERS}  # traced once each
    assert result["two_loads"] == {"traces": 1}
    assert result["epoch_orders"] == {"epochs": 3}
    assert result["campaigns"] == {
        "codes": {"packed": 0, "reused": 0, "fresh": 0},
        "packed_trials": 2,
        "reused_trials": 1,
    }

    # Packed: the two trials of one architecture trained as one model, and nothing fell back.
    folder = tmp_path / "packed" / "tiny"
    summary = (folder / "summary.md").read_text()
    assert "- backend: jax; trials train on NumPy arrays" in summary
    assert "packing: off" not in summary
    table = pd.read_csv(folder / "trials.csv")
    assert (table["status"] == "completed").all() and (table["epochs_run"] == 3).all()
    assert table["score"].between(0, 1).all() and table["loss"].nunique() == 2

    folder = tmp_path / "reused" / "tiny"
    table = pd.read_csv(folder / "trials.csv")
    history = pd.read_csv(folder / "history.csv")
    assert sorted(table["trial_id"]) == [0, 1]
    assert (table["status"] == "completed").all() and (table["epochs_run"] == 3).all()
    assert (
        table["learning_rate"].between(1e-3, 1e-1).all() and table["l2"].between(1e-4, 1e-2).all()
    )
    assert (table["n_params"] == 4 * 8 + 8 + 8 * 3 + 3).all()  # iris: 4 inputs, 3 classes
    for row in table.itertuples():
        curve = history[history["trial_id"] == row.trial_id]
        assert row.score == pytest.approx(curve["val_accuracy"].max())
        assert row.best_epoch in set(curve["epoch"])
    assert table["score"].between(0, 1).all() and table["loss"].nunique() == 2
    summary = (folder / "summary.md").read_text()
    assert "- backend: jax; trials train on NumPy arrays" in summary
    assert "packing: off" not in summary  # turned off by the campaign (--pack 1): no note
    assert len(list((folder / "models").glob("*.keras"))) == 1

    # Trials trained on a reused compiled model compute what fresh models do, epoch by epoch.
    fresh = pd.read_csv(tmp_path / "fresh" / "tiny" / "history.csv")
    columns = ["trial_id", "epoch", "loss", "val_loss", "accuracy", "val_accuracy"]
    pairs = history[columns].sort_values(["trial_id", "epoch"]).to_numpy()
    expected = fresh[columns].sort_values(["trial_id", "epoch"]).to_numpy()
    np.testing.assert_allclose(pairs, expected, rtol=1e-5, atol=1e-6)
