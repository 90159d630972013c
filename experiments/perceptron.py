"""Experiment 9: the perceptron and logical functions (Géron ch.10 §10.1, the lecture,
Raschka ch.12).

Géron fits scikit-learn's `Perceptron` to the iris petals (setosa or not) and it separates them
perfectly; a single perceptron draws one straight line, so it learns AND but cannot learn XOR.
The perceptron learning rule is not gradient descent on a differentiable loss, so it is not a
Keras model: rather than imitate it with a one-unit Keras network (that would be logistic
regression), this runs scikit-learn's own `Perceptron`, the estimator the book uses, with
`tuner.Study` walking the grid of datasets (bundled: `iris_setosa`, `and`, `xor`) and keeping
the results. Expect validation accuracy 1.0 on iris_setosa and and, about 0.5 on xor (chance).
The MLP that solves XOR is perceptron_xor_mlp.toml; the lecture's AND network is
lecture_and_network.toml.

    python experiments/perceptron.py [--results-dir results] [--seed 0]

writes ``<results-dir>/perceptron/trials.csv`` (one row per dataset: training and validation
accuracy) and ``summary.md``; the study's own state is in the folder's ``.engine``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.linear_model import Perceptron

import tuner
from tuner.results.render import to_markdown

NAME = "perceptron"
SPACE = {"dataset": ["iris_setosa", "and", "xor"]}


def evaluate(dataset: str, seed: int) -> dict[str, float]:
    """Training and validation accuracy of scikit-learn's Perceptron on a bundled dataset."""
    data = tuner.load_dataset(dataset, seed=seed)
    model = Perceptron(random_state=seed).fit(data.x_train, data.y_train)
    return {
        "accuracy": float(model.score(data.x_train, data.y_train)),
        "val_accuracy": float(model.score(data.x_val, data.y_val)),
    }


def run(results_dir: str | Path = "results", seed: int = 0) -> pd.DataFrame:
    """Run the grid afresh into ``<results_dir>/perceptron`` and return its table."""
    folder = Path(results_dir) / NAME
    if folder.exists():
        shutil.rmtree(folder)  # a rerun starts over, as `tuner search --overwrite` does
    folder.mkdir(parents=True)
    study = tuner.Study(
        SPACE,
        objective="val_accuracy",
        direction="max",
        strategy="grid",
        seed=seed,
        max_trials=len(SPACE["dataset"]),
        folder=folder,
    )
    scores: dict[str, dict[str, Any]] = {}

    def objective(trial: tuner.StudyTrial) -> float:
        scores[trial.trial_id] = evaluate(trial.values["dataset"], seed)
        return scores[trial.trial_id]["val_accuracy"]

    study.optimize(objective)
    table = study.dataframe()
    table.insert(3, "accuracy", [scores[t]["accuracy"] for t in table["trial_id"]])
    table.to_csv(folder / "trials.csv", index=False)
    summary = (
        "# perceptron\n\nscikit-learn's `Perceptron` (the rule of Rosenblatt, as in Géron "
        f"ch.10) on each bundled dataset, seed {seed}.\n\n"
        + to_markdown(table.drop(columns=["error"]))
        + "\n"
    )
    (folder / "summary.md").write_text(summary, encoding="utf-8")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print(run(args.results_dir, args.seed).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
