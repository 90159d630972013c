"""``cross_validation = K``: the folds (`tuner.folds`), the records combined from them
(`tuner.execution.cross_validation`), the checks before anything is written, and a tiny
cross-validated campaign end to end."""

import json

import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest

from tests.campaigns import write_campaign
from tuner import cli
from tuner.datasets import dataset_from_arrays, load_dataset
from tuner.errors import ConfigError
from tuner.execution import TrialContext, TrialOutcome
from tuner.execution.cross_validation import CrossValidatedExecutor, combine, mean_history
from tuner.folds import check_folds, folds, pooled
from tuner.trial import COMPLETED, FAILED, PRUNED, TrialRecord

ACCURACY = kt.Objective("val_accuracy", "max")


def _class_counts(y):
    return np.bincount(np.asarray(y).reshape(-1), minlength=3)


def test_folds_are_stratified_partitions_of_training_and_validation_data():
    wine = load_dataset("wine", validation_split=0.2, test_split=0.1, seed=0)
    x, y = pooled(wine)
    parts = folds(wine, 5, seed=0)
    assert len(parts) == 5
    whole = _class_counts(y)
    for part in parts:
        counts = _class_counts(part.y_val)
        # Stratified: each fold holds a fifth of every class, to one sample.
        assert np.all(np.abs(counts - whole / 5) < 1), (counts, whole)
        assert len(part.x_train) + len(part.x_val) == len(x)
        assert np.array_equal(part.x_test, wine.x_test)  # the test split stays out
    validated = np.concatenate([p.x_val for p in parts])
    assert sorted(map(tuple, validated.tolist())) == sorted(map(tuple, x.tolist()))


def test_folds_depend_on_the_seed_alone():
    wine = load_dataset("wine", seed=0)
    first, again = folds(wine, 3, seed=4), folds(wine, 3, seed=4)
    other = folds(wine, 3, seed=5)
    assert all(np.array_equal(a.y_val, b.y_val) for a, b in zip(first, again))
    assert not all(np.array_equal(a.x_val, b.x_val) for a, b in zip(first, other))


def test_regression_folds_are_plain_shuffled_kfold():
    x = np.arange(20, dtype="float32").reshape(10, 2)
    data = dataset_from_arrays(x, np.linspace(0.0, 1.0, 10), validation_split=0.2)
    parts = folds(data, 5, seed=0)
    assert [len(p.x_val) for p in parts] == [2] * 5


def test_a_class_too_small_for_the_folds_is_refused_with_the_fix():
    x = np.random.default_rng(0).normal(size=(24, 2)).astype("float32")
    y = np.array(["a"] * 11 + ["b"] * 11 + ["c"] * 2)
    data = dataset_from_arrays(x, y, validation_split=0.25)
    with pytest.raises(ConfigError, match="class 'c' has 2 .* use cross_validation = 2"):
        check_folds(data, 3)
    check_folds(data, 2)


def test_more_folds_than_samples_is_refused():
    x = np.arange(12, dtype="float32").reshape(6, 2)
    data = dataset_from_arrays(x, np.linspace(0.0, 1.0, 6), validation_split=0.34)
    with pytest.raises(ConfigError, match="needs at least 7 samples, .* hold 6"):
        check_folds(data, 7)


def _record(history, status=COMPLETED, error=None, epochs=None):
    return TrialRecord(
        "4",
        status,
        {"units": 8},
        history=history,
        score=max(history["val_accuracy"]) if status == COMPLETED else None,
        epochs_run=epochs or len(history["val_accuracy"]),
        duration_s=1.0,
        error=error,
    )


def test_combined_score_is_the_mean_curves_best_and_the_mean_of_the_fold_scores():
    folds_seen = [
        _record({"val_accuracy": [0.5, 0.9, 0.6], "loss": [1.0, 0.5, 0.4]}),
        _record({"val_accuracy": [0.7, 0.5, 0.9], "loss": [0.8, 0.6, 0.3]}),
        # Early stopping ended this fold sooner: the mean runs over the common epochs.
        _record({"val_accuracy": [0.6, 0.7], "loss": [0.9, 0.7]}),
    ]
    record = combine(folds_seen, ACCURACY)
    assert record.status == COMPLETED
    assert record.history["val_accuracy"] == pytest.approx([0.6, 0.7])
    assert record.best_epoch == 2
    assert record.cv_scores == pytest.approx([0.9, 0.5, 0.7])
    assert record.score == pytest.approx(np.mean(record.cv_scores))
    assert record.cv_std == pytest.approx(np.std([0.9, 0.5, 0.7]))
    assert record.epochs_run == 8 and record.duration_s == 3.0  # every fold's, for budgets
    assert record.fold_histories == [r.history for r in folds_seen]


def test_a_trial_that_fails_in_one_fold_fails_with_that_folds_error():
    ok = _record({"val_accuracy": [0.5]})
    bad = _record({"val_accuracy": [0.5]}, status=FAILED, error="diverged: loss nan")
    record = combine([ok, bad, ok], ACCURACY)
    assert record.status == FAILED and record.score is None
    assert record.error == "fold 2 of 3: diverged: loss nan"


class _Fold:
    """A fold's executor double: each trial ends with the status given for it (else
    completed), and the trials it was handed are kept."""

    def __init__(self, statuses=None):
        self.statuses, self.handed = statuses or {}, []

    def run(self, trials, context):
        self.handed.append([t.trial_id for t in trials])
        outcomes = []
        for t in trials:
            status = self.statuses.get(t.trial_id, COMPLETED)
            history = {"val_accuracy": [0.5] if status == PRUNED else [0.5, 0.75]}
            record = _record(history, status=status, error="boom" if status == FAILED else None)
            record.trial_id = t.trial_id
            outcomes.append(TrialOutcome(record))
        return outcomes


def test_a_trial_pruned_or_failed_in_a_fold_trains_no_later_fold():
    folds_run = [_Fold(), _Fold({"1": PRUNED, "2": FAILED}), _Fold()]
    executor = CrossValidatedExecutor(folds_run, ACCURACY, refit=lambda trial, epochs: None)
    trials = [kt.engine.trial.Trial(kt.HyperParameters(), trial_id=i) for i in "012"]
    outcomes = executor.run(trials, TrialContext())
    assert [f.handed for f in folds_run] == [[["0", "1", "2"]], [["0", "1", "2"]], [["0"]]]
    completed, pruned, failed = (o.record for o in outcomes)
    assert (completed.status, completed.cv_scores) == (COMPLETED, [0.75, 0.75, 0.75])
    # Pruned after one epoch of its second fold: scored on the epochs both folds trained.
    assert (pruned.status, pruned.cv_scores, pruned.best_epoch) == (PRUNED, [0.5, 0.5], 1)
    assert (failed.status, failed.error) == (FAILED, "fold 2 of 3: boom")
    assert outcomes[0].make_model is not None and outcomes[2].make_model is None


def test_mean_history_keeps_only_metrics_every_fold_logged():
    assert mean_history([{"a": [1.0], "b": [2.0]}, {"a": [3.0]}]) == {"a": [2.0]}


# ------------------------------------------------------------------------ refused up front


def _search(path, capsys, *flags):
    rc = cli.main(["search", str(path), "--quiet", *flags])
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("strategy", ["hyperband", "pbt"])
def test_hyperband_and_pbt_are_refused_before_anything_is_written(tmp_path, capsys, strategy):
    path = write_campaign(tmp_path, strategy=strategy, cross_validation=3)
    rc, err = _search(path, capsys)
    assert rc == 2
    assert f"cross_validation does not work with strategy {strategy!r}" in err
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--cv", "1"], "cross_validation must be at least 2"),
        # iris capped at 12 samples: 4 of each class, too few for 5 folds
        (["--cv", "5"], "cross_validation = 5 needs at least 5 samples of every class"),
    ],
)
def test_bad_folds_exit_2_before_anything_is_written(tmp_path, capsys, flags, message):
    path = write_campaign(tmp_path, max_samples=12)
    rc, err = _search(path, capsys, *flags)
    assert rc == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "results").exists()


# ------------------------------------------------------------------------------ end to end


def _cross_validated(tmp_path, name):
    path = write_campaign(
        tmp_path, name=name, max_samples=45, max_trials=2, epochs=2, cross_validation=3
    )
    assert cli.main(["search", str(path), "--quiet"]) == 0
    return tmp_path / "results" / name


@pytest.mark.slow
def test_a_cross_validated_campaign_records_fold_mean_and_std(tmp_path):
    folder = _cross_validated(tmp_path, "cv")
    table = pd.read_csv(folder / "trials.csv")
    assert list(table.columns[4:8]) == ["cv_std", "cv_fold_1", "cv_fold_2", "cv_fold_3"]
    assert (table["status"] == "completed").all()
    fold_scores = table[["cv_fold_1", "cv_fold_2", "cv_fold_3"]].to_numpy()
    assert table["score"].to_numpy() == pytest.approx(fold_scores.mean(axis=1))
    assert table["cv_std"].to_numpy() == pytest.approx(fold_scores.std(axis=1))
    # The history is the mean over the folds, so its best epoch's objective is the score.
    history = pd.read_csv(folder / "history.csv")
    for _, row in table.iterrows():
        epochs = history[history["trial_id"] == row["trial_id"]]
        best = epochs[epochs["epoch"] == row["best_epoch"]]["val_accuracy"].item()
        assert best == pytest.approx(row["score"])
    assert (table["epochs_run"] == 6).all()  # 3 folds of 2 epochs
    summary = (folder / "summary.md").read_text()
    assert "mean over 3 stratified folds" in summary and "refit on all of that data" in summary
    assert len(list((folder / "models").glob("*.keras"))) == 1


@pytest.mark.slow
def test_a_cross_validated_campaign_is_deterministic_for_a_seed(tmp_path):
    first = pd.read_csv(_cross_validated(tmp_path, "one") / "trials.csv")
    second = pd.read_csv(_cross_validated(tmp_path, "two") / "trials.csv")
    columns = ["trial_id", "score", "cv_std", "cv_fold_1", "cv_fold_2", "cv_fold_3"]
    pd.testing.assert_frame_equal(first[columns], second[columns])


def test_record_with_folds_round_trips_through_json(tmp_path):
    from tuner.store.records import read_record, write_record

    record = combine([_record({"val_accuracy": [0.5, 0.75]})] * 2, ACCURACY)
    write_record(tmp_path / "4.json", record)
    assert read_record(tmp_path / "4.json") == record
    assert json.loads((tmp_path / "4.json").read_text())["cv_scores"] == [0.75, 0.75]


def test_fold_columns_are_not_hyperparameters_and_read_back_from_the_tables(tmp_path):
    from tuner.results.tables import history_table, ranked_table, split_columns
    from tuner.store.table_files import record_from_tables

    record = combine(
        [_record({"val_accuracy": [0.5, 0.75]}), _record({"val_accuracy": [0.25, 0.5]})],
        ACCURACY,
    )
    table = ranked_table([record], objective="val_accuracy", direction="max")
    assert table[["cv_std", "cv_fold_1", "cv_fold_2"]].iloc[0].tolist() == [0.125, 0.75, 0.5]
    hyperparameters, metrics = split_columns(table)
    assert hyperparameters == ["units"] and metrics == ["val_accuracy"]
    table.to_csv(tmp_path / "trials.csv", index=False)
    history_table([record]).to_csv(tmp_path / "history.csv", index=False)
    back = record_from_tables(tmp_path / "trials.csv", tmp_path / "history.csv", "4")
    assert back is not None
    assert (back.cv_scores, back.cv_std, back.score) == ([0.75, 0.5], 0.125, 0.625)


def test_the_executor_every_role_builds_runs_one_packed_executor_per_fold(tmp_path):
    # `build_executor` serves a local run and a distributed worker alike (`open_run`).
    from tuner.campaign import load_campaign
    from tuner.execution import PackedExecutor
    from tuner.execution.cross_validation import CrossValidatedExecutor
    from tuner.plan import make_plan
    from tuner.run import build_executor

    plan = make_plan(load_campaign(write_campaign(tmp_path, max_samples=45, cross_validation=3)))
    executor, _ = build_executor(plan, plan.entries)
    assert isinstance(executor, CrossValidatedExecutor) and executor.k == 3
    assert executor.max_pack == 3  # max_trials = 3: one pack of them, fold by fold
    assert all(isinstance(fold, PackedExecutor) for fold in executor.folds)
    validated = [len(fold.pipeline.dataset.x_val) for fold in executor.folds]
    assert validated == [15, 15, 15]  # 45 samples: 36 training + 9 validation, in 3 folds


@pytest.mark.slow
def test_model_based_search_scores_each_trial_by_its_folds_mean(tmp_path):
    path = write_campaign(
        tmp_path, strategy="bayesian", max_samples=30, max_trials=3, epochs=1, cross_validation=2
    )
    assert cli.main(["search", str(path), "--quiet"]) == 0
    table = pd.read_csv(tmp_path / "results" / "tiny" / "trials.csv")
    assert (table["status"] == "completed").all() and len(table) == 3
    means = table[["cv_fold_1", "cv_fold_2"]].mean(axis=1).to_numpy()
    assert table["score"].to_numpy() == pytest.approx(means)
