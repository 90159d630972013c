"""`replay_pbt`: train a Population Based Training member's schedule again, as one plain trial,
from its campaign's results folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras_tuner as kt

from tuner import backends
from tuner.campaign import from_saved
from tuner.datasets import Dataset
from tuner.errors import ConfigError
from tuner.execution.pbt import Trainer, replay
from tuner.execution.pbt_packed import packed_population, replay_packed
from tuner.execution.pipeline import InputPipeline
from tuner.plan import make_plan
from tuner.space import without_auto_learning_rate
from tuner.store import DiskStore, ResultsFolder
from tuner.trial import TrialRecord, canonical_id


def replay_pbt(
    folder: str | Path,
    trial_id: str | int,
    *,
    model: Any = None,
    dataset: Dataset | None = None,
    results_dir: str | Path = "results",
) -> TrialRecord:
    """Train PBT member `trial_id` of the campaign in `folder` (a results folder, or a campaign
    name under `results_dir`) again, alone: its values per epoch range, from the model and
    seeds its lineage started with (a population that trained as one stack: in a stack of its
    shape, `replay_packed`). Returns the replay's record; on one machine and backend
    (CPU) its history is the member's along its lineage, epoch for epoch (`stitched_history`).
    `model` and `dataset`: the builder and data the campaign was run with from Python."""
    files = ResultsFolder.find(folder, results_dir)
    text = files.campaign_text()
    if text is None:
        raise ConfigError(f"{files.path} holds no {files.campaign.name}; is it a results folder?")
    campaign = from_saved(text, str(files.campaign)).replace(results_dir=str(files.path.parent))
    if campaign.strategy != "pbt":
        raise ConfigError(
            f"campaign {campaign.name!r} used strategy {campaign.strategy!r}; only a 'pbt' "
            f"campaign's members have a schedule to replay."
        )
    objective = kt.Objective(campaign.objective, campaign.direction)
    records = DiskStore(files.path, objective).records()
    wanted = canonical_id(str(trial_id))
    record = next((r for r in records if r.trial_id == wanted), None)
    if record is None:
        known = ", ".join(r.trial_id for r in records) or "none"
        raise ConfigError(f"campaign {campaign.name!r} has no trial {wanted!r}; trials: {known}.")
    plan = make_plan(campaign, model=model, dataset=dataset)
    saved = files.saved_search_space()
    space = (
        kt.HyperParameters.from_config(saved)
        if saved is not None
        else plan.space(without_auto_learning_rate(plan.entries))
    )
    settings = plan.pbt_settings(without_auto_learning_rate(plan.entries))
    pipeline = InputPipeline(plan.dataset)
    precision = backends.precision_policy(campaign.mixed_precision)
    if packed_population(plan.hypermodel, space, settings, records, precision):
        # Trained as towers of one stack: replayed in a stack of that shape (bit for bit).
        return replay_packed(
            plan.hypermodel, pipeline, space, records, record, settings, objective, campaign.seed
        )
    trainer = Trainer(plan.hypermodel, pipeline, seed=campaign.seed)
    return replay(trainer, space, record, settings, objective)
