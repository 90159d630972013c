"""Several objectives: their validation, the Pareto front, the table's ``pareto`` column and
ranking, TPE's multi-objective study, and the strategies that refuse several."""

import math

import pandas as pd
import pytest
from keras_tuner.engine import trial as trial_module
from optuna.trial import TrialState

from tests.campaigns import write_campaign
from tests.test_strategy_contract import branin, space
from tuner import cli
from tuner.campaign import Campaign, infer_direction
from tuner.campaign_objective import CampaignObjective
from tuner.errors import ConfigError
from tuner.objectives import resolve, told, values
from tuner.results import PARETO, pareto_front, pareto_mask, ranked_table
from tuner.store import MemoryStore
from tuner.store.engine_kt import set_project_dir
from tuner.strategies import create_oracle, end_trial
from tuner.trial import TrialRecord

# --------------------------------------------------------------------------- the front


def test_a_point_beaten_in_every_objective_is_off_the_front_and_ties_stay_on():
    points = [[0.9, 100], [0.9, 100], [0.8, 50], [0.8, 60], [0.7, 200], None, [0.95, 300]]
    assert pareto_mask(points, ["max", "min"]) == [True, True, True, False, False, False, True]


def test_the_directions_decide_the_front():
    points = [[1.0, 1.0], [2.0, 2.0], [1.0, 2.0]]
    assert pareto_mask(points, ["min", "min"]) == [True, False, False]
    assert pareto_mask(points, ["max", "max"]) == [False, True, False]
    assert pareto_mask(points, ["min", "max"]) == [False, False, True]
    assert pareto_mask(points, ["max", "min"]) == [True, True, False]


def test_equal_in_one_objective_and_worse_in_the_other_is_dominated():
    assert pareto_mask([[3.0, 1.0], [3.0, 2.0], [3.0, 1.0]], ["min", "min"]) == [
        True,
        False,
        True,
    ]
    assert pareto_mask([None, None], ["min", "min"]) == [False, False]
    assert pareto_mask([], ["min", "min"]) == []


def record(trial_id, accuracy, n_params, *, status="completed", latency=None):
    return TrialRecord(
        trial_id=trial_id,
        status=status,
        hyperparameters={"units": n_params // 10},
        history={"val_accuracy": [accuracy / 2, accuracy], "val_loss": [1.0, 1 - accuracy]},
        score=accuracy if status == "completed" else None,
        best_epoch=2 if status == "completed" else None,
        epochs_run=2,
        n_params=n_params,
        latency_ms=latency,
    )


SPEC = (("val_accuracy", "max"), ("n_params", "min"))


def test_the_table_marks_the_front_ranks_it_first_and_never_a_failed_trial():
    records = [
        record("0", 0.90, 500),
        record("1", 0.80, 100),
        record("2", 0.85, 600),  # beaten by 0 in both
        record("3", 0.99, 50, status="failed"),  # would beat every one: failed, never on it
        record("4", 0.70, 100),  # equal n_params to 1, less accurate
        record("5", 0.95, 900, latency=0.25),
    ]
    table = ranked_table(records, objective="val_accuracy", direction="max", objectives=SPEC)
    assert list(table.columns[:6]) == ["rank", "trial_id", "status", "score", PARETO, "best_epoch"]
    assert list(table["trial_id"]) == ["5", "0", "1", "2", "4", "3"]
    assert list(table[PARETO]) == [True, True, True, False, False, False]
    assert list(table["rank"].iloc[:5]) == [1, 2, 3, 4, 5] and pd.isna(table["rank"].iloc[5])
    assert table["latency_ms"].iloc[0] == 0.25 and math.isnan(table["latency_ms"].iloc[1])
    assert list(pareto_front(table)["trial_id"]) == ["5", "0", "1"]
    # One objective: no column; the front is the best trial and those tying it.
    single = ranked_table(records, objective="val_accuracy", direction="max")
    assert PARETO not in single.columns and list(single["trial_id"][:2]) == ["5", "0"]
    assert list(pareto_front(single)["trial_id"]) == ["5"]


def test_the_store_ranks_and_tells_every_objective_never_their_sum():
    store = MemoryStore(CampaignObjective(SPEC))
    for r in [record("0", 0.90, 500), record("1", 0.80, 100), record("2", 0.85, 600)]:
        store._records[r.trial_id] = r
    assert [r.trial_id for r in store.ranked()] == ["0", "1", "2"]
    assert store.entry_score() is None  # any trial may join the front: its weights are kept
    assert store.oracle_metrics(store._records["1"]) == {"val_accuracy": 0.8, "n_params": 100.0}
    # KerasTuner sees one objective: the first, never a MultiObjective summing them.
    assert type(store.objective.name) is str and store.objective.name == "val_accuracy"
    assert values(record("9", 0.5, 10, status="failed"), SPEC) is None
    assert told(record("9", 0.5, 10), SPEC) == {"val_accuracy": 0.5, "n_params": 10.0}


# --------------------------------------------------------------------------- validation


def test_directions_are_inferred_or_given():
    assert resolve(["val_accuracy", "n_params", "latency_ms"], None, infer_direction) == (
        ("val_accuracy", "max"),
        ("n_params", "min"),
        ("latency_ms", "min"),
    )
    assert resolve(["val_loss", "depth"], ["min", "max"], infer_direction) == (
        ("val_loss", "min"),
        ("depth", "max"),
    )
    campaign = Campaign(name="c", dataset="iris", objective=["val_accuracy", "duration_s"])
    assert campaign.direction == ["max", "min"] and campaign.multi_objective
    assert campaign.objectives == (("val_accuracy", "max"), ("duration_s", "min"))
    assert Campaign.replace(campaign, objective="val_loss").direction == "min"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"objective": ["val_accuracy"]}, "a list of two or more.*objective = 'val_accuracy'"),
        ({"objective": []}, "a list of two or more, but got \\[\\]"),
        ({"objective": ["val_loss", "val_loss"]}, "each metric once.*val_loss repeated"),
        ({"objective": ["val_loss", "n_parms"]}, "did you mean 'n_params'"),
        ({"objective": ["val_loss", 3]}, "entries must be metric names, but got 3"),
        ({"objective": ["val_loss", "n_params"], "direction": ["min"]}, "a list of 2"),
        ({"objective": ["val_loss", "n_params"], "direction": "min"}, "a list of 2"),
        ({"objective": ["val_loss", "n_params"], "direction": ["min", "up"]}, "but got 'up'"),
        ({"objective": "val_loss", "direction": ["min"]}, "for one objective"),
        ({"objective": ["n_params", "val_loss"]}, "first objective must be a metric the model"),
        ({"objective": "latency_ms"}, "but got cost metric 'latency_ms'"),
        (
            {"objective": ["val_loss", "val_mae"], "space": {"loss": ["mse", "mae"]}},
            "compares different units",
        ),
        (
            {"objective": ["val_loss", "n_params"], "strategy": "bayesian"},
            "strategy 'bayesian' optimises one objective.*use strategy = 'tpe' or 'auto' or 'random'",
        ),
        (
            {"objective": ["val_loss", "n_params"], "strategy": "hyperband"},
            "strategy 'hyperband' optimises one objective",
        ),
    ],
)
def test_bad_objectives_are_refused_before_anything_runs(fields, message):
    with pytest.raises(ConfigError, match=message):
        Campaign(name="c", dataset="iris", **fields)


@pytest.mark.parametrize("strategy", ["bayesian", "hyperband"])
def test_the_command_line_refuses_a_strategy_of_one_objective_with_exit_2(
    tmp_path, capsys, strategy
):
    path = write_campaign(tmp_path, objective=["val_accuracy", "n_params"], strategy=strategy)
    assert cli.main(["search", str(path)]) == 2
    error = capsys.readouterr().err
    assert f"strategy {strategy!r} optimises one objective" in error and "'tpe'" in error
    assert not (tmp_path / "results").exists()  # refused before anything was written


def test_create_oracle_refuses_several_objectives_for_a_strategy_of_one():
    with pytest.raises(ConfigError, match="strategy 'bayesian' optimises one objective"):
        create_oracle(
            "bayesian",
            objective=CampaignObjective(SPEC),
            hyperparameters=space("bayesian"),
            max_trials=3,
            objectives=SPEC,
        )


# --------------------------------------------------------------------------- TPE


TWO = (("score", "min"), ("size", "min"))


def tpe_oracle(folder, max_trials=10):
    oracle = create_oracle(
        "tpe",
        objective=CampaignObjective(TWO),
        hyperparameters=space("tpe"),
        max_trials=max_trials,
        seed=3,
        options={"initial_points": 3},
        objectives=TWO,
    )
    set_project_dir(oracle, folder, "engine")
    return oracle


def run_two(oracle, stop_after=None):
    """Trials until the oracle stops: each told its Branin score and its size (units)."""
    ran = []
    while stop_after is None or len(ran) < stop_after:
        trial = oracle.create_trial("chief")
        if trial.status != trial_module.TrialStatus.RUNNING:
            break
        values = dict(trial.hyperparameters.values)
        oracle.update_trial(trial.trial_id, {"score": branin(values), "size": values["units"]})
        trial.status = trial_module.TrialStatus.COMPLETED
        end_trial(oracle, trial)
        ran.append(values)
    return ran


def test_tpe_studies_every_objective_and_resumes_exactly(tmp_path):
    whole = run_two(tpe_oracle(tmp_path / "whole"))
    assert len(whole) == 10
    study = tpe_oracle(tmp_path / "whole")
    study.reload()
    optuna_study = study._study()
    assert [d.name for d in optuna_study.directions] == ["MINIMIZE", "MINIMIZE"]
    told_values = [t.values for t in optuna_study.trials if t.state == TrialState.COMPLETE]
    assert told_values == [[branin(v), float(v["units"])] for v in whole]  # a tuple, not a sum
    # Stopped after 6 trials and resumed: the same 10 proposals as without a stop.
    first = run_two(tpe_oracle(tmp_path / "cut"), stop_after=6)
    resumed = tpe_oracle(tmp_path / "cut")
    resumed.reload()
    assert first + run_two(resumed) == whole


def test_tpe_counts_a_trial_missing_an_objective_as_failed(tmp_path):
    oracle = tpe_oracle(tmp_path, max_trials=2)
    trial = oracle.create_trial("chief")
    oracle.update_trial(trial.trial_id, {"score": 1.0})  # no "size"
    trial.status = trial_module.TrialStatus.COMPLETED
    end_trial(oracle, trial)
    assert [t.state for t in oracle._study().trials] == [TrialState.FAIL]


# --------------------------------------------------------------------------- a campaign


@pytest.mark.slow
def test_a_two_objective_campaign_marks_the_brute_force_front(tmp_path):
    """Six random trials of the MLP on 60 iris samples, two epochs: the table's pareto column
    is the front computed here from the table's own values; every trial records its cost."""
    import tuner

    found = tuner.search(
        Campaign(
            name="front",
            dataset="iris",
            max_samples=60,
            results_dir=str(tmp_path),
            objective=["val_accuracy", "n_params"],
            strategy="random",
            max_trials=6,
            epochs=2,
            keep_top=6,
            # Two widths, so that trials of one width train packed (latency timed per pack).
            space={
                "units": [8, 32],
                "learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log"},
            },
        )
    )
    table = found.table
    done = table[table["status"] == "completed"]
    assert len(done) == 6
    brute = [
        not any(
            o["val_accuracy"] >= t["val_accuracy"]
            and o["n_params"] <= t["n_params"]
            and (o["val_accuracy"] > t["val_accuracy"] or o["n_params"] < t["n_params"])
            for _, o in done.iterrows()
        )
        for _, t in done.iterrows()
    ]
    assert list(done[PARETO]) == brute and any(brute)
    assert list(done["score"]) == list(done["val_accuracy"])
    # The front first, each part by accuracy; pareto_front() is those rows.
    on = list(done[PARETO])
    assert on == sorted(on, reverse=True)
    assert list(found.pareto_front()["trial_id"]) == list(done[done[PARETO]]["trial_id"])
    # Cost metrics: parameters as Keras counts them, seconds and milliseconds measured.
    models = found.best_models(6)
    assert [m.count_params() for m in models] == list(done["n_params"])
    assert (done["duration_s"] > 0).all()
    assert ((done["latency_ms"] > 0) & (done["latency_ms"] < 1000)).all()
    saved = pd.read_csv(found.folder / "trials.csv")
    assert list(saved[PARETO]) == list(table[PARETO])
    assert "## Pareto front" in (found.folder / "summary.md").read_text()
    reopened = tuner.load_results(found.folder)
    assert list(reopened.pareto_front()["trial_id"]) == list(found.pareto_front()["trial_id"])
    from tuner.report import write_report

    write_report(found.folder)
    assert (found.folder / "pareto_front.png").is_file()
    assert "Pareto front" in (found.folder / "report.html").read_text()


def test_a_replayed_engine_tells_tpe_every_objective_from_the_records(tmp_path):
    """The engine rebuilt from records (a damaged state) gives TPE the same tuples."""
    from tuner.store.engine_kt import replay

    oracle = create_oracle(
        "tpe",
        objective=CampaignObjective(SPEC),
        hyperparameters=space("tpe"),
        max_trials=5,
        objectives=SPEC,
    )
    set_project_dir(oracle, tmp_path, "engine")
    records = [record("0", 0.9, 500), record("1", 0.8, 100, status="failed")]
    for r in records:
        r.hyperparameters = {"learning_rate": 0.01, "units": 32, "optimizer": "adam"}
    replay(oracle, records)
    study = oracle._study()
    assert [t.state for t in study.trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert study.trials[0].values == [0.9, 500.0]


def test_latency_is_a_median_per_sample_and_none_when_the_model_cannot_predict():
    import keras
    import numpy as np

    from tuner.execution.latency import latency_ms

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    batch = np.zeros((8, 4), "float32")
    measured = latency_ms(model, batch, repeats=3)
    assert measured is not None and 0 < measured < 1000
    assert latency_ms(model, np.zeros((8, 5), "float32")) is None  # wrong input: no latency
    assert latency_ms(model, None) is None and latency_ms(model, batch[:0]) is None
