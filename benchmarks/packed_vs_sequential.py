"""Packed trials against one-at-a-time trials and against KerasTuner, through the CLI as a user
runs it, on the textbook setup (400/100 MNIST images, 6x100 ReLU, He init, batch 100, 50
epochs, learning rate log-uniform 1e-6..1e-2, L2 log-uniform 1e-8..1e-4).

    python benchmarks/packed_vs_sequential.py                     # SGD, random, 100 trials
    python benchmarks/packed_vs_sequential.py --optimizer adam
    python benchmarks/packed_vs_sequential.py --strategy bayesian --no-kerastuner
    python benchmarks/packed_vs_sequential.py --trials 20 --no-kerastuner   # a quick look
    python benchmarks/packed_vs_sequential.py --backend jax --no-kerastuner --no-sequential

Each engine runs as its own process, in turn, in this one run (the machine's speed drifts):
`tuner search` with the default settings (packing on), `tuner search` with ``pack = 1``, and
KerasTuner's RandomSearch (BayesianOptimization for ``--strategy bayesian``; the same
optimizer) as its guide writes it (`search_vs_kerastuner.py --engine kerastuner`). Prints one JSON line: wall seconds of each, the speed-ups, and the agreement of
the packed and the one-at-a-time runs (same proposals; correlation of per-trial scores; best
scores). Run by hand, never by CI.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
CAMPAIGN = """\
name = "{name}"
dataset = "mnist"
max_samples = 500
validation_split = 0.2
model = "mlp"
objective = "val_accuracy"
strategy = "{strategy}"
max_trials = {trials}
epochs = 50
seed = {seed}
{extra}

[space]
n_layers = 6
units = 100
activation = "relu"
kernel_initializer = "he_normal"
optimizer = "{optimizer}"
batch_size = 100
learning_rate = {{ min = 1e-6, max = 1e-2, sampling = "log" }}
l2 = {{ min = 1e-8, max = 1e-4, sampling = "log" }}
"""


def timed(command: list[str], cwd: Path, backend: str | None = None) -> float:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    if backend:
        env["KERAS_BACKEND"] = backend
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def run_tuner(folder: Path, name: str, args: argparse.Namespace, extra: str = "") -> float:
    path = folder / f"{name}.toml"
    path.write_text(
        CAMPAIGN.format(
            name=name,
            strategy=args.strategy,
            trials=args.trials,
            seed=args.seed,
            optimizer=args.optimizer,
            extra=extra,
        )
    )
    tuner = Path(sys.executable).with_name("tuner")
    command = [str(tuner), "search", str(path), "--results-dir", str(folder)]
    return timed(command, folder, args.backend)


def hyperparameters(table: pd.DataFrame) -> pd.DataFrame:
    return table.set_index("trial_id")[["learning_rate", "l2"]].sort_index()


def agreement(packed: pd.DataFrame, alone: pd.DataFrame) -> dict:
    joined = packed[["trial_id", "score"]].merge(
        alone[["trial_id", "score"]], on="trial_id", how="left", suffixes=("_packed", "_alone")
    )
    both = joined.dropna()
    same = hyperparameters(packed).equals(hyperparameters(alone))
    return {
        "same_proposals": bool(same),
        "trials_compared": len(both),
        "score_correlation": float(np.corrcoef(both["score_packed"], both["score_alone"])[0, 1]),
        "best_packed": float(packed["score"].max()),
        "best_alone": float(alone["score"].max()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--optimizer", default="sgd")
    parser.add_argument("--strategy", default="random")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-kerastuner", action="store_true")
    parser.add_argument("--no-sequential", action="store_true")
    parser.add_argument(
        "--backend", default=None, help="Keras backend of our runs (default: KERAS_BACKEND)"
    )
    args = parser.parse_args()
    result: dict = vars(args).copy()
    result["backend"] = args.backend or os.environ.get("KERAS_BACKEND", "tensorflow")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result["packed_s"] = run_tuner(folder, "packed", args)
        packed = pd.read_csv(folder / "packed" / "trials.csv")
        result["packed_trials"] = len(packed)
        if not args.no_sequential:
            result["sequential_s"] = run_tuner(folder, "alone", args, extra="pack = 1")
            alone = pd.read_csv(folder / "alone" / "trials.csv")
            result["speedup_vs_sequential"] = result["sequential_s"] / result["packed_s"]
            result.update(agreement(packed, alone))
        if not args.no_kerastuner:
            result["kerastuner_s"] = timed(
                [
                    sys.executable,
                    str(HERE / "search_vs_kerastuner.py"),
                    "--engine",
                    "kerastuner",
                    "--trials",
                    str(args.trials),
                    "--strategy",
                    args.strategy,
                    "--optimizer",
                    args.optimizer,
                ],
                folder,
            )
            result["speedup_vs_kerastuner"] = result["kerastuner_s"] / result["packed_s"]
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}))


if __name__ == "__main__":
    main()
