"""The trial loop: build, fit on a shared input pipeline, record every epoch, stop diverging
trials, keep the best models, and resume an interrupted campaign where it stopped.

The Oracle decides (KerasTuner's, or ours); this module runs. It replaces KerasTuner's
`Tuner.search` to avoid what it costs outside `fit`: a weights file on every improving epoch,
two full garbage collections per trial, and NumPy inputs re-wrapped every epoch.
"""
from __future__ import annotations

import json
import math
import shutil
import time
import zlib
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

import keras
import keras_tuner as kt
import numpy as np
from keras_tuner.engine import trial as trial_module

from tuner import tf_backend
from tuner.builders import get_builder
from tuner.builders.regularizers import plain_regularizers
from tuner.campaign import Campaign, from_dict
from tuner.datasets import Dataset, load_dataset
from tuner.errors import ConfigError, TrialError
from tuner.files import atomic_write_text
from tuner.lr_range import resolve_auto_learning_rate
from tuner.model_reuse import CompiledModels
from tuner.pipeline import InputPipeline
from tuner.space import build_space, check_names, declared_hyperparameters, values_as_written
from tuner.strategies import create_oracle, end_trial
from tuner.trial import COMPLETED, FAILED, TrialRecord

ENGINE_FOLDER = ".engine"
TUNER_ID = "chief"
# Settings that may change between runs of one campaign; any other change starts a new one.
RESUMABLE_CHANGES = {"max_trials", "keep_top", "tensorboard", "max_consecutive_failures",
                     "results_dir", "threads"}

TrialCallbackFactory = Callable[[str, dict[str, Any]], list[keras.callbacks.Callback]]


class EpochRecorder(keras.callbacks.Callback):
    """Keeps every epoch's metrics, the best epoch's weights in memory, and stops a trial whose
    loss is no longer finite."""

    def __init__(self, objective: str, direction: str, keep_weights_beyond: float | None = None,
                 keep_all_weights: bool = False):
        super().__init__()
        self.objective, self.direction = objective, direction
        # Copying weights off the device on every improving epoch costs ~1 ms each; only an
        # epoch that beats the campaign's best so far can become the saved model.
        self.keep_weights_beyond = keep_weights_beyond
        self.keep_all_weights = keep_all_weights
        self.history: dict[str, list[float]] = {}
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.best_weights: list[np.ndarray] | None = None
        self.diverged: str | None = None

    def _beats(self, value: float, other: float) -> bool:
        return value > other if self.direction == "max" else value < other

    def _improves(self, value: float) -> bool:
        return self.best_score is None or self._beats(value, self.best_score)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        for name, value in logs.items():
            if name == "learning_rate":
                continue
            self.history.setdefault(name, []).append(float(value))
        epochs_seen = len(next(iter(self.history.values()), []))
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.diverged = f"loss became {float(loss)} at epoch {epochs_seen}"
            self.model.stop_training = True
            return
        if self.objective not in logs:
            logged = ", ".join(sorted(logs)) or "none"
            raise ConfigError(f"objective {self.objective!r} is not a logged metric; this model "
                              f"logs: {logged}.")
        value = float(logs[self.objective])
        if math.isfinite(value) and self._improves(value):
            self.best_score, self.best_epoch = value, epochs_seen
            if self.keep_all_weights or self.keep_weights_beyond is None or \
                    self._beats(value, self.keep_weights_beyond):
                self.best_weights = self.model.get_weights()


def trial_seed(seed: int, trial_id: str) -> int:
    """A seed of its own for every trial, stable across runs and resumes."""
    return zlib.crc32(f"{seed}:{trial_id}".encode()) % (2**31)


class TrialRunner:
    """Runs one KerasTuner `Trial`: build the model, fit it, return a `TrialRecord`."""

    def __init__(self, hypermodel: kt.HyperModel, pipeline: InputPipeline, *, objective: str,
                 direction: str, seed: int = 0, early_stopping: dict[str, Any] | None = None,
                 weights_folder: Path | None = None,
                 extra_callbacks: TrialCallbackFactory | None = None):
        self.hypermodel, self.pipeline = hypermodel, pipeline
        self.objective, self.direction, self.seed = objective, direction, seed
        self.early_stopping = early_stopping
        self.weights_folder = weights_folder  # Hyperband: where promoted trials find parents
        self.extra_callbacks = extra_callbacks
        self.compiled_models = CompiledModels(
            enabled=getattr(hypermodel, "reuse_compiled_models", False))
        self.last_model: keras.Model | None = None
        self.last_best_weights: list[np.ndarray] | None = None

    def _callbacks(self, recorder: EpochRecorder, trial_id: str,
                   values: dict[str, Any]) -> list[keras.callbacks.Callback]:
        callbacks: list[keras.callbacks.Callback] = [recorder]
        if self.early_stopping:
            callbacks.append(keras.callbacks.EarlyStopping(
                monitor=self.objective, mode=self.direction,
                patience=self.early_stopping.get("patience", 5),
                min_delta=self.early_stopping.get("min_delta", 0.0)))
        if self.extra_callbacks is not None:
            callbacks.extend(self.extra_callbacks(trial_id, values))
        return callbacks

    def _load_parent_weights(self, model: keras.Model, values: dict[str, Any]) -> None:
        parent = values.get("tuner/trial_id")
        if parent is None or self.weights_folder is None:
            return
        path = self.weights_folder / f"{parent}.weights.h5"
        if path.is_file():
            model.load_weights(path)

    def run(self, trial: kt.engine.trial.Trial, best_score: float | None = None) -> TrialRecord:
        """Build and fit the trial's model. Its best-epoch weights are kept (for saving) only
        when they beat `best_score`, the campaign's best so far, or for Hyperband parents."""
        values = values_as_written(trial.hyperparameters)
        hp = trial.hyperparameters.copy()
        seed = trial_seed(self.seed, trial.trial_id)
        if self.compiled_models.clears_session():
            keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(seed)
        recorder = EpochRecorder(self.objective, self.direction, keep_weights_beyond=best_score,
                                 keep_all_weights=self.weights_folder is not None)
        started = time.perf_counter()
        self.last_model, self.last_best_weights = None, None
        record = TrialRecord(trial_id=trial.trial_id, status=FAILED, hyperparameters=values)
        try:
            fresh = self.hypermodel.build(hp)
            record.n_params = int(fresh.count_params())
            model = self.compiled_models.adopt(fresh)
            self._load_parent_weights(model, values)
            batch_size = int(hp.get("batch_size")) if "batch_size" in hp else 32
            epochs = int(values.get("tuner/epochs", hp.get("epochs") if "epochs" in hp else 20))
            model.fit(**self.pipeline.fit_arguments(batch_size, seed), epochs=epochs,
                      initial_epoch=int(values.get("tuner/initial_epoch", 0)), verbose=0,
                      callbacks=self._callbacks(recorder, trial.trial_id, values))
        except ConfigError:
            raise
        except Exception as error:  # a trial that breaks must not end the campaign
            record.error = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        record.duration_s = time.perf_counter() - started
        record.history = recorder.history
        record.epochs_run = len(recorder.history.get("loss", []))
        record.best_epoch, record.score = recorder.best_epoch, recorder.best_score
        if recorder.diverged:
            record.error = f"diverged: {recorder.diverged}"
        elif record.error is None and record.score is not None:
            record.status = COMPLETED
            self.last_model, self.last_best_weights = model, recorder.best_weights
        return record


def _rank_key(direction: str) -> Callable[[TrialRecord], float]:
    return lambda r: -r.score if direction == "max" else r.score


class CampaignRunner:
    """Drives an Oracle and a `TrialRunner` through a whole campaign, resumably."""

    def __init__(self, campaign: Campaign, *, overwrite: bool = False, quiet: bool = False,
                 on_trial_end: Callable[[list[TrialRecord]], None] | None = None,
                 print_line: Callable[[str], None] = print,
                 extra_callbacks: TrialCallbackFactory | None = None):
        self.campaign, self.quiet, self.print_line = campaign, quiet, print_line
        self.on_trial_end = on_trial_end
        self.folder = campaign.folder
        self.engine = self.folder / ENGINE_FOLDER
        tf_backend.configure_threads(campaign.threads)
        self._prepare_folder(overwrite)
        self.dataset: Dataset = load_dataset(
            campaign.dataset, validation_split=campaign.validation_split,
            test_split=campaign.test_split, max_samples=campaign.max_samples, seed=campaign.seed,
            standardize=campaign.standardize, target=campaign.target)
        self.hypermodel = get_builder(campaign.model, self.dataset.spec)
        self.space = self._space()
        self.oracle = create_oracle(
            campaign.strategy, objective=campaign.objective, direction=campaign.direction,
            hyperparameters=self.space, max_trials=campaign.max_trials, seed=campaign.seed,
            epochs=campaign.epochs, options=campaign.strategy_options,
            max_consecutive_failures=campaign.max_consecutive_failures)
        self.oracle._set_project_dir(str(self.folder), ENGINE_FOLDER)
        self.records: dict[str, TrialRecord] = {}
        if (self.engine / "oracle.json").is_file():
            self.oracle.reload()
            self.records = self._load_records()
        weights = self.engine / "weights" if campaign.strategy == "hyperband" else None
        self.trial_runner = TrialRunner(
            self.hypermodel, InputPipeline(self.dataset), objective=campaign.objective,
            direction=campaign.direction, seed=campaign.seed,
            early_stopping=campaign.early_stopping, weights_folder=weights,
            extra_callbacks=extra_callbacks)

    # -- set-up -------------------------------------------------------------------------------
    def _prepare_folder(self, overwrite: bool) -> None:
        saved = self.folder / "campaign.toml"
        if overwrite and self.folder.exists():
            if not saved.is_file() and any(self.folder.iterdir()):
                raise ConfigError(f"{self.folder} is not empty and holds no campaign.toml; "
                                  "refusing to delete it. Choose another name or results_dir.")
            shutil.rmtree(self.folder)
        if saved.is_file():
            self._check_resumable(saved)
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(saved, self.campaign.to_toml())

    def _check_resumable(self, saved: Path) -> None:
        import tomllib

        previous = from_dict(tomllib.loads(saved.read_text(encoding="utf-8")), source=str(saved))
        now, before = self.campaign.to_dict(), previous.to_dict()
        changed = sorted(k for k in set(now) | set(before)
                         if k not in RESUMABLE_CHANGES and now.get(k) != before.get(k))
        if changed:
            raise ConfigError(
                f"campaign {self.campaign.name!r} in {self.folder} was started with different "
                f"{', '.join(changed)}; to start over run again with --overwrite, or give the "
                "campaign a new name to keep both.")

    def _space(self) -> kt.HyperParameters:
        # learning_rate = "auto": the range finder runs first (once per folder; see lr_range).
        entries, self.lr_find_info = resolve_auto_learning_rate(
            self.campaign, self.dataset, self.hypermodel)
        space = build_space(entries)
        if "epochs" not in self.campaign.space:
            space.Fixed("epochs", self.campaign.epochs)
        check_names([h.name for h in space.space], declared_hyperparameters(self.hypermodel),
                    self.campaign.model)
        return space

    def _load_records(self) -> dict[str, TrialRecord]:
        records = {}
        for path in sorted((self.engine / "records").glob("*.json")):
            record = TrialRecord(**json.loads(path.read_text(encoding="utf-8")))
            records[record.trial_id] = record
        return records

    # -- the loop -----------------------------------------------------------------------------
    def _save_record(self, record: TrialRecord) -> None:
        atomic_write_text(self.engine / "records" / f"{record.trial_id}.json",
                          json.dumps(asdict(record), default=float))

    def _entry_score(self) -> float | None:
        """The score a trial must beat to enter the top `keep_top` (None: any trial enters)."""
        completed = sorted((r for r in self.records.values() if r.status == COMPLETED),
                           key=_rank_key(self.campaign.direction))
        if len(completed) < self.campaign.keep_top:
            return None
        return completed[self.campaign.keep_top - 1].score

    def _keep_best_models(self, record: TrialRecord) -> None:
        """Save this trial's best-epoch model if it is in the top `keep_top`; drop the rest."""
        model, weights = self.trial_runner.last_model, self.trial_runner.last_best_weights
        if self.trial_runner.weights_folder is not None and model is not None:
            if weights is not None:
                model.set_weights(weights)
            self.trial_runner.weights_folder.mkdir(parents=True, exist_ok=True)
            model.save_weights(self.trial_runner.weights_folder / f"{record.trial_id}.weights.h5")
        completed = sorted((r for r in self.records.values() if r.status == COMPLETED),
                           key=_rank_key(self.campaign.direction))
        top = {r.trial_id for r in completed[: self.campaign.keep_top]}
        models = self.folder / "models"
        if model is not None and record.trial_id in top:
            if weights is not None:
                model.set_weights(weights)
            models.mkdir(exist_ok=True)
            temporary = models / f".{record.trial_id}.tmp.keras"
            with plain_regularizers(model):  # loads with plain Keras, without this package
                model.save(temporary)
            temporary.replace(models / f"{record.trial_id}.keras")
        for path in models.glob("*.keras"):
            if path.stem not in top:
                path.unlink()

    def _progress(self, record: TrialRecord, started: float, done_now: int) -> None:
        if self.quiet:
            return
        completed = [r for r in self.records.values() if r.status == COMPLETED]
        best = min(completed, key=_rank_key(self.campaign.direction)) if completed else None
        total = self.oracle.max_trials or len(self.records)
        elapsed = time.perf_counter() - started
        remaining = max(total - len(self.records), 0)
        eta = elapsed / done_now * remaining if done_now else 0.0
        result = (f"{self.campaign.objective}={record.score:.4f}" if record.status == COMPLETED
                  else f"FAILED ({record.error})")
        best_text = f"best {best.score:.4f} (trial {best.trial_id})" if best else "no best yet"
        self.print_line(f"trial {len(self.records)}/{total}  {result}  {best_text}  "
                        f"{record.duration_s:.1f}s  elapsed {_clock(elapsed)}  eta {_clock(eta)}")

    def run(self) -> list[TrialRecord]:
        """Run trials until the oracle stops; return every trial's record, old and new."""
        started, done_now = time.perf_counter(), 0
        if self.records and not self.quiet:
            self.print_line(f"resuming {self.campaign.name!r}: {len(self.records)} trial(s) "
                            f"already finished in {self.folder}")
        while True:
            trial = self.oracle.create_trial(TUNER_ID)
            if trial.status != trial_module.TrialStatus.RUNNING:
                break
            record = self.trial_runner.run(trial, best_score=self._entry_score())
            self.records[record.trial_id] = record
            self._save_record(record)
            if record.status == COMPLETED:
                self.oracle.update_trial(trial.trial_id, {self.campaign.objective: record.score})
                trial.status = trial_module.TrialStatus.COMPLETED
            else:
                trial.status = trial_module.TrialStatus.FAILED
                trial.message = record.error
            self._keep_best_models(record)
            done_now += 1
            if self.on_trial_end is not None:
                self.on_trial_end(self.ordered_records())
            self._progress(record, started, done_now)
            try:
                end_trial(self.oracle, trial)
            except RuntimeError as error:  # KerasTuner's consecutive-failure limit
                raise TrialError(f"stopped after {self.campaign.max_consecutive_failures} "
                                 f"consecutive failed trials; last: {record.error}") from error
        return self.ordered_records()

    def ordered_records(self) -> list[TrialRecord]:
        return [self.records[k] for k in sorted(self.records, key=_trial_order)]


def _trial_order(trial_id: str) -> tuple[int, str]:
    return (int(trial_id), trial_id) if trial_id.isdigit() else (10**9, trial_id)


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}:{seconds:02d}"
