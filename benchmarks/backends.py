"""Seconds per trial on each Keras backend, through the CLI as a user runs it, on the textbook
campaign (`experiments/textbook_sgd.toml`: 400/100 MNIST images, 6x100 ReLU, He init, plain
SGD, batch 100, 50 epochs, learning rate log-uniform 1e-6..1e-2, L2 log-uniform 1e-8..1e-4,
random search), one trial at a time (``--pack 1``; `packed_vs_sequential.py --backend` times
packed trials).

    python benchmarks/backends.py                        # TensorFlow and JAX, 10 trials, 1 round
    python benchmarks/backends.py --trials 20 --rounds 3
    python benchmarks/backends.py --backends tensorflow,jax,torch

Each backend runs `tuner search` as its own process, in turn within a round (the order
alternates between rounds: this machine's speed drifts, so compare numbers of one run). A trial's
time is the `duration_s` the results table records (build, copy into a reused compiled model,
fit with validation); the first trial of a process also compiles its model's steps. Prints a
Markdown table and one JSON line. Run by hand, never by CI.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from textbook_runs import (  # benchmarks/, the script's folder
    medians_over_rounds,
    print_table,
    run_textbook,
)


def run_backend(backend: str, trials: int, folder: Path) -> dict[str, float]:
    """One `tuner search` of the textbook campaign on `backend`: its per-trial seconds."""
    return run_textbook(backend, trials, folder, env={"KERAS_BACKEND": backend})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--backends", default="tensorflow,jax")
    args = parser.parse_args(argv)
    backends = args.backends.split(",")
    summary = medians_over_rounds(
        backends, args.rounds, lambda backend, folder: run_backend(backend, args.trials, folder)
    )
    print_table(
        summary, kind="backend", reference="tensorflow", trials=args.trials, rounds=args.rounds
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
