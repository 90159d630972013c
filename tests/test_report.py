"""Hyperparameter importance, the HTML report, and the TensorBoard HParams callbacks."""

from __future__ import annotations

import base64
import re

import numpy as np
import pandas as pd
import pytest
from test_plots import write_synthetic

from tuner.errors import ConfigError
from tuner.importance import hyperparameter_importance
from tuner.plots.view import CampaignView
from tuner.report import load_view, render_report, write_report
from tuner.results import load, ranked_table, write_results
from tuner.trial import TrialRecord


def planted(n: int, seed: int = 0) -> pd.DataFrame:
    """Score depends on `key` only (plus small noise); `noise_*` and `colour` are irrelevant."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        hps = {
            "noise_a": float(rng.uniform(0, 1)),
            "colour": ["red", "green", "blue"][i % 3],
            "key": float(10 ** rng.uniform(-4, -1)),
            "noise_b": int(rng.integers(1, 9)),
            "fixed": 5,
        }
        score = -abs(np.log10(hps["key"]) + 2.5) + rng.normal(0, 0.05)
        records.append(
            TrialRecord(str(i), "completed", hps, {"loss": [1.0]}, score=score, best_epoch=1)
        )
    return ranked_table(records, objective="loss", direction="max")


def test_importance_ranks_the_planted_hyperparameter_first_and_says_on_how_many_trials():
    result = hyperparameter_importance(planted(40))
    assert result["name"].iloc[0] == "key"
    assert result["importance"].iloc[0] > 0.6
    assert result["importance"].sum() == pytest.approx(1.0)
    assert set(result["name"]) == {
        "key",
        "noise_a",
        "noise_b",
        "colour",
    }  # the constant is left out
    assert result.attrs["n_trials"] == 40 and (result["n_trials"] == 40).all()


def test_importance_refuses_too_few_trials_or_nothing_varying():
    few = hyperparameter_importance(planted(7))
    assert few.empty and few.attrs["n_trials"] == 7 and "at least 8" in few.attrs["reason"]
    constant = hyperparameter_importance(planted(20), hyperparameter_names=["fixed"])
    assert constant.empty and "no hyperparameter varies" in constant.attrs["reason"]


def test_importance_ignores_failed_trials():
    table = planted(12)
    table.loc[table.index[:5], "status"] = "failed"
    result = hyperparameter_importance(table)
    assert result.empty and "got 7" in result.attrs["reason"]


def test_write_report_embeds_plots_table_and_importance(tmp_path):
    folder = tmp_path / "camp"
    write_synthetic(folder, n=40)
    (folder / "campaign.toml").write_text(
        'name = "camp"\nobjective = "val_accuracy"\ndirection = "max"\n[space]\noptimizer = ["adam", "sgd"]\n'
    )
    path = write_report("camp", tmp_path)  # a campaign name under a results dir
    text = path.read_text()
    assert path == folder / "report.html"
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', text)
    # no budget plot (every completed trial ran the same epochs); train_val_gap.png: the history
    # has accuracy and val_accuracy
    assert len(images) == 5
    assert (folder / "train_val_gap.png").is_file()
    assert all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    assert "Based on 38 completed trials" in text
    assert text.count("<tr") - text.count("<thead><tr") >= 20 + 4
    assert "space.optimizer" in text and "Top 20 trials" in text
    assert (folder / "optimization_history.png").is_file()


def test_load_view_hands_the_report_the_folder_and_its_space(tmp_path):
    folder = tmp_path / "camp"
    write_synthetic(folder, n=10)
    (folder / "campaign.toml").write_text(
        'name = "renamed"\nobjective = "val_accuracy"\ndirection = "max"\n[space]\noptimizer = ["adam", "sgd"]\n'
        "[space.units]\nmin = 16\nmax = 256\n"
    )
    view = load_view(folder)
    assert (view.name, view.objective, view.direction) == ("renamed", "val_accuracy", "max")
    assert view.space == {"optimizer": ["adam", "sgd"], "units": {"min": 16, "max": 256}}
    assert view.table.equals(load(folder)) and list(view.history.columns)[:2] == [
        "trial_id",
        "epoch",
    ]


def test_the_report_takes_the_direction_from_the_campaign_not_from_the_ranks(tmp_path):
    # Minimised; the one scored trial ranks first, so the ranks say nothing of the direction
    # (a guess from them said "max").
    folder = tmp_path / "camp"
    records = [
        TrialRecord("1", "failed", {"lr": 1e-2}, error="boom"),
        TrialRecord("2", "completed", {"lr": 1e-3}, {"loss": [0.4]}, score=0.4, best_epoch=1),
    ]
    write_results(folder, records, objective="distance", direction="min", settings={})
    (folder / "campaign.toml").write_text(
        'name = "camp"\nobjective = "distance"\ndirection = "min"\n'
    )
    assert load_view(folder).direction == "min"
    assert "<b>distance</b> (min)" in write_report(folder).read_text()
    # No direction saved: the objective's name decides, as it did for the campaign...
    (folder / "campaign.toml").write_text('name = "camp"\nobjective = "val_loss"\n')
    assert load_view(folder).direction == "min"
    # ...and a name that does not tell is refused, saying what to add.
    (folder / "campaign.toml").write_text('name = "camp"\nobjective = "distance"\n')
    with pytest.raises(ConfigError, match='add direction = "max" or "min" to .*campaign.toml'):
        load_view(folder)


def test_render_report_draws_from_the_view_it_is_given(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no results folder anywhere near: everything comes from the view
    table = planted(12)
    view = CampaignView(
        "in-memory",
        table,
        None,
        "neg_distance",
        "max",
        {"key": {"min": 1e-4, "max": 0.1}},
        {"name": "in-memory", "objective": "neg_distance"},
    )
    text = render_report(view, [], top=5)
    assert "<h1>Tuning report: in-memory</h1>" in text
    assert "objective <b>neg_distance</b> (max)" in text
    assert f"(trial {table['trial_id'].iloc[0]}," in text
    assert "Top 5 trials" in text and "Based on 12 completed trials" in text


def _events(folder) -> list:
    import tensorflow as tf

    events = []
    for path in sorted(folder.glob("events.out.tfevents.*")):
        events += list(tf.compat.v1.train.summary_iterator(str(path)))
    return events


def _hparams_plugin_data(folder) -> list:
    from tensorboard.plugins.hparams import plugin_data_pb2

    found = []
    for event in _events(folder):
        for value in event.summary.value:
            if value.metadata.plugin_data.plugin_name == "hparams":
                data = plugin_data_pb2.HParamsPluginData.FromString(
                    value.metadata.plugin_data.content
                )
                found.append(data)
    return found


@pytest.mark.slow
def test_hparams_callbacks_write_tensorboard_events_with_hparams(tmp_path):
    import keras

    from tuner.tensorboard_hparams import hparams_callbacks

    hps = {"units": np.int64(4), "learning_rate": 0.01, "optimizer": "adam", "tuner/epochs": 1}
    callbacks = hparams_callbacks(tmp_path, "007", hps, ["loss", "val_loss"])
    model = keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)]
    )
    model.compile(optimizer="adam", loss="mse")
    x = np.zeros((10, 3), "float32")
    y = np.zeros((10, 1), "float32")
    model.fit(x, y, validation_split=0.2, epochs=1, batch_size=5, verbose=0, callbacks=callbacks)

    run = tmp_path / "007"
    (start, end) = _hparams_plugin_data(run)
    assert start.session_start_info.group_name == "007"
    values = start.session_start_info.hparams
    assert set(values) == {"units", "learning_rate", "optimizer"}
    assert values["units"].number_value == 4 and values["optimizer"].string_value == "adam"
    assert end.session_end_info.status == 1  # STATUS_SUCCESS
    (config,) = _hparams_plugin_data(tmp_path)
    metrics = [(m.name.tag, m.name.group) for m in config.experiment.metric_infos]
    assert metrics == [("epoch_loss", "train"), ("epoch_loss", "validation")]
    tags = {v.tag for e in _events(run / "train") for v in e.summary.value}
    assert "epoch_loss" in tags
    assert any(v.tag == "epoch_loss" for e in _events(run / "validation") for v in e.summary.value)


def test_hparams_callbacks_need_tensorflow_importable_whatever_the_backend(monkeypatch):
    import keras

    from tuner import tf_backend
    from tuner.errors import ConfigError
    from tuner.tensorboard_hparams import hparams_callbacks

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")

    def missing():
        raise ConfigError("this needs TensorFlow, which cannot be imported (No module)")

    monkeypatch.setattr(tf_backend, "tensorflow", missing)
    with pytest.raises(ConfigError, match="needs TensorFlow"):
        hparams_callbacks("unused", "1", {}, ["loss"])
    assert not tf_backend.available()


def test_report_table_shows_rank_score_and_metrics_first_and_lists_fixed_settings():
    records = [
        TrialRecord(
            str(i),
            "completed",
            {"fixed": 5, "optimizer": "adam", "units": 8 * (i + 1), "lr": 10.0 ** -(i + 1)},
            {"loss": [0.5], "val_loss": [0.6], "val_accuracy": [0.9 - i / 10]},
            score=0.9 - i / 10,
            best_epoch=1,
            epochs_run=3,
            duration_s=1.0 + i,
            n_params=100,
        )
        for i in range(3)
    ]
    table = ranked_table(records, objective="val_accuracy", direction="max")
    view = CampaignView("c", table, None, "val_accuracy", "max", {}, {"name": "c"})
    text = render_report(view, [], top=5)
    head = re.search(r"<thead><tr>(.*?)</tr></thead>", text).group(1)
    columns = re.findall(r"<th[^>]*>([^<]*)</th>", head)
    assert columns[:3] == ["rank", "trial_id", "score"]
    metrics, tuned = columns[3:6], columns[6:8]
    assert set(metrics) == {"loss", "val_loss", "val_accuracy"} and tuned == ["units", "lr"]
    assert "fixed" not in columns and "optimizer" not in columns
    assert columns.index("duration_s") > columns.index("lr")
    assert (
        "Fixed settings (the same in every trial): <code>fixed = 5</code>, "
        "<code>optimizer = adam</code>." in text
    )
