"""Which hyperparameters mattered: random-forest permutation importance over completed trials.

The estimate rests on the trials a campaign happened to run, so every answer carries the
number of trials it was computed from, and too few trials gets a reason instead of numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tuner.results import INTERNAL_PREFIX, infer_log, is_categorical, split_columns
from tuner.trial import SCORED

MIN_TRIALS = 8
COLUMNS = ["name", "importance", "std", "n_trials"]


def _empty(reason: str, n_trials: int) -> pd.DataFrame:
    result = pd.DataFrame(columns=COLUMNS)
    result.attrs.update({"n_trials": n_trials, "reason": reason, "method": None})
    return result


def encode(values: pd.Series) -> np.ndarray:
    """One numeric feature per hyperparameter.

    Numbers spanning >= 100x (all positive) become log10, so "1e-4 vs 1e-3" counts like
    "1e-2 vs 1e-1"; categories become their index in sorted order (trees split on any order).
    Missing values (conditional hyperparameters) sit just below the observed range.
    """
    if is_categorical(values):
        labels = sorted({str(v) for v in values.dropna()})
        codes = {label: float(i) for i, label in enumerate(labels)}
        encoded = np.array([codes[str(v)] if pd.notna(v) else np.nan for v in values], dtype=float)
    else:
        encoded = values.to_numpy(dtype=float)
        if infer_log(values):
            encoded = np.log10(encoded)
    if np.isnan(encoded).any():
        observed = encoded[~np.isnan(encoded)]
        low, high = (observed.min(), observed.max()) if len(observed) else (0.0, 0.0)
        encoded = np.where(np.isnan(encoded), low - (high - low) - 1.0, encoded)
    return encoded


def hyperparameter_importance(
    table: pd.DataFrame,
    objective_column: str = "score",
    *,
    hyperparameter_names: Sequence[str] | None = None,
    history: pd.DataFrame | None = None,
    min_trials: int = MIN_TRIALS,
    n_repeats: int = 10,
    seed: int = 0,
) -> pd.DataFrame:
    """Importance of each varying hyperparameter for `objective_column`, most important first.

    A random forest learns score from hyperparameters over the completed trials; a
    hyperparameter's importance is the mean drop in the forest's R^2 when its column is
    shuffled (`n_repeats` times), clipped at 0 and normalised to sum to 1.

    Returns columns ``name, importance, std, n_trials``; ``attrs`` holds ``n_trials``,
    ``method`` and, when there is nothing to report, ``reason`` (the frame is then empty):
    fewer than `min_trials` completed trials, or no hyperparameter that varies.
    """
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.inspection import permutation_importance

    if objective_column not in table.columns:
        raise ValueError(
            f"objective_column must be a column of the table, but got {objective_column!r}."
        )
    if hyperparameter_names is None:
        hyperparameter_names, _ = split_columns(table, history)
    names = [n for n in hyperparameter_names if not n.startswith(INTERNAL_PREFIX)]
    done = (
        table[(table["status"].isin(SCORED)) & table[objective_column].notna()]
        if "status" in table
        else table
    )
    n_trials = len(done)
    if n_trials < min_trials:
        return _empty(
            f"importance needs at least {min_trials} completed trials, but got {n_trials}.",
            n_trials,
        )
    varying = [n for n in names if done[n].astype(str).nunique() > 1]
    if not varying:
        return _empty(
            f"no hyperparameter varies over the {n_trials} completed trials (checked {names}).",
            n_trials,
        )
    if done[objective_column].nunique() < 2:
        return _empty(f"the objective is constant over the {n_trials} completed trials.", n_trials)

    features = np.column_stack([encode(done[n]) for n in varying])
    target = done[objective_column].to_numpy(dtype=float)
    forest = RandomForestRegressor(
        n_estimators=100, min_samples_leaf=2, random_state=seed, n_jobs=1
    )
    forest.fit(features, target)
    result = permutation_importance(
        forest, features, target, n_repeats=n_repeats, random_state=seed, n_jobs=1
    )
    means = np.clip(result.importances_mean, 0.0, None)
    total = means.sum()
    scale = 1.0 / total if total > 0 else 0.0
    importance = (
        pd.DataFrame(
            {
                "name": varying,
                "importance": means * scale,
                "std": result.importances_std * scale,
                "n_trials": n_trials,
            }
        )
        .sort_values("importance", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    importance.attrs.update(
        {
            "n_trials": n_trials,
            "reason": None,
            "method": "random-forest permutation importance "
            f"(drop in R², mean of {n_repeats} shuffles)",
        }
    )
    return importance


__all__ = ["hyperparameter_importance", "encode", "MIN_TRIALS"]
