"""Cross-validated campaigns (``cross_validation = K``), timed: packed against one model a trial,
and against scikit-learn's ``RandomizedSearchCV`` over `tuner.sklearn.MLPClassifier` with the
same budget (trials) and folds.

    nice -n 10 python benchmarks/cv_vs_sklearn.py packing          # wine, K=5, 12 trials
    nice -n 10 python benchmarks/cv_vs_sklearn.py sklearn          # wine and 500-image MNIST
    nice -n 10 python benchmarks/cv_vs_sklearn.py sklearn --datasets wine --trials 10

Each measurement runs in a process of its own (``--one``), and times the search call only
(not the ~8 s of TensorFlow's import). Both routes search units (32, 64, 128), n_layers (1, 2,
3) and a log-uniform learning rate over 1e-4..1e-1 (the `packing` comparison fixes units and
n_layers: every trial is one architecture, one pack per fold), for `--epochs` epochs, with
StratifiedKFold(K, shuffle=True, random_state=0) over the same samples: the campaign's training
and validation data (standardised as the campaign standardises them; scikit-learn's route puts a
StandardScaler in its pipeline, fitted on each fold's training part). The best mean CV accuracy
of the two routes differ in the configurations their random draws give. Prints a Markdown table
and one JSON line. Run by hand, never by CI.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from typing import Any

FOLDS = 5
LEARNING_RATE = {"min": 1e-4, "max": 1e-1, "sampling": "log"}


def _data(dataset: str, max_samples: int | None) -> tuple[Any, Any]:
    """The pooled training and validation data a campaign of `dataset` cuts its folds from,
    before its standardisation (scikit-learn's pipeline standardises per fold)."""
    import numpy as np

    from tuner.datasets import load_dataset
    from tuner.folds import pooled

    data = load_dataset(dataset, max_samples=max_samples, seed=0, standardize=False)
    x, y = pooled(data)
    return x.reshape(len(x), -1), np.asarray(y).reshape(-1)


def campaign(
    dataset: str, max_samples: int | None, trials: int, epochs: int, pack: Any, fixed: bool
) -> dict[str, Any]:
    import tuner
    from tuner.campaign import Campaign

    space: dict[str, Any] = {"learning_rate": LEARNING_RATE}
    space.update(
        {"units": 64, "n_layers": 2} if fixed else {"units": [32, 64, 128], "n_layers": [1, 2, 3]}
    )
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        found = tuner.search(
            Campaign(
                name="cv",
                dataset=dataset,
                max_samples=max_samples,
                objective="val_accuracy",
                strategy="random",
                max_trials=trials,
                epochs=epochs,
                seed=0,
                cross_validation=FOLDS,
                pack=pack,
                space=space,
                results_dir=folder,
                tune_new_entries=False,
                pruning="none",  # as scikit-learn's search: every trial trains its course
            )
        )
        seconds = time.perf_counter() - started
    best = found.best_record
    assert best is not None
    return {"seconds": seconds, "best_cv": best.score, "best_std": best.cv_std}


def sklearn_search(
    dataset: str, max_samples: int | None, trials: int, epochs: int
) -> dict[str, Any]:
    from scipy.stats import loguniform
    from sklearn.model_selection import RandomizedSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tuner.sklearn import MLPClassifier

    x, y = _data(dataset, max_samples)
    search = RandomizedSearchCV(
        make_pipeline(StandardScaler(), MLPClassifier(epochs=epochs, random_state=0)),
        {
            "mlpclassifier__units": [32, 64, 128],
            "mlpclassifier__n_layers": [1, 2, 3],
            "mlpclassifier__learning_rate": loguniform(1e-4, 1e-1),
        },
        n_iter=trials,
        cv=StratifiedKFold(FOLDS, shuffle=True, random_state=0),
        random_state=0,
        refit=False,  # the campaign refits its best trial only once it is kept: compare searches
    )
    started = time.perf_counter()
    search.fit(x, y)
    seconds = time.perf_counter() - started
    best = int(search.best_index_)
    return {
        "seconds": seconds,
        "best_cv": float(search.best_score_),
        "best_std": float(search.cv_results_["std_test_score"][best]),
    }


SETUPS = {  # name: (dataset, max_samples)
    "wine": ("wine", None),
    "mnist500": ("mnist", 500),
}


def one(spec: dict[str, Any]) -> dict[str, Any]:
    dataset, max_samples = SETUPS[spec["setup"]]
    if spec["route"] == "sklearn":
        return sklearn_search(dataset, max_samples, spec["trials"], spec["epochs"])
    return campaign(
        dataset, max_samples, spec["trials"], spec["epochs"], spec["pack"], spec["fixed"]
    )


def _in_process(spec: dict[str, Any]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--one", json.dumps(spec)],
        capture_output=True,
        text=True,
    )
    if out.returncode:
        raise SystemExit(f"{spec}: failed\n{out.stderr[-3000:]}")
    return dict(spec, **json.loads(out.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("compare", nargs="?", choices=["packing", "sklearn"], default="packing")
    parser.add_argument("--trials", type=int)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--datasets", default="wine,mnist500")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one(json.loads(args.one))))
        return 0
    specs: list[dict[str, Any]] = []
    if args.compare == "packing":
        base = {"setup": "wine", "route": "campaign", "trials": args.trials or 12}
        specs = [
            dict(base, epochs=args.epochs, pack=pack, fixed=True, label=f"campaign pack={pack}")
            for pack in ("auto", 1)
        ]
    else:
        for setup in args.datasets.split(","):
            base = {"setup": setup, "trials": args.trials or 20, "epochs": args.epochs}
            specs += [
                dict(base, route="campaign", pack="auto", fixed=False, label="campaign, packed"),
                dict(base, route="sklearn", label="RandomizedSearchCV(MLPClassifier)"),
            ]
    rows = [_in_process(spec) for spec in specs]
    print(f"| data | route | trials x {FOLDS} folds | best mean CV accuracy (std) | wall s |")
    print("| --- | --- | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['setup']} | {row['label']} | {row['trials']} | "
            f"{row['best_cv']:.4f} ({row['best_std']:.4f}) | {row['seconds']:.1f} |"
        )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
