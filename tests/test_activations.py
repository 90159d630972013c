"""Activation histograms per hidden layer: which layers, what is counted, Saito's claim."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from tuner.builders.mlp import build_mlp
from tuner.datasets import DataSpec
from tuner.errors import ConfigError
from tuner.plots.activations import (
    activation_histograms,
    activation_info,
    draw_activation_histograms,
    hidden_activation_layers,
)

SPEC = DataSpec("multiclass", (20,), 3)


def inputs(n: int = 64) -> np.ndarray:
    return np.random.default_rng(0).normal(size=(n, 20)).astype("float32")


def test_the_mlp_builders_activation_layers_are_the_hidden_ones_not_the_output():
    model = build_mlp(SPEC, n_layers=3, units=10, activation="sigmoid", batch_norm=True)
    layers = hidden_activation_layers(model)
    assert [type(layer).__name__ for layer in layers] == ["Activation"] * 3
    info = activation_info(model, inputs(), bins=10)
    assert [layer.activation for layer in info.layers] == ["sigmoid"] * 3
    # every value of every unit is counted once, inside sigmoid's (0, 1)
    assert all(int(layer.counts.sum()) == 64 * 10 for layer in info.layers)
    assert 0.0 <= info.layers[0].edges[0] and info.layers[0].edges[-1] <= 1.0
    assert info.n_samples == 64


def test_a_users_sequential_and_functional_models_count_dense_activations():
    sequential = keras.Sequential(
        [
            keras.Input((20,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(6),  # linear: no activation to draw
            keras.layers.Dense(5, activation="tanh"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    info = activation_info(sequential, inputs(16))
    assert [(layer.activation, int(layer.counts.sum())) for layer in info.layers] == [
        ("relu", 16 * 8),
        ("tanh", 16 * 5),
    ]
    x = keras.Input((20,))
    hidden = keras.layers.Dense(7, activation="elu", name="h")(x)
    functional = keras.Model(x, keras.layers.Dense(1, activation="sigmoid")(hidden))
    assert [layer.name for layer in activation_info(functional, inputs(4)).layers] == ["h"]


def test_saitos_claim_std_1_saturates_sigmoid_units_glorot_does_not():
    keras.utils.set_random_seed(0)
    large = build_mlp(
        SPEC, n_layers=5, units=100, activation="sigmoid", kernel_initializer="normal_large"
    )
    glorot = build_mlp(
        SPEC, n_layers=5, units=100, activation="sigmoid", kernel_initializer="glorot_normal"
    )
    x = inputs(200)
    saturated = activation_info(large, x, value_range=(0.0, 1.0)).layers[-1].at_ends
    spread = activation_info(glorot, x, value_range=(0.0, 1.0)).layers[-1].at_ends
    assert saturated > 0.5 > 0.1 > spread


def test_bad_input_is_one_clear_line():
    linear = keras.Sequential([keras.Input((20,)), keras.layers.Dense(3)])
    with pytest.raises(ConfigError, match="has no hidden layer with a non-linear activation"):
        activation_info(linear, inputs())
    model = build_mlp(SPEC, n_layers=1, units=4)
    with pytest.raises(ConfigError, match="at least one input sample"):
        activation_info(model, inputs()[:0])
    with pytest.raises(ConfigError, match="bins must be at least 1, but got 0"):
        activation_info(model, inputs(), bins=0)


def test_rows_of_panels_one_per_model_and_layer():
    a = activation_info(build_mlp(SPEC, n_layers=2, units=4), inputs(), title="a")
    b = activation_info(build_mlp(SPEC, n_layers=3, units=4), inputs(), title="b")
    figure = draw_activation_histograms([a, b])
    visible = [ax for ax in figure.axes if ax.get_visible()]
    assert len(figure.axes) == 6 and len(visible) == 5
    assert visible[0].get_ylabel() == "a\ncount"
    assert len(visible[0].patches) == 30  # the default bins
    assert activation_histograms(build_mlp(SPEC, n_layers=1, units=4), inputs()).axes
