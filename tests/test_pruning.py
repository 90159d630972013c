"""Pruning: the rules (median, ASHA) as pure functions, the campaign key, a pruned trial's
record and how it is shown, and a pruned tower that leaves the others of its pack
bit-identical."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import pytest

from tuner.campaign import Campaign
from tuner.errors import ConfigError
from tuner.pruning import PruningRule, pruning_rule, should_prune
from tuner.trial import COMPLETED, PRUNED, TrialRecord

MEDIAN = PruningRule("median", warmup=3, startup_trials=5)
ASHA = PruningRule("asha", min_epochs=1, factor=3)


# --------------------------------------------------------------------------- the rules


def test_median_waits_for_the_warmup_then_prunes_below_the_median_of_earlier_trials():
    earlier = [[v] * 10 for v in (0.1, 0.2, 0.3, 0.4, 0.5)]  # at every epoch: median 0.3
    for epoch in (1, 2, 3):  # within the warmup
        assert not should_prune(MEDIAN, earlier, [0.05] * epoch, "max", 10)
    assert should_prune(MEDIAN, earlier, [0.05] * 4, "max", 10)
    assert not should_prune(MEDIAN, earlier, [0.05, 0.05, 0.05, 0.3], "max", 10)  # at the median
    # Its best so far counts, not its last value (Optuna's rule).
    assert not should_prune(MEDIAN, earlier, [0.05, 0.35, 0.05, 0.05], "max", 10)
    # Lower is better for a loss: the same values are now the best.
    assert not should_prune(MEDIAN, earlier, [0.05] * 4, "min", 10)
    assert should_prune(MEDIAN, earlier, [0.45] * 4, "min", 10)


def test_median_needs_startup_trials_that_reached_the_epoch():
    reached = [[0.5] * 10 for _ in range(4)] + [[0.5] * 3]  # the fifth stopped at epoch 3
    assert not should_prune(MEDIAN, reached, [0.1] * 4, "max", 10)
    assert should_prune(MEDIAN, reached + [[0.5] * 4], [0.1] * 4, "max", 10)


def test_no_rule_prunes_at_the_last_epoch_and_a_value_that_is_not_finite_is_the_worst():
    earlier = [[0.5] * 4 for _ in range(5)]
    assert not should_prune(MEDIAN, earlier, [0.1] * 4, "max", 4)
    assert should_prune(MEDIAN, earlier, [math.nan] * 4, "min", 10)
    assert should_prune(ASHA, earlier, [math.nan], "max", 10)


def test_asha_rungs_are_min_epochs_times_powers_of_the_factor_below_the_last_epoch():
    assert ASHA.rungs(50) == [1, 3, 9, 27]
    assert ASHA.rungs(27) == [1, 3, 9]
    assert PruningRule("asha", min_epochs=2, factor=4).rungs(50) == [2, 8, 32]


def test_asha_keeps_the_top_third_of_the_trials_that_reached_a_rung():
    # 8 earlier trials reached epoch 3 with 0.1 .. 0.8; with this one 9 compete: the top 3
    # (0.8, 0.7 and a value of at least 0.6) go on.
    earlier = [[0.0, 0.0, v] for v in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)] + [[0.99, 0.99]]
    assert not should_prune(ASHA, earlier, [0.0, 0.0, 0.6], "max", 10)
    assert should_prune(ASHA, earlier, [0.0, 0.0, 0.59], "max", 10)
    assert not should_prune(ASHA, earlier, [0.0, 0.0, 0.2], "max", 3)  # its last epoch
    assert not should_prune(ASHA, earlier, [0.0, 0.0, 0.2, 0.0], "max", 10)  # not a rung
    # A loss: lower is better, so 0.3 is in the top third (0.1, 0.2, 0.3).
    assert not should_prune(ASHA, earlier, [0.0, 0.0, 0.3], "min", 10)
    assert should_prune(ASHA, earlier, [0.0, 0.0, 0.31], "min", 10)


def test_asha_with_fewer_trials_than_the_factor_keeps_only_the_best_so_far():
    assert not should_prune(ASHA, [], [0.1], "max", 10)  # the first trial goes on
    assert should_prune(ASHA, [[0.2]], [0.1], "max", 10)
    assert not should_prune(ASHA, [[0.2]], [0.2], "max", 10)


# --------------------------------------------------------------------------- the campaign key


@pytest.mark.parametrize(
    "value, kind",
    [("median", "median"), ("asha", "asha"), ("none", None), ({"kind": "asha"}, "asha")],
)
def test_pruning_takes_a_word_or_a_table(value, kind):
    rule = Campaign(name="x", dataset="iris", pruning=value).pruning_rule
    assert (rule.kind if rule else None) == kind
    table = Campaign(name="x", dataset="iris", pruning={"kind": "median", "warmup": 2})
    assert table.pruning_rule == PruningRule("median", warmup=2)
    frozen = Campaign(name="x", dataset="iris", pruning={"kind": "asha", "shrink": False})
    assert frozen.pruning_rule == PruningRule("asha", shrink=False)


def test_the_default_prunes_by_asha_where_trials_are_long_enough_and_never_hyperband():
    assert Campaign(name="x", dataset="iris").pruning == "auto"
    assert Campaign(name="x", dataset="iris", epochs=20).pruning_rule == PruningRule("asha")
    assert Campaign(name="x", dataset="iris", epochs=10).pruning_rule == PruningRule("asha")
    # Two rungs (1, 3) below the last epoch are needed: 9 epochs train in full.
    assert Campaign(name="x", dataset="iris", epochs=9).pruning_rule is None
    # A pruner the campaign names is used as asked.
    assert Campaign(name="x", dataset="iris", epochs=5, pruning="asha").pruning_rule is not None
    hyperband = Campaign(name="x", dataset="iris", strategy="hyperband", epochs=20)
    assert hyperband.pruning_rule is None


@pytest.mark.parametrize(
    "value, message",
    [
        ("medain", 'pruning must be one of "median", "asha", "none", "auto" or a table'),
        ({"kind": "asha", "factr": 3}, "pruning: unknown key 'factr' for kind 'asha' (did you "),
        ({"kind": "median", "factor": 3}, "pruning: unknown key 'factor' for kind 'median'"),
        ({"warmup": 3}, "pruning needs a kind"),
        ({"kind": "hyperband"}, 'pruning kind must be "median" or "asha", but got'),
        ({"kind": "asha", "factor": 1}, "pruning factor must be at least 2, but got 1."),
        ({"kind": "median", "warmup": -1}, "pruning warmup must be at least 0, but got -1."),
        ({"kind": "median", "warmup": 2.5}, "pruning warmup must be an integer, but got float"),
        ({"kind": "asha", "shrink": "no"}, "pruning shrink must be true or false, but got str"),
        ({"kind": "asha", "min_epochs": 20}, "pruning min_epochs must be below epochs = 20"),
        ({"kind": "median", "warmup": 20}, "pruning warmup must be below epochs = 20"),
        (3, 'pruning must be "median", "asha", "none" or a table'),
    ],
)
def test_bad_pruning_is_one_line_naming_the_key_and_what_is_accepted(value, message):
    with pytest.raises(ConfigError) as error:
        Campaign(name="x", dataset="iris", pruning=value)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_hyperband_refuses_a_pruner_and_its_default_prunes_nothing(tmp_path, capsys):
    from tests.campaigns import write_campaign
    from tuner import cli

    assert Campaign(name="x", dataset="iris", strategy="hyperband").pruning_rule is None
    assert pruning_rule("auto", "hyperband", prunes_by_design=True) is None
    path = write_campaign(tmp_path, strategy="hyperband", pruning="median")
    assert cli.main(["search", str(path), "--quiet"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "strategy = 'hyperband', which prunes by design" in lines[0]
    assert not (tmp_path / "results").exists()
    # The same through --pruning on a campaign that does not prune.
    path = write_campaign(tmp_path, strategy="hyperband")
    assert cli.main(["search", str(path), "--quiet", "--pruning", "asha"]) == 2
    assert "prunes by design" in capsys.readouterr().err


def test_pbt_decides_itself_how_long_members_train():
    """PBT exploits its worst members instead of stopping them: its default prunes nothing
    and an explicit pruner is refused, as with Hyperband (the registry's prunes_by_design)."""
    assert Campaign(name="x", dataset="iris", strategy="pbt", max_trials=4).pruning_rule is None
    with pytest.raises(ConfigError, match="strategy = 'pbt', which prunes by design"):
        Campaign(name="x", dataset="iris", strategy="pbt", max_trials=4, pruning="asha")


# --------------------------------------------------------------------------- how it is shown


def _pruned(trial_id: str, score: float, epochs_run: int, epochs: int = 10) -> TrialRecord:
    return TrialRecord(
        trial_id,
        PRUNED,
        {"learning_rate": 0.01, "epochs": epochs},
        history={"val_accuracy": [score] * epochs_run},
        score=score,
        best_epoch=epochs_run,
        epochs_run=epochs_run,
    )


def test_a_pruned_trial_is_ranked_by_its_score_marked_and_counted_with_the_epochs_saved():
    from tuner.results import ranked_table, summary_markdown

    done = _pruned("0", 0.8, 10)
    done.status = COMPLETED
    records = [done, _pruned("1", 0.9, 3), _pruned("2", 0.1, 1)]
    table = ranked_table(records, objective="val_accuracy", direction="max")
    assert list(table["trial_id"]) == ["1", "0", "2"]
    assert list(table["status"]) == [PRUNED, COMPLETED, PRUNED]
    assert list(table["rank"]) == [1, 2, 3]
    text = summary_markdown(table, objective="val_accuracy", direction="max", settings={})
    assert "- trials: 3 (1 completed, 2 pruned, 0 failed)" in text
    assert "- pruning: 2 trials stopped early, 16 of 30 epochs saved" in text


def test_the_progress_line_says_at_which_epoch_a_trial_was_pruned():
    from tuner.console import ProgressEvent, progress_line

    event = ProgressEvent(_pruned("3", 0.5, 6), 4, 20, None, "val_accuracy", 1.0, 3.0, [], 1)
    line = progress_line(event, width=120)
    assert "val_accuracy=0.5000 (pruned at epoch 6)" in line and "FAILED" not in line
    # Cross-validated: epochs_run adds up the folds (20 + 1), the line names fold and epoch.
    record = _pruned("4", 0.9, 21, epochs=20)
    record.fold_histories = [{"val_accuracy": [0.9] * 20}, {"val_accuracy": [0.5]}]
    event = ProgressEvent(record, 4, 20, None, "val_accuracy", 1.0, 3.0, [], 1)
    assert "(pruned in fold 2 at epoch 1)" in progress_line(event, width=120)


def test_the_optimization_history_marks_pruned_trials():
    from tuner.plots.campaign import (
        hyperparameter_vs_score,
        optimization_history,
        optimization_history_info,
    )
    from tuner.results import ranked_table

    done = _pruned("0", 0.8, 10)
    done.status = COMPLETED
    table = ranked_table([done, _pruned("1", 0.5, 2)], objective="val_accuracy", direction="max")
    info = optimization_history_info(table, direction="max")
    assert list(info.pruned) == [False, True]
    ax = optimization_history(table, direction="max")
    assert ax.get_title() == "Optimization history: 1 completed trials, 1 pruned"
    assert "pruned trial score" in ax.get_legend_handles_labels()[1]
    ax = hyperparameter_vs_score(table, "epochs", direction="max")
    assert ax.get_title() == "epochs: 1 completed, 1 pruned"
    assert "pruned trial" in ax.get_legend_handles_labels()[1]


# --------------------------------------------------------------------------- training


def _lr_trials(rates: list[float]) -> list[Any]:
    import keras_tuner as kt

    trials = []
    for i, rate in enumerate(rates):
        hp = kt.HyperParameters()
        for name, value in dict(
            n_layers=1, units=16, optimizer="sgd", batch_size=32, epochs=3, learning_rate=rate
        ).items():
            hp.Fixed(name, value)
        trials.append(kt.engine.trial.Trial(hp, trial_id=str(i)))
    return trials


def test_survivors_go_on_in_the_smallest_power_of_two_stack_once_half_have_stopped():
    from tuner.execution.packed import shrunk_size

    assert [shrunk_size(live, 64) for live in (64, 33, 32, 17, 5, 2, 1)] == [
        64,
        64,
        32,
        32,
        8,
        2,
        1,
    ]
    assert shrunk_size(3, 6) == 4 and shrunk_size(4, 6) == 6


@pytest.mark.slow
def test_a_pruned_tower_leaves_the_other_towers_of_its_pack_bit_identical():
    import keras_tuner as kt
    import numpy as np

    from tuner.builders.mlp import MLPHyperModel
    from tuner.datasets import load_dataset
    from tuner.execution import PackedExecutor, TrialContext
    from tuner.execution.pipeline import InputPipeline

    dataset = load_dataset("digits", max_samples=100)
    hypermodel = MLPHyperModel.for_data(dataset.spec)
    rates = [0.05, 1e-5, 0.2, 1e-4]
    rule = PruningRule("asha", min_epochs=1, factor=2)  # rungs at epochs 1 and 2 of 3
    context = TrialContext(keep_all_weights=True)  # every tower's best weights come back

    def run(pruning: PruningRule | None) -> list[Any]:
        executor = PackedExecutor(
            hypermodel,
            InputPipeline(dataset),
            objective=kt.Objective("val_accuracy", "max"),
            seed=0,
            pruning=pruning,
        )
        return executor.run(_lr_trials(rates), context)

    full, shrunk = run(None), run(rule)
    frozen = run(dataclasses.replace(rule, shrink=False))  # stopped towers frozen in place
    assert [o.record.status for o in full] == [COMPLETED] * 4
    statuses = [o.record.status for o in frozen]
    assert PRUNED in statuses and COMPLETED in statuses
    assert [o.record.status for o in shrunk] == statuses
    for before, after, moved in zip(full, frozen, shrunk):
        b, a = before.record, after.record
        if a.status == COMPLETED:  # trained on as if no tower had stopped
            assert a.history == b.history and a.epochs_run == 3 and a.best_epoch == b.best_epoch
        else:  # its epochs up to the one it stopped at, as the run without pruning had them
            assert a.status == PRUNED and 1 <= a.epochs_run < 3
            assert a.history == {k: v[: a.epochs_run] for k, v in b.history.items()}
            assert a.score == max(a.history["val_accuracy"])
        # Moved into a smaller stack (the default), a survivor computes its first layer in a
        # matrix product of another width: the same to float rounding, as a trial in a pack of
        # another size does, not to the bit.
        assert moved.record.best_epoch == a.best_epoch
        assert moved.best_weights is not None and after.best_weights is not None
        for got, expected in zip(moved.best_weights, after.best_weights, strict=True):
            np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
        for name, values in a.history.items():
            np.testing.assert_allclose(moved.record.history[name], values, rtol=1e-5)


@pytest.mark.slow
def test_a_pruned_trial_is_saved_once_with_its_status_history_and_epochs(tmp_path):
    import pandas as pd

    from tuner import api

    found = api.search(
        Campaign(
            name="pruned",
            dataset="iris",
            results_dir=str(tmp_path / "results"),
            objective="val_accuracy",
            max_trials=5,
            epochs=3,
            seed=0,
            pack=1,
            space={"learning_rate": {"min": 1e-5, "max": 1e-1, "sampling": "log"}, "units": 8},
        ),
        pruning={"kind": "asha", "min_epochs": 1, "factor": 2},
    )
    statuses = [r.status for r in found.records]
    assert PRUNED in statuses and statuses[0] == COMPLETED  # the first trial is never pruned
    table = pd.read_csv(found.folder / "trials.csv")
    history = pd.read_csv(found.folder / "history.csv")
    assert sorted(table["trial_id"].astype(str)) == [str(i) for i in range(5)]
    for record in found.records:
        row = table[table["trial_id"].astype(str) == record.trial_id].iloc[0]
        assert row["status"] == record.status and row["epochs_run"] == record.epochs_run
        assert (history["trial_id"].astype(str) == record.trial_id).sum() == record.epochs_run
    # Each trial stopped exactly where the rule, given the trials saved before it, says so.
    rule = PruningRule("asha", min_epochs=1, factor=2)
    in_order = sorted(found.records, key=lambda r: int(r.trial_id))
    for i, record in enumerate(in_order):
        earlier = [r.history["val_accuracy"] for r in in_order[:i]]
        own = record.history["val_accuracy"]
        verdicts = [should_prune(rule, earlier, own[:e], "max", 3) for e in range(1, 4)]
        stopped_at = verdicts.index(True) + 1 if True in verdicts else None
        assert record.status == (PRUNED if stopped_at else COMPLETED), record.trial_id
        assert record.epochs_run == (stopped_at or 3), record.trial_id
    assert "pruned" in (found.folder / "summary.md").read_text()
