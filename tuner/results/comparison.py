"""Side-by-side comparison of finished campaigns."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from tuner.errors import ConfigError
from tuner.results.tables import INTERNAL_PREFIX, split_columns
from tuner.store.folder import ResultsFolder
from tuner.trial import SCORED


def compare(
    names_or_paths: Iterable[str | Path], results_dir: str | Path = "results"
) -> pd.DataFrame:
    """The best trial of each campaign side by side, one row per campaign.

    Columns: ``campaign, seed, n_trials, n_completed, objective, direction, best_score,
    best_trial_id`` (``seed`` tells apart the runs of one campaign file with ``--seed``),
    then the best trial's hyperparameters (internal ``tuner/`` ones left out).
    """
    rows: list[dict[str, Any]] = []
    hp_order: list[str] = []
    for item in names_or_paths:
        folder = ResultsFolder.find(item, results_dir)
        table, history = folder.tables()
        settings = folder.campaign_settings()
        hps, _ = split_columns(table, history)
        hps = [h for h in hps if not h.startswith(INTERNAL_PREFIX)]
        completed = table[table["status"].isin(SCORED)]
        row: dict[str, Any] = {
            "campaign": str(settings.get("name", folder.path.name)),
            "seed": settings.get("seed"),
            "n_trials": len(table),
            "n_completed": len(completed),
            "objective": settings.get("objective"),
            "direction": settings.get("direction"),
            "best_score": completed["score"].iloc[0] if len(completed) else float("nan"),
            "best_trial_id": completed["trial_id"].iloc[0] if len(completed) else None,
        }
        for name in hps:
            if name not in hp_order:
                hp_order.append(name)
            row[name] = completed[name].iloc[0] if len(completed) else None
        rows.append(row)
    columns = [
        "campaign",
        "seed",
        "n_trials",
        "n_completed",
        "objective",
        "direction",
        "best_score",
        "best_trial_id",
        *hp_order,
    ]
    return pd.DataFrame(rows, columns=columns)


def campaign_runs(
    names_or_paths: Iterable[str | Path], results_dir: str | Path = "results"
) -> tuple[dict[str, list[pd.DataFrame]], str, str]:
    """The ranked tables of several runs, grouped by campaign name (the runs of one campaign
    file with different seeds, in different results folders), and their shared objective and
    direction. Campaigns with different objectives or directions are refused: their scores
    are not on one axis."""
    groups: dict[str, list[pd.DataFrame]] = {}
    kinds: dict[tuple[Any, Any], str] = {}
    for item in names_or_paths:
        folder = ResultsFolder.find(item, results_dir)
        settings = folder.campaign_settings()
        table, _ = folder.tables()
        kinds.setdefault((settings.get("objective"), settings.get("direction")), str(item))
        groups.setdefault(str(settings.get("name", folder.path.name)), []).append(table)
    if len(kinds) > 1:
        described = "; ".join(f"{o} ({d}) in {where}" for (o, d), where in kinds.items())
        raise ConfigError(
            f"campaigns compared on one plot must share their objective and direction, "
            f"but got {described}."
        )
    (objective, direction), _ = next(iter(kinds.items()))
    if direction is None:
        raise ConfigError(f"{next(iter(kinds.values()))} records no direction in campaign.toml.")
    return groups, str(objective), str(direction)
