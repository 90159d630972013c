"""One `tuner search` process of the textbook campaign (`experiments/textbook_sgd.toml`), one
trial at a time, timed from the durations its results table records: shared by the benchmarks
that compare settings of one campaign (`backends.py`, `precision.py`)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = ROOT / "experiments" / "textbook_sgd.toml"


def run_textbook(
    label: str,
    trials: int,
    folder: Path,
    *,
    options: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> dict[str, float]:
    """Run the campaign with these CLI `options` and environment additions; its first trial's
    seconds (which compile its model's steps), the later trials' median and mean, the wall time
    and the best score. Exits with the run's stderr when it fails."""
    environment = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        **(env or {}),
    )
    command = [sys.executable, "-m", "tuner", "search", str(CAMPAIGN), "--quiet", "--overwrite"]
    command += ["--max-trials", str(trials), "--pack", "1", "--results-dir", str(folder)]
    command += list(options)
    started = time.perf_counter()
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{label}: exit {done.returncode}\n{done.stderr[-3000:]}")
    table = pd.read_csv(folder / "textbook_sgd" / "trials.csv").sort_values("trial_id")
    durations = table["duration_s"].tolist()
    later = durations[1:]
    return {
        "first_s": durations[0],
        "later_median_s": statistics.median(later) if later else float("nan"),
        "later_mean_s": statistics.fmean(later) if later else float("nan"),
        "wall_s": wall,
        "best": float(table["score"].max()),
    }


def medians_over_rounds(
    names: Sequence[str], rounds: int, run: Callable[[str, Path], dict[str, float]]
) -> dict[str, dict[str, float]]:
    """`run(name, folder)` for each name, `rounds` times (in turn within a round, the order
    reversed every other round: this machine's speed drifts); each name's medians. Prints each
    run's figures to stderr as it ends."""
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(rounds):
            for name in names if round_ % 2 == 0 else names[::-1]:
                result = run(name, Path(scratch) / name)
                runs[name].append(result)
                print(f"round {round_ + 1} {name}: {json.dumps(result)}", file=sys.stderr)
    return {
        name: {key: statistics.median(r[key] for r in results) for key in results[0]}
        for name, results in runs.items()
    }


def print_table(
    summary: dict[str, dict[str, float]], *, kind: str, reference: str, trials: int, rounds: int
) -> None:
    """`summary` (`medians_over_rounds`) as a Markdown table, each row's later trials against
    the `reference` row's; then one JSON line."""
    base = summary.get(reference, {}).get("later_median_s")
    print(f"textbook campaign, {trials} trials a process, {rounds} round(s), medians:")
    print(
        f"| {kind} | first trial s | later trials s (median) | later / {reference} | wall s | best |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, run in summary.items():
        ratio = run["later_median_s"] / base if base else float("nan")
        print(
            f"| {name} | {run['first_s']:.2f} | {run['later_median_s']:.3f} | {ratio:.2f}x "
            f"| {run['wall_s']:.1f} | {run['best']:.2f} |"
        )
    print(json.dumps({"trials": trials, "rounds": rounds, f"{kind}s": summary}))
