"""The textbook random search, through this toolkit and through KerasTuner as its docs show it.

Setup (Saito, "Deep Learning from Scratch" ch. 6): 400 training and 100 validation MNIST images,
6 hidden layers of 100 ReLU units with He initialisation, plain SGD, batch 100, 50 epochs,
learning rate log-uniform in [1e-6, 1e-2], L2 log-uniform in [1e-8, 1e-4].

    python benchmarks/search_vs_kerastuner.py --trials 20 --rounds 3 --threads 1   # both, in turn
    python benchmarks/search_vs_kerastuner.py --engine kerastuner --trials 10
    python benchmarks/search_vs_kerastuner.py --compare-strategies random,bayesian --seeds 0,1,2
    python benchmarks/search_vs_kerastuner.py --proposals 100   # Bayesian proposal time

Prints one JSON line: seconds per trial (whole search call / trials), seconds per trial of the
trial loop outside `fit` (and outside model building too), best val_accuracy.
Run by hand, never by CI.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import keras_tuner as kt  # noqa: E402
import numpy as np  # noqa: E402

from tuner.datasets import load_dataset  # noqa: E402

LR_RANGE = {"min": 1e-6, "max": 1e-2, "sampling": "log"}
L2_RANGE = {"min": 1e-8, "max": 1e-4, "sampling": "log"}
FIXED = {
    "n_layers": 6,
    "units": 100,
    "activation": "relu",
    "kernel_initializer": "he_normal",
    "optimizer": "sgd",
    "batch_size": 100,
}
EPOCHS = 50


def data():
    return load_dataset("mnist", max_samples=500, validation_split=0.2, seed=0)


class Clock:
    """Adds up the seconds spent inside some methods (`fit`, `build`), whoever calls them."""

    def __init__(self, **methods: tuple[type, str]):
        self.methods = methods
        self.seconds = {name: 0.0 for name in methods}
        self._originals = {name: getattr(owner, attr) for name, (owner, attr) in methods.items()}

    def _timed(self, name: str):
        original = self._originals[name]

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[name] += time.perf_counter() - started

        return timed

    def __enter__(self):
        for name, (owner, attr) in self.methods.items():
            setattr(owner, attr, self._timed(name))
        return self

    def __exit__(self, *exc):
        for name, (owner, attr) in self.methods.items():
            setattr(owner, attr, self._originals[name])


def run_ours(trials: int, seed: int, strategy: str, folder: Path, threads: int) -> dict:
    from tuner import api
    from tuner.campaign import from_dict

    campaign = from_dict(
        {
            "name": f"bench_{strategy}_{seed}",
            "results_dir": str(folder),
            "dataset": "mnist",
            "max_samples": 500,
            "validation_split": 0.2,
            "objective": "val_accuracy",
            "strategy": strategy,
            "max_trials": trials,
            "epochs": EPOCHS,
            "seed": seed,
            "threads": threads,
            "space": dict(FIXED, learning_rate=LR_RANGE, l2=L2_RANGE),
        }
    )
    from tuner.builders.mlp import MLPHyperModel

    with Clock(
        fit=(keras.Model, "fit"), build=(MLPHyperModel, "build"), loop=(api, "run_trials")
    ) as clock:
        started = time.perf_counter()
        found = api.search(campaign, overwrite=True)
        total = time.perf_counter() - started
    return {
        "total_s": total,
        "loop_s": clock.seconds["loop"],
        "fit_s": clock.seconds["fit"],
        "build_s": clock.seconds["build"],
        "best_val_accuracy": float(found.table.iloc[0]["score"]),
    }


def kerastuner_build(hp: kt.HyperParameters, optimizer: str = "sgd") -> keras.Model:
    """The textbook model, written the way KerasTuner's getting-started guide writes builders
    (`optimizer`: a Keras optimizer name, "sgd" or "adam")."""
    l2 = hp.Float("l2", 1e-8, 1e-4, sampling="log")
    model = keras.Sequential([keras.Input(shape=(784,))])
    for _ in range(6):
        model.add(
            keras.layers.Dense(
                100,
                activation="relu",
                kernel_initializer="he_normal",
                kernel_regularizer=keras.regularizers.L2(l2),
            )
        )
    model.add(keras.layers.Dense(10, activation="softmax"))
    model.compile(
        optimizer=keras.optimizers.get(
            {
                "class_name": optimizer,
                "config": {"learning_rate": hp.Float("lr", 1e-6, 1e-2, sampling="log")},
            }
        ),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


class BuildFunction:
    """`kerastuner_build` as an object, so the clock can time its calls."""

    def __init__(self, optimizer: str = "sgd"):
        self.optimizer = optimizer

    def __call__(self, hp: kt.HyperParameters) -> keras.Model:
        return kerastuner_build(hp, self.optimizer)


KERASTUNER_TUNERS = {"random": kt.RandomSearch, "bayesian": kt.BayesianOptimization}


def run_kerastuner(
    trials: int,
    seed: int,
    folder: Path,
    threads: int,
    strategy: str = "random",
    optimizer: str = "sgd",
) -> dict:
    from tuner import tf_backend

    tf_backend.configure_threads(threads)
    d = data()
    # KerasTuner keeps the builder function itself as the HyperModel's `build`: time it here.
    with Clock(
        fit=(keras.Model, "fit"),
        build=(BuildFunction, "__call__"),
        loop=(kt.Tuner, "search"),
    ) as clock:
        tuner = KERASTUNER_TUNERS[strategy](
            BuildFunction(optimizer),
            objective="val_accuracy",
            max_trials=trials,
            seed=seed or 1,
            directory=str(folder),
            project_name="kt",
            overwrite=True,
        )
        started = time.perf_counter()
        tuner.search(
            d.x_train,
            d.y_train,
            epochs=EPOCHS,
            batch_size=100,
            validation_data=(d.x_val, d.y_val),
            verbose=0,
        )
        total = time.perf_counter() - started
    best = tuner.oracle.get_best_trials(1)[0]
    return {
        "total_s": total,
        "loop_s": clock.seconds["loop"],
        "fit_s": clock.seconds["fit"],
        "build_s": clock.seconds["build"],
        "best_val_accuracy": float(best.score),
    }


def proposal_times(finished: int, strategy: str) -> dict:
    """Seconds per proposal once `finished` trials have ended, for our oracle and KerasTuner's."""
    from keras_tuner.engine import trial as trial_module

    from tuner.space import build_space
    from tuner.store.engine_kt import set_project_dir
    from tuner.strategies import create_oracle, end_trial
    from tuner.strategies.oracles_kt import silence

    rng = np.random.default_rng(0)
    space = build_space({"learning_rate": LR_RANGE, "l2": L2_RANGE})

    def drive(oracle) -> list[float]:
        set_project_dir(oracle, tempfile.mkdtemp(), "engine")
        seconds = []
        for i in range(finished + 5):
            started = time.perf_counter()
            trial = oracle.create_trial("chief")
            if i >= finished:
                seconds.append(time.perf_counter() - started)
            lr = trial.hyperparameters.values["learning_rate"]
            score = 0.9 - 0.05 * (np.log10(lr) + 2.5) ** 2 + rng.normal(scale=0.01)
            oracle.update_trial(trial.trial_id, {"val_accuracy": float(score)})
            trial.status = trial_module.TrialStatus.COMPLETED
            end_trial(oracle, trial)
        return seconds

    ours = drive(
        create_oracle(
            "bayesian",
            objective="val_accuracy",
            direction="max",
            hyperparameters=space,
            max_trials=finished + 5,
        )
    )
    theirs = kt.oracles.BayesianOptimizationOracle(
        objective=kt.Objective("val_accuracy", "max"),
        max_trials=finished + 5,
        hyperparameters=space,
        seed=1,
    )
    silence(theirs)
    return {
        "finished_trials": finished,
        "ours_s": statistics.median(ours),
        "kerastuner_s": statistics.median(drive(theirs)),
    }


def run_engine(
    engine: str, trials: int, seed: int, strategy: str, threads: int, optimizer: str = "sgd"
) -> dict:
    """One search through one engine, timed: a JSON-ready dict."""
    with tempfile.TemporaryDirectory() as folder:
        if engine == "ours":
            result = run_ours(trials, seed, strategy, Path(folder), threads)
        else:
            result = run_kerastuner(trials, seed, Path(folder), threads, strategy, optimizer)
    result.update(
        engine=engine,
        strategy=strategy,
        trials=trials,
        seed=seed,
        threads=threads,
        backend=keras.backend.backend(),
        seconds_per_trial=result["total_s"] / trials,
        outside_fit_per_trial_s=(result["loop_s"] - result["fit_s"]) / trials,
        outside_build_and_fit_per_trial_s=(result["loop_s"] - result["fit_s"] - result["build_s"])
        / trials,
    )
    return result


def compare(trials: int, seed: int, threads: int, rounds: int) -> dict:
    """Both engines in turn, `rounds` times, in this one process (same TensorFlow, same
    threads): the ratio is taken round by round, so a drift in the machine's speed cancels."""
    for engine in ("kerastuner", "ours"):  # untimed: TensorFlow's one-off start-up costs
        run_engine(engine, 1, seed, "random", threads)
    rows = []
    for _ in range(rounds):
        pair = {
            engine: run_engine(engine, trials, seed, "random", threads)
            for engine in ("kerastuner", "ours")
        }
        rows.append(pair)
        print(
            json.dumps(
                {
                    e: {k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                    for e, r in pair.items()
                }
            ),
            flush=True,
        )

    def median(engine: str, key: str) -> float:
        return statistics.median(row[engine][key] for row in rows)

    ratios = [
        row["kerastuner"]["seconds_per_trial"] / row["ours"]["seconds_per_trial"] for row in rows
    ]

    return {
        "rounds": rounds,
        "trials": trials,
        "threads": threads,
        "backend": keras.backend.backend(),
        "kerastuner_s_per_trial": median("kerastuner", "seconds_per_trial"),
        "ours_s_per_trial": median("ours", "seconds_per_trial"),
        "speedup_median": statistics.median(ratios),
        "speedup_min": min(ratios),
        "ours_outside_fit_s": median("ours", "outside_fit_per_trial_s"),
        "ours_outside_build_and_fit_s": median("ours", "outside_build_and_fit_per_trial_s"),
        "kerastuner_outside_fit_s": median("kerastuner", "outside_fit_per_trial_s"),
        "kerastuner_best_val_accuracy": median("kerastuner", "best_val_accuracy"),
        "ours_best_val_accuracy": median("ours", "best_val_accuracy"),
    }


def compare_strategies(strategies: list[str], seeds: list[int], trials: int, threads: int) -> dict:
    """Best val_accuracy after `trials` trials of each strategy, for each seed; the medians."""
    best: dict[str, list[float]] = {strategy: [] for strategy in strategies}
    for seed in seeds:
        for strategy in strategies:
            result = run_engine("ours", trials, seed, strategy, threads)
            best[strategy].append(result["best_val_accuracy"])
            print(
                json.dumps(
                    {
                        "strategy": strategy,
                        "seed": seed,
                        "best_val_accuracy": result["best_val_accuracy"],
                        "seconds_per_trial": round(result["seconds_per_trial"], 3),
                    }
                ),
                flush=True,
            )
    return {
        "trials": trials,
        "seeds": seeds,
        "best_val_accuracy": best,
        "median": {strategy: statistics.median(v) for strategy, v in best.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["both", "ours", "kerastuner"], default="both")
    parser.add_argument("--strategy", default="random")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="--engine both: rounds of A/B")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--optimizer", default="sgd", help="--engine kerastuner: sgd or adam")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="TensorFlow threads for both engines (0 = TensorFlow's default)",
    )
    parser.add_argument("--proposals", type=int, help="time Bayesian proposals after N trials")
    parser.add_argument(
        "--compare-strategies",
        metavar="S,S",
        help="best score of each strategy over --seeds, e.g. random,bayesian",
    )
    parser.add_argument("--seeds", default="0,1,2", help="--compare-strategies: seeds")
    args = parser.parse_args()
    if args.compare_strategies:
        print(
            json.dumps(
                compare_strategies(
                    args.compare_strategies.split(","),
                    [int(s) for s in args.seeds.split(",")],
                    args.trials,
                    args.threads,
                )
            )
        )
    elif args.proposals:
        print(json.dumps(proposal_times(args.proposals, args.strategy)))
    elif args.engine == "both":
        print(json.dumps(compare(args.trials, args.seed, args.threads, args.rounds)))
    else:
        print(
            json.dumps(
                run_engine(
                    args.engine, args.trials, args.seed, args.strategy, args.threads, args.optimizer
                )
            )
        )


if __name__ == "__main__":
    main()
