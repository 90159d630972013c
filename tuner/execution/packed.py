"""The packed executor: trials that share an architecture train as towers of one model.

Trials whose builder gives the same packing key (only learning_rate, l2 and dropout differ, for
the MLP) train together, up to `max_pack` at a time, in one `fit` of a `PackedModel`. Each
tower is fed its own trial's batches in its trial's shuffle order and starts from its trial's
weights, so each trial's record is the one the sequential executor would give it, up to the
order of floating-point operations. Everything else goes through the sequential executor.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import keras
import keras_tuner as kt

from tuner import tf_backend
from tuner.builders import DEFAULT_BATCH_SIZE, has_own_fit
from tuner.builders.packing import PackedModel, build_packed, tower_batches
from tuner.errors import ConfigError, Fatal
from tuner.execution.base import TrialContext, TrialOutcome
from tuner.execution.callbacks import NOT_A_METRIC
from tuner.execution.sequential import (
    TARGET_EPOCHS,
    SequentialExecutor,
    trial_seed,
)
from tuner.pipeline import InputPipeline
from tuner.space import values_as_written
from tuner.trial import COMPLETED, FAILED, TrialRecord


class _Stub:
    """What a Keras EarlyStopping driven for one tower needs of a model."""

    stop_training = False


class _Tower:
    """One tower's record in the making: history, best epoch, early stopping, divergence."""

    def __init__(self, objective: kt.Objective, early_stopping: dict[str, Any] | None):
        self.objective = objective
        self.history: dict[str, list[float]] = {}
        self.epochs = 0
        self.score: float | None = None
        self.best_epoch: int | None = None
        self.best_weights: list[Any] | None = None
        self.reason: str | None = None
        self.stopped = False
        self.stopper: keras.callbacks.EarlyStopping | None = None
        self._stub = _Stub()
        if early_stopping:
            self.stopper = keras.callbacks.EarlyStopping(
                monitor=objective.name,
                mode=objective.direction,
                patience=early_stopping.get("patience", 5),
                min_delta=early_stopping.get("min_delta", 0.0),
            )
            self.stopper.set_model(self._stub)
            self.stopper.on_train_begin()

    def end_epoch(self, epoch: int, logs: dict[str, float], tower: keras.Model) -> None:
        """The sequential trial's callbacks, in their order: history, stop on a non-finite
        loss, require the objective, best epoch, early stopping."""
        for name, value in logs.items():
            if name not in NOT_A_METRIC:
                self.history.setdefault(name, []).append(value)
        self.epochs += 1
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self.reason = f"loss became {loss} at epoch {self.epochs}"
            self.stopped = True
        elif self.objective.name not in logs:
            logged = ", ".join(sorted(k for k in logs if k not in NOT_A_METRIC)) or "none"
            raise Fatal(
                f"objective {self.objective.name!r} is not a logged metric; this model logs: "
                f"{logged}. Set objective to one of them."
            )
        current = logs.get(self.objective.name)
        if current is not None and math.isfinite(current):
            value = current
            if self.score is None or self.objective.better_than(value, self.score):
                self.score, self.best_epoch = value, self.epochs
                self.best_weights = tower.get_weights()
        if self.stopper is not None:
            self.stopper.on_epoch_end(epoch, logs)
            self.stopped |= self._stub.stop_training


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
        towers = [_Tower(self.objective, self.early_stopping) for _ in trials]
        try:
            model = build_packed(self.hypermodel, hps, seeds)
            scheduled = values_as_written(trials[0].hyperparameters)
            hp = hps[0]
            epochs = int(scheduled.get(TARGET_EPOCHS, hp.get("epochs") if "epochs" in hp else 20))
            batch_size = int(hp.get("batch_size")) if "batch_size" in hp else DEFAULT_BATCH_SIZE
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
            self._outcome(trial, hp, model.towers[k], towers[k], duration, context)
            for k, (trial, hp) in enumerate(zip(trials, hps))
        ]

    def _outcome(
        self,
        trial: kt.engine.trial.Trial,
        hp: kt.HyperParameters,
        model: keras.Model,
        tower: _Tower,
        duration: float,
        context: TrialContext,
    ) -> TrialOutcome:
        scheduled = values_as_written(trial.hyperparameters)
        record = TrialRecord(
            trial_id=trial.trial_id,
            status=FAILED,
            hyperparameters=dict(
                values_as_written(hp),
                **{k: v for k, v in scheduled.items() if k.startswith("tuner/")},
            ),
            history=tower.history,
            epochs_run=tower.epochs,
            duration_s=duration,
            n_params=int(model.count_params()),
            score=tower.score,
            best_epoch=tower.best_epoch,
        )
        if TARGET_EPOCHS in scheduled:
            record.hyperparameters["epochs"] = int(scheduled[TARGET_EPOCHS])
        if tower.reason:
            record.error = f"diverged: {tower.reason}"
            return TrialOutcome(record)
        if record.score is None:
            return TrialOutcome(record)
        record.status = COMPLETED
        assert tower.best_weights is not None
        model.set_weights(tower.best_weights)  # the tower is a plain model of this trial's own
        keep = (
            context.keep_all_weights
            or context.keep_weights_beyond is None
            or self.objective.better_than(record.score, context.keep_weights_beyond)
        )
        return TrialOutcome(record, model=model, best_weights=tower.best_weights if keep else None)
