"""Pruning on the textbook campaign (`experiments/textbook_sgd.toml`: 400/100 MNIST, 6x100 ReLU,
SGD, batch 100, 50 epochs, random search, 100 trials), through the CLI, packed (the campaign's
default packing), in one run: without pruning, with each pruner; and the baseline "train every
trial 1 epoch, continue the best few", read off the run without pruning (same seeds and
batches: continuing a trial from its first epoch is the trajectory the full run recorded).

For each: best validation accuracy, epochs trained, wall time of the whole process (TensorFlow's
start included), and the machine's load average before it started. A kind ending in
``/frozen`` runs that pruner with its stopped towers frozen in place, never moved into a
smaller stack (`tuner.execution.packed.shrunk_size` patched): what shrinking the pack saves.

    PYTHONPATH=. python benchmarks/pruning.py [--rounds 1] [--keep 5,10] \
        [--kinds none,median,asha,asha/frozen] [--campaign experiments/quickstart.toml]
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

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = ROOT / "experiments" / "textbook_sgd.toml"


FROZEN = (
    "import sys; import tuner.execution.packed as p; p.shrunk_size = lambda live, size: size; "
    "from tuner import cli; sys.exit(cli.main(sys.argv[1:]))"
)


def run(kind: str, folder: Path, extra: list[str], campaign: Path) -> dict[str, float]:
    """One `tuner search` process with ``--pruning kind``: its wall time, best score, epochs."""
    environment = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    pruning, _, frozen = kind.partition("/")
    start = [sys.executable, "-c", FROZEN] if frozen else [sys.executable, "-m", "tuner"]
    command = [*start, "search", str(campaign), "--quiet", "--overwrite"]
    command += ["--results-dir", str(folder), "--pruning", pruning, *extra]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run(command, env=environment, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{kind}: exit {done.returncode}\n{done.stderr[-3000:]}")
    table = pd.read_csv(next(folder.glob("*/trials.csv")))
    return {
        "wall_s": wall,
        "best": float(table["score"].max()),
        "epochs": int(table["epochs_run"].sum()),
        "pruned": int((table["status"] == "pruned").sum()),
        "load": load,
    }


def one_epoch_then_best(folder: Path, keep: int) -> dict[str, float]:
    """The baseline from a run without pruning: the `keep` best trials after epoch 1 go on to
    the last epoch; its best score and the epochs it would have trained."""
    history = pd.read_csv(next(folder.glob("*/history.csv")))
    first = history[history["epoch"] == 1].sort_values("val_accuracy", ascending=False)
    kept = list(first["trial_id"].head(keep))
    best = history[history["trial_id"].isin(kept)]["val_accuracy"].max()
    epochs = history["trial_id"].nunique() + sum(
        int((history["trial_id"] == t).sum()) - 1 for t in kept
    )
    return {"best": float(best), "epochs": epochs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--keep", default="5,10", help="the baseline's trials continued (comma-separated)"
    )
    parser.add_argument("--kinds", default="none,median,asha,asha/frozen")
    parser.add_argument("--campaign", type=Path, default=CAMPAIGN)
    parser.add_argument("extra", nargs="*", help="more `tuner search` options")
    args = parser.parse_args()
    kinds = args.kinds.split(",")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for round_ in range(args.rounds):
            for kind in kinds:  # interleaved, so a change of the machine's load hits each
                folder = Path(scratch) / kind.replace("/", "-")
                row = {
                    "round": round_,
                    "kind": kind,
                    **run(kind, folder, args.extra, args.campaign),
                }
                rows.append(row)
                print(row, flush=True)
                for keep in args.keep.split(",") if kind == "none" else []:
                    base = one_epoch_then_best(folder, int(keep))
                    rows.append({"round": round_, "kind": f"1 epoch, best {keep} go on", **base})
                    print(rows[-1], flush=True)
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
