"""Tiny campaign files for end-to-end tests."""

from pathlib import Path

import tomli_w


def write_campaign(folder: Path, **fields) -> Path:
    """A campaign file in `folder` whose results also go under `folder`."""
    data = {
        "name": "tiny",
        "dataset": "iris",
        "results_dir": str(folder / "results"),
        "objective": "val_accuracy",
        "strategy": "random",
        "max_trials": 3,
        "epochs": 2,
        "seed": 0,
        "space": {
            "learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log"},
            "units": {"min": 8, "max": 32, "step": 8},
        },
    }
    data.update(fields)
    path = folder / f"{data['name']}.toml"
    path.write_text(tomli_w.dumps(data))
    return path


def tiny_build(hp):
    """A user's builder, importable by name (worker processes import it): one hidden layer."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(hp.Choice("units", [4, 8]), activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-1, sampling="log")),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def two_class_build(hp):
    """A user's builder for two classes: one hidden layer of 4 or 8 units, Adam."""
    import keras

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(hp.Int("units", 4, 8, step=4), activation="relu"),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model
