"""Pareto fronts: which points no other point beats in every objective. Pure functions."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from tuner.direction import loss

PARETO = "pareto"  # the trials table's column, in a campaign of several objectives


def pareto_mask(points: Sequence[Sequence[float] | None], directions: Sequence[str]) -> list[bool]:
    """For each point (a value per objective, or None for a trial with none: a failed one),
    whether it is Pareto-optimal: no other point is at least as good in every objective and
    better in one. Equal points are all on the front; None is never on it."""
    costs = [
        None if p is None else [loss(float(v), d) for v, d in zip(p, directions)] for p in points
    ]
    mask = []
    for i, mine in enumerate(costs):
        if mine is None:
            mask.append(False)
            continue
        dominated = any(
            other is not None
            and j != i
            and all(o <= m for o, m in zip(other, mine))
            and any(o < m for o, m in zip(other, mine))
            for j, other in enumerate(costs)
        )
        mask.append(not dominated)
    return mask


def pareto_front(table: pd.DataFrame) -> pd.DataFrame:
    """The Pareto-optimal rows of a ranked trials table, in its order: those its ``pareto``
    column marks (a campaign of several objectives), else those with the best score (the
    front of one objective: the ranked table's first score, ties included)."""
    if PARETO in table.columns:
        return table[table[PARETO].astype(bool)].reset_index(drop=True)
    scored = table[table["rank"].notna()]
    if scored.empty:
        return scored.reset_index(drop=True)
    return scored[scored["score"] == scored["score"].iloc[0]].reset_index(drop=True)


__all__ = ["PARETO", "pareto_front", "pareto_mask"]
