"""What the terminal shows: progress lines, the campaign header, the final table."""

import pytest

from tuner.console import ProgressEvent, campaign_header, final_table, progress_line
from tuner.results import ranked_table
from tuner.trial import PRUNED, TrialRecord

HP = {"learning_rate": 0.008287453109196414, "units": 96, "optimizer": "adam", "epochs": 15}
TUNED = ["learning_rate", "units", "optimizer"]


def event(
    record, *, best=None, done=3, total=20, eta_s=14.2, tuned=TUNED, objective="val_accuracy"
):
    return ProgressEvent(
        record=record,
        done=done,
        total=total,
        best=best,
        objective=objective,
        elapsed_s=3.1,
        eta_s=eta_s,
        tuned=list(tuned),
    )


def completed(trial_id="2", score=0.9611111, hp=HP, duration_s=0.93):
    return TrialRecord(trial_id, "completed", dict(hp), score=score, duration_s=duration_s)


# --------------------------------------------------------------------------- progress_line


def test_progress_line_with_room_shows_counter_score_best_time_eta_and_tuned_values():
    line = progress_line(event(completed(), best=completed("1", 0.9722222)), width=200)
    assert line == (
        "[ 3/20] trial 2   val_accuracy=0.9611  best 0.9722 (#1)  0.9s  eta 0:14  "
        "lr=8.3e-03 units=96 opt=adam"
    )


def test_progress_line_fits_80_columns_and_still_names_the_tuned_values():
    hp = dict(
        HP,
        n_layers=3,
        dropout=0.25,
        activation="a_very_long_activation_name_indeed",
        kernel_initializer="glorot_uniform",
    )
    tuned = TUNED + ["n_layers", "dropout", "activation", "kernel_initializer"]
    line = progress_line(event(completed(hp=hp), best=completed("1", 0.9722222), tuned=tuned))
    assert len(line) <= 80, line
    assert line.startswith("[ 3/20] trial 2   val_accuracy=0.9611  ")
    assert line.endswith(
        "  lr=8.3e-03 units=96 ..."
    )  # the rest elided, not wrapped  # the values that did not fit are elided, not wrapped
    assert "act=a_very_long" not in line


def test_progress_line_marks_a_new_best_and_counts_without_a_known_total():
    record = completed("3", 0.99)
    line = progress_line(event(record, best=record, done=4, total=None, eta_s=None), width=200)
    assert line.startswith("[4] trial 3  val_accuracy=0.9900  new best  0.9s  elapsed 0:03  lr=")


@pytest.mark.parametrize("width", [80, 60, 40])
def test_failed_trial_line_says_failed_with_the_first_line_of_its_error_within_the_width(width):
    error = (
        "ValueError: Input 0 of layer 'dense' is incompatible with the layer: expected axis -1 "
        "of input shape to have value 64, but received input with shape (None, 32)\n"
        "Traceback (most recent call last): ..."
    )
    record = TrialRecord("12", "failed", dict(HP), error=error, duration_s=0.4)
    line = progress_line(
        event(record, best=completed("1", 0.9722222), done=13, total=200), width=width
    )
    assert len(line) <= width, line
    assert line.startswith("[ 13/200] trial 12   FAILED: ValueErr")
    assert "Traceback" not in line and "\n" not in line


def test_failed_trial_with_a_short_reason_keeps_the_rest_of_the_line():
    record = TrialRecord(
        "5", "failed", dict(HP), error="non-finite loss at epoch 3", duration_s=0.4
    )
    line = progress_line(
        event(record, best=completed("1", 0.9722222), total=None, done=6, eta_s=None)
    )
    # All of it would take 85 columns: the trial's own duration gives way first.
    assert line == "[6] trial 5  FAILED: non-finite loss at epoch 3  best 0.9722 (#1)  elapsed 0:03"


# --------------------------------------------------------------------------- campaign_header


def header(**fields):
    values = {
        "name": "grid_demo",
        "strategy": "grid",
        "trials": 50,
        "configurations": None,
        "max_trials": 50,
        "dataset": "digits",
        "objective": "val_accuracy",
        "direction": "max",
        "folder": "results/grid_demo",
        "auto_lr": None,
    }
    values.update(fields)
    return campaign_header(**values)


def test_header_of_a_grid_says_how_many_combinations_it_has_and_how_many_run():
    assert header(configurations=120)[:3] == [
        "campaign 'grid_demo': grid search on 'digits'",
        "trials: 50 of a grid of 120 combinations (max_trials = 50)",
        "objective: val_accuracy (max)",
    ]
    assert header(configurations=12, trials=12, max_trials=12)[1] == (
        "trials: 12 (a grid of 12 combinations)"
    )
    assert header(configurations=12, trials=12)[1] == (
        "trials: 12 (a grid of 12 combinations; max_trials = 50 asks for more)"
    )


def test_header_says_when_the_space_holds_fewer_configurations_than_max_trials():
    assert header(strategy="random", configurations=2, trials=2, max_trials=6)[1] == (
        "trials: 2 (the space holds 2 distinct configurations; max_trials = 6 asks for more)"
    )
    assert header(strategy="random", configurations=200)[1] == "trials: 50"
    assert header(strategy="random")[1] == "trials: 50"
    assert header()[-1] == "results: results/grid_demo"


def test_header_prints_the_range_that_learning_rate_auto_chose():
    lines = header(
        strategy="random",
        auto_lr={
            "lr_find_valley": 1e-3,
            "learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
        },
    )
    assert 'learning_rate = "auto": 1.0e-04 to 1.0e-02 (log; valley 1.0e-03)' in lines
    grid = header(
        configurations=5,
        auto_lr={"learning_rate": {"min": 1e-4, "max": 1e-2, "sampling": "log", "step": 10**0.5}},
    )
    assert 'learning_rate = "auto": 1.0e-04 to 1.0e-02 (log, 5 values)' in grid
    fixed = header(strategy="random", auto_lr={"learning_rate": 3.2e-3})
    assert 'learning_rate = "auto-fixed": 3.2e-03 (the range finder\'s valley)' in fixed
    assert all(len(line) <= 80 for line in lines + grid + fixed)


# --------------------------------------------------------------------------- final_table


def records(n=4, **extra_hp):
    """`n` completed trials: optimizer and epochs fixed, learning_rate and units tuned."""
    out = []
    for i in range(n):
        hp = {
            "learning_rate": 10.0 ** -(i + 1),
            "units": 32 * (i + 1),
            "optimizer": "adam",
            "epochs": 15,
            "tuner/trial_id": "",
            **extra_hp,
        }
        history = {"loss": [1.0, 0.5 - i / 10], "val_accuracy": [0.5, 0.9 - i / 100]}
        out.append(
            TrialRecord(
                str(i),
                "completed",
                hp,
                history=history,
                score=0.9 - i / 100,
                best_epoch=2,
                epochs_run=2,
                duration_s=1.0 + i,
                n_params=100 * (i + 1),
            )
        )
    return out


def lines_of(text):
    return text.splitlines()


def test_final_table_keeps_the_informative_columns_under_the_objective_name():
    table = ranked_table(records(), objective="val_accuracy", direction="max")
    lines = lines_of(final_table(table, objective="val_accuracy", width=80))
    assert lines[0].split() == [
        "rank",
        "trial_id",
        "val_accuracy",
        "learning_rate",
        "units",
        "loss",
        "duration_s",
        "n_params",
    ]
    assert lines[1].split() == ["1", "0", "0.9000", "1.00e-01", "32", "0.5", "1.0", "100"]
    assert len(lines) == 1 + 4 + 1
    # The all-equal columns are said once, below the table; "completed" and the empty error not.
    assert (
        lines[-1]
        == "same in every row shown: best_epoch=2, epochs_run=2, optimizer=adam, epochs=15"
    )
    assert all(len(line) <= 80 for line in lines)


def test_final_table_leaves_out_what_does_not_fit_and_says_so(monkeypatch):
    wide = records(activation="relu")
    for i, record in enumerate(wide):
        record.hyperparameters.update(
            activation=["relu", "gelu", "tanh", "selu"][i],
            kernel_initializer=["glorot_uniform", "he_normal"][i % 2],
            dropout=i / 10,
            l2=i / 1000,
            batch_size=[16, 32, 64, 128][i],
        )
    table = ranked_table(wide, objective="val_accuracy", direction="max")
    monkeypatch.setenv("COLUMNS", "80")  # the default width is the terminal's
    lines = lines_of(final_table(table, objective="val_accuracy"))
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].split()[:3] == ["rank", "trial_id", "val_accuracy"]
    start = next(
        i for i, line in enumerate(lines) if line.startswith("left out to fit 80 columns: ")
    )
    notes = " ".join(lines[start:])
    for column in (
        set(table.columns)
        - set(lines[0].split())
        - {
            "score",
            "status",
            "error",
            "device",  # empty, like the error column: these records predate it
            "latency_ms",  # likewise
            "val_accuracy",
            "tuner/trial_id",
            "best_epoch",
            "epochs_run",
            "optimizer",
            "epochs",
        }
    ):
        assert column in notes


def test_final_table_says_a_pruned_trials_status_beside_its_score_however_narrow(monkeypatch):
    """A pruned trial ranks by a score from fewer epochs: its status must not be the column
    left out to fit the terminal (it was, at the right end, in an 80-column demo)."""
    wide = records(activation="relu")
    for i, record in enumerate(wide):
        record.hyperparameters.update(
            activation=["relu", "gelu", "tanh", "selu"][i],
            kernel_initializer=["glorot_uniform", "he_normal"][i % 2],
            dropout=i / 10,
            batch_size=[16, 32, 64, 128][i],
        )
    wide[1].status = PRUNED
    table = ranked_table(wide, objective="val_accuracy", direction="max")
    lines = lines_of(final_table(table, objective="val_accuracy", width=60))
    assert lines[0].split()[:4] == ["rank", "trial_id", "val_accuracy", "status"]
    assert [line.split()[3] for line in lines[1:5]].count("pruned") == 1


def test_final_table_shows_every_objective_of_a_campaign_of_several_however_narrow():
    """The second objective (a cost metric at the table's right end) was the column left out
    to fit 80 columns, so the Pareto marks stood without the values that made them."""
    several = records(activation="relu")
    for i, record in enumerate(several):
        record.latency_ms = [0.5, 0.2, 0.9, 0.1][i]
        record.hyperparameters.update(
            activation=["relu", "gelu", "tanh", "selu"][i],
            kernel_initializer=["glorot_uniform", "he_normal"][i % 2],
            batch_size=[16, 32, 64, 128][i],
        )
    spec = [("val_accuracy", "max"), ("latency_ms", "min")]
    table = ranked_table(several, objective="val_accuracy", direction="max", objectives=spec)
    text = final_table(table, objective="val_accuracy", width=60, also=["latency_ms"])
    lines = lines_of(text)
    assert lines[0].split()[:5] == ["rank", "trial_id", "val_accuracy", "pareto", "latency_ms"]
    assert all(len(line) <= 60 for line in lines[:5])


def test_final_table_shows_a_failed_trials_error_clipped_to_the_width():
    failed = TrialRecord(
        "9",
        "failed",
        {"learning_rate": 5.0, "units": 32, "optimizer": "adam", "epochs": 15},
        error="loss became NaN at epoch 1; " * 10,
    )
    table = ranked_table(records(3) + [failed], objective="val_accuracy", direction="max")
    lines = lines_of(final_table(table, objective="val_accuracy", width=80))
    assert all(len(line) <= 80 for line in lines), lines
    assert lines[0].split()[-1] == "error"
    last_row = lines[4]
    assert last_row.split()[0] == "9" and "loss became NaN at epoch 1;" in last_row
    assert last_row.endswith("...")


def test_final_table_of_one_trial_keeps_its_values():
    table = ranked_table(records(1), objective="val_accuracy", direction="max")
    lines = lines_of(final_table(table, objective="val_accuracy", width=200))
    assert lines[0].split() == [
        "rank",
        "trial_id",
        "val_accuracy",
        "learning_rate",
        "units",
        "optimizer",
        "epochs",
        "loss",
        "best_epoch",
        "epochs_run",
        "duration_s",
        "n_params",
    ]
    assert len(lines) == 2
