"""RESULTS.md from the per-run rows: per problem, each strategy's normalised regret at each
budget (median and interquartile range), its proposal time and duplicates; then how often
each strategy is best or tied-best."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

# Notes on how rows were made that the runs themselves do not record (a rerun after a fix),
# placed under the commands.
NOTES = Path(__file__).resolve().parent / "notes.md"

LEGEND = (
    "Normalised regret (score - optimum) / (worst - optimum), lower is better: median over "
    "seeds [first quartile, third quartile]. **Bold**: best (lowest median) or tied-best at that "
    "budget, tied meaning its interquartile range overlaps the best's (its first quartile is at "
    "most the best's third quartile). `ask s`: mean seconds a proposal of the last 10 of a "
    "100-trial run (90-99 finished trials). `dups`: proposals repeating an earlier one's "
    "active values, mean a 100-trial run. `(k=50)`, `(k=20)`: a peer run to that many trials "
    "only (its proposals cost seconds here; see CAPPED in run.py): its later cells are empty."
)


def _stats(frame: pd.DataFrame) -> pd.DataFrame:
    g = frame.groupby(["problem", "strategy", "budget"])["regret"]
    return pd.DataFrame(
        {"median": g.median(), "q1": g.quantile(0.25), "q3": g.quantile(0.75), "n": g.size()}
    ).reset_index()


def tied_best(stats: pd.DataFrame) -> set[tuple[str, str, int]]:
    """(problem, strategy, budget) that are best or tied-best (interquartile overlap)."""
    out = set()
    for (problem, budget), group in stats.groupby(["problem", "budget"]):
        best = group.loc[group["median"].idxmin()]
        for _, row in group.iterrows():
            if row["q1"] <= best["q3"]:
                out.add((problem, row["strategy"], budget))
    return out


def _fmt(x: float) -> str:
    return f"{x:.3g}" if x >= 1e-3 or x == 0 else f"{x:.1e}"


def write_results(
    frame: pd.DataFrame, path: Path, *, budgets: list[int], skipped: dict[str, str]
) -> None:
    """Write the Markdown table of `frame` (runs.csv's rows) to `path`."""
    stats = _stats(frame)
    best = tied_best(stats)
    top = max(budgets)
    lines = ["# Strategy suite results", "", "Made by (from the worktree root):", ""]
    for command in dict.fromkeys(frame["command"]):
        ran = ", ".join(dict.fromkeys(frame[frame["command"] == command]["strategy"]))
        lines.append(f"- `{command}` ({ran})")
    lines.append("")
    if NOTES.exists():
        lines += [NOTES.read_text().strip(), ""]
    lines += [LEGEND, ""]
    order = list(dict.fromkeys(frame["strategy"]))
    for problem in dict.fromkeys(frame["problem"]):
        lines += [f"## {problem}", ""]
        head = ["strategy", *[f"k={k}" for k in budgets], "ask s", "dups", "seeds", "auto chose"]
        lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for strategy in order:
            cells = [strategy]
            part = stats[(stats["problem"] == problem) & (stats["strategy"] == strategy)]
            if part.empty:
                continue
            for k in budgets:
                row = part[part["budget"] == k]
                if row.empty:
                    cells.append("-")
                    continue
                r = row.iloc[0]
                text = f"{_fmt(r['median'])} [{_fmt(r['q1'])}, {_fmt(r['q3'])}]"
                cells.append(f"**{text}**" if (problem, strategy, k) in best else text)
            mine = frame[(frame["problem"] == problem) & (frame["strategy"] == strategy)]
            longest = int(mine["budget"].max())
            runs = mine[mine["budget"] == longest]
            ask = runs["ask_s_last10"].dropna()
            at = "" if longest == top else f" (k={longest})"
            cells.append(f"{ask.mean():.3f}{at}" if len(ask) else "-")
            cells.append(f"{runs['duplicates'].mean():.1f}{at}")
            cells.append(str(runs["seed"].nunique()))
            chosen = sorted(
                set(
                    frame[(frame["problem"] == problem) & (frame["strategy"] == strategy)]["chosen"]
                )
            )
            cells.append(", ".join(c for c in chosen if c != strategy) or "")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    for strategy, why in skipped.items():
        lines.append(f"- `{strategy}`: {why}")
    lines += ["", "## Best or tied-best, problems out of " + str(frame["problem"].nunique()), ""]
    head = ["strategy", *[f"k={k}" for k in budgets], "every budget, every problem"]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    problems = list(dict.fromkeys(frame["problem"]))
    for strategy in order:
        counts = [sum((p, strategy, k) in best for p in problems) for k in budgets]
        every = all(c == len(problems) for c in counts)
        lines.append(
            "| " + " | ".join([strategy, *map(str, counts), "yes" if every else "no"]) + " |"
        )
    lines.append("")
    path.write_text("\n".join(lines))


def load(path: Path) -> Any:
    """runs.csv as a frame (to re-render RESULTS.md without rerunning)."""
    return pd.read_csv(path)
