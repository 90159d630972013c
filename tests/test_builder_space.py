"""The builder is the search space: what a KerasTuner user's builder declares is what is searched.

Issue 20, items 1-4: declared hyperparameters searched with no ``space``; conditional ones found
and searched only where their parent allows them; those a ``HyperModel.fit`` declares; and a
campaign that runs fewer trials than asked says why.
"""

from __future__ import annotations

import json
import textwrap

import keras_tuner as kt
import pandas as pd
import pytest
from sklearn.datasets import load_digits

from tests.campaigns import write_campaign
from tuner import api, cli
from tuner.builder_space import active_values, explore
from tuner.builders import resolve_builder
from tuner.datasets import DataSpec
from tuner.errors import ConfigError
from tuner.space import compose_space, distinct_configurations, space_labelled

# The builder of the issue, as a KerasTuner user writes it.
USER_BUILDERS = textwrap.dedent("""
    import keras
    import keras_tuner as kt

    def build(hp):
        model = keras.Sequential([
            keras.Input((64,)),
            keras.layers.Dense(hp.Int("units", 16, 128, step=16),
                               activation=hp.Choice("activation", ["relu", "tanh"]))])
        if hp.Boolean("dropout"):
            model.add(keras.layers.Dropout(hp.Float("rate", 0.1, 0.5, step=0.1)))
        model.add(keras.layers.Dense(10, activation="softmax"))
        model.compile(optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-4, 1e-2, sampling="log")),
                      loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model

    def layered(hp):
        model = keras.Sequential([keras.Input((64,))])
        for i in range(hp.Int("layers", 1, 3)):
            model.add(keras.layers.Dense(hp.Int(f"units_{i}", 8, 32, step=8), activation="relu"))
        model.add(keras.layers.Dense(10, activation="softmax"))
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model

    class FitTuned(kt.HyperModel):
        # KerasTuner's guide: tune preprocessing and shuffling in fit.
        def build(self, hp):
            return build(hp)

        def fit(self, hp, model, x, y, **kwargs):
            if hp.Boolean("normalize"):
                x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-6)
            return model.fit(x, y, shuffle=hp.Boolean("shuffle"), **kwargs)

    def two_configurations(hp):
        model = keras.Sequential([keras.Input((64,)),
                                  keras.layers.Dense(hp.Choice("units", [4, 8])),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                      metrics=["accuracy"])
        return model
""")
SPEC = DataSpec("multiclass", (64,), 10)


@pytest.fixture
def builders(tmp_path, monkeypatch):
    """The user's module, importable as ``userbuilders``."""
    (tmp_path / "userbuilders.py").write_text(USER_BUILDERS)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import importlib
    import sys

    sys.modules.pop("userbuilders", None)
    yield importlib.import_module("userbuilders")
    sys.modules.pop("userbuilders", None)


@pytest.fixture(scope="module")
def digits():
    x, y = load_digits(return_X_y=True)
    return (x[:240] / 16).astype("float32"), y[:240]


def _conditions(space: kt.HyperParameters) -> dict[str, list[tuple[str, list]]]:
    return {h.name: [(c.name, c.values) for c in h.conditions] for h in space.space}


# --------------------------------------------------------------------------- exploring a builder


def test_exploring_finds_a_conditional_hyperparameter_and_its_condition(builders):
    space = explore(resolve_builder(builders.build, SPEC))
    assert _conditions(space) == {
        "units": [],
        "activation": [],
        "dropout": [],
        "rate": [("dropout", [True])],
        "lr": [],
    }


def test_exploring_finds_what_a_loop_declares_and_for_which_counts(builders):
    names = [h.name for h in explore(resolve_builder(builders.layered, SPEC)).space]
    assert names == ["layers", "units_0", "units_1", "units_2"]
    conditions = _conditions(explore(resolve_builder(builders.layered, SPEC)))
    assert conditions["units_1"] == [("layers", [2, 3])]
    assert conditions["units_2"] == [("layers", [3])]


def test_exploring_finds_what_a_hypermodels_fit_declares(builders, digits):
    from tuner.builder_space import fit_probe

    x, y = digits
    hypermodel = builders.FitTuned()
    space = explore(hypermodel, probe_fit=fit_probe(hypermodel, x, y, x, y))
    assert {"normalize", "shuffle"} <= {h.name for h in space.space}


# --------------------------------------------------------------------------- composing the space


def _declared(builders) -> kt.HyperParameters:
    return explore(resolve_builder(builders.build, SPEC))


def test_the_space_narrows_fixes_and_keeps_conditions(builders):
    space = compose_space(
        {"units": [16, 32], "activation": "tanh", "rate": {"min": 0.2, "max": 0.4, "step": 0.1}},
        _declared(builders),
        tune_declared=True,
        epochs=3,
    )
    by_name = {h.name: h for h in space.space}
    assert list(by_name["units"].values) == [16, 32]
    assert isinstance(by_name["activation"], kt.engine.hyperparameters.Fixed)
    assert by_name["rate"].min_value == 0.2
    assert [(c.name, c.values) for c in by_name["rate"].conditions] == [("dropout", [True])]
    assert isinstance(by_name["lr"], kt.engine.hyperparameters.Float)  # declared: searched
    assert by_name["epochs"].value == 3


def test_tune_new_entries_false_searches_only_the_entries(builders):
    space = compose_space(
        {"units": [16, 32], "dropout": [True, False]},
        _declared(builders),
        tune_declared=False,
        epochs=3,
    )
    assert [h.name for h in space.space] == ["units", "dropout", "epochs"]


def test_an_entry_its_parent_never_enables_is_refused(builders):
    with pytest.raises(ConfigError, match=r"\[space\] rate: used only when dropout is one of"):
        compose_space({"rate": [0.1, 0.2]}, _declared(builders), tune_declared=False, epochs=3)


def test_distinct_configurations_count_a_conditional_entry_only_where_it_is_active(builders):
    space = compose_space(
        {"lr": 1e-3, "units": [16, 32]}, _declared(builders), tune_declared=True, epochs=3
    )
    # units 2 x activation 2 x (dropout off + dropout on x 5 rates)
    assert distinct_configurations(space) == 2 * 2 * (1 + 5)
    assert distinct_configurations(_declared(builders)) is None  # lr is continuous


def test_a_trials_values_keep_only_what_its_conditions_enable(builders):
    space = _declared(builders)
    assert active_values(space, {"dropout": False, "rate": 0.3, "units": 16}) == {
        "dropout": False,
        "units": 16,
    }
    assert active_values(space, {"dropout": True, "rate": 0.3}) == {"dropout": True, "rate": 0.3}


def test_python_errors_name_the_space_argument(builders):
    with space_labelled("space="), pytest.raises(ConfigError, match=r'^space\["units"\]: `min'):
        compose_space(
            {"units": {"min": 10, "max": 5}}, _declared(builders), tune_declared=True, epochs=1
        )


# --------------------------------------------------------------------------- searching it


def _assert_searched_as_declared(table: pd.DataFrame, trials: int | None = None) -> None:
    if trials is not None:
        assert len(table) == trials
    for name in ("units", "activation", "dropout", "lr"):
        assert table[name].nunique() > 1, name
    with_dropout = table[table["dropout"].astype(bool)]
    assert table.loc[~table["dropout"].astype(bool), "rate"].isna().all()
    if len(with_dropout) > 1:
        assert with_dropout["rate"].notna().all()


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["random", "bayesian", "hyperband"])
def test_a_users_builder_with_no_space_is_searched_as_declared(builders, digits, strategy):
    x, y = digits
    options = (
        {"strategy_options": {"max_epochs": 3, "factor": 3}} if strategy == "hyperband" else {}
    )
    found = api.search(
        builders.build,
        x,
        y,
        name=f"study_{strategy}",
        max_trials=8,
        epochs=1 if strategy != "hyperband" else 3,
        strategy=strategy,
        objective="val_accuracy",
        **options,
    )
    if strategy == "hyperband":  # its brackets decide the trials; the values vary all the same
        assert len(found.table) >= 6
        _assert_searched_as_declared(found.table)
    else:
        _assert_searched_as_declared(found.table, 8)
        values = [tuple(sorted(r.hyperparameters.items())) for r in found.records]
        assert len(set(values)) == 8  # distinct trials
    assert found.stop_reason is not None


@pytest.mark.slow
def test_a_campaign_file_with_no_space_searches_the_builder(builders, tmp_path):
    path = write_campaign(
        tmp_path,
        model="userbuilders:build",
        dataset="digits",
        max_samples=240,
        objective="val_accuracy",
        max_trials=6,
        epochs=1,
        space={},
    )
    assert cli.main(["search", str(path), "--quiet"]) == 0
    _assert_searched_as_declared(pd.read_csv(tmp_path / "results" / "tiny" / "trials.csv"), 6)


@pytest.mark.slow
def test_what_a_hypermodels_fit_declares_is_searched_and_may_be_named(builders, digits):
    x, y = digits
    found = api.search(
        builders.FitTuned(),
        x,
        y,
        name="fit_tuned",
        max_trials=6,
        epochs=1,
        seed=4,  # KerasTuner draws each value from Random(seed + counter): some seeds repeat one
        space={"units": 16, "activation": "relu", "dropout": False, "shuffle": [True, False]},
    )
    space = json.loads((found.folder / "search_space.json").read_text())
    kinds = {h["config"]["name"]: h["class_name"] for h in space["space"]}
    assert kinds["shuffle"] == kinds["normalize"] == "Boolean"
    assert set(found.table["shuffle"]) == {True, False}
    assert set(found.table["normalize"]) == {True, False}


@pytest.mark.slow
def test_fewer_trials_than_asked_says_why_everywhere(builders, digits):
    x, y = digits
    lines: list[str] = []
    found = api.search(
        builders.two_configurations,
        x,
        y,
        name="two",
        max_trials=6,
        epochs=1,
        quiet=False,
        print_line=lines.append,
    )
    assert len(found.table) == 2
    assert (
        "trials: 2 (the space holds 2 distinct configurations; max_trials = 6 asks for more)"
        in (lines)
    )
    reason = "stopped after 2 trials: the space holds 2 distinct configurations, every one tried"
    assert found.stop_reason is not None and found.stop_reason.startswith(reason)
    assert reason in lines[-1]
    assert reason in (found.folder / "summary.md").read_text()


def test_the_bundled_mlp_searches_its_curated_space_when_none_is_given():
    from tuner.builders.mlp import MLPHyperModel
    from tuner.campaign import Campaign
    from tuner.plan import make_plan

    plan = make_plan(Campaign(name="c", dataset="iris", max_samples=60, max_trials=3))
    assert isinstance(plan.hypermodel, MLPHyperModel)
    assert set(plan.tuned) == set(MLPHyperModel.default_space)
    with_space = make_plan(
        Campaign(name="c", dataset="iris", max_samples=60, space={"units": [8, 16]})
    )
    assert with_space.tuned == ["units"]
