"""Run the strategy suite and write RESULTS.md and the raw per-run CSV.

    PYTHONPATH=$PWD OMP_NUM_THREADS=1 TF_NUM_INTRAOP_THREADS=1 nice -n 10 \
        python benchmarks/strategy_suite/run.py --seeds 10 --budget 10,20,50,100 --jobs 2

Regret at budget k is the best score after the first k trials of one run of max(budget)
trials, except for the strategies whose design depends on their budget (`BUDGET_DEPENDENT`):
they run once per budget with ``max_trials = k``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # the worktree root, for `benchmarks.` and `tuner.`

# Our tpe sizes its random start to the budget (a quarter of max_trials, 3 to 10), and auto
# picks by the budget (and may pick tpe): each runs once per budget.
BUDGET_DEPENDENT = {"tpe", "auto", "evolution"}  # their defaults are sized to max_trials
# Peers whose proposals cost seconds on this shared 2-core machine run to fewer trials, for the
# suite to fit its time: gp_minimize (1-10 s a proposal at 100 trials) to 50; KerasTuner's BO
# (its 50-trial runs took over 4 minutes each) to 20, where with its defaults (3 random
# trials per hyperparameter first: 18-27 here) it is still mostly random search.
CAPPED = {"kerastuner-bo": 20, "skopt-gp_minimize": 50}
PEER_NAMES = ("optuna-tpe", "optuna-gp", "skopt-gp_minimize", "kerastuner-bo", "optuna-random")


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _budgets(text: str) -> list[int]:
    try:
        budgets = sorted({int(b) for b in _csv(text)})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--budget takes whole numbers, e.g. 10,20,50,100; got {text!r}"
        ) from None
    if not budgets or budgets[0] < 1:
        raise argparse.ArgumentTypeError(f"--budget must be positive whole numbers, got {text!r}")
    return budgets


def parse(argv: list[str] | None) -> argparse.Namespace:
    from benchmarks.strategy_suite.driver import our_strategies
    from benchmarks.strategy_suite.problems import PROBLEM_NAMES

    ours = [*our_strategies(), "auto"] if "auto" not in our_strategies() else our_strategies()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 per strategy")
    parser.add_argument("--budget", type=_budgets, default=[10, 20, 50, 100])
    parser.add_argument(
        "--strategies",
        type=_csv,
        default=[*ours, *PEER_NAMES],
        help=f"ours ({', '.join(ours)}) and peers ({', '.join(PEER_NAMES)})",
    )
    parser.add_argument("--problems", type=_csv, default=list(PROBLEM_NAMES))
    parser.add_argument("--out", type=Path, default=HERE, help="folder for RESULTS.md and runs.csv")
    parser.add_argument("--jobs", type=int, default=1, help="processes")
    parser.add_argument("--save-every", type=int, default=25, help="runs between two saves")
    parser.add_argument(
        "--merge",
        type=Path,
        help="an earlier runs.csv: its rows of other strategies (or problems) are kept, this "
        "run's replace the rest, and RESULTS.md covers both",
    )
    args = parser.parse_args(argv)
    known = set(ours) | set(PEER_NAMES)
    for name in args.strategies:
        if name not in known:
            parser.error(f"--strategies: unknown {name!r}; known: {', '.join(sorted(known))}")
    for name in args.problems:
        if name not in PROBLEM_NAMES:
            parser.error(f"--problems: unknown {name!r}; known: {', '.join(PROBLEM_NAMES)}")
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    return args


def _key(values: dict[str, Any]) -> tuple:
    return tuple(sorted(values.items()))


def one(task: tuple[str, str, int, int]) -> dict[str, Any]:
    """One run: (problem, strategy, seed, max_trials) -> what the table needs of it."""
    from benchmarks.strategy_suite import driver, peers
    from benchmarks.strategy_suite.problems import problems

    problem_name, strategy, seed, max_trials = task
    problem = problems()[problem_name]
    start = time.perf_counter()
    if strategy in peers.PEERS:
        run = peers.PEERS[strategy](problem, seed, max_trials)
    else:
        run = driver.run_ours(strategy, problem, seed, max_trials)
    return dict(
        problem=problem_name,
        strategy=strategy,
        seed=seed,
        max_trials=max_trials,
        scores=run.scores,
        keys=[_key(v) for v in run.values],
        ask_seconds=run.ask_seconds,
        chosen=run.chosen or strategy,
        seconds=time.perf_counter() - start,
    )


def rows(result: dict[str, Any], budgets: list[int], separate: bool) -> list[dict[str, Any]]:
    """The per-budget rows of one run (`separate`: the run is for its own budget only)."""
    from benchmarks.strategy_suite.problems import problems

    problem = problems()[result["problem"]]
    out = []
    for k in (
        [result["max_trials"]] if separate else [b for b in budgets if b <= result["max_trials"]]
    ):
        scores, keys = result["scores"][:k], result["keys"][:k]
        asks = result["ask_seconds"]
        best = min(scores)
        out.append(
            dict(
                problem=result["problem"],
                strategy=result["strategy"],
                seed=result["seed"],
                budget=k,
                trials=len(scores),
                best_score=best,
                regret=problem.regret(best),
                duplicates=len(keys) - len(set(keys)),
                ask_s_last10=(sum(asks[-10:]) / len(asks[-10:]))
                if asks and k == result["max_trials"]
                else None,
                chosen=result["chosen"],
                run_seconds=result["seconds"],
                separate_runs=separate,
            )
        )
    return out


def save(table: list[dict[str, Any]], args: argparse.Namespace, skipped: dict[str, str]) -> None:
    """Write runs.csv and RESULTS.md from the rows so far."""
    import pandas as pd

    from benchmarks.strategy_suite.summary import write_results

    args.out.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame(table)
    frame["command"] = args.command
    if args.merge is not None:
        earlier = pd.read_csv(args.merge)
        ran = set(zip(frame["problem"], frame["strategy"]))
        kept = [(p, s) not in ran for p, s in zip(earlier["problem"], earlier["strategy"])]
        frame = pd.concat([earlier[kept], frame], ignore_index=True)
    frame.to_csv(args.out / "runs.csv", index=False)
    write_results(frame, args.out / "RESULTS.md", budgets=args.budget, skipped=skipped)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    args.command = "python benchmarks/strategy_suite/run.py " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    from benchmarks.strategy_suite import peers

    skipped = {s: why for s in args.strategies if (why := peers.unavailable(s))}
    tasks = []
    for problem in args.problems:
        for strategy in args.strategies:
            if strategy in skipped:
                continue
            for seed in range(args.seeds):
                cap = CAPPED.get(strategy, max(args.budget))
                runs = args.budget if strategy in BUDGET_DEPENDENT else [min(cap, max(args.budget))]
                tasks.extend((problem, strategy, seed, k) for k in runs)
    # Seed by seed, so that the tables written along the way (every `--save-every` runs) hold
    # every strategy, at fewer seeds, if the run is cut short.
    tasks.sort(key=lambda t: t[2])
    print(f"{len(tasks)} runs", file=sys.stderr, flush=True)
    table: list[dict[str, Any]] = []
    started = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
        for i, result in enumerate(pool.map(one, tasks), 1):
            separate = result["strategy"] in BUDGET_DEPENDENT
            table.extend(rows(result, args.budget, separate))
            print(
                f"[{i}/{len(tasks)}] {result['problem']} {result['strategy']} seed {result['seed']} "
                f"k={result['max_trials']}: {result['seconds']:.1f} s "
                f"({time.perf_counter() - started:.0f} s elapsed)",
                file=sys.stderr,
                flush=True,
            )
            if i % args.save_every == 0 or i == len(tasks):
                save(table, args, skipped)
    print(f"wrote {args.out / 'RESULTS.md'} and runs.csv", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
