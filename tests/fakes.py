"""The test doubles, in one place: scripted executors and oracles, stores that keep names
instead of Keras models, a clock, a made-up learning-rate finder result. Each stands in for one
seam (`tuner.execution`'s executor, KerasTuner's oracle or its worker client, `tuner.store`,
the finder) so a test runs the real code around it in milliseconds."""

from __future__ import annotations

from typing import Any

import keras_tuner as kt
import numpy as np
from keras_tuner.engine import trial as trial_module
from keras_tuner.src.distribute.oracle_client import OracleClient

from tuner.errors import Interrupted
from tuner.execution import TrialOutcome
from tuner.lr_finder import LRFindResult, Suggestion
from tuner.store import MemoryStore, disk
from tuner.strategies import create_oracle
from tuner.trial import COMPLETED, FAILED, TrialRecord, canonical_id

OBJECTIVE = kt.Objective("val_accuracy", "max")


# ---------------------------------------------------------------------------------- executors


class ScriptedExecutor:
    """Scores trials from a script (trial_id -> score; None fails the trial)."""

    def __init__(self, scores: dict[str, float | None], default: float | None = 0.5):
        self.scores, self.default = scores, default
        self.seen: list[str] = []
        self.contexts = []

    def run(self, trials, context):
        self.contexts.append(context)
        outcomes = []
        for trial in trials:
            self.seen.append(trial.trial_id)
            score = self.scores.get(trial.trial_id, self.default)
            status = COMPLETED if score is not None else FAILED
            record = TrialRecord(
                trial.trial_id,
                status,
                dict(trial.hyperparameters.values),
                history={"val_accuracy": [score or 0.0]},
                score=score,
                best_epoch=1 if score is not None else None,
                epochs_run=1,
                error=None if score is not None else "scripted failure",
            )
            outcomes.append(TrialOutcome(record, model=FakeModel(trial.trial_id)))
        return outcomes


class FakeModel:
    def __init__(self, name: str):
        self.name = name

    def set_weights(self, weights):  # pragma: no cover - only called with best weights
        pass


class BatchExecutor(ScriptedExecutor):
    """A scripted executor that takes `max_pack` trials at once and says each trained in a
    pack of the batch's size; `interrupt_at` raises KeyboardInterrupt on that run (0-based)."""

    def __init__(self, max_pack, scores=None, default=0.5, interrupt_at=None):
        super().__init__(scores or {}, default)
        self.max_pack = max_pack
        self.batches: list[list[str]] = []
        self.interrupt_at = interrupt_at

    def run(self, trials, context):
        if self.interrupt_at == len(self.batches):
            raise KeyboardInterrupt
        self.batches.append([t.trial_id for t in trials])
        outcomes = super().run(trials, context)
        for outcome in outcomes:
            outcome.pack_size = len(trials)
        return outcomes


def scored_record(trial_id: str, score: float, epochs: int = 15) -> TrialRecord:
    return TrialRecord(
        trial_id,
        COMPLETED,
        {"learning_rate": 0.01},
        history={"val_accuracy": [score] * epochs},
        score=score,
        best_epoch=epochs,
        epochs_run=epochs,
        duration_s=1.5,
    )


class PacksExecutor:
    """Trains its batch as packs of `size`, handing each pack's outcomes over as it ends (as
    the packed executor does); Ctrl-C in the pack holding `interrupt`."""

    max_pack = 6

    def __init__(self, size: int, store: MemoryStore, interrupt: str | None = None):
        self.size, self.store, self.interrupt = size, store, interrupt
        self.saved_before: list[list[str]] = []

    def run(self, trials, context):
        outcomes = []
        for start in range(0, len(trials), self.size):
            pack = trials[start : start + self.size]
            ids = [t.trial_id for t in pack]
            self.saved_before.append(sorted(r.trial_id for r in self.store.records()))
            if self.interrupt in ids:
                raise Interrupted(ids, epoch=(2, 3))
            done = [TrialOutcome(scored_record(i, 0.5, epochs=3), pack_size=len(pack)) for i in ids]
            context.save_outcomes(done)
            outcomes += done
        return outcomes


# ------------------------------------------------------------------------------------ oracles


def oracle(max_trials: int, tmp_path, seed: int = 0, **options: Any) -> kt.Oracle:
    from tuner.store.engine_kt import set_project_dir

    hp = kt.HyperParameters()
    hp.Int("units", 1, 1000)
    made = create_oracle(
        "random",
        objective=OBJECTIVE,
        hyperparameters=hp,
        max_trials=max_trials,
        seed=seed,
        **options,
    )
    set_project_dir(made, str(tmp_path), ".engine")
    return made


class ScriptedOracle:
    """Hands out a scripted sequence of trial statuses; no `ongoing_trials`, like a client."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.ended: list[str] = []
        self.updates: dict[str, dict] = {}
        self.count = 0

    def create_trial(self, tuner_id):
        status = self.statuses.pop(0)
        trial = kt.engine.trial.Trial(kt.HyperParameters(), trial_id=str(self.count), status=status)
        if status == trial_module.TrialStatus.RUNNING:
            self.count += 1
        return trial

    def update_trial(self, trial_id, metrics, step=0):
        self.updates[trial_id] = metrics

    def end_trial(self, trial):
        self.ended.append(trial.trial_id)

    def save(self):
        pass


class ClientDouble(OracleClient):
    """KerasTuner's worker-side oracle client, with the chief's oracle in-process instead of
    gRPC: no save(), no ongoing_trials, attributes limited as the real client limits them."""

    def __init__(self, chief: kt.Oracle):
        self._oracle = chief
        self.tuner_id = "worker0"

    def create_trial(self, tuner_id):
        return self._oracle.create_trial(tuner_id)

    def update_trial(self, trial_id, metrics, step=0):
        return self._oracle.update_trial(trial_id, metrics, step)

    def end_trial(self, trial):
        self._oracle.end_trial(trial)
        self._oracle.save()  # the chief saves its own state


# ------------------------------------------------------------------------------------- stores


class KeptNames(MemoryStore):
    """A memory store that keeps model names instead of Keras models."""

    def _save_model(self, trial_id, model):
        self._models[trial_id] = model.name

    def _save_parent(self, trial_id, model):
        self._parents[trial_id] = model.name


class NamedModelStore(disk.DiskStore):
    """A disk store whose "models" are text files: the names it keeps, without Keras."""

    def _save_model(self, trial_id, model):
        self.models.mkdir(parents=True, exist_ok=True)
        (self.models / f"{canonical_id(trial_id)}.keras").write_text(model.name)


# ------------------------------------------------------------- clock and learning-rate finder


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


FLAT = "flat: the loss varies by 0.10% of its size"


def fake_result(valley_lr=None, reason=FLAT):
    """A made-up curve whose valley is `valley_lr` (None: `reason`); the other rules found none."""
    lrs = np.geomspace(1e-5, 1.0, 10)
    losses = np.linspace(1.0, 0.5, 10)
    suggestions = {
        "valley": Suggestion(valley_lr, None if valley_lr is None else 4, reason),
        "steep": Suggestion(None, None, FLAT),
        "minimum_tenth": Suggestion(None, None, FLAT),
    }
    return LRFindResult(lrs, losses, losses, None, suggestions)


class EpochsExecutor:
    """Trains each trial `epochs` epochs of `epoch_s` seconds on a fake `clock`, through the
    real per-trial callbacks (`TrialCallbacks`: history, best epoch, the budget's stop), so a
    trial the budget cuts is recorded as the executors record it."""

    def __init__(self, clock: Clock, epochs: int = 5, epoch_s: float = 10.0):
        self.clock, self.epochs, self.epoch_s = clock, epochs, epoch_s
        self.seen: list[str] = []

    def run(self, trials, context):
        from tuner.execution.records import TrialCallbacks, new_record

        outcomes = []
        for trial in trials:
            self.seen.append(canonical_id(trial.trial_id))
            started = self.clock()
            watch = TrialCallbacks(OBJECTIVE, context)
            view = _StopFlag()
            for callback in watch.callbacks:
                callback.set_model(view)
                callback.set_params({"epochs": self.epochs})
            for epoch in range(self.epochs):
                self.clock.now += self.epoch_s
                logs = {"loss": 1.0 / (epoch + 1), "val_accuracy": 0.5 + epoch / 100}
                for callback in watch.callbacks:
                    callback.on_epoch_end(epoch, logs)
                if view.stop_training:
                    break
            record = new_record(trial.trial_id, dict(trial.hyperparameters.values))
            record.duration_s = self.clock() - started
            watch.finish(record)
            outcomes.append(TrialOutcome(record))
        return outcomes


class _StopFlag:
    """A model as the trial callbacks see it: a stop flag, no weights."""

    stop_training = False

    def get_weights(self):
        return []

    def get_optimizer_values(self):
        return None
