"""`CampaignView`: everything the plots and the report draw from, handed in by the caller.

Nothing in `tuner.plots` reads files; whoever owns the results (today ``write_report``'s
``load_view``, later a results store) builds one of these and passes it down.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from tuner.direction import check_direction


@dataclass(frozen=True)
class CampaignView:
    """One campaign's ranked trials table, per-epoch history and settings.

    `space` is the campaign's ``[space]`` section (name -> range table, list of choices or
    fixed scalar); `settings` is the whole resolved campaign (``campaign.toml``), ``{}`` if unknown.
    """

    name: str
    table: pd.DataFrame
    history: pd.DataFrame | None
    objective: str
    direction: str
    space: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    # Every objective's (name, direction) when the campaign has several; `objective` is the first.
    objectives: tuple[tuple[str, str], ...] = ()

    @property
    def score_label(self) -> str:
        """What a score axis is called, e.g. ``"val_accuracy (max)"``."""
        return score_label(self.objective, self.direction)


def score_label(objective: str, direction: str) -> str:
    """The objective and its direction, e.g. ``"val_accuracy (max)"``: every score axis's label."""
    return f"{objective} ({check_direction(direction)})"


__all__ = ["CampaignView", "score_label"]
