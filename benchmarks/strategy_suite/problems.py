"""The suite's objectives: each a `kt.HyperParameters` space (conditional scopes included), a
score to minimise of a trial's active values, and its known optimum and worst value.

- ``branin``: Branin over two floats, plus a categorical that shifts the score, a stepped
  integer, and a ``hp.Boolean`` whose child float exists only under True.
- ``hartmann6``: Hartmann-6, one coordinate searched as a log-scaled float (its good values
  are small, as a learning rate's are), the sixth only under a ``hp.Boolean`` (False pins it at
  a poor value), plus a categorical shift and a stepped integer.
- ``hartmann6_numeric``: plain Hartmann-6, six floats (the all-numeric case of ``auto``).
- ``digits_table``: real results, ``1 - val_accuracy`` of the digits MLP looked up in
  digits_mlp_grid.csv (made by make_table.py); continuous proposals go to the nearest grid
  point (the learning rate in log scale).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import keras_tuner as kt
import numpy as np

HERE = Path(__file__).resolve().parent
TABLE = HERE / "digits_mlp_grid.csv"


@dataclass(frozen=True)
class Problem:
    """One objective: `space()` builds its space, `score(values)` (lower is better) takes a
    trial's active values; regret is normalised by ``worst - optimum``."""

    name: str
    space: Callable[[], kt.HyperParameters]
    score: Callable[[dict[str, Any]], float]
    optimum: float
    worst: float

    def regret(self, score: float) -> float:
        """Normalised regret: 0 at the optimum, 1 at the worst value."""
        return (score - self.optimum) / (self.worst - self.optimum)


# -- Branin, mixed -----------------------------------------------------------------------------
BRANIN_SHIFT = {"a": 0.0, "b": 2.0, "c": 5.0}
BRANIN_MIN = 0.397887


def branin_space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Float("x1", -5.0, 10.0)
    hp.Float("x2", 0.0, 15.0)
    hp.Choice("shift", list(BRANIN_SHIFT))
    hp.Int("n", 1, 9, step=2)
    hp.Boolean("extra")
    with hp.conditional_scope("extra", [True]):
        hp.Float("rate", 0.0, 1.0)
    return hp


def branin_score(v: dict[str, Any]) -> float:
    x1, x2 = v["x1"], v["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    score = (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10
    score += BRANIN_SHIFT[v["shift"]] + 0.5 * (v["n"] - 5) ** 2
    return score + (10 * (v["rate"] - 0.7) ** 2 if v["extra"] else 3.0)


# -- Hartmann-6, mixed -------------------------------------------------------------------------
H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
H_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
H_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)
HARTMANN_MIN = -3.32237
HARTMANN_SHIFT = {"a": 0.0, "b": 0.3, "c": 0.6, "d": 1.0}
X6_WHEN_OFF = 0.1


def hartmann(x: np.ndarray) -> float:
    return float(-np.sum(H_ALPHA * np.exp(-np.sum(H_A * (x - H_P) ** 2, axis=1))))


def hartmann_space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    for i in range(1, 5):
        hp.Float(f"x{i}", 0.0, 1.0)
    hp.Float("u5", 1e-4, 1.0, sampling="log")  # x5 = (log10(u5) + 4) / 4
    hp.Choice("shift", list(HARTMANN_SHIFT))
    hp.Int("k", 16, 256, step=16)
    hp.Boolean("use_x6")
    with hp.conditional_scope("use_x6", [True]):
        hp.Float("x6", 0.0, 1.0)
    return hp


def hartmann_score(v: dict[str, Any]) -> float:
    x5 = (math.log10(v["u5"]) + 4) / 4
    x6 = v["x6"] if v["use_x6"] else X6_WHEN_OFF
    score = hartmann(np.array([v["x1"], v["x2"], v["x3"], v["x4"], x5, x6]))
    return score + HARTMANN_SHIFT[v["shift"]] + 0.25 * abs(math.log2(v["k"] / 64))


# -- the digits table --------------------------------------------------------------------------
@cache
def table() -> Any:
    import pandas as pd

    return pd.read_csv(TABLE)


def table_space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 3e-4, 0.1, sampling="log")
    hp.Choice("units", [16, 64, 256])
    hp.Choice("activation", ["relu", "tanh"])
    hp.Choice("optimizer", ["adam", "sgd"])
    hp.Boolean("dropout")
    with hp.conditional_scope("dropout", [True]):
        hp.Float("rate", 0.25, 0.5, step=0.25)
    return hp


def _nearest(levels: np.ndarray, value: float, log: bool) -> float:
    f = np.log if log else (lambda a: a)
    return float(levels[np.argmin(np.abs(f(levels) - f(value)))])


def table_score(v: dict[str, Any]) -> float:
    t = table()
    lr = _nearest(np.unique(t["learning_rate"]), v["learning_rate"], log=True)
    dropout = _nearest(np.unique(t["dropout"]), v["rate"], log=False) if v["dropout"] else 0.0
    row = t[
        np.isclose(t["learning_rate"], lr)
        & (t["units"] == v["units"])
        & (t["activation"] == v["activation"])
        & (t["optimizer"] == v["optimizer"])
        & np.isclose(t["dropout"], dropout)
    ]
    if len(row) != 1:
        raise KeyError(f"the table has {len(row)} rows for {v}")
    return 1.0 - float(row["val_accuracy"].iloc[0])


# -- the worst values, from a dense random sample of each space --------------------------------
def _worst(space: Callable[[], kt.HyperParameters], score: Callable[..., float]) -> float:
    """The largest score over 20,000 random points (seed 0): the normaliser's far end."""
    from tuner.builder_space import active_values

    hp = space()
    rng = np.random.default_rng(0)
    worst = -math.inf
    for _ in range(20_000):
        values = {}
        for h in hp.space:
            if isinstance(h, kt.engine.hyperparameters.Boolean):
                values[h.name] = bool(rng.integers(2))
            elif isinstance(h, kt.engine.hyperparameters.Choice):
                values[h.name] = h.values[rng.integers(len(h.values))]
            elif isinstance(h, kt.engine.hyperparameters.Int) or h.step is not None:
                grid = list(h.values)
                values[h.name] = grid[rng.integers(len(grid))]
            elif h.sampling == "log":
                lo, hi = math.log(h.min_value), math.log(h.max_value)
                values[h.name] = math.exp(rng.uniform(lo, hi))
            else:
                values[h.name] = float(rng.uniform(h.min_value, h.max_value))
        worst = max(worst, score(active_values(hp, values)))
    return worst


# Computed once by `_worst` (python -c "from benchmarks.strategy_suite import problems as p;
# print(p._worst(p.branin_space, p.branin_score), p._worst(p.hartmann_space, p.hartmann_score))")
BRANIN_WORST = 318.62
HARTMANN_WORST = 1.4999
HARTMANN_NUMERIC_WORST = 0.0  # Hartmann-6 is negative everywhere and tends to 0 far from its bumps


def hartmann_numeric_space() -> kt.HyperParameters:
    hp = kt.HyperParameters()
    for i in range(1, 7):
        hp.Float(f"x{i}", 0.0, 1.0)
    return hp


def hartmann_numeric_score(v: dict[str, Any]) -> float:
    return hartmann(np.array([v[f"x{i}"] for i in range(1, 7)]))


PROBLEM_NAMES = ("branin", "hartmann6", "digits_table", "hartmann6_numeric")


def problems() -> dict[str, Problem]:
    """Every problem of the suite, by name (the table's optimum and worst read from the CSV)."""
    scores = 1.0 - table()["val_accuracy"]
    return {
        "branin": Problem("branin", branin_space, branin_score, BRANIN_MIN, BRANIN_WORST),
        "hartmann6": Problem(
            "hartmann6", hartmann_space, hartmann_score, HARTMANN_MIN, HARTMANN_WORST
        ),
        "hartmann6_numeric": Problem(
            "hartmann6_numeric",
            hartmann_numeric_space,
            hartmann_numeric_score,
            HARTMANN_MIN,
            HARTMANN_NUMERIC_WORST,
        ),
        "digits_table": Problem(
            "digits_table", table_space, table_score, float(scores.min()), float(scores.max())
        ),
    }
