"""Your own model on your own data, as a new user would write it.

    python examples/own_model.py [WORKDIR]

1. Writes a CSV with string labels (iris, with the species' names) into WORKDIR.
2. Tunes a builder of its own on it from Python: ``tuner.search(build, x, y, ...)``.
3. Reopens the results with ``tuner.load_results`` and predicts labels on raw rows.
4. Runs the same builder through a campaign file from the command line.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import keras
import keras_tuner as kt


def build(hp: kt.HyperParameters) -> keras.Model:
    """A small classifier; the number of classes comes from the data (`hp` only tunes)."""
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(hp.Int("units", 8, 32, step=8, default=16), activation="relu"),
            keras.layers.Dropout(hp.Float("dropout", 0.0, 0.3, step=0.1, default=0.0)),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(hp.Float("lr", 1e-3, 1e-1, sampling="log", default=1e-2)),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


CAMPAIGN = """\
name = "iris_cli"
dataset = "csv:{csv}"
target = "species"
model = "own_model:build"
objective = "val_accuracy"
max_trials = 3
epochs = 15
[space]
units = [8, 16, 32]
lr = {{ min = 1e-3, max = 1e-1, sampling = "log" }}
"""


def write_csv(folder: Path) -> Path:
    from sklearn.datasets import load_iris

    frame = load_iris(as_frame=True).frame
    names = load_iris().target_names
    frame["species"] = [names[i] for i in frame.pop("target")]
    path = folder / "iris.csv"
    frame.to_csv(path, index=False)
    return path


def main(workdir: Path) -> None:
    import pandas as pd

    import tuner

    workdir.mkdir(parents=True, exist_ok=True)
    csv = write_csv(workdir)
    frame = pd.read_csv(csv)
    x, y = frame.drop(columns="species"), frame["species"]

    found = tuner.search(
        build,
        x,
        y,
        validation_split=0.25,
        standardize=True,
        objective="val_accuracy",
        space={"units": [8, 16, 32]},
        max_trials=4,
        epochs=15,
        name="iris_python",
        results_dir=str(workdir / "results"),
    )
    print(found.table[["rank", "trial_id", "score", "units"]].to_string(index=False))

    reopened = tuner.load_results("iris_python", workdir / "results")
    raw_rows = x.head(5).to_numpy()
    labels = reopened.predict_labels(raw_rows)
    print("class names:", reopened.class_names)
    print("predicted:", list(labels), "true:", list(y.head(5)))
    assert set(labels) <= set(y), labels
    assert reopened.best_hyperparameters["units"] in (8, 16, 32)

    campaign_file = workdir / "iris_cli.toml"
    campaign_file.write_text(CAMPAIGN.format(csv=csv))
    # The builder module is found from the campaign file's folder or the working directory.
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tuner",
            "search",
            str(campaign_file),
            "--quiet",
            "--results-dir",
            str(workdir / "results"),
        ],
        check=True,
        cwd=Path(__file__).parent,
    )
    from_cli = tuner.load_results("iris_cli", workdir / "results")
    print("CLI best:", from_cli.best_hyperparameters)
    assert len(from_cli.table) == 3


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
