"""Builders of the textbook experiments that the bundled MLP does not express.

A campaign names one as ``model = "textbook_models:and_network"``: the module is found next to
the campaign file.
"""

from __future__ import annotations

import keras
import keras_tuner as kt


def and_network(hp: kt.HyperParameters) -> keras.Model:
    """The lecture's AND network (PyTorch in the lecture, Keras here): 2 inputs, 2 sigmoid
    hidden units, 1 sigmoid output, mean squared error, Adam at learning rate 0.1."""
    learning_rate = hp.Float("learning_rate", 1e-4, 1.0, sampling="log", default=0.1)
    hidden = hp.Int("units", 1, 16, default=2)
    model = keras.Sequential(
        [
            keras.Input(shape=(2,)),
            keras.layers.Dense(hidden, activation="sigmoid"),
            keras.layers.Dense(1, activation="sigmoid"),
        ],
        name="and_network",
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="mse",
        metrics=["accuracy"],
    )
    return model
