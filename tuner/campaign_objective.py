"""The campaign's objectives as the one `kt.Objective` that KerasTuner's engine takes."""

from __future__ import annotations

from typing import Any

import keras_tuner as kt

from tuner import objectives


class CampaignObjective(kt.Objective):
    """The first objective, as KerasTuner sees it: it picks each trial's best epoch and is the
    trial's score (KerasTuner's own list of objectives would be scored by their sum, which no
    code here uses). `spec` lists every objective's (name, direction), for the store, the
    executors' metric check and the strategies that search several."""

    def __init__(self, spec: objectives.Spec):
        name, direction = spec[0]
        super().__init__(name, direction)
        self.spec = tuple(spec)


def campaign_objective(campaign: Any) -> CampaignObjective:
    """The objective of a `Campaign` (one metric or several)."""
    return CampaignObjective(campaign.objectives)


__all__ = ["CampaignObjective", "campaign_objective"]
