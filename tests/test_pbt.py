"""Population Based Training: the exploit and explore rules (no training), the exploit step of
the executor on real models (weights and optimizer state copied exactly), a whole campaign's
records, and a replayed schedule that reproduces its member's history."""

import json
import time
from pathlib import Path

import keras
import keras_tuner as kt
import numpy as np
import pytest

import tuner
from tuner.builders import resolve_builder
from tuner.datasets import dataset_from_arrays
from tuner.errors import ConfigError, Fatal
from tuner.execution.base import TrialContext
from tuner.execution.optimizer_state import optimizer_values
from tuner.execution.pbt import (
    PBTExecutor,
    Trainer,
    load_state,
    replay,
    snapshot,
    stitched_history,
)
from tuner.execution.pipeline import InputPipeline
from tuner.plan import make_plan
from tuner.strategies import get_strategy
from tuner.strategies.pbt import PBTSettings, choose_exploits, perturb, resolve


def space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    hp.Float("dropout", 0.0, 0.3, step=0.1)  # KerasTuner's stepped range that loses 0.3
    hp.Float("l2", 1e-8, 1e-4, sampling="log")
    hp.Int("units", 8, 64, step=8)
    hp.Choice("activation", ["relu", "tanh", "elu"])
    hp.Choice("rate", [0.1, 0.2, 0.4])
    hp.Fixed("epochs", 4)
    return hp


def settings(**overrides) -> PBTSettings:
    values = dict(population=4, ready=2, epochs=4, explore=("learning_rate", "dropout", "l2"))
    values.update(overrides)
    return PBTSettings(**values)


# --------------------------------------------------------------------------- explore


def test_every_perturbed_value_stays_inside_its_range_and_on_its_step():
    hp = space()
    rng = np.random.default_rng(0)
    explore = ("learning_rate", "dropout", "l2", "units", "activation", "rate")
    values = {"learning_rate": 1e-1, "dropout": 0.3, "l2": 1e-8, "units": 64,
              "activation": "relu", "rate": 0.4, "epochs": 4}  # fmt: skip
    seen_dropout = set()
    for _ in range(300):
        values = perturb(values, hp, settings(explore=explore), rng)
        assert 1e-4 <= values["learning_rate"] <= 1e-1
        assert 1e-8 <= values["l2"] <= 1e-4
        assert values["dropout"] in (0.0, 0.1, 0.2, 0.3)
        assert values["units"] in range(8, 65, 8) and isinstance(values["units"], int)
        assert values["activation"] in ("relu", "tanh", "elu")
        assert values["rate"] in (0.1, 0.2, 0.4)
        assert values["epochs"] == 4  # not explored
        seen_dropout.add(values["dropout"])
    assert 0.3 in seen_dropout  # the last step of the range is reached, never passed


def test_a_factor_that_would_leave_the_range_is_clipped_to_it():
    # Ray Tune multiplies without clipping: 0.3 * 1.2 = 0.36 dropout, 0.1 * 1.2 learning rate.
    hp = space()
    at_top = {"learning_rate": 1e-1, "dropout": 0.3, "l2": 1e-4}
    up = settings(resample_probability=0.0, perturb=(1.2, 1.2))
    assert perturb(at_top, hp, up, np.random.default_rng(0)) == at_top
    at_bottom = {"learning_rate": 1e-4, "dropout": 0.0, "l2": 1e-8}
    down = settings(resample_probability=0.0, perturb=(0.8, 0.8))
    assert perturb(at_bottom, hp, down, np.random.default_rng(0)) == at_bottom
    middle = perturb({"learning_rate": 1e-2}, hp, up, np.random.default_rng(0))
    assert middle["learning_rate"] == pytest.approx(1.2e-2)


def test_choices_move_to_a_neighbour():
    hp = space()
    rng = np.random.default_rng(1)
    explore = settings(explore=("activation",))
    assert perturb({"activation": "relu"}, hp, explore, rng)["activation"] == "tanh"
    assert perturb({"activation": "elu"}, hp, explore, rng)["activation"] == "tanh"
    moved = {perturb({"activation": "tanh"}, hp, explore, rng)["activation"] for _ in range(40)}
    assert moved == {"relu", "elu"}


# --------------------------------------------------------------------------- exploit


def test_the_bottom_quantile_copies_the_top_by_the_objectives_direction():
    scores = {"0": 0.9, "1": 0.2, "2": 0.5, "3": 0.7}
    rng = np.random.default_rng(0)
    assert choose_exploits(scores, scores, 0.25, "max", rng) == {"1": "0"}
    assert choose_exploits(scores, scores, 0.25, "min", rng) == {"0": "1"}
    assert choose_exploits(scores, scores, 0.5, "max", rng).keys() == {"1", "2"}


def test_a_member_without_saved_state_is_never_exploited():
    scores = {str(i): float(i) for i in range(8)}  # top quarter: 7 and 6
    rng = np.random.default_rng(0)
    for _ in range(50):
        pairs = choose_exploits(scores, ["6", "0", "1"], 0.25, "max", rng)
        assert set(pairs.values()) == {"6"}
    assert choose_exploits(scores, ["0", "1", "2"], 0.25, "max", rng) == {}
    # A member without a score (failed, diverged) is neither donor nor recipient.
    assert choose_exploits({"0": None, "1": 1.0, "2": float("nan")}, "012", 0.5, "max", rng) == {}


# --------------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"population": 1}, "population must be at least 2"),
        ({"ready": 0}, "ready must be at least 1"),
        ({"quantile": 0.75}, "quantile must be in (0, 0.5]"),
        ({"resample_probability": 1.5}, "resample_probability must be in [0, 1]"),
        ({"perturb": [0.8]}, "perturb must be two positive factors"),
        ({"perturb": [0.8, -1.2]}, "perturb must be two positive factors"),
        ({"explore": [3]}, "explore must be a list of hyperparameter names"),
        ({"populaton": 4}, "unknown key 'populaton'"),
        ({"ready": "5"}, "ready must be a number, but got str"),
    ],
)
def test_bad_options_are_refused(options, message):
    with pytest.raises(ConfigError) as error:
        get_strategy("pbt").check_options(options)
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("options", "max_trials", "message"),
    [
        ({"population": 8}, 4, "population must be at most max_trials (4)"),
        ({"ready": 4}, 10, "ready must be less than epochs (4)"),
        ({"explore": ["momentum"]}, 10, "explore names 'momentum', which is not in the space"),
        ({}, 1, "needs a population of at least 2"),
    ],
)
def test_options_that_cannot_work_with_the_campaign_are_refused(options, max_trials, message):
    with pytest.raises(ConfigError) as error:
        resolve(options, max_trials, 4, space())
    assert message in str(error.value)


def test_defaults_resolve_from_the_campaign():
    found = resolve({}, 100, 50, space())
    assert (found.population, found.ready, found.quantile) == (20, 5, 0.25)
    assert found.explore == ("learning_rate", "dropout", "l2", "rate")  # floats only
    assert resolve({}, 6, 50, space()).population == 6


def test_a_searched_epochs_is_refused():
    hp = kt.HyperParameters()
    hp.Int("epochs", 2, 8)
    with pytest.raises(ConfigError, match="fix epochs"):
        resolve({}, 10, 4, hp)


# --------------------------------------------------------------------------- training


def _digits(n: int = 80):
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return dataset_from_arrays(x[:n].astype("float32") / 16, y[:n], validation_split=0.25)


def build(hp: kt.HyperParameters) -> keras.Model:
    """A builder of the user's: learning rate in the optimizer, dropout and L2 in the layers."""
    l2 = hp.Float("l2", 1e-6, 1e-2, sampling="log")
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(l2)),
            keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5, step=0.1)),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("learning_rate", 1e-3, 1e-1, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


@pytest.mark.slow
def test_exploit_copies_weights_and_optimizer_state_exactly_and_keeps_its_own_values():
    hp = kt.HyperParameters()
    build(hp)
    hp.Fixed("epochs", 4)
    oracle = kt.oracles.RandomSearchOracle(objective=kt.Objective("val_accuracy", "max"),
                                           hyperparameters=hp, max_trials=4, seed=3)  # fmt: skip
    trials = []
    for i in range(4):
        values = oracle.populate_space(str(i))["values"]
        trial_hp = hp.copy()
        trial_hp.values.update(values)
        trials.append(kt.engine.trial.Trial(trial_hp, trial_id=str(i)))
    data = _digits()
    executor = PBTExecutor(
        resolve_builder(build, data.spec),
        InputPipeline(data),
        PBTSettings(
            population=4,
            ready=2,
            epochs=4,
            quantile=0.5,
            explore=("learning_rate", "dropout", "l2"),
        ),
        objective=kt.Objective("val_accuracy", "max"),
    )
    context = TrialContext()
    members = [executor._start(t, context) for t in trials]
    for member in members:
        executor._train(member, 0, (0, 2), context)
    ranked = sorted(members, key=lambda m: -m.last_score("val_accuracy"))
    ranked[0].state = None  # the best, as if it had no saved state: never a donor
    pairs = executor.exploit(members, 1, 2)
    assert pairs == {ranked[2].trial_id: ranked[1].trial_id, ranked[3].trial_id: ranked[1].trial_id}
    by_id = {m.trial_id: m for m in members}
    for recipient_id, donor_id in pairs.items():
        recipient, donor = by_id[recipient_id], by_id[donor_id]
        donor_weights, donor_optimizer = donor.state
        for mine, theirs in zip(recipient.model.get_weights(), donor_weights, strict=True):
            np.testing.assert_array_equal(mine, theirs)
        names = [v.name for v in recipient.model.optimizer.variables]
        mine_optimizer = optimizer_values(recipient.model)
        assert len(mine_optimizer) == len(donor_optimizer) > 2  # iterations, lr, Adam's slots
        for name, mine, theirs in zip(names, mine_optimizer, donor_optimizer, strict=True):
            if name != "learning_rate":
                np.testing.assert_array_equal(mine, theirs)
        # Its own, perturbed values are in its rebuilt model, not the donor's.
        optimizer = recipient.model.optimizer
        assert float(optimizer.learning_rate.numpy()) == pytest.approx(
            recipient.values["learning_rate"], rel=1e-6
        )
        assert recipient.values["learning_rate"] != donor.values["learning_rate"]
        regularizer = recipient.model.layers[0].kernel_regularizer
        assert regularizer.l2 == pytest.approx(recipient.values["l2"], rel=1e-6)
        assert recipient.model.layers[1].rate == pytest.approx(recipient.values["dropout"])
        assert recipient.lineage == [{"epoch": 2, "from": donor_id}]
        assert recipient.schedule == donor.schedule


def test_an_explored_value_that_changes_the_weights_shapes_stops_the_search():
    def model(units: int) -> keras.Model:
        made = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units)])
        made.compile(optimizer="sgd", loss="mse")
        return made

    with pytest.raises(Fatal, match="must keep the model's architecture"):
        load_state(model(8), snapshot(model(4)))


CAMPAIGN = """
name = "pbt"
dataset = "digits"
max_samples = 120
model = "mlp"
objective = "val_accuracy"
strategy = "pbt"
max_trials = 4
epochs = 4
seed = 0
[strategy_options]
population = 4
ready = 2
[space]
units = 16
n_layers = 1
optimizer = "adam"
batch_size = 32
learning_rate = { min = 1e-3, max = 1e-1, sampling = "log" }
dropout = { min = 0.0, max = 0.5, step = 0.1 }
"""


@pytest.mark.slow
def test_a_campaign_records_lineage_and_schedule_and_a_replay_reproduces_the_history(
    tmp_path: Path,
):
    path = tmp_path / "pbt.toml"
    path.write_text(CAMPAIGN)
    started = time.perf_counter()
    found = tuner.search(str(path), results_dir=str(tmp_path))
    wall = time.perf_counter() - started
    records = {r.trial_id: r for r in found.records}
    # Members train in turn: each is timed for its own building and training only.
    assert all(r.duration_s > 0 for r in records.values())
    assert sum(r.duration_s for r in records.values()) < wall
    assert len(records) == 4 and all(r.completed and r.epochs_run == 4 for r in records.values())
    copied = [r for r in records.values() if r.lineage]
    assert len(copied) == 1  # population 4, quantile 0.25, one exploit step
    member = copied[0]
    (step,) = member.lineage
    assert step["epoch"] == 2 and step["from"] != member.trial_id
    first, second = member.schedule
    assert (first["start_epoch"], first["end_epoch"], first["member"]) == (0, 2, step["from"])
    assert (second["start_epoch"], second["end_epoch"], second["member"]) == (
        2, 4, member.trial_id)  # fmt: skip
    assert member.hyperparameters == second["values"]
    for values in (first["values"], second["values"]):
        assert 1e-3 <= values["learning_rate"] <= 1e-1
        assert values["dropout"] in (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)
    # Records are read back from the folder with the same lineage and schedule.
    reopened = {r.trial_id: r for r in tuner.load_results(found.folder).records}
    assert reopened[member.trial_id].schedule == member.schedule
    assert reopened[member.trial_id].lineage == member.lineage

    replayed = tuner.replay_pbt(found.folder, member.trial_id)
    expected = stitched_history(found.records, member.schedule)
    assert replayed.history == expected  # bit for bit on CPU
    # The last epochs are the member's own.
    assert replayed.history["val_loss"][2:] == member.history["val_loss"][2:]
    # The MLP's members share one compiled model, their state copied in and out: training each
    # on its own model computes the same.
    plan = make_plan(found.campaign)
    alone = Trainer(plan.hypermodel, InputPipeline(plan.dataset), seed=found.campaign.seed)
    alone.reuse = False
    space = kt.HyperParameters.from_config(
        json.loads((found.folder / "search_space.json").read_text())
    )
    settings = plan.pbt_settings(plan.entries)
    again = replay(alone, space, member, settings, kt.Objective("val_accuracy", "max"))
    for name, values in expected.items():
        np.testing.assert_allclose(again.history[name], values, rtol=1e-5, err_msg=name)


def test_early_stopping_is_refused_before_anything_is_written(tmp_path: Path):
    path = tmp_path / "pbt.toml"
    path.write_text(CAMPAIGN)
    with pytest.raises(ConfigError, match="early_stopping does not apply to strategy 'pbt'"):
        tuner.search(str(path), results_dir=str(tmp_path), early_stopping={"patience": 2})
    assert not (tmp_path / "pbt").exists()


def test_workers_are_refused_before_anything_is_written(tmp_path: Path):
    path = tmp_path / "pbt.toml"
    path.write_text(CAMPAIGN)
    with pytest.raises(ConfigError, match="whole population in one process"):
        tuner.search(str(path), results_dir=str(tmp_path), workers=2)
    assert not (tmp_path / "pbt").exists()
