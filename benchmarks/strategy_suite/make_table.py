"""Regenerate the suite's real-results table: train every configuration of
`table_grid.toml` once (grid search, packed) and keep one row per configuration.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 \
        python benchmarks/strategy_suite/make_table.py

Writes benchmarks/strategy_suite/digits_mlp_grid.csv (tuned columns, then val_accuracy).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
CAMPAIGN = HERE / "table_grid.toml"
TABLE = HERE / "digits_mlp_grid.csv"
COLUMNS = ["learning_rate", "units", "activation", "optimizer", "dropout"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TABLE)
    args = parser.parse_args(argv)
    from tuner import cli

    with tempfile.TemporaryDirectory() as tmp:
        code = cli.main(["search", str(CAMPAIGN), "--results-dir", tmp, "--quiet"])
        if code != 0:
            return code
        trials = pd.read_csv(Path(tmp) / "strategy_suite_digits_grid" / "trials.csv")
    done = trials[trials["status"] == "completed"]
    table = done[COLUMNS + ["score", "duration_s"]].rename(columns={"score": "val_accuracy"})
    table = table.sort_values(COLUMNS).reset_index(drop=True)
    table.to_csv(args.out, index=False)
    print(f"{len(table)} of {len(trials)} configurations -> {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
