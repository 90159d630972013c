"""tuner.sklearn: the MLP estimators and `wrap` hold scikit-learn's estimator contract, and
work in pipelines, GridSearchCV, RandomizedSearchCV (n_jobs=2) and scikit-optimize's
BayesSearchCV. Tiny data, one epoch, tiny layers: the checks train many models."""

from __future__ import annotations

import inspect
import pickle

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV, RandomizedSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from tuner.builders.mlp import MLPHyperModel
from tuner.datasets import MULTICLASS, REGRESSION
from tuner.errors import ConfigError
from tuner.sklearn import MLPClassifier, MLPRegressor, wrap
from tuner.space import declared_hyperparameters

TINY = {"epochs": 1, "units": 4, "n_layers": 1, "random_state": 0}
# Checks the estimators are expected to fail, with why: none (scikit-learn 1.9.1). Three are
# skipped by scikit-learn itself: check_array_api_input for both (it runs only with
# SCIPY_ARRAY_API=1; these estimators take NumPy arrays and frames) and
# check_classifiers_multilabel_output_format_decision_function (no decision_function: the
# models output probabilities, which predict_proba returns).
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {"MLPClassifier": {}, "MLPRegressor": {}}


def _iris(n_per_class: int = 10) -> tuple[np.ndarray, np.ndarray]:
    x, y = load_iris(return_X_y=True)
    rows = np.concatenate([np.flatnonzero(y == c)[:n_per_class] for c in range(3)])
    return x[rows].astype("float32"), y[rows]


@pytest.mark.slow
@parametrize_with_checks(
    [MLPClassifier(**TINY), MLPRegressor(**TINY)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS[type(estimator).__name__],
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_parameters_are_the_builders_hyperparameters_with_its_defaults():
    for estimator, task in ((MLPClassifier(), MULTICLASS), (MLPRegressor(), REGRESSION)):
        declared = declared_hyperparameters(MLPHyperModel(task, (4,), 3))
        defaults = {h.name: h.default for h in declared.space if h.name != "per_layer_units"}
        assert estimator.get_params() == {**defaults, "verbose": 0, "random_state": None}
    assert "loss" in MLPRegressor().get_params() and "loss" not in MLPClassifier().get_params()
    assert MLPClassifier().get_params()["units"] == 64  # the builder's default, as documented


def test_constructor_only_stores_and_refuses_a_misspelt_parameter():
    estimator = MLPClassifier(units=np.int64(8), learning_rate=0.5)
    assert estimator.units == 8 and estimator.learning_rate == 0.5
    assert not hasattr(estimator, "model_")
    with pytest.raises(TypeError, match="unit"):
        MLPClassifier(unit=8)
    assert estimator.set_params(dropout=0.3).dropout == 0.3


@pytest.mark.slow
def test_estimator_builds_the_model_the_builder_builds():
    x, y = _iris()
    values = {"n_layers": 3, "units": 8, "dropout": 0.25, "optimizer": "sgd", "learning_rate": 0.05}
    fitted = MLPClassifier(**values, epochs=1).fit(x, y)
    hp = kt.HyperParameters()
    hp.values.update(values)
    built = MLPHyperModel(MULTICLASS, (4,), 3).build(hp)

    def layout(model: keras.Model) -> list[tuple[str, object]]:
        return [
            (type(layer).__name__, getattr(layer, "units", getattr(layer, "rate", None)))
            for layer in model.layers
        ]

    assert layout(fitted.model_) == layout(built)
    assert [u for kind, u in layout(built) if kind == "Dense"] == [8, 8, 8, 3]
    assert type(fitted.model_.optimizer) is keras.optimizers.SGD
    assert float(fitted.model_.optimizer.learning_rate) == pytest.approx(0.05)
    assert fitted.model_.loss == "sparse_categorical_crossentropy"


@pytest.mark.slow
def test_clone_of_a_fitted_estimator_is_unfitted_with_equal_parameters():
    x, y = _iris()
    fitted = MLPClassifier(**TINY, dropout=0.1).fit(x, y)
    copy = clone(fitted)
    assert type(copy) is MLPClassifier
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "model_") and not hasattr(copy, "classes_")


@pytest.mark.slow
def test_fitted_estimator_pickles_and_predicts_the_same():
    x, y = _iris()
    fitted = MLPClassifier(**TINY).fit(x, y)
    restored = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored.predict_proba(x), fitted.predict_proba(x))
    np.testing.assert_array_equal(restored.predict(x), fitted.predict(x))
    assert restored.get_params() == fitted.get_params()
    assert restored.history_ == fitted.history_ and len(restored.history_["loss"]) == 1


@pytest.mark.slow
def test_same_random_state_same_model_another_state_another():
    x, y = _iris()
    first = MLPClassifier(**TINY).fit(x, y).predict_proba(x)
    again = MLPClassifier(**TINY).fit(x, y).predict_proba(x)
    other = MLPClassifier(**{**TINY, "random_state": 1}).fit(x, y).predict_proba(x)
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)


@pytest.mark.slow
def test_string_labels_are_kept_for_binary_and_multiclass():
    x, y = _iris()
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    fitted = MLPClassifier(**TINY).fit(x, names)
    assert list(fitted.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(fitted.predict(x)) <= set(names) and fitted.predict_proba(x).shape == (30, 3)
    binary = np.where(y == 0, "yes", "no")
    fitted = MLPClassifier(**TINY).fit(x, binary)
    assert list(fitted.classes_) == ["no", "yes"]
    proba = fitted.predict_proba(x)
    assert proba.shape == (30, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(fitted.predict(x), fitted.classes_[proba.argmax(axis=1)])
    assert fitted.model_.layers[-1].units == 1  # one sigmoid unit, as the builder's table says


@pytest.mark.slow
def test_task_is_read_from_y_multilabel_and_multi_output_regression():
    x, y = _iris()
    labels = np.stack([y == 0, y == 1, y >= 1], axis=1).astype(int)
    multilabel = MLPClassifier(**TINY).fit(x, labels)
    assert multilabel.predict(x).shape == (30, 3)
    assert set(np.unique(multilabel.predict(x))) <= {0, 1}
    assert multilabel.predict_proba(x).shape == (30, 3) and list(multilabel.classes_) == [0, 1, 2]
    assert multilabel.model_.loss == "binary_crossentropy"
    two = MLPRegressor(**TINY, loss="mae").fit(x, x[:, :2])
    assert two.predict(x).shape == (30, 2) and two.model_.loss == "mae"
    one = MLPRegressor(**TINY).fit(x, x[:, 0])
    assert one.predict(x).shape == (30,)
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier(**TINY).fit(x, x[:, 0] + 0.5)


@pytest.mark.slow
def test_feature_names_are_kept_from_a_frame():
    x, y = _iris()
    frame = pd.DataFrame(x, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    fitted = MLPClassifier(**TINY).fit(frame, y)
    assert list(fitted.feature_names_in_) == list(frame.columns) and fitted.n_features_in_ == 4
    with pytest.raises(ValueError, match="feature names"):
        fitted.predict(frame[frame.columns[::-1]])


def _check_best(search, x: np.ndarray, y: np.ndarray) -> None:
    predicted = search.best_estimator_.predict(x)
    assert predicted.shape == (len(x),) and set(predicted) <= {0, 1, 2}
    assert search.best_estimator_.predict_proba(x).shape == (len(x), 3)
    assert np.isfinite(search.best_score_)


@pytest.mark.slow
def test_grid_search_over_a_pipeline_with_a_scaler():
    x, y = _iris()
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(**TINY))
    grid = {"mlpclassifier__units": [4, 8], "mlpclassifier__learning_rate": [0.01, 0.1]}
    search = GridSearchCV(pipeline, grid, cv=2).fit(x, y)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["mlpclassifier__units"] in (4, 8)
    assert isinstance(search.best_estimator_[0], StandardScaler)
    _check_best(search, x, y)


@pytest.mark.slow
def test_randomized_search_on_two_processes():
    from scipy.stats import loguniform

    x, y = _iris()
    space = {"learning_rate": loguniform(1e-3, 1e-1), "units": [4, 8]}
    search = RandomizedSearchCV(
        MLPClassifier(**TINY), space, n_iter=2, cv=2, n_jobs=2, random_state=0
    ).fit(x, y)
    assert len(search.cv_results_["params"]) == 2
    assert 1e-3 <= search.best_params_["learning_rate"] <= 1e-1
    _check_best(search, x, y)
    # The same two worker processes (loky keeps them), so this costs no second start.
    scores = cross_val_score(MLPClassifier(**TINY), x, y, cv=2, n_jobs=2)
    assert scores.shape == (2,) and ((0 <= scores) & (scores <= 1)).all()


@pytest.mark.slow
def test_halving_random_search():
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV

    x, y = _iris()
    search = HalvingRandomSearchCV(
        MLPClassifier(**TINY), {"units": [4, 8]}, n_candidates=2, cv=2, random_state=0
    ).fit(x, y)
    assert search.n_iterations_ >= 1 and search.best_params_["units"] in (4, 8)
    _check_best(search, x, y)


@pytest.mark.slow
def test_bayes_search_from_scikit_optimize():
    from skopt import BayesSearchCV

    x, y = _iris()
    space = {"learning_rate": (1e-3, 1e-1, "log-uniform"), "units": (4, 8)}
    search = BayesSearchCV(MLPClassifier(**TINY), space, n_iter=3, cv=2, random_state=0)
    search.fit(x, y)
    assert len(search.cv_results_["params"]) == 3
    assert 4 <= search.best_params_["units"] <= 8
    _check_best(search, x, y)


def build_small(hp: kt.HyperParameters) -> keras.Model:
    """A user's builder (module level, so that its estimators pickle by reference)."""
    model = keras.Sequential([keras.Input((4,))])
    if hp.Boolean("hidden", default=True):
        model.add(keras.layers.Dense(hp.Int("width", 2, 8, step=2, default=4), activation="relu"))
    model.add(keras.layers.Dense(3, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-1, sampling="log", default=0.01)),
        loss="sparse_categorical_crossentropy",
    )
    hp.Fixed("epochs", 1)
    return model


def test_wrap_makes_the_declared_hyperparameters_parameters():
    estimator_class = wrap(build_small)
    assert wrap(build_small) is estimator_class  # one class a builder: clones and pickles agree
    assert estimator_class().get_params() == {
        "hidden": True,
        "width": 4,  # declared only when hidden is True: found all the same
        "lr": 0.01,
        "epochs": 1,
        "verbose": 0,
        "random_state": None,
    }
    assert list(inspect.signature(estimator_class).parameters)[:2] == ["hidden", "width"]


@pytest.mark.slow
def test_wrapped_builder_fits_searches_clones_and_pickles():
    x, y = _iris()
    estimator = wrap(build_small)(random_state=0)
    search = GridSearchCV(estimator, {"width": [2, 6], "hidden": [True, False]}, cv=2).fit(x, y)
    _check_best(search, x, y)
    narrow = clone(estimator).set_params(width=2).fit(x, y)
    assert [layer.units for layer in narrow.model_.layers] == [2, 3]
    assert clone(narrow).get_params() == narrow.get_params()
    restored = pickle.loads(pickle.dumps(narrow))
    assert type(restored) is type(narrow)
    np.testing.assert_array_equal(restored.predict_proba(x), narrow.predict_proba(x))


def test_wrap_refuses_a_hyperparameter_named_like_an_estimator_parameter():
    def clashing(hp: kt.HyperParameters) -> keras.Model:
        hp.Int("random_state", 0, 3)
        return build_small(hp)

    with pytest.raises(ConfigError, match="'random_state' clashes"):
        wrap(clashing)
    with pytest.raises(ConfigError, match="unknown kind 'ranker'"):
        wrap(build_small, kind="ranker")
