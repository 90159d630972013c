"""The sequential executor: one trial, one model, one `fit`."""

from __future__ import annotations

import copy
import time
import traceback
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import keras
import keras_tuner as kt

from tuner import backends
from tuner.builder_space import new_declarations
from tuner.builders import DEFAULT_BATCH_SIZE, has_own_fit
from tuner.errors import ConfigError, FailedTrial, Fatal
from tuner.execution.base import TrialContext, TrialOutcome
from tuner.execution.latency import batch_for_latency, latency_ms
from tuner.execution.model_reuse import CompiledModels
from tuner.execution.output_fit import output_mismatch
from tuner.execution.pipeline import InputPipeline
from tuner.execution.records import TrialCallbacks, new_record
from tuner.pruning import PruningRule
from tuner.space import values_as_written
from tuner.trial import canonical_id

TrialCallbackFactory = Callable[[str, dict[str, Any]], list[keras.callbacks.Callback]]
ERROR_LENGTH = 2000
PARENT = "tuner/trial_id"
INITIAL_EPOCH = "tuner/initial_epoch"
TARGET_EPOCHS = "tuner/epochs"


def trial_seed(seed: int, trial_id: str) -> int:
    """A seed of its own for every trial, stable across runs and resumes: from the campaign's
    seed and the trial's number only (KerasTuner pads ids to the width of ``max_trials``)."""
    return zlib.crc32(f"{seed}:{canonical_id(trial_id)}".encode()) % (2**31)


def error_text(error: BaseException) -> str:
    """The error's type and whole message (TensorFlow puts the cause after the first line)."""
    text = "".join(traceback.format_exception_only(type(error), error)).strip()
    return text if len(text) <= ERROR_LENGTH else text[: ERROR_LENGTH - 1] + "…"


def trial_epochs(hp: kt.HyperParameters, scheduled: dict[str, Any]) -> int:
    """The epoch a trial trains up to: Hyperband's budget, else the ``epochs`` value."""
    return int(scheduled.get(TARGET_EPOCHS, hp.get("epochs") if "epochs" in hp else 20))


def trial_batch_size(hp: kt.HyperParameters) -> int:
    return int(hp.get("batch_size")) if "batch_size" in hp else DEFAULT_BATCH_SIZE


def built_values(hp: kt.HyperParameters, scheduled: dict[str, Any]) -> dict[str, Any]:
    """Every value a trial's model was built with (the builder's defaults included), the
    oracle's ``tuner/`` values, and for Hyperband the epoch the trial trains up to."""
    values = dict(
        values_as_written(hp), **{k: v for k, v in scheduled.items() if k.startswith("tuner/")}
    )
    if TARGET_EPOCHS in scheduled:
        values["epochs"] = int(scheduled[TARGET_EPOCHS])
    return values


def parameter_count(model: keras.Model) -> int:
    """The model's parameters; 0 while it is unbuilt (a ``Sequential`` with no ``Input``,
    as KerasTuner's guide writes it, is built by its first batch)."""
    return int(model.count_params()) if model.built else 0


def share_declarations(trial: kt.engine.trial.Trial, built: kt.HyperParameters) -> None:
    """Add to `trial`'s hyperparameters what its build and fit declared that the oracle's
    space lacks, with the values used: ending the trial hands them to the oracle, whose
    ``update_space`` searches them from the next trial on (KerasTuner's way)."""
    for h in new_declarations(trial.hyperparameters, built):
        trial.hyperparameters.merge([h])
        if h.name in built.values:
            trial.hyperparameters.values[h.name] = built.values[h.name]


def _is_skip(error: BaseException) -> bool:
    return isinstance(error, (FailedTrial, kt.errors.FailedTrialError))


def _is_fatal(error: BaseException) -> bool:
    return isinstance(error, (Fatal, kt.errors.FatalError))


def fit_trial(
    hypermodel: kt.HyperModel,
    pipeline: InputPipeline,
    hp: kt.HyperParameters,
    model: keras.Model,
    *,
    epochs: int,
    initial_epoch: int,
    trial_seed: int,
    batches_seed: int,
    callbacks: list[keras.callbacks.Callback],
) -> None:
    """Train `model` from `initial_epoch` to `epochs`: through the builder's own ``fit`` where
    it has one (it decides batch size and the rest, on arrays shuffled with `trial_seed`),
    else ``model.fit`` on the campaign's pipeline, whose batches follow `batches_seed` (the
    campaign's seed, not the trial's: every trial trains on the same batches)."""
    common = dict(epochs=epochs, initial_epoch=initial_epoch, verbose=0)
    if has_own_fit(hypermodel):
        hypermodel.fit(
            hp,
            model,
            **pipeline.array_arguments(trial_seed),
            callbacks=callbacks + pipeline.fit_callbacks(trial_seed),
            **common,
        )
        return
    model.fit(
        **pipeline.fit_arguments(trial_batch_size(hp), batches_seed),
        callbacks=callbacks + pipeline.fit_callbacks(batches_seed),
        **common,
    )


class SequentialExecutor:
    """Trains each trial's model in turn on a shared input pipeline, recording every epoch.

    `precision`: the Keras dtype policy each model is built under (``"mixed_float16"``; None:
    the default, float32). `jit_compile`: set as each built model's ``jit_compile`` before it
    trains (True: XLA; None: as the builder compiled it). `pruning`: the campaign's pruner
    (None: every trial trains to its last epoch)."""

    def __init__(
        self,
        hypermodel: kt.HyperModel,
        pipeline: InputPipeline,
        *,
        objective: kt.Objective,
        seed: int = 0,
        early_stopping: dict[str, Any] | None = None,
        callbacks: Sequence[keras.callbacks.Callback] = (),
        callback_factory: TrialCallbackFactory | None = None,
        precision: str | None = None,
        jit_compile: bool | None = None,
        pruning: PruningRule | None = None,
    ):
        self.hypermodel, self.pipeline = hypermodel, pipeline
        self.precision, self.jit_compile = precision, jit_compile
        self.pruning = pruning
        self.objective, self.seed = objective, seed
        self.early_stopping = early_stopping
        self.user_callbacks = list(callbacks)
        self.callback_factory = callback_factory
        self.compiled_models = CompiledModels(
            enabled=getattr(hypermodel, "reuse_compiled_models", False)
        )

    def run(
        self, trials: Sequence[kt.engine.trial.Trial], context: TrialContext
    ) -> list[TrialOutcome]:
        outcomes = []
        for trial in trials:
            outcome = self.run_one(trial, context)
            context.any_completed |= outcome.record.scored
            outcomes.append(outcome)
        return outcomes

    def _callbacks(
        self, trial_id: str, values: dict[str, Any], own: list[keras.callbacks.Callback]
    ) -> list[keras.callbacks.Callback]:
        callbacks = list(own)
        if self.callback_factory is not None:
            callbacks.extend(self.callback_factory(trial_id, values))
        # A callback keeps state between fits (KerasTuner copies them per trial too).
        callbacks.extend(copy.deepcopy(self.user_callbacks))
        return callbacks

    def _fit(
        self,
        hp: kt.HyperParameters,
        model: keras.Model,
        *,
        epochs: int,
        initial_epoch: int,
        seed: int,
        callbacks: list[keras.callbacks.Callback],
    ) -> None:
        fit_trial(
            self.hypermodel,
            self.pipeline,
            hp,
            model,
            epochs=epochs,
            initial_epoch=initial_epoch,
            trial_seed=seed,
            batches_seed=self.seed,
            callbacks=callbacks,
        )

    def run_one(self, trial: kt.engine.trial.Trial, context: TrialContext) -> TrialOutcome:
        """Build and fit one trial's model; return its outcome."""
        hp = trial.hyperparameters.copy()
        scheduled = values_as_written(trial.hyperparameters)
        seed = trial_seed(self.seed, trial.trial_id)
        if self.compiled_models.clears_session():
            keras.backend.clear_session(free_memory=False)
        keras.utils.set_random_seed(seed)
        initial_epoch = int(scheduled.get(INITIAL_EPOCH, 0))
        record = new_record(trial.trial_id, scheduled, initial_epoch)
        watch = TrialCallbacks(self.objective, context, self.early_stopping, pruning=self.pruning)
        started = time.perf_counter()
        model = None
        try:
            with backends.dtype_policy(self.precision):
                fresh = self.hypermodel.build(hp)
            if self.jit_compile is not None:  # read when its train step is first made
                fresh.jit_compile = self.jit_compile
        except (ConfigError, Fatal):
            raise
        except Exception as error:
            record.error = error_text(error)
            if not _is_skip(error):
                raise Fatal(
                    f"trial {record.trial_id}: the model failed to build; every trial "
                    f"would fail the same way. {record.error}"
                ) from error
        if record.error is None:
            # Every value the model was built with, the builder's defaults included.
            record.hyperparameters = built_values(hp, scheduled)
            record.n_params = parameter_count(fresh)  # 0 until the first batch builds it
            try:
                model = self.compiled_models.adopt(fresh)
                if scheduled.get(PARENT) is not None:
                    context.restore_parent(model, str(scheduled[PARENT]))
                epochs = trial_epochs(hp, scheduled)
                self._fit(
                    hp,
                    model,
                    epochs=epochs,
                    initial_epoch=initial_epoch,
                    seed=seed,
                    callbacks=self._callbacks(
                        record.trial_id, record.hyperparameters, watch.callbacks
                    ),
                )
                record.hyperparameters = built_values(hp, scheduled)  # fit's own too
                record.n_params = record.n_params or parameter_count(model)
                share_declarations(trial, hp)
            except ConfigError:
                raise
            except Exception as error:
                if _is_fatal(error):
                    raise Fatal(str(error)) from error
                record.error = error_text(error)
                # Failing before the first epoch ends, with no trial done yet, is a failure
                # of the model or the data (a wrong output shape, a bad loss): it would repeat.
                if watch.history.epochs == 0 and not context.any_completed and not _is_skip(error):
                    mismatch = output_mismatch(fresh, self.pipeline.dataset.spec, self.hypermodel)
                    if mismatch is not None:
                        raise Fatal(f"trial {trial.trial_id}: {mismatch}") from error
                    raise Fatal(
                        f"trial {record.trial_id} failed before its first epoch ended; "
                        f"every trial would fail the same way. {record.error}"
                    ) from error
        record.duration_s = time.perf_counter() - started
        if model is not None and record.error is None:  # timed apart from the training time
            record.latency_ms = latency_ms(model, batch_for_latency(self.pipeline.dataset))
        if watch.finish(record, initial_epoch):
            return TrialOutcome(
                record,
                model=model,
                best_weights=watch.best.weights,
                best_optimizer=watch.best.optimizer_values,
            )
        return TrialOutcome(record)
