"""Trials per minute with 1, 2 and 4 local worker processes (`tuner search --workers N`),
against one process, on a campaign whose trials differ in shape (n_layers and units tuned),
so that packing cannot put them all in one model: parallel trials have to come from workers.

    python benchmarks/workers.py                        # 24 trials of digits, 10 epochs
    python benchmarks/workers.py --workers 1 2 --trials 12

Each run is `tuner search` as its own process, in turn, in this one run (the machine's speed
drifts); the time is wall time from start to exit, the chief's and the workers' start-up
(TensorFlow's import, about 8 s a process here) included, as a user waits for it. Checks
that every run kept every trial once and found the same best trial. Prints a Markdown table.
Run by hand, never by CI.

Last run (2 CPU cores shared with two other engineers' work, load average 4-7 throughout, so
the machine had no idle core to give: noisy, and no speed-up was there to be had; TF 2.21,
Keras 3.15), `python benchmarks/workers.py`:

    24 trials of digits (MLP, n_layers 1-4, units 32-256), 10 epochs; 2 CPU cores; same best
    trial in every run: True

    | run | wall (s) | trials/min | vs one process |
    |---|---:|---:|---:|
    | one process | 199.2 | 7.2 | 1.00x |
    | --workers 1 | 168.1 | 8.6 | 1.18x |
    | --workers 2 | 176.1 | 8.2 | 1.13x |
    | --workers 4 | 172.2 | 8.4 | 1.16x |
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

CAMPAIGN = """\
name = "{name}"
dataset = "digits"
validation_split = 0.2
model = "mlp"
objective = "val_accuracy"
strategy = "random"
max_trials = {trials}
epochs = {epochs}
seed = 0

[space]
n_layers = {{ min = 1, max = 4 }}
units = {{ min = 32, max = 256, step = 32 }}
learning_rate = 0.003
"""


def run(campaign: Path, results: Path, workers: int | None) -> tuple[float, pd.DataFrame]:
    command = [sys.executable, "-m", "tuner", "search", str(campaign), "--quiet"]
    command += ["--results-dir", str(results)]
    if workers is not None:
        command += ["--workers", str(workers)]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    name = campaign.stem
    return wall, pd.read_csv(results / name / "trials.csv", dtype={"trial_id": str})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--trials", type=int, default=24)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        campaign = root / "shapes.toml"
        campaign.write_text(CAMPAIGN.format(name="shapes", trials=args.trials, epochs=args.epochs))
        rows = []
        for workers in [None, *args.workers]:
            wall, table = run(campaign, root / f"run{workers or 0}", workers)
            ids = sorted(table["trial_id"])
            assert ids == sorted(set(ids)) and len(ids) == args.trials, ids
            rows.append((workers, wall, table))
            print(f"{workers or 'one process'}: {wall:.1f} s", file=sys.stderr)
    best = {table.iloc[0]["trial_id"] for _, _, table in rows}
    print(
        f"{args.trials} trials of digits (MLP, n_layers 1-4, units 32-256), {args.epochs} "
        f"epochs; {os.cpu_count()} CPU cores; same best trial in every run: {len(best) == 1}\n"
    )
    print("| run | wall (s) | trials/min | vs one process |")
    print("|---|---:|---:|---:|")
    base = rows[0][1]
    for workers, wall, _ in rows:
        label = "one process" if workers is None else f"--workers {workers}"
        print(f"| {label} | {wall:.1f} | {args.trials / wall * 60:.1f} | {base / wall:.2f}x |")


if __name__ == "__main__":
    main()
