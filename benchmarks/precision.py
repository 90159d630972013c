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
import sys
from pathlib import Path

from textbook_runs import (  # benchmarks/, the script's folder
    medians_over_rounds,
    print_table,
    run_textbook,
)


def run_setting(setting: str, trials: int, folder: Path) -> dict[str, float]:
    """One `tuner search` of the textbook campaign in `setting`: its per-trial seconds."""
    policy, _, xla = setting.partition("+")
    options = ["--mixed-precision", "false" if policy == "float32" else policy]
    options += ["--jit-compile", "true" if xla == "xla" else "false"]
    return run_textbook(setting, trials, folder, options=options)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--settings", default="float32,mixed_float16,mixed_bfloat16")
    args = parser.parse_args(argv)
    settings = args.settings.split(",")
    summary = medians_over_rounds(
        settings, args.rounds, lambda setting, folder: run_setting(setting, args.trials, folder)
    )
    print_table(
        summary, kind="setting", reference=settings[0], trials=args.trials, rounds=args.rounds
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
