"""Model builders: the MLP's output heads and hyperparameters, KerasTuner integration, get_builder."""

from __future__ import annotations

import textwrap
import uuid

import keras
import keras_tuner as kt
import numpy as np
import pytest

from tuner.builders import FunctionHyperModel, MLPHyperModel, build_mlp, get_builder
from tuner.builders.mlp import (
    ACTIVATIONS,
    BATCH_SIZES,
    INITIALIZERS,
    OPTIMIZERS,
    REGRESSION_LOSSES,
    make_optimizer,
    output_head,
)
from tuner.datasets import BINARY, MULTICLASS, MULTILABEL, REGRESSION, DataSpec, load_dataset
from tuner.errors import ConfigError

SPEC = DataSpec(MULTICLASS, (6,), 3)


def _build(spec: DataSpec = SPEC, **values) -> keras.Model:
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return MLPHyperModel.for_data(spec).build(hp)


def _layers(model: keras.Model, kind: type) -> list:
    return [layer for layer in model.layers if isinstance(layer, kind)]


def _hidden(model: keras.Model) -> list[keras.layers.Dense]:
    dense = _layers(model, keras.layers.Dense)
    assert dense[-1] is model.layers[-1]  # the output layer is the last Dense
    return dense[:-1]


def _tiny(n=40, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, features)).astype("float32"), rng.integers(0, classes, size=n)


# ---------------------------------------------------------------------------------- output heads


@pytest.mark.parametrize(
    "task,output_size,units,activation,loss",
    [
        (BINARY, 1, 1, "sigmoid", "binary_crossentropy"),
        (MULTILABEL, 5, 5, "sigmoid", "binary_crossentropy"),
        (MULTICLASS, 10, 10, "softmax", "sparse_categorical_crossentropy"),
        (REGRESSION, 1, 1, "linear", "mse"),
        (REGRESSION, 3, 3, "linear", "mse"),
    ],
)
def test_output_head_per_task(task, output_size, units, activation, loss):
    model = _build(DataSpec(task, (6,), output_size))
    out = model.layers[-1]
    assert out.units == units
    assert out.activation.__name__ == activation
    assert model.loss == loss
    assert model.output_shape == (None, units)
    assert model.get_compile_config()["metrics"] == (
        ["mse", "mae"] if task == REGRESSION else ["accuracy"]
    )


@pytest.mark.parametrize("loss", REGRESSION_LOSSES)
def test_regression_loss_hyperparameter(loss):
    model = _build(DataSpec(REGRESSION, (6,), 1), loss=loss)
    assert model.loss == loss
    assert model.layers[-1].activation.__name__ == "linear"


def test_loss_hyperparameter_only_exists_for_regression():
    hp = kt.HyperParameters()
    MLPHyperModel.for_data(SPEC).build(hp)
    assert "loss" not in hp.values
    hp = kt.HyperParameters()
    MLPHyperModel(REGRESSION, (6,), 1).build(hp)
    assert hp.values["loss"] == "mse"


def test_positive_targets_give_softplus():
    model = _build(DataSpec(REGRESSION, (6,), 1, positive_targets=True))
    assert model.layers[-1].activation.__name__ == "softplus"
    # positive_targets means nothing for classification
    assert output_head(BINARY, 1, positive_targets=True)[1] == "sigmoid"
    diabetes = load_dataset("diabetes").spec
    assert _build(diabetes).layers[-1].activation.__name__ == "softplus"


def test_unknown_task_raises_config_error():
    with pytest.raises(ConfigError, match="ranking.*binary"):
        MLPHyperModel("ranking", (4,), 1)


# ---------------------------------------------------------------------------------- hyperparameters


@pytest.mark.parametrize("n_layers", [1, 2, 5])
def test_n_layers(n_layers):
    model = _build(n_layers=n_layers)
    assert len(_hidden(model)) == n_layers
    assert len(_layers(model, keras.layers.Activation)) == n_layers


def test_defaults():
    hp = kt.HyperParameters()
    model = MLPHyperModel.for_data(SPEC).build(hp)
    assert [layer.units for layer in _hidden(model)] == [64, 64]
    assert _layers(model, keras.layers.Dropout) == []
    assert _layers(model, keras.layers.BatchNormalization) == []
    assert isinstance(model.optimizer, keras.optimizers.Adam)
    assert float(model.optimizer.learning_rate) == pytest.approx(1e-3)
    assert all(layer.kernel_regularizer is None for layer in _hidden(model))
    assert all(
        isinstance(layer.kernel_initializer, keras.initializers.HeNormal)
        for layer in _hidden(model)
    )
    assert {layer.activation.__name__ for layer in _layers(model, keras.layers.Activation)} == {
        "relu"
    }
    assert hp.values["batch_size"] == 32 and hp.values["epochs"] == 20
    assert hp.values["per_layer_units"] is False


@pytest.mark.parametrize("units", [16, 48, 256])
def test_units(units):
    model = _build(n_layers=3, units=units)
    assert [layer.units for layer in _hidden(model)] == [units] * 3


def test_per_layer_units():
    model = _build(n_layers=3, per_layer_units=True, units_0=128, units_1=32, units_2=16)
    assert [layer.units for layer in _hidden(model)] == [128, 32, 16]


def test_per_layer_units_default_to_units():
    hp = kt.HyperParameters()
    hp.Fixed("n_layers", 2)
    hp.Fixed("units", 80)
    hp.Fixed("per_layer_units", True)
    model = MLPHyperModel.for_data(SPEC).build(hp)
    assert [layer.units for layer in _hidden(model)] == [80, 80]
    assert hp.values["units_0"] == 80 and hp.values["units_1"] == 80


def test_per_layer_units_off_ignores_units_i():
    hp = kt.HyperParameters()
    MLPHyperModel.for_data(SPEC).build(hp)
    assert not any(name.startswith("units_") for name in hp.values)


@pytest.mark.parametrize("rate", [0.1, 0.5])
def test_dropout(rate):
    model = _build(n_layers=3, dropout=rate)
    dropouts = _layers(model, keras.layers.Dropout)
    assert len(dropouts) == 3
    assert all(layer.rate == pytest.approx(rate) for layer in dropouts)


def test_zero_dropout_adds_no_layers():
    assert _layers(_build(n_layers=3, dropout=0.0), keras.layers.Dropout) == []


def test_batch_norm():
    model = _build(n_layers=3, batch_norm=True)
    assert len(_layers(model, keras.layers.BatchNormalization)) == 3
    assert all(layer.use_bias is False for layer in _hidden(model))
    assert model.layers[-1].use_bias is True  # the output layer keeps its bias
    plain = _build(n_layers=3, batch_norm=False)
    assert _layers(plain, keras.layers.BatchNormalization) == []
    assert all(layer.use_bias is True for layer in _hidden(plain))


def test_batch_norm_momentum_reaches_every_batch_norm_layer_and_only_counts_with_batch_norm():
    default = _layers(_build(n_layers=2, batch_norm=True), keras.layers.BatchNormalization)
    assert [layer.momentum for layer in default] == [0.99, 0.99]  # Keras' own default
    saito = _build(n_layers=2, batch_norm=True, batch_norm_momentum=0.9)
    assert [layer.momentum for layer in _layers(saito, keras.layers.BatchNormalization)] == [
        0.9,
        0.9,
    ]
    hp = kt.HyperParameters()
    MLPHyperModel.for_data(SPEC).build(hp)
    assert "batch_norm_momentum" not in hp.values  # inactive without batch_norm


def test_batch_norm_sits_between_dense_and_activation():
    model = _build(n_layers=1, batch_norm=True, dropout=0.2)
    kinds = [type(layer).__name__ for layer in model.layers[1:]]
    assert kinds == ["Dense", "BatchNormalization", "Activation", "Dropout", "Dense"]


@pytest.mark.parametrize("factor", [1e-4, 0.01])
def test_l2(factor):
    model = _build(n_layers=2, l2=factor)
    for layer in _hidden(model):
        assert isinstance(layer.kernel_regularizer, keras.regularizers.L2)
        assert layer.kernel_regularizer.l2 == pytest.approx(factor)
    assert model.layers[-1].kernel_regularizer is None


def test_zero_l2_means_no_regularizer():
    assert all(layer.kernel_regularizer is None for layer in _hidden(_build(l2=0.0)))


@pytest.mark.parametrize(
    "name,cls",
    [
        ("sgd", keras.optimizers.SGD),
        ("momentum", keras.optimizers.SGD),
        ("nesterov", keras.optimizers.SGD),
        ("adagrad", keras.optimizers.Adagrad),
        ("adadelta", keras.optimizers.Adadelta),
        ("rmsprop", keras.optimizers.RMSprop),
        ("adam", keras.optimizers.Adam),
        ("adamw", keras.optimizers.AdamW),
        ("nadam", keras.optimizers.Nadam),
    ],
)
def test_optimizer_and_learning_rate(name, cls):
    model = _build(optimizer=name, learning_rate=0.037)
    assert type(model.optimizer) is cls
    assert float(model.optimizer.learning_rate) == pytest.approx(0.037)
    if cls is keras.optimizers.SGD:
        assert model.optimizer.momentum == pytest.approx({"sgd": 0.0}.get(name, 0.9))
        assert model.optimizer.nesterov is (name == "nesterov")


def test_every_declared_optimizer_is_tested():
    assert set(OPTIMIZERS) == {
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "adadelta",
        "rmsprop",
        "adam",
        "adamw",
        "nadam",
    }


def test_unknown_optimizer_raises_config_error():
    with pytest.raises(ConfigError, match="lion.*adam"):
        make_optimizer("lion", 0.01)


@pytest.mark.parametrize(
    "name,cls",
    [
        ("he_normal", keras.initializers.HeNormal),
        ("he_uniform", keras.initializers.HeUniform),
        ("glorot_uniform", keras.initializers.GlorotUniform),
        ("glorot_normal", keras.initializers.GlorotNormal),
        ("lecun_normal", keras.initializers.LecunNormal),
    ],
)
def test_kernel_initializer(name, cls):
    for layer in _hidden(_build(kernel_initializer=name)):
        assert type(layer.kernel_initializer) is cls


@pytest.mark.parametrize("name,stddev", [("normal_small", 0.01), ("normal_large", 1.0)])
def test_normal_initializers_stddev(name, stddev):
    model = _build(n_layers=1, units=256, kernel_initializer=name)
    layer = _hidden(model)[0]
    assert isinstance(layer.kernel_initializer, keras.initializers.RandomNormal)
    assert layer.kernel_initializer.stddev == pytest.approx(stddev)
    assert layer.kernel_initializer.mean == 0.0
    # and the weights were drawn with it
    weights = keras.ops.convert_to_numpy(layer.kernel)
    assert np.std(weights) == pytest.approx(stddev, rel=0.1)


def test_every_declared_initializer_is_tested():
    assert set(INITIALIZERS) == {
        "he_normal",
        "he_uniform",
        "glorot_uniform",
        "glorot_normal",
        "lecun_normal",
        "normal_small",
        "normal_large",
    }


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation(activation):
    model = _build(n_layers=2, activation=activation)
    activations = _layers(model, keras.layers.Activation)
    assert len(activations) == 2
    assert all(layer.activation.__name__ == activation for layer in activations)


def test_image_input_is_flattened():
    model = _build(DataSpec(MULTICLASS, (8, 8), 10))
    assert isinstance(model.layers[1], keras.layers.Flatten)
    assert model.input_shape == (None, 8, 8)
    assert _layers(_build(), keras.layers.Flatten) == []


def test_build_declares_every_hyperparameter_in_its_range():
    hp = kt.HyperParameters()
    MLPHyperModel.for_data(SPEC).build(hp)
    names = {h.name for h in hp.space}
    assert names == {
        "n_layers",
        "units",
        "per_layer_units",
        "activation",
        "kernel_initializer",
        "batch_norm",
        "batch_norm_momentum",
        "dropout",
        "l2",
        "optimizer",
        "learning_rate",
        "batch_size",
        "epochs",
    }
    by_name = {h.name: h for h in hp.space}
    assert (by_name["n_layers"].min_value, by_name["n_layers"].max_value) == (1, 5)
    assert (by_name["units"].min_value, by_name["units"].max_value) == (16, 256)
    assert by_name["learning_rate"].sampling == "log"
    assert list(by_name["batch_size"].values) == BATCH_SIZES


def test_build_mlp_honours_values():
    spec = load_dataset("iris").spec
    model = build_mlp(spec, n_layers=3, units=32, dropout=0.25)
    assert [layer.units for layer in _hidden(model)] == [32, 32, 32]
    assert len(_layers(model, keras.layers.Dropout)) == 3
    assert model.layers[-1].units == 3


# ---------------------------------------------------------------------------------- training


@pytest.mark.slow
def test_default_only_build_trains():
    ds = load_dataset("iris", max_samples=50)
    model = MLPHyperModel.for_data(ds.spec).build(kt.HyperParameters())
    history = model.fit(
        ds.x_train, ds.y_train, validation_data=(ds.x_val, ds.y_val), epochs=1, verbose=0
    )
    assert history.epoch == [0]
    assert np.isfinite(history.history["loss"][0])
    assert 0.0 <= history.history["val_accuracy"][0] <= 1.0
    assert model.predict(ds.x_val, verbose=0).shape == (len(ds.x_val), 3)


class _BatchCounter(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches = 0

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1


@pytest.mark.slow
def test_fit_applies_batch_size_and_epochs_from_hp():
    x, y = _tiny(n=40)
    hp = kt.HyperParameters()
    hp.Fixed("epochs", 2)
    hp.Fixed("batch_size", 16)
    hypermodel = MLPHyperModel.for_data(SPEC)
    model = hypermodel.build(hp)
    counter = _BatchCounter()
    history = hypermodel.fit(hp, model, x, y, verbose=0, callbacks=[counter])
    assert len(history.epoch) == 2
    assert counter.batches == 2 * 3  # ceil(40 / 16) batches per epoch
    # explicit arguments win over the hyperparameters
    counter = _BatchCounter()
    history = hypermodel.fit(
        hp, model, x, y, epochs=1, batch_size=40, verbose=0, callbacks=[counter]
    )
    assert len(history.epoch) == 1 and counter.batches == 1


@pytest.mark.slow
def test_mlp_inside_plain_keras_tuner_random_search(tmp_path):
    ds = load_dataset("iris", max_samples=50)
    tuner = kt.RandomSearch(
        MLPHyperModel.for_data(ds.spec),
        objective="val_loss",
        max_trials=2,
        seed=1,
        directory=tmp_path,
        project_name="plain",
        overwrite=True,
    )
    tuner.search(ds.x_train, ds.y_train, validation_data=(ds.x_val, ds.y_val), epochs=1, verbose=0)
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 2
    assert all(trial.status == "COMPLETED" for trial in trials)
    assert all(np.isfinite(trial.score) for trial in trials)
    best = tuner.get_best_hyperparameters(2)
    assert len(best) == 2
    assert best[0].values != best[1].values  # two different random draws
    best_trial = tuner.oracle.get_best_trials(1)[0]
    assert best_trial.score == min(trial.score for trial in trials)
    for hp in [trial.hyperparameters for trial in trials]:
        values = hp.values
        assert 1 <= values["n_layers"] <= 5
        assert 16 <= values["units"] <= 256 and values["units"] % 16 == 0
        assert values["activation"] in ACTIVATIONS
        assert values["kernel_initializer"] in INITIALIZERS
        assert values["optimizer"] in OPTIMIZERS
        assert 0.0 <= values["dropout"] <= 0.5
        assert 0.0 <= values["l2"] <= 0.01
        assert 1e-5 <= values["learning_rate"] <= 1.0
        assert values["batch_size"] in BATCH_SIZES
        assert 1 <= values["epochs"] <= 1000
        if values["per_layer_units"]:
            for i in range(values["n_layers"]):
                assert 16 <= values[f"units_{i}"] <= 256
    model = tuner.hypermodel.build(best[0])
    assert len(_hidden(model)) == best[0].values["n_layers"]


# ---------------------------------------------------------------------------------- get_builder


def test_get_builder_mlp():
    builder = get_builder("mlp", SPEC)
    assert isinstance(builder, MLPHyperModel)
    assert builder.task == MULTICLASS and builder.input_shape == (6,) and builder.output_size == 3
    assert builder.build(kt.HyperParameters()).layers[-1].units == 3


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    name = f"user_models_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent("""
        import keras
        import keras_tuner as kt


        def build(hp):
            units = hp.Int("width", 4, 16, default=8)
            model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(units),
                                      keras.layers.Dense(3, activation="softmax")])
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
            return model


        def build_with_spec(hp, spec):
            model = keras.Sequential([keras.Input(spec.input_shape),
                                      keras.layers.Dense(hp.Int("width", 4, 16, default=5)),
                                      keras.layers.Dense(spec.output_size)])
            model.compile(optimizer="sgd", loss="mse")
            return model


        class Custom(kt.HyperModel):
            def build(self, hp):
                return build(hp)


        NOT_A_FUNCTION = 3
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def test_get_builder_user_function_taking_hp(user_module):
    builder = get_builder(f"{user_module}:build", SPEC)
    assert isinstance(builder, FunctionHyperModel)
    hp = kt.HyperParameters()
    hp.Fixed("width", 12)
    model = builder.build(hp)
    assert model.layers[0].units == 12
    assert model.layers[-1].units == 3


def test_get_builder_user_function_taking_hp_and_spec(user_module):
    spec = DataSpec(REGRESSION, (9,), 4)
    builder = get_builder(f"{user_module}:build_with_spec", spec)
    model = builder.build(kt.HyperParameters())
    assert model.input_shape == (None, 9)
    assert model.layers[0].units == 5
    assert model.layers[-1].units == 4


def test_get_builder_user_hypermodel_class(user_module):
    builder = get_builder(f"{user_module}:Custom", SPEC)
    assert type(builder).__name__ == "Custom"
    assert builder.build(kt.HyperParameters()).layers[0].units == 8


@pytest.mark.slow
def test_function_hypermodel_fit_uses_hp_epochs(user_module):
    builder = get_builder(f"{user_module}:build", SPEC)
    hp = kt.HyperParameters()
    hp.Fixed("epochs", 2)
    model = builder.build(hp)
    x, y = _tiny(n=20)
    history = builder.fit(hp, model, x, y, verbose=0)
    assert len(history.epoch) == 2


def test_get_builder_unknown_name_lists_mlp():
    with pytest.raises(ConfigError) as info:
        get_builder("cnn", SPEC)
    message = str(info.value)
    assert "'cnn'" in message and "mlp" in message and "package.module:function" in message


def test_get_builder_missing_module():
    with pytest.raises(ConfigError) as info:
        get_builder("no_such_module_xyz.models:build", SPEC)
    assert "no_such_module_xyz" in str(info.value)


def test_get_builder_missing_function(user_module):
    with pytest.raises(ConfigError, match="has no 'nope'"):
        get_builder(f"{user_module}:nope", SPEC)
    with pytest.raises(ConfigError, match="NOT_A_FUNCTION"):
        get_builder(f"{user_module}:NOT_A_FUNCTION", SPEC)
