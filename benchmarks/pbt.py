"""Population Based Training against random search with the same total epochs, on the textbook
campaign (`experiments/textbook_sgd.toml`: 400/100 MNIST images, 6x100 ReLU, He init, plain SGD,
batch 100, 50 epochs, learning rate log-uniform 1e-6..1e-2, L2 log-uniform 1e-8..1e-4).

    nice -n 10 python benchmarks/pbt.py                      # population 20, seeds 0 1 2
    nice -n 10 python benchmarks/pbt.py --population 8 --seeds 0 --strategies pbt random

PBT trains `population` members for 50 epochs (an exploit step every 5); random search runs
`population` trials of 50 epochs: the same 1000 epochs. PBT runs twice: as one stacked model
("pbt", what a campaign does) and one model a member, round by round ("pbt_rounds", the
executor populations that cannot stack use; forced here by patching the decision). All in this
process, one after the other for each seed (threads = 1). Prints each run's best validation
accuracy and wall time, a Markdown table and one JSON line. Run by hand, never by CI.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAMPAIGN = ROOT / "experiments" / "textbook_sgd.toml"


@contextlib.contextmanager
def round_by_round() -> Iterator[None]:
    """PBT populations train one model a member, round by round, inside this block."""
    from tuner.execution import pbt_packed

    decide = pbt_packed.population_packing
    pbt_packed.population_packing = lambda *args: "forced by the benchmark"  # type: ignore[assignment]
    try:
        yield
    finally:
        pbt_packed.population_packing = decide


def best_score(strategy: str, seed: int, population: int, folder: Path) -> tuple[float, float]:
    """One campaign's best validation accuracy and its wall time in seconds."""
    if strategy == "pbt_rounds":
        with round_by_round():
            return best_score("pbt", seed, population, folder)
    import tuner

    options = {"population": population} if strategy == "pbt" else {}
    # Random search trains every epoch of its trials: the same 1,000 epochs as PBT's population
    # (the default pruning would stop most of them).
    pruning = "auto" if strategy == "pbt" else "none"
    started = time.perf_counter()
    found = tuner.search(
        str(CAMPAIGN),
        name=f"{strategy}_{seed}",
        results_dir=str(folder),
        strategy=strategy,
        strategy_options=options,
        max_trials=population,
        seed=seed,
        pruning=pruning,
        overwrite=True,
    )
    seconds = time.perf_counter() - started
    best = found.best_record
    return (float(best.score) if best is not None and best.score is not None else 0.0), seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument(
        "--strategies", nargs="+", default=["pbt", "pbt_rounds", "random"], help="any of these"
    )
    args = parser.parse_args(argv)
    rows: dict[str, list[tuple[float, float]]] = {s: [] for s in args.strategies}
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            for strategy in rows:
                score, seconds = best_score(strategy, seed, args.population, Path(folder))
                rows[strategy].append((score, seconds))
                print(f"seed {seed} {strategy}: best val_accuracy {score:.3f} in {seconds:.0f} s")
    print(f"\n| strategy | best val_accuracy per seed {args.seeds} | mean | wall s (mean) |")
    print("|---|---|---|---|")
    for strategy, found in rows.items():
        scores = [s for s, _ in found]
        print(
            f"| {strategy} | {', '.join(f'{s:.3f}' for s in scores)} | "
            f"{statistics.mean(scores):.3f} | {statistics.mean(t for _, t in found):.0f} |"
        )
    print(json.dumps({k: [(round(s, 4), round(t, 1)) for s, t in v] for k, v in rows.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
