"""The packed executor: trials that share an architecture train as towers of one model.

Trials whose builder gives the same packing key (only learning_rate, l2 and dropout differ, for
the MLP) train together, up to `max_pack` at a time, in one `fit` of a `PackedModel`. Each
tower is fed its own trial's batches in its trial's shuffle order and starts from its trial's
weights, so each trial's record is the one the sequential executor would give it, up to the
order of floating-point operations. Everything else goes through the sequential executor.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import keras
import keras_tuner as kt

from tuner import tf_backend
from tuner.builders import has_own_fit
from tuner.builders.packing import PackedModel, build_packed, tower_batches
from tuner.errors import ConfigError, Fatal
from tuner.execution.base import TrialContext, TrialOutcome
from tuner.execution.callbacks import (
    BestEpoch,
    History,
    RequireObjective,
    StopOnNonFinite,
    early_stopping,
)
from tuner.execution.sequential import (
    SequentialExecutor,
    built_values,
    trial_batch_size,
    trial_epochs,
    trial_seed,
)
from tuner.pipeline import InputPipeline
from tuner.space import values_as_written
from tuner.trial import COMPLETED, FAILED, TrialRecord


class _TowerView:
    """What the trial callbacks need of a model, for one tower: its weights, a stop flag."""

    def __init__(self) -> None:
        self.tower: keras.Model | None = None
        self.stop_training = False

    def get_weights(self) -> list[Any]:
        assert self.tower is not None
        return self.tower.get_weights()


class _Tower:
    """One tower's record in the making, from the very callbacks a sequential trial has
    (history, stop on a non-finite loss, require the objective, best epoch, early stopping),
    driven with that tower's logs."""

    def __init__(
        self,
        objective: kt.Objective,
        settings: dict[str, Any] | None,
        context: TrialContext,
    ):
        self.history, self.stop = History(), StopOnNonFinite()
        self.best = BestEpoch(
            objective,
            keep_beyond=context.keep_weights_beyond,
            keep_all=context.keep_all_weights,
        )
        self.callbacks: list[keras.callbacks.Callback] = [
            self.history,
            self.stop,
            RequireObjective(objective.name),
            self.best,
        ]
        if settings:
            self.callbacks.append(early_stopping(objective, settings))
        self._view = _TowerView()
        for callback in self.callbacks:
            callback.set_model(self._view)
            callback.on_train_begin()

    @property
    def stopped(self) -> bool:
        return self._view.stop_training

    def end_epoch(self, epoch: int, logs: dict[str, float], tower: keras.Model) -> None:
        self._view.tower = tower
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)


class _PackMonitor(keras.callbacks.Callback):
    """Splits the packed model's logs by tower at every epoch's end; freezes stopped towers
    and stops the fit once every tower has stopped."""

    def __init__(self, towers: list[_Tower]):
        super().__init__()
        self.towers = towers

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        model: PackedModel = self.model
        for k, tower in enumerate(self.towers):
            if tower.stopped:
                continue
            tower.end_epoch(epoch, PackedModel.tower_logs(logs or {}, k), model.towers[k])
            if tower.stopped:
                model.freeze(k)
        if all(t.stopped for t in self.towers):
            model.stop_training = True


class PackedExecutor:
    """Trains trials of one architecture K at a time as towers of one model (TensorFlow);
    trials that cannot pack go through a `SequentialExecutor`."""

    def __init__(
        self,
        hypermodel: kt.HyperModel,
        pipeline: InputPipeline,
        *,
        objective: kt.Objective,
        seed: int = 0,
        early_stopping: dict[str, Any] | None = None,
        max_pack: int = 16,
    ):
        self.hypermodel, self.pipeline = hypermodel, pipeline
        self.objective, self.seed = objective, seed
        self.early_stopping = early_stopping
        self.max_pack = max_pack
        self.sequential = SequentialExecutor(
            hypermodel, pipeline, objective=objective, seed=seed, early_stopping=early_stopping
        )

    def packing_key(self, trial: kt.engine.trial.Trial) -> str | None:
        """The trial's pack (None: it trains alone)."""
        key = getattr(self.hypermodel, "packing_key", None)
        if key is None or not tf_backend.is_active() or has_own_fit(self.hypermodel):
            return None
        result: str | None = key(dict(trial.hyperparameters.values))
        return result

    def packs(self, trials: Sequence[kt.engine.trial.Trial]) -> list[list[int]]:
        """The trials' positions, grouped into packs of at most `max_pack` (a pack of one
        trains sequentially)."""
        groups: dict[str | None, list[int]] = {}
        packs = []
        for i, trial in enumerate(trials):
            key = self.packing_key(trial)
            if key is None:
                packs.append([i])
            else:
                groups.setdefault(key, []).append(i)
        for members in groups.values():
            packs.extend(
                members[i : i + self.max_pack] for i in range(0, len(members), self.max_pack)
            )
        return sorted(packs)

    def run(
        self, trials: Sequence[kt.engine.trial.Trial], context: TrialContext
    ) -> list[TrialOutcome]:
        outcomes: dict[int, TrialOutcome] = {}
        for pack in self.packs(trials):
            chosen = [trials[i] for i in pack]
            if len(chosen) == 1:
                results = self.sequential.run(chosen, context)
            else:
                results = self.run_pack(chosen, context)
            for i, outcome in zip(pack, results):
                outcomes[i] = outcome
                context.any_completed |= outcome.record.completed
        return [outcomes[i] for i in range(len(trials))]

    def run_pack(
        self, trials: Sequence[kt.engine.trial.Trial], context: TrialContext
    ) -> list[TrialOutcome]:
        """Train trials of one packing key as one packed model. Should building or training
        the pack fail, the trials go through the sequential executor, which tells each one's
        failure apart."""
        started = time.perf_counter()
        hps = [t.hyperparameters.copy() for t in trials]
        seeds = [trial_seed(self.seed, t.trial_id) for t in trials]
        towers = [_Tower(self.objective, self.early_stopping, context) for _ in trials]
        try:
            model = build_packed(self.hypermodel, hps, seeds)
            scheduled = values_as_written(trials[0].hyperparameters)
            epochs, batch_size = trial_epochs(hps[0], scheduled), trial_batch_size(hps[0])
            dataset = self.pipeline.dataset
            data, steps = tower_batches(
                dataset.x_train, dataset.y_train, seeds, batch_size=batch_size, epochs=epochs
            )
            validation = self.pipeline.fit_arguments(batch_size, seeds[0])["validation_data"]
            model.fit(
                data,
                epochs=epochs,
                steps_per_epoch=steps,
                validation_data=validation,
                shuffle=False,  # the batches come in each trial's own order
                callbacks=[_PackMonitor(towers)],
                verbose=0,
            )
        except (ConfigError, Fatal):
            raise
        except Exception:
            return self.sequential.run(trials, context)
        duration = (time.perf_counter() - started) / len(trials)
        return [
            self._outcome(trial, hp, model.towers[k], towers[k], duration, len(trials))
            for k, (trial, hp) in enumerate(zip(trials, hps))
        ]

    def _outcome(
        self,
        trial: kt.engine.trial.Trial,
        hp: kt.HyperParameters,
        model: keras.Model,
        tower: _Tower,
        duration: float,
        pack_size: int,
    ) -> TrialOutcome:
        scheduled = values_as_written(trial.hyperparameters)
        record = TrialRecord(
            trial_id=trial.trial_id,
            status=FAILED,
            hyperparameters=built_values(hp, scheduled),
            history=tower.history.values,
            epochs_run=tower.history.epochs,
            duration_s=duration,
            n_params=int(model.count_params()),
            score=tower.best.score,
            best_epoch=tower.best.epoch,
        )
        if tower.stop.reason:
            record.error = f"diverged: {tower.stop.reason}"
            return TrialOutcome(record, pack_size=pack_size)
        if record.score is None:
            return TrialOutcome(record, pack_size=pack_size)
        record.status = COMPLETED
        return TrialOutcome(
            record, model=model, best_weights=tower.best.weights, pack_size=pack_size
        )
