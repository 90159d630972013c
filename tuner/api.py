"""The Python entry point: `search(campaign) -> Results`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import keras
import pandas as pd

from tuner import results
from tuner.campaign import Campaign, load_campaign
from tuner.runner import CampaignRunner
from tuner.trial import TrialRecord


@dataclass
class Results:
    """What a campaign found: the ranked table, every record, and the best model on disk."""

    campaign: Campaign
    records: list[TrialRecord]
    table: pd.DataFrame

    @property
    def folder(self) -> Path:
        return self.campaign.folder

    @property
    def best_trial_id(self) -> str | None:
        completed = self.table[self.table["status"] == "completed"]
        return None if completed.empty else str(completed.iloc[0]["trial_id"])

    @property
    def best_hyperparameters(self) -> dict[str, Any]:
        """The best trial's hyperparameter values (KerasTuner's internal ``tuner/`` ones left out)."""
        best = self.best_trial_id
        record = next((r for r in self.records if r.trial_id == best), None)
        if record is None:
            return {}
        return {k: v for k, v in record.hyperparameters.items() if not k.startswith("tuner/")}

    def best_model(self) -> keras.Model:
        """The best trial's model at its best epoch, loaded from ``models/``."""
        path = self.folder / "models" / f"{self.best_trial_id}.keras"
        if self.best_trial_id is None or not path.is_file():
            raise FileNotFoundError(f"no saved model for the best trial in {self.folder / 'models'}")
        return keras.models.load_model(path)


def _writer(campaign: Campaign, hyperparameter_names: list[str],
            lr_find_info: dict[str, Any] | None = None) -> Callable[[list[TrialRecord]], None]:
    settings = dict(campaign.to_dict(), **(lr_find_info or {}))  # what learning_rate="auto" found
    history_csv = results.HistoryCSV()

    def write(records: list[TrialRecord]) -> None:
        results.write_results(campaign.folder, records, objective=campaign.objective,
                              direction=campaign.direction, settings=settings,
                              hyperparameter_names=hyperparameter_names, history_csv=history_csv)
    return write


def _tensorboard_callbacks(campaign: Campaign):
    """Per-trial TensorBoard + HParams callbacks under ``<folder>/tensorboard``."""
    from tuner.tensorboard_hparams import hparams_callbacks

    metrics = list(dict.fromkeys([campaign.objective, "loss", "val_loss"]))

    def factory(trial_id: str, values: dict[str, Any]) -> list[keras.callbacks.Callback]:
        return hparams_callbacks(campaign.folder / "tensorboard", trial_id, values, metrics)
    return factory


def search(campaign: str | Path | Campaign, *, overwrite: bool = False, quiet: bool = True,
           print_line: Callable[[str], None] = print, **overrides: Any) -> Results:
    """Run (or resume) a campaign from a TOML path or a `Campaign`; fields can be overridden:
    ``search("experiments/quickstart.toml", max_trials=5, strategy="bayesian")``."""
    if not isinstance(campaign, Campaign):
        campaign = load_campaign(campaign)
    if overrides:
        campaign = campaign.replace(**overrides)
    hyperparameter_names = list(campaign.space)
    runner = CampaignRunner(campaign, overwrite=overwrite, quiet=quiet, print_line=print_line,
                            extra_callbacks=_tensorboard_callbacks(campaign)
                            if campaign.tensorboard else None)
    runner.on_trial_end = _writer(campaign, hyperparameter_names, runner.lr_find_info)
    records = runner.run()
    runner.on_trial_end(records)
    table = results.ranked_table(records, objective=campaign.objective,
                                 direction=campaign.direction,
                                 hyperparameter_names=hyperparameter_names)
    return Results(campaign=campaign, records=records, table=table)
