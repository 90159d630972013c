"""Seconds per trial in each precision and with or without XLA, through the CLI as a user runs
it, on the textbook campaign (`experiments/textbook_sgd.toml`: 400/100 MNIST images, 6x100 ReLU,
plain SGD, batch 100, 50 epochs), one trial at a time (``--pack 1``: packs compute in float32).

    python benchmarks/precision.py                       # float32, mixed_float16, mixed_bfloat16
    python benchmarks/precision.py --trials 6 --rounds 2 --settings float32,float32+xla

A setting is a policy (``float32`` is ``--mixed-precision false``), ``+xla`` adding
``--jit-compile true`` (else ``--jit-compile false``). Each setting runs `tuner search` as its
own process, in turn within a round (the order alternates between rounds: this machine's speed
drifts, so compare numbers of one run). A trial's time is the `duration_s` the results table
records; the first trial of a process also traces (and with XLA compiles) its steps. This is
what `mixed_precision = true` is decided from on a CPU (`tuner.backends.TRUE_POLICY`). Prints a
Markdown table and one JSON line. Run by hand, never by CI.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = ROOT / "experiments" / "textbook_sgd.toml"


def run_setting(setting: str, trials: int, folder: Path) -> dict[str, float]:
    """One `tuner search` of the textbook campaign in `setting`: its per-trial seconds."""
    policy, _, xla = setting.partition("+")
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    command = [sys.executable, "-m", "tuner", "search", str(CAMPAIGN), "--quiet", "--overwrite"]
    command += ["--max-trials", str(trials), "--pack", "1", "--results-dir", str(folder)]
    command += ["--mixed-precision", "false" if policy == "float32" else policy]
    command += ["--jit-compile", "true" if xla == "xla" else "false"]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{setting}: exit {done.returncode}\n{done.stderr[-3000:]}")
    table = pd.read_csv(folder / "textbook_sgd" / "trials.csv").sort_values("trial_id")
    durations = table["duration_s"].tolist()
    later = durations[1:]
    return {
        "first_s": durations[0],
        "later_median_s": statistics.median(later) if later else float("nan"),
        "wall_s": wall,
        "best": float(table["score"].max()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--settings", default="float32,mixed_float16,mixed_bfloat16")
    args = parser.parse_args(argv)
    settings = args.settings.split(",")
    runs: dict[str, list[dict[str, float]]] = {s: [] for s in settings}
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            order = settings if round_ % 2 == 0 else settings[::-1]
            for setting in order:
                result = run_setting(setting, args.trials, Path(scratch) / setting)
                runs[setting].append(result)
                print(f"round {round_ + 1} {setting}: {json.dumps(result)}", file=sys.stderr)
    summary = {
        s: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for s, rs in runs.items()
    }
    reference = summary[settings[0]]["later_median_s"]
    print(f"textbook campaign, {args.trials} trials a process, {args.rounds} round(s), medians:")
    print(f"| setting | first trial s | later trials s (median) | later / {settings[0]} | best |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for s, r in summary.items():
        print(
            f"| {s} | {r['first_s']:.2f} | {r['later_median_s']:.3f} "
            f"| {r['later_median_s'] / reference:.2f}x | {r['best']:.2f} |"
        )
    print(json.dumps({"trials": args.trials, "rounds": args.rounds, "settings": summary}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
