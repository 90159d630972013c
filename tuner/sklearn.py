"""scikit-learn estimators over the builders: `MLPClassifier`, `MLPRegressor`, and `wrap` for a
builder of your own, for `GridSearchCV`, `RandomizedSearchCV`, `cross_val_score`, pipelines and
scikit-optimize's `BayesSearchCV`.

    from tuner.sklearn import MLPClassifier
    search = RandomizedSearchCV(MLPClassifier(epochs=30), {"units": [32, 64, 128]}, n_jobs=2)

Each constructor parameter is one hyperparameter the builder declares, with the builder's own
default (plus ``verbose`` and ``random_state``); `fit` builds the model through the builder with a
`kt.HyperParameters` holding those values and trains it through the builder's ``fit`` (its
``batch_size`` and ``epochs``), so an estimator and a campaign trial with the same values build
and train the same model. The task is read from ``y`` at `fit`, as a campaign reads it from its
dataset: binary, multiclass or multilabel for a classifier, single- or multi-output regression.

Built on scikit-learn's `BaseEstimator` rather than Keras' `keras.wrappers.SKLearnClassifier`:
those take the model as one `model` parameter and its settings as one `model_kwargs` dict, so a
search cannot address ``units`` or ``learning_rate`` as parameters, and they one-hot encode the
targets (the builders train on class codes), refuse multilabel targets, have no
``predict_proba`` and do not pickle a fitted model.

A builder's models train on class codes ``0..K-1`` (binary: one sigmoid unit or two softmax
units; multilabel: the 0/1 matrix), as in a campaign; the labels themselves (strings too) are
kept in ``classes_``. Random seeds: with ``random_state`` set, `fit` seeds Keras' global
generators (`keras.utils.set_random_seed`, which Keras offers in place of per-model seeds).
"""

from __future__ import annotations

import inspect
import math
import os
import tempfile
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from tuner.quiet import import_keras_quietly

import_keras_quietly()  # before the builders import Keras (and TensorFlow) loudly

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402

from tuner.builder_space import explore  # noqa: E402
from tuner.builders import resolve_builder  # noqa: E402
from tuner.builders.mlp import MLPHyperModel  # noqa: E402
from tuner.datasets import BINARY, MULTICLASS, MULTILABEL, REGRESSION, DataSpec  # noqa: E402
from tuner.errors import ConfigError  # noqa: E402
from tuner.space import declared_hyperparameters  # noqa: E402

__all__ = ["MLPClassifier", "MLPRegressor", "wrap"]

# Parameters every estimator has besides the builder's hyperparameters.
OWN_PARAMETERS = {"verbose": 0, "random_state": None}
# Rows a prediction feeds the model at once (bounds its memory on large inputs).
PREDICT_CHUNK = 4096
# A fit of at most this many steps runs eagerly: tracing the training function costs about
# 1 s of CPU for a small MLP (TF 2.21), an eager step about 0.04 s, so a short fit (a small
# fold, a few epochs) is faster untraced. The model and its arithmetic are the same.
EAGER_STEPS = 20
# Class codes from probabilities: a sigmoid unit says "1" above this.
THRESHOLD = 0.5
# The MLP's per-layer widths (units_0, units_1, ...) take one parameter per layer: they are
# `wrap(MLPHyperModel)`'s business, not the fixed signature's.
MLP_LEFT_OUT = ("per_layer_units",)
# Shapes the space of a builder that takes the data spec (``build(hp, spec)``) is explored
# with, before any data exists; its declarations should not depend on them.
PLACEHOLDER_SPECS = {
    "classifier": DataSpec(MULTICLASS, (4,), 3),
    "regressor": DataSpec(REGRESSION, (4,), 1),
}


def _signature(hyperparameters: Mapping[str, Any]) -> inspect.Signature:
    """``(self, *, <each hyperparameter>=<its default>, verbose=0, random_state=None)``."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    for name, default in {**hyperparameters, **OWN_PARAMETERS}.items():
        parameters.append(inspect.Parameter(name, keyword, default=default))
    return inspect.Signature(parameters)


def _python(value: Any) -> Any:
    """A NumPy scalar (what scipy's distributions and skopt's spaces hand out) as Python's."""
    return value.item() if isinstance(value, np.generic) else value


def _model_to_bytes(model: keras.Model) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        with open(path, "rb") as file:
            return file.read()


def _model_from_bytes(data: bytes) -> keras.Model:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        with open(path, "wb") as file:
            file.write(data)
        return keras.models.load_model(path)


def _training_steps(hp: kt.HyperParameters, n_samples: int) -> int:
    """Batches a fit of `n_samples` will run, with Keras' defaults where the builder declares
    no ``epochs`` or ``batch_size``."""
    epochs = int(hp.values.get("epochs") or 1)
    batch_size = int(hp.values.get("batch_size") or 32)
    return epochs * math.ceil(n_samples / batch_size)


class _BuilderEstimator(BaseEstimator):
    """What the estimators share: store the parameters, build through the builder, fit,
    pickle the fitted model as bytes in the .keras format."""

    # Set by each concrete class: its hyperparameters, in the builder's declaration order.
    _hyperparameters: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any):
        # sklearn's rule: a constructor only stores (clone rebuilds estimators through it).
        # The signature (`_signature`) names every parameter; binding refuses a misspelt one.
        bound = inspect.signature(type(self).__init__).bind(self, **params)
        bound.apply_defaults()
        for name, value in bound.arguments.items():
            if name != "self":
                setattr(self, name, value)

    def _hypermodel(self, spec: DataSpec) -> kt.HyperModel:
        raise NotImplementedError

    def _hp(self) -> kt.HyperParameters:
        hp = kt.HyperParameters()
        # As `builder_space` presets values: the builder's declarations then return them.
        hp.values.update({name: _python(getattr(self, name)) for name in self._hyperparameters})
        return hp

    def _seed(self) -> None:
        if self.random_state is None:
            return
        if isinstance(self.random_state, int | np.integer):
            seed = int(self.random_state)
        else:
            seed = int(check_random_state(self.random_state).randint(2**31 - 1))
        keras.utils.set_random_seed(seed)

    def _fit_model(self, x: np.ndarray, y: np.ndarray, spec: DataSpec) -> None:
        self._seed()
        hypermodel = self._hypermodel(spec)
        hp = self._hp()
        model = hypermodel.build(hp)
        if _training_steps(hp, len(x)) <= EAGER_STEPS:
            model.run_eagerly = True
        history = hypermodel.fit(hp, model, x, y, verbose=self.verbose)
        self.model_ = model
        # The metrics only: Keras' History object holds the model (which pickles as bytes).
        self.history_ = dict(getattr(history, "history", None) or {})

    def _outputs(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "model_")
        x = validate_data(self, X, reset=False, dtype=(np.float32, np.float64)).astype("float32")
        # Called eagerly, a chunk at a time: `model.predict` traces a function per model
        # (about 0.3 s), more than a search's scoring of a small fold takes this way.
        chunks = [
            keras.ops.convert_to_numpy(
                self.model_(x[start : start + PREDICT_CHUNK], training=False)
            )
            for start in range(0, len(x), PREDICT_CHUNK)
        ]
        return np.concatenate(chunks).astype("float64").reshape(len(x), -1)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        if "model_" in state:
            state = {**state, "model_": _model_to_bytes(state["model_"])}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if isinstance(state.get("model_"), bytes):
            state = {**state, "model_": _model_from_bytes(state["model_"])}
        super().__setstate__(state)


class _Classifier(ClassifierMixin, _BuilderEstimator):
    """Binary, multiclass (labels of any sortable kind, strings too) and multilabel targets."""

    def fit(self, X: Any, y: Any) -> _Classifier:
        """Build the model for the task `y` shows and train it."""
        x, y = validate_data(
            self, X, y, multi_output=True, dtype=(np.float32, np.float64), y_numeric=False
        )
        x = x.astype("float32")
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind == "multilabel-indicator":
            y = np.asarray(y)
            self.classes_ = np.arange(y.shape[1])
            task, codes, size = MULTILABEL, y.astype("float32"), y.shape[1]
        elif kind in ("binary", "multiclass"):
            if np.ndim(y) == 2:
                y = column_or_1d(y, warn=True)
            self.classes_, codes = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least 2 classes in y, but got 1 class "
                    f"({self.classes_[0]!r}); give samples of another class."
                )
            task = BINARY if len(self.classes_) == 2 else MULTICLASS
            size = 1 if task == BINARY else len(self.classes_)
        else:
            raise ValueError(
                f"{type(self).__name__} takes binary, multiclass or multilabel targets, but "
                f"got {kind!r} targets; use a regressor, or one classifier per output."
            )
        self._task = task
        self._fit_model(x, codes, DataSpec(task, (x.shape[1],), size))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, one column per entry of `classes_` (multilabel: per label)."""
        out = self._outputs(X)
        if self._task == BINARY and out.shape[1] == 1:  # one sigmoid unit: P(classes_[1])
            return np.hstack([1.0 - out, out])
        return out

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of each sample (multilabel: each label above 0.5)."""
        proba = self.predict_proba(X)
        if self._task == MULTILABEL:
            return (proba > THRESHOLD).astype("int64")
        return self.classes_[np.argmax(proba, axis=1)]

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.classifier_tags.multi_label = True
        # A few epochs at the default learning rate on the checks' small datasets, by design.
        tags.classifier_tags.poor_score = True
        return tags


class _Regressor(RegressorMixin, _BuilderEstimator):
    """Single-output (``y`` of shape (n,)) and multi-output (n, k) regression."""

    def fit(self, X: Any, y: Any) -> _Regressor:
        """Build the model for `y`'s number of outputs and train it."""
        x, y = validate_data(
            self, X, y, multi_output=True, dtype=(np.float32, np.float64), y_numeric=True
        )
        x, y = x.astype("float32"), np.asarray(y, dtype="float32")
        self._one_dimensional = y.ndim == 1
        size = 1 if y.ndim == 1 else y.shape[1]
        self._fit_model(x, y, DataSpec(REGRESSION, (x.shape[1],), size))
        return self

    def predict(self, X: Any) -> np.ndarray:
        """The predicted targets, shaped as the ``y`` the model was fitted on."""
        out = self._outputs(X)
        return out[:, 0] if self._one_dimensional else out

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True
        return tags


def _init_with(hyperparameters: Mapping[str, Any]) -> Callable[..., None]:
    """An ``__init__`` that stores its keywords, with a signature naming each parameter and
    its default (what `get_params`, `clone` and `help` read)."""

    def __init__(self: _BuilderEstimator, **params: Any) -> None:
        _BuilderEstimator.__init__(self, **params)

    __init__.__signature__ = _signature(hyperparameters)  # type: ignore[attr-defined]
    return __init__


def _mlp_defaults(task: str) -> dict[str, Any]:
    """The MLP builder's hyperparameters and defaults, as it declares them for `task`."""
    hp = kt.HyperParameters()
    # Built directly, not through `declared_hyperparameters`: that clears the Keras session,
    # which an import must not do to a user's (the seed they set included).
    MLPHyperModel(task, (4,), 3 if task == MULTICLASS else 1).build(hp)
    return {h.name: h.default for h in hp.space if h.name not in MLP_LEFT_OUT}


_CLASSIFIER_DEFAULTS = _mlp_defaults(MULTICLASS)
_REGRESSOR_DEFAULTS = _mlp_defaults(REGRESSION)


class MLPClassifier(_Classifier):
    """The MLP builder (`tuner.builders.mlp.MLPHyperModel`) as a scikit-learn classifier.

    Parameters: the builder's hyperparameters with its defaults (n_layers, units, activation,
    kernel_initializer, batch_norm, batch_norm_momentum, dropout, l2, optimizer, learning_rate,
    batch_size, epochs), ``verbose`` (Keras' fit verbosity) and ``random_state``. Attributes after
    `fit`: ``classes_``, ``n_features_in_`` (``feature_names_in_`` for a DataFrame), ``model_`` (the
    Keras model), ``history_`` (its metrics per epoch).
    """

    _hyperparameters = tuple(_CLASSIFIER_DEFAULTS)
    __init__ = _init_with(_CLASSIFIER_DEFAULTS)

    def _hypermodel(self, spec: DataSpec) -> kt.HyperModel:
        return MLPHyperModel.for_data(spec)


class MLPRegressor(_Regressor):
    """The MLP builder as a scikit-learn regressor: `MLPClassifier`'s parameters plus ``loss``
    (mse, mae or huber); ``y`` of shape (n,) or (n, k)."""

    _hyperparameters = tuple(_REGRESSOR_DEFAULTS)
    __init__ = _init_with(_REGRESSOR_DEFAULTS)

    def _hypermodel(self, spec: DataSpec) -> kt.HyperModel:
        return MLPHyperModel.for_data(spec)


# ------------------------------------------------------------------------- your own builder

KINDS = {"classifier": _Classifier, "regressor": _Regressor}
_WRAPPED: dict[tuple[Any, str], type[_BuilderEstimator]] = {}


def _check_names(names: list[str], label: str) -> None:
    for name in names:
        if not name.isidentifier() or "__" in name:
            raise ConfigError(
                f"builder {label!r}: hyperparameter {name!r} cannot be a scikit-learn "
                "parameter (it must be a Python identifier without '__'); rename it."
            )
        if name in OWN_PARAMETERS:
            raise ConfigError(
                f"builder {label!r}: hyperparameter {name!r} clashes with the estimator's own "
                f"parameter of that name; rename it (reserved: {', '.join(OWN_PARAMETERS)})."
            )


def _rebuild(builder: Any, kind: str) -> _BuilderEstimator:
    """An empty estimator of `wrap(builder, kind=kind)`, for pickle to fill in."""
    cls = wrap(builder, kind=kind)
    return cls.__new__(cls)


def wrap(builder: Any, *, kind: str = "classifier") -> type[_BuilderEstimator]:
    """A scikit-learn estimator class over your own builder: a ``build(hp)`` or
    ``build(hp, spec)`` function returning a compiled `keras.Model`, or a `kt.HyperModel`.

    Every hyperparameter the builder declares (found by building it, conditional ones too, as
    a campaign finds them: `tuner.builder_space.explore`) becomes a keyword parameter with its
    declared default, beside ``verbose`` and ``random_state``. `kind` is ``"classifier"`` (the
    model is trained on class codes 0..K-1 or a multilabel 0/1 matrix, and outputs
    probabilities) or ``"regressor"``. The same builder gives the same class (clones and
    unpickled estimators are of it). A `kt.HyperModel`'s own ``fit`` trains, but what that
    ``fit`` alone declares is not found here: declare it in ``build``.

    >>> Estimator = wrap(build)                                       # doctest: +SKIP
    >>> GridSearchCV(Estimator(epochs=5), {"units": [16, 32]}).fit(X, y)  # doctest: +SKIP
    """
    if kind not in KINDS:
        raise ConfigError(f"wrap: unknown kind {kind!r}; accepted: {', '.join(KINDS)}.")
    key = (builder, kind)
    if key in _WRAPPED:
        return _WRAPPED[key]
    label = getattr(builder, "__name__", type(builder).__name__)
    hypermodel = resolve_builder(builder, PLACEHOLDER_SPECS[kind])
    declared_hyperparameters(hypermodel)  # a builder that cannot build says why, once
    space = explore(hypermodel)
    defaults = {h.name: h.default for h in space.space if not h.name.startswith("tuner/")}
    _check_names(list(defaults), label)
    base = KINDS[kind]

    def _hypermodel(self: _BuilderEstimator, spec: DataSpec) -> kt.HyperModel:
        return resolve_builder(builder, spec)

    def __reduce__(self: _BuilderEstimator) -> tuple[Any, ...]:
        # The class is made here, not importable by name: pickle rebuilds it from the builder.
        return (_rebuild, (builder, kind), self.__getstate__())

    name = "".join(part.capitalize() for part in label.split("_")) or "Builder"
    cls = type(
        f"{name}{kind.capitalize()}",
        (base,),
        {
            "__init__": _init_with(defaults),
            "__doc__": f"Builder {label!r} as a scikit-learn {kind} (`tuner.sklearn.wrap`).",
            "__module__": __name__,
            "_hyperparameters": tuple(defaults),
            "_hypermodel": _hypermodel,
            "__reduce__": __reduce__,
        },
    )
    _WRAPPED[key] = cls
    return cls
