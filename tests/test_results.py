"""Ranked tables, the results folder (atomic writes, load, compare) and table formats."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from tuner.errors import ConfigError
from tuner.results import (
    FIXED_COLUMNS,
    compare,
    format_table,
    history_table,
    load,
    load_history,
    ranked_table,
    split_columns,
    to_markdown,
    write_results,
)
from tuner.trial import TrialRecord

REPO = Path(__file__).resolve().parents[1]


def record(
    trial_id: str,
    score: float | None,
    *,
    status: str = "completed",
    units: int = 32,
    optimizer: str = "adam",
    epochs: int = 3,
    error: str | None = None,
) -> TrialRecord:
    if score is None:
        return TrialRecord(trial_id, status, {"units": units, "optimizer": optimizer}, error=error)
    history = {
        "loss": [1.0 - 0.1 * e for e in range(epochs)],
        "val_accuracy": [score - 0.1 * (epochs - 1 - e) for e in range(epochs)],
    }
    return TrialRecord(
        trial_id,
        status,
        {"units": units, "optimizer": optimizer},
        history,
        score=score,
        best_epoch=epochs,
        epochs_run=epochs,
        duration_s=1.5,
        n_params=100 + units,
    )


@pytest.fixture
def records() -> list[TrialRecord]:
    return [
        record("t0", 0.70, units=16),
        record("t1", None, status="failed", units=64, error="diverged: loss is nan"),
        record("t2", 0.90, units=32, optimizer="sgd"),
        record("t3", 0.70, units=48),  # ties t0: t0 came first
        record("t4", 0.50, units=128),
    ]


def test_ranked_table_max_orders_best_first_ties_by_appearance_failed_last(records):
    table = ranked_table(records, objective="val_accuracy", direction="max")
    assert list(table["trial_id"]) == ["t2", "t0", "t3", "t4", "t1"]
    assert list(table["rank"][:4]) == [1, 2, 3, 4]
    assert pd.isna(table["rank"].iloc[4])
    assert list(table["status"]) == ["completed"] * 4 + ["failed"]
    assert table["error"].iloc[4] == "diverged: loss is nan"
    assert list(table.columns) == FIXED_COLUMNS + [
        "units",
        "optimizer",
        "loss",
        "val_accuracy",
        "error",
    ]


def test_ranked_table_min_reverses_order_but_keeps_ties_and_failed_last(records):
    table = ranked_table(records, objective="val_loss", direction="min")
    assert list(table["trial_id"]) == ["t4", "t0", "t3", "t2", "t1"]
    assert list(table["score"][:4]) == [0.5, 0.7, 0.7, 0.9]


def test_ranked_table_metrics_are_taken_at_the_best_epoch():
    rec = TrialRecord(
        "a",
        "completed",
        {"lr": 0.01},
        {"loss": [3.0, 2.0, 1.0], "val_loss": [2.5, 1.5, 1.8]},
        score=1.5,
        best_epoch=2,
        epochs_run=3,
    )
    row = ranked_table([rec], objective="val_loss", direction="min").iloc[0]
    assert (row["loss"], row["val_loss"], row["best_epoch"]) == (2.0, 1.5, 2)


def test_ranked_table_completed_without_score_is_failed_and_explained():
    rec = TrialRecord(
        "a", "completed", {"lr": 0.1}, {"loss": [1.0]}, score=float("nan"), best_epoch=1
    )
    row = ranked_table([rec, record("b", 0.3)], objective="val_accuracy", direction="max").iloc[1]
    assert row["trial_id"] == "a" and row["status"] == "failed" and pd.isna(row["rank"])
    assert "val_accuracy" in row["error"]


def test_hyperparameter_columns_follow_given_order_and_internal_ones_go_last():
    rec = TrialRecord(
        "a",
        "completed",
        {"tuner/epochs": 2, "units": 8, "lr": 0.1, "act": "relu"},
        {"loss": [1.0]},
        score=1.0,
        best_epoch=1,
    )
    table = ranked_table(
        [rec], objective="loss", direction="min", hyperparameter_names=["lr", "units"]
    )
    assert list(table.columns[len(FIXED_COLUMNS) : -2]) == ["lr", "units", "act", "tuner/epochs"]


def test_bad_direction_is_a_config_error_naming_the_value(records):
    with pytest.raises(ConfigError, match="'maximize'"):
        ranked_table(records, objective="val_accuracy", direction="maximize")


def test_history_table_has_one_row_per_epoch_with_1_based_epochs(records):
    history = history_table(records)
    assert list(history.columns) == ["trial_id", "epoch", "loss", "val_accuracy"]
    assert len(history) == 4 * 3  # the failed trial logged no epoch
    t2 = history[history["trial_id"] == "t2"]
    assert list(t2["epoch"]) == [1, 2, 3]
    assert t2["val_accuracy"].iloc[-1] == pytest.approx(0.9)


def test_write_results_then_load_round_trips(tmp_path, records):
    for r, device in zip(records, ["GPU:0 (H100)", "CPU", "CPU", None, "CPU"]):
        r.device = device
    write_results(
        tmp_path / "exp",
        records,
        objective="val_accuracy",
        direction="max",
        settings={"name": "exp", "strategy": "random", "space": {"units": {"min": 16, "max": 128}}},
    )
    expected = ranked_table(records, objective="val_accuracy", direction="max")
    for loaded in (
        load("exp", tmp_path),
        load(tmp_path / "exp"),
        load(tmp_path / "exp" / "trials.csv"),
    ):
        pd.testing.assert_frame_equal(loaded, expected, check_dtype=False)
    assert len(load_history("exp", tmp_path)) == 12
    assert not list((tmp_path / "exp").glob("*.tmp"))
    summary = (tmp_path / "exp" / "summary.md").read_text()
    assert "5 (4 completed, 1 failed)" in summary
    assert "best score: 0.9 (trial t2" in summary
    assert "| space.units | min=16, max=128 |" in summary
    assert "- devices: CPU 3 trials, GPU:0 (H100) 1 trial, not recorded 1 trial\n" in summary


def test_load_keeps_string_ids_and_categories_that_look_missing(tmp_path):
    recs = [record("0007", 0.5, optimizer="None"), record("0010", 0.6, optimizer="NA")]
    write_results(tmp_path / "c", recs, objective="val_accuracy", direction="max", settings={})
    table = load(tmp_path / "c")
    assert list(table["trial_id"]) == ["10", "7"]  # text, and one numbering (no padding)
    assert list(table["optimizer"]) == ["NA", "None"]


def test_load_missing_campaign_names_what_exists(tmp_path, records):
    write_results(
        tmp_path / "alpha", records, objective="val_accuracy", direction="max", settings={}
    )
    with pytest.raises(ConfigError, match=r"nope.*\['alpha'\]"):
        load("nope", tmp_path)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no trials.csv"):
        load("empty", tmp_path)


def test_compare_puts_each_campaigns_best_trial_side_by_side(tmp_path, records):
    write_results(tmp_path / "a", records, objective="val_accuracy", direction="max", settings={})
    (tmp_path / "a" / "campaign.toml").write_text(
        'name = "a"\nobjective = "val_accuracy"\ndirection = "max"\nseed = 3\n'
    )
    write_results(
        tmp_path / "b",
        [record("x", 0.4, units=8, optimizer="rmsprop")],
        objective="val_accuracy",
        direction="max",
        settings={},
    )
    table = compare(["a", tmp_path / "b"], tmp_path)
    assert list(table["campaign"]) == ["a", "b"]
    assert table["seed"].iloc[0] == 3 and pd.isna(table["seed"].iloc[1])
    assert list(table["n_trials"]) == [5, 1]
    assert list(table["n_completed"]) == [4, 1]
    assert list(table["best_score"]) == [0.9, 0.4]
    assert list(table["units"]) == [32, 8]
    assert list(table["optimizer"]) == ["sgd", "rmsprop"]
    assert table["objective"].iloc[0] == "val_accuracy" and pd.isna(table["objective"].iloc[1])
    assert "loss" not in table.columns and "val_accuracy" not in table.columns


def test_split_columns_without_history_uses_metric_naming():
    table = ranked_table([record("a", 0.5)], objective="val_accuracy", direction="max")
    table = table.rename(columns={"loss": "val_loss"}).assign(accuracy=0.4)
    assert split_columns(table) == (
        ["units", "optimizer"],
        ["val_loss", "val_accuracy", "accuracy"],
    )


@pytest.mark.parametrize("fmt", ["table", "csv", "markdown", "json"])
def test_format_table_parses_back(records, fmt):
    table = ranked_table(records, objective="val_accuracy", direction="max")
    text = format_table(table, fmt)
    if fmt == "csv":
        back = pd.read_csv(io.StringIO(text), dtype={"trial_id": str})
        assert list(back["trial_id"]) == list(table["trial_id"])
    elif fmt == "json":
        back = json.loads(text)
        assert [r["trial_id"] for r in back] == list(table["trial_id"])
        assert back[0]["rank"] == 1 and back[-1]["rank"] is None and back[0]["units"] == 32
    elif fmt == "markdown":
        lines = text.strip().splitlines()
        assert len(lines) == 2 + len(table)
        assert all(line.count(" | ") == len(table.columns) - 1 for line in lines)
    else:
        lines = text.strip().splitlines()
        assert len(lines) == 1 + len(table)
        assert lines[0].split() == list(table.columns)


def test_format_table_rejects_unknown_format(records):
    with pytest.raises(ConfigError, match="'xml'"):
        format_table(ranked_table(records, objective="s", direction="max"), "xml")


def test_to_markdown_formats_floats_compactly_and_escapes_pipes():
    df = pd.DataFrame({"x": [0.123456789, 12345.678, float("nan")], "s": ["a|b", "c\nd", None]})
    lines = to_markdown(df).splitlines()
    assert lines[1] == "| ---: | --- |"
    # 0.1235 beside 1.235e+04 mixed two notations: a column that needs one uses it throughout.
    assert lines[2] == "| 1.235e-01 | a\\|b |"
    assert lines[3] == "| 1.235e+04 | c d |"
    assert lines[4] == "|  |  |"
    plain = to_markdown(pd.DataFrame({"lr": [0.05, 0.5]})).splitlines()
    assert plain[2:] == ["| 0.05 |", "| 0.5 |"]  # plain decimals suit both: as before


def test_a_hyperparameter_column_spanning_decades_has_one_notation_everywhere():
    # A choice of learning rates [0.001, 0.01, 1] (TOML's 1 is a whole number) wrote
    # 1.0e-03, 0.01 and 1 side by side.
    from tuner import console

    table = pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "trial_id": ["0", "1", "2"],
            "score": [0.9, 0.8, 0.7],
            "learning_rate": [0.001, 0.01, 1],
            "units": [8, 16, 32],
        }
    )
    rows = format_table(table, "table").splitlines()[1:]
    assert [row.split()[3] for row in rows] == ["1.000e-03", "1.000e-02", "1.000e+00"]
    assert [row.split(" | ")[3] for row in to_markdown(table).splitlines()[2:]] == [
        "1.000e-03",
        "1.000e-02",
        "1.000e+00",
    ]
    text = console.final_table(table, objective="val_accuracy", width=80).splitlines()
    assert [line.split()[3] for line in text[1:4]] == ["1.00e-03", "1.00e-02", "1.00e+00"]
    formats = console.value_formats({"learning_rate": [0.001, 0.01, 1], "units": [8, 32]})
    assert formats == {"learning_rate": ".1e"}
    lines = [
        console.progress_line(
            console.ProgressEvent(
                record=TrialRecord(str(i), "completed", {"learning_rate": lr}, score=0.5),
                done=i + 1,
                total=3,
                best=None,
                objective="val_accuracy",
                elapsed_s=1.0,
                eta_s=1.0,
                tuned=["learning_rate"],
                formats=formats,
            )
        )
        for i, lr in enumerate([0.001, 0.01, 1])
    ]
    assert [line.split()[-1] for line in lines] == ["lr=1.0e-03", "lr=1.0e-02", "lr=1.0e+00"]


CHILD = textwrap.dedent("""
    import sys
    from tuner.results import write_results
    from tuner.trial import TrialRecord
    n = int(sys.argv[2])
    recs = [TrialRecord(f"t{i}", "completed", {"units": i, "lr": 1e-3 * (i % 7 + 1), "note": "x" * 200},
                        {"loss": [1.0 / (i + 1)] * 3}, score=float(i), best_epoch=3, epochs_run=3)
            for i in range(n)]
    print("ready", flush=True)
    while True:
        write_results(sys.argv[1], recs, objective="loss", direction="max", settings={"name": "big"})
""")


@pytest.mark.slow
def test_trials_csv_survives_a_writer_killed_mid_write(tmp_path):
    folder = tmp_path / "big"
    small = [record(f"s{i}", 0.1 * i) for i in range(3)]
    write_results(folder, small, objective="val_accuracy", direction="max", settings={})
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    n_big = 20_000
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(folder), str(n_big)],
        stdout=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )
    try:
        assert child.stdout.readline().strip() == b"ready"
        # Kill the moment a temporary trials file is being written: the worst moment.
        deadline = time.monotonic() + 30
        while not list(folder.glob(".trials.csv.*.tmp")):
            assert time.monotonic() < deadline, "the writer never started writing trials.csv"
            time.sleep(0.001)
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    table = load(folder)
    assert len(table) in (len(small), n_big)
    assert table["trial_id"].notna().all() and table["n_params"].notna().all()
    if len(table) == n_big:
        assert table["trial_id"].iloc[-1] == "t0" and table["score"].iloc[0] == n_big - 1


def test_cli_results_and_compare_print_parseable_tables(tmp_path, records, capsys):
    from tuner import cli

    write_results(tmp_path / "a", records, objective="val_accuracy", direction="max", settings={})
    write_results(
        tmp_path / "b", records[:1], objective="val_accuracy", direction="max", settings={}
    )
    assert (
        cli.main(["results", "a", "--results-dir", str(tmp_path), "--format", "csv", "--top", "2"])
        == 0
    )
    shown = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"trial_id": str})
    assert list(shown["trial_id"]) == ["t2", "t0"]
    assert (
        cli.main(
            [
                "results",
                "compare",
                "a",
                str(tmp_path / "b"),
                "--results-dir",
                str(tmp_path),
                "--format",
                "json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert [(r["campaign"], r["best_score"]) for r in rows] == [("a", 0.9), ("b", 0.7)]
    assert cli.main(["results", "missing", "--results-dir", str(tmp_path)]) == 2
    assert "'missing'" in capsys.readouterr().err
    assert cli.main(["results", "a", "b", "--results-dir", str(tmp_path)]) == 2


def test_incremental_history_csv_matches_the_full_table():
    from tuner.results import HistoryCSV, history_table

    first = TrialRecord(
        "0",
        "completed",
        {"a": 1},
        {"loss": [0.5, 0.25], "val_loss": [0.6, 0.3]},
        0.3,
        2,
        2,
        1.0,
        10,
    )
    second = TrialRecord("1", "failed", {"a": 2}, {"loss": [float("nan")]}, None, None, 1, 0.5, 10)
    third = TrialRecord(
        "2",
        "completed",
        {"a": 3},
        {"loss": [0.4], "val_loss": [0.5], "val_mae": [0.7]},
        0.5,
        1,
        1,
        0.7,
        10,
    )
    cache = HistoryCSV()
    for n in (1, 2, 3):
        assert cache.text([first, second, third][:n]) == history_table(
            [first, second, third][:n]
        ).to_csv(index=False)
