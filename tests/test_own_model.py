"""A user's own builder and a campaign made in Python: the failures a new user met, each pinned."""

from __future__ import annotations

import textwrap
import warnings

import keras_tuner as kt
import pandas as pd
import pytest

from tests.campaigns import write_campaign
from tuner import api, cli
from tuner.campaign import Campaign
from tuner.errors import ConfigError, Fatal, NothingNewRan

BUILDERS = textwrap.dedent("""
    import keras
    import keras_tuner as kt

    FIT_BATCH_SIZES = []

    def build(hp):
        model = keras.Sequential([
            keras.Input((4,)),
            keras.layers.Dense(hp.Int("units", 4, 16, step=4, default=8), activation="relu"),
            keras.layers.Dense(3, activation="softmax")])
        model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-1, sampling="log")),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    class TunedBatch(kt.HyperModel):
        def build(self, hp):
            return build(hp)

        def fit(self, hp, model, *args, **kwargs):
            batch_size = hp.Choice("batch_size", [8, 16], default=16)
            FIT_BATCH_SIZES.append(batch_size)
            return model.fit(*args, batch_size=batch_size, **kwargs)

    def uncompiled(hp):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])

    def wrong_output(hp):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(7)])
        model.compile(optimizer="adam", loss="mse")
        return model
""")


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """`mybuilders.py` beside the campaign files, run from another working directory."""
    (tmp_path / "mybuilders.py").write_text(BUILDERS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    yield tmp_path
    import sys

    sys.modules.pop("mybuilders", None)


def test_campaign_made_in_python_infers_the_direction_every_way():
    campaign = Campaign(name="c", dataset="iris", objective="val_accuracy")
    assert campaign.direction == "max"
    assert campaign.replace(objective="val_loss").direction == "min"
    assert Campaign(name="c", dataset="iris", objective="score", direction="max").direction == "max"
    with pytest.raises(ConfigError, match="add direction"):
        Campaign(name="c", dataset="iris", objective="score")
    with pytest.raises(ConfigError, match="max_trials must be at least 1"):
        campaign.replace(max_trials=0)


def test_loss_tuned_with_val_loss_is_refused_with_the_fix():
    with pytest.raises(ConfigError, match="val_mse"):
        Campaign(
            name="c", dataset="diabetes", objective="val_loss", space={"loss": ["mse", "huber"]}
        )


@pytest.mark.slow
def test_user_function_runs_from_the_cli_with_epochs_and_batch_size(user_module, capsys):
    path = write_campaign(
        user_module,
        model="mybuilders:build",
        max_trials=2,
        space={"units": [4, 8], "epochs": 2, "batch_size": 16},
    )
    assert cli.main(["search", str(path), "--quiet"]) == 0
    table = pd.read_csv(user_module / "results" / "tiny" / "trials.csv")
    assert len(table) == 2 and set(table["units"]) <= {4, 8}
    assert set(table["epochs_run"]) == {2} and set(table["batch_size"]) == {16}


@pytest.mark.slow
def test_user_hypermodel_fit_is_honoured(user_module):
    path = write_campaign(
        user_module,
        model="mybuilders:TunedBatch",
        max_trials=2,
        space={"units": 8, "batch_size": [8, 16]},
    )
    found = api.search(path)
    import mybuilders

    assert len(found.table) == 2 and set(found.table["status"]) == {"completed"}
    # The last two calls: the first is the probe that finds what fit declares (no training).
    assert mybuilders.FIT_BATCH_SIZES[-2:] == [
        found.records[0].hyperparameters["batch_size"],
        found.records[1].hyperparameters["batch_size"],
    ]


def test_uncompiled_builder_stops_at_once_with_the_fix(user_module, capsys):
    path = write_campaign(user_module, model="mybuilders:uncompiled", space={})
    assert cli.main(["search", str(path), "--quiet"]) == 1
    assert "not compiled; call model.compile" in capsys.readouterr().err


@pytest.mark.slow
def test_wrong_output_shape_stops_at_the_first_trial(user_module):
    path = write_campaign(
        user_module, model="mybuilders:wrong_output", objective="val_loss", space={}, max_trials=5
    )
    with pytest.raises(Fatal, match="failed before its first epoch ended"):
        api.search(path)
    records = list((user_module / "results" / "tiny" / ".engine" / "records").glob("*.json"))
    assert records == []  # nothing ran to the end, so nothing is kept as if it had


def test_bad_space_name_writes_nothing(tmp_path):
    with pytest.raises(ConfigError, match="did you mean 'learning_rate'"):
        api.search(write_campaign(tmp_path, space={"learnin_rate": 0.1}))
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_overwrite_with_bad_input_deletes_nothing(tmp_path):
    api.search(write_campaign(tmp_path, max_trials=1))
    trials = tmp_path / "results" / "tiny" / "trials.csv"
    before = trials.read_text()
    with pytest.raises(ConfigError, match="strategy_options"):
        api.search(
            write_campaign(tmp_path, max_trials=1, strategy_options={"factor": 3}), overwrite=True
        )
    assert trials.read_text() == before


@pytest.mark.slow
def test_campaign_with_no_finished_trial_can_be_reconfigured(tmp_path):
    with pytest.raises(Fatal, match="val_auc"):
        api.search(write_campaign(tmp_path, objective="val_auc", direction="max"))
    found = api.search(write_campaign(tmp_path, max_trials=1))  # corrected: not refused
    assert len(found.table) == 1 and found.campaign.objective == "val_accuracy"


@pytest.mark.slow
def test_campaign_with_no_completed_trial_exits_non_zero(tmp_path, capsys):
    space = {"optimizer": "sgd", "learning_rate": [1e6, 1e7], "units": 8}
    path = write_campaign(
        tmp_path,
        dataset="diabetes",
        objective="val_loss",
        space=space,
        epochs=3,
        max_trials=2,
        strategy="grid",
    )
    assert cli.main(["search", str(path), "--quiet"]) == 1
    assert "no trial completed" in capsys.readouterr().err
    assert len(pd.read_csv(tmp_path / "results" / "tiny" / "trials.csv")) == 2


@pytest.mark.slow
def test_tuning_the_regression_loss_ranks_by_a_common_metric(tmp_path):
    found = api.search(
        write_campaign(
            tmp_path,
            dataset="diabetes",
            objective="val_mse",
            space={"loss": ["mse", "huber"], "units": 8},
            strategy="grid",
            max_trials=2,
        )
    )
    assert sorted(found.table["loss"]) == ["huber", "mse"]
    assert "metric_loss" in found.table and found.table["metric_loss"].notna().all()


@pytest.mark.slow
def test_finished_campaign_says_nothing_new_ran_and_reopens(tmp_path):
    path = write_campaign(tmp_path, max_trials=2)
    found = api.search(path)
    with pytest.warns(NothingNewRan, match="nothing new ran"):
        again = api.search(path)
    assert again.ran == 0 and len(again.records) == 2
    best = found.best_hyperparameters
    assert {"n_layers", "activation", "optimizer", "batch_size", "units"} <= set(best)
    assert isinstance(found.best_hp, kt.HyperParameters)
    assert found.best_hp.get("n_layers") == best["n_layers"]
    reopened = api.load_results("tiny", tmp_path / "results")
    pd.testing.assert_frame_equal(reopened.table, found.table)
    assert reopened.best_model().count_params() == found.best_model().count_params()
    assert [m.count_params() for m in found.best_models(1)] == [found.table.iloc[0]["n_params"]]
    with pytest.raises(ConfigError, match=r"keep_top=1"):
        found.best_models(2)
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*nothing new ran")
        api.search(path, max_trials=3)  # one more trial ran: no warning


@pytest.mark.slow
def test_hyperband_counts_epochs_from_the_start_of_training(tmp_path):
    found = api.search(
        write_campaign(
            tmp_path,
            strategy="hyperband",
            max_trials=6,
            strategy_options={"max_epochs": 4, "factor": 2},
        )
    )
    promoted = [r for r in found.records if "tuner/trial_id" in r.hyperparameters]
    assert promoted
    for record in promoted:
        start = record.hyperparameters["tuner/initial_epoch"]
        assert record.initial_epoch == start and start > 0
        assert record.epochs_run == record.hyperparameters["tuner/epochs"] - start
        assert start < record.best_epoch <= record.hyperparameters["tuner/epochs"]
        assert record.hyperparameters["epochs"] == record.hyperparameters["tuner/epochs"]
    row = found.table.set_index("trial_id").loc[promoted[0].trial_id]
    assert row["epochs"] == promoted[0].hyperparameters["tuner/epochs"]


@pytest.mark.slow
def test_search_on_in_memory_arrays_with_user_callbacks(tmp_path):
    import keras
    import numpy as np
    from sklearn.datasets import load_iris

    seen: list[int] = []

    class Count(keras.callbacks.Callback):
        def on_train_end(self, logs=None):
            seen.append(self.model.count_params())

    def build(hp):
        model = keras.Sequential(
            [
                keras.Input((4,)),
                keras.layers.Dense(hp.Choice("units", [4, 8]), activation="relu"),
                keras.layers.Dense(3, activation="softmax"),
            ]
        )
        model.compile(
            optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        return model

    x, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    found = api.search(
        build,
        x,
        names,
        validation_split=0.25,
        objective="val_accuracy",
        space={"units": [4, 8]},
        max_trials=2,
        epochs=2,
        name="arrays",
        results_dir=str(tmp_path),
        callbacks=[Count()],
    )
    assert found.campaign.direction == "max" and len(found.table) == 2
    assert sorted(seen) == sorted(found.table["n_params"])  # one copy ran in every trial
    assert found.class_names == ["setosa", "versicolor", "virginica"]
    assert set(found.predict_labels(x[:5])) <= set(names)
    reopened = api.load_results(tmp_path / "arrays")
    assert reopened.class_names == found.class_names
    with pytest.raises(ConfigError, match=r"overwrite=True"):
        api.search(
            build,
            x,
            names,
            validation_split=0.25,
            objective="val_accuracy",
            space={"units": [8]},
            max_trials=2,
            epochs=2,
            name="arrays",
            results_dir=str(tmp_path),
        )
