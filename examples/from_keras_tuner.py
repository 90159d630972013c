"""KerasTuner's "Getting started" script, ported line by line.

    python examples/from_keras_tuner.py [WORKDIR]

The builder is KerasTuner's, unchanged: a loop over ``hp.Int("num_layers")``, a width per
layer, a shared activation, a conditional dropout, a log-sampled learning rate. No ``space``
is given: the builder is the search space, as in KerasTuner. Each KerasTuner call is in the
comment above its replacement. The data is the 8x8 digits that ship with scikit-learn (the
guide downloads MNIST; nothing here downloads anything).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import keras
from keras import layers
from sklearn.datasets import load_digits

import tuner


def build_model(hp):
    model = keras.Sequential()
    model.add(layers.Flatten())
    # Tune the number of layers.
    for i in range(hp.Int("num_layers", 1, 3)):
        model.add(
            layers.Dense(
                # Tune number of units separately.
                units=hp.Int(f"units_{i}", min_value=32, max_value=512, step=32),
                activation=hp.Choice("activation", ["relu", "tanh"]),
            )
        )
    if hp.Boolean("dropout"):
        model.add(layers.Dropout(rate=0.25))
    model.add(layers.Dense(10, activation="softmax"))
    learning_rate = hp.Float("lr", min_value=1e-4, max_value=1e-2, sampling="log")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        # The guide one-hot encodes MNIST's labels; integer labels need the sparse loss.
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def main(workdir: Path) -> None:
    # (x, y), (x_test, y_test) = keras.datasets.mnist.load_data()
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype("float32")
    x_train, x_val, y_train, y_val = x[:-300], x[-300:], y[:-300], y[-300:]

    # tuner = keras_tuner.RandomSearch(
    #     hypermodel=build_model, objective="val_accuracy", max_trials=3,
    #     executions_per_trial=2, overwrite=True, directory="my_dir", project_name="helloworld")
    # tuner.search(x_train, y_train, epochs=2, validation_data=(x_val, y_val))
    results = tuner.search(
        build_model,
        x_train,
        y_train,
        validation_data=(x_val, y_val),
        objective="val_accuracy",
        strategy="random",
        max_trials=3,
        epochs=2,
        overwrite=True,
        results_dir=str(workdir / "my_dir"),
        name="helloworld",
        keep_top=2,  # KerasTuner keeps every trial's model; we keep the best keep_top
    )

    # models = tuner.get_best_models(num_models=2); best_model = models[0]
    models = results.best_models(2)
    best_model = models[0]
    best_model.summary()

    # tuner.results_summary()
    print(results.table.head(3).to_string(index=False))
    print(results.stop_reason)

    # best_hps = tuner.get_best_hyperparameters(5)
    # model = build_model(best_hps[0])
    model = build_model(results.best_hp)
    # Train with the whole dataset, as the guide does.
    model.fit(x, y, epochs=2, verbose=0)
    print(f"retrained: {len(model.layers)} layers, best values {results.best_hyperparameters}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
