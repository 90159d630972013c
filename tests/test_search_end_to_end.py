"""The trial loop end to end, on tiny data: every strategy, failures, resume, determinism."""

import numpy as np
import pandas as pd
import pytest

from tests.campaigns import write_campaign
from tuner import api
from tuner.errors import ConfigError, Fatal

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(
    "strategy, options",
    [
        ("random", {}),
        ("grid", {}),
        ("bayesian", {"initial_points": 2}),
        ("hyperband", {"max_epochs": 3, "factor": 3}),
        ("tpe", {"initial_points": 2}),
        ("evolution", {"population": 2}),
    ],
)
def test_each_strategy_end_to_end(strategy, options, tmp_path):
    space = {"units": {"min": 8, "max": 16, "step": 8}, "optimizer": ["adam", "sgd"]}
    path = write_campaign(
        tmp_path, strategy=strategy, strategy_options=options, space=space, max_trials=4
    )
    found = api.search(path)
    table = found.table
    assert len(table) == 4
    assert list(table.columns[:8]) == [
        "rank",
        "trial_id",
        "status",
        "score",
        "best_epoch",
        "epochs_run",
        "duration_s",
        "n_params",
    ]
    assert table["score"].is_monotonic_decreasing
    assert set(table["units"]) <= {8, 16} and set(table["optimizer"]) <= {"adam", "sgd"}
    history = pd.read_csv(found.folder / "history.csv")
    assert len(history) == table["epochs_run"].sum()
    assert found.best_model().count_params() == table.iloc[0]["n_params"]
    if strategy == "hyperband":
        promoted = [r for r in found.records if "tuner/trial_id" in r.hyperparameters]
        assert promoted and all(
            r.epochs_run
            == r.hyperparameters["tuner/epochs"] - r.hyperparameters["tuner/initial_epoch"]
            for r in promoted
        )


def test_history_and_best_epoch_per_trial(tmp_path):
    found = api.search(write_campaign(tmp_path, epochs=4, max_trials=2))
    for record in found.records:
        assert record.epochs_run == 4
        assert set(record.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
        scores = record.history["val_accuracy"]
        assert record.score == max(scores)
        assert record.best_epoch == scores.index(max(scores)) + 1


def test_diverging_trial_is_failed_and_the_campaign_goes_on(tmp_path):
    space = {"optimizer": "sgd", "learning_rate": [1e-3, 1e6], "units": 8}
    found = api.search(
        write_campaign(
            tmp_path,
            dataset="diabetes",
            objective="val_loss",
            strategy="grid",
            space=space,
            epochs=3,
        )
    )
    by_rate = {r.hyperparameters["learning_rate"]: r for r in found.records}
    assert by_rate[1e-3].status == "completed"
    assert by_rate[1e6].status == "failed" and "diverged" in by_rate[1e6].error
    assert by_rate[1e6].epochs_run < 3 or not np.isfinite(by_rate[1e6].history["loss"][-1])
    assert found.table.iloc[-1]["status"] == "failed"
    assert pd.isna(found.table.iloc[-1]["rank"])


def test_early_stopping_cuts_trials(tmp_path):
    found = api.search(
        write_campaign(
            tmp_path,
            epochs=30,
            max_trials=1,
            space={"learning_rate": 1e-6},
            early_stopping={"patience": 2, "min_delta": 0.5},
        )
    )
    assert found.records[0].epochs_run == 3


def test_same_seed_gives_the_same_table(tmp_path):
    tables = []
    for run in ("a", "b"):
        folder = tmp_path / run
        folder.mkdir()
        found = api.search(write_campaign(folder))
        tables.append(found.table.drop(columns=["duration_s", "latency_ms"]))  # measured times
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_rerun_resumes_and_overwrite_starts_over(tmp_path):
    path = write_campaign(tmp_path, max_trials=2)
    first = api.search(path)
    more = api.search(path, max_trials=3)
    assert [r.trial_id for r in more.records] == ["0", "1", "2"]
    for old, new in zip(first.records, more.records):
        assert old.history == new.history
    again = api.search(path, overwrite=True, max_trials=1)
    assert len(again.records) == 1


def test_changed_space_is_refused_with_a_way_out(tmp_path):
    api.search(write_campaign(tmp_path, max_trials=1))
    changed = write_campaign(tmp_path, max_trials=1, space={"units": [8, 16]})
    with pytest.raises(ConfigError, match=r"overwrite=True"):
        api.search(changed)


def test_unlogged_objective_stops_the_campaign_at_once(tmp_path):
    with pytest.raises(
        Fatal, match="'val_auc' is not a logged metric; this model logs: .*val_accuracy"
    ):
        api.search(write_campaign(tmp_path, objective="val_auc", direction="max", max_trials=1))


def test_unknown_space_entry_names_the_builder_hyperparameters(tmp_path):
    with pytest.raises(ConfigError, match=r"learnin_rate: .* \(did you mean 'learning_rate'\?\)"):
        api.search(write_campaign(tmp_path, space={"learnin_rate": 0.1}))


def test_tensorboard_logs_every_trial_with_hparams(tmp_path):
    found = api.search(write_campaign(tmp_path, max_trials=2, tensorboard=True))
    logs = found.folder / "tensorboard"
    assert list(logs.glob("events.out.tfevents.*")), "the HParams experiment config"
    for record in found.records:
        assert list((logs / record.trial_id).rglob("events.out.tfevents.*"))


def test_stepped_float_values_reach_the_table_as_written(tmp_path):
    space = {"dropout": {"min": 0.0, "max": 0.3, "step": 0.1}, "units": 8}
    found = api.search(write_campaign(tmp_path, strategy="grid", space=space, max_trials=10))
    assert sorted(found.table["dropout"]) == [0.0, 0.1, 0.2, 0.3]  # exact: no 0.30000000000000004
