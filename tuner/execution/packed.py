"""The packed executor: trials that share an architecture train as stacked towers of one model.

Trials whose builder gives the same packing key (only learning_rate, l2 and dropout differ, for
the MLP) train together, up to `max_pack` at a time, as `StackedTowers`: each tower starts from
the weights its trial's fresh build would have, trains on the batches every trial of the
campaign sees, at its own learning rate, L2 factor and dropout rate, and gets the very callbacks
a sequential trial has (history, stop on divergence, best epoch, early stopping). So a
packed trial's record is the one the sequential executor gives it, up to the order of
floating-point operations and the dropout masks. The compiled step of one architecture and pack
size is traced once and serves every later pack of it. Everything else goes through the
sequential executor, as does every trial on a backend that cannot pack
(`backends.packs_trials`: TensorFlow and JAX can).

Each pack reports its epochs as they end (`TrialContext.on_epoch`) and hands its outcomes to
the loop as soon as it ends (`TrialContext.save_outcomes`), so a batch of many packs is saved
pack by pack. Ctrl-C raises `Interrupted`, naming the pack whose training is lost.
"""

from __future__ import annotations

import functools
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import keras_tuner as kt
import numpy as np

from tuner import backends
from tuner.builders import has_own_fit
from tuner.errors import ConfigError, Fatal, Interrupted
from tuner.execution.base import PackEpoch, TrialContext, TrialOutcome, Unstarted
from tuner.execution.budget import Budget
from tuner.execution.latency import batch_for_latency, latency_ms
from tuner.execution.pipeline import InputPipeline
from tuner.execution.records import TrialCallbacks, new_record
from tuner.execution.sequential import (
    SequentialExecutor,
    built_values,
    trial_batch_size,
    trial_epochs,
    trial_seed,
)
from tuner.execution.stacked import NotStackable, StackedTowers
from tuner.execution.stacking import stacked_towers
from tuner.execution.tower import NotPackable, TowerTemplate, tower_settings
from tuner.pruning import PruningRule
from tuner.space import values_as_written

KEPT_STACKS = 2  # compiled stacks kept for reuse (architecture and pack size each)
KEPT_SMALL_STACKS = 6  # and the smaller ones a pack's survivors go on in


def shrunk_size(live: int, size: int) -> int:
    """The stack `live` towers of a stack of `size` go on in: the smallest power of two that
    holds them once at most half of `size` still train, else `size` (so each architecture
    needs only a few stack sizes, each traced once)."""
    if live > size // 2:
        return size
    return 1 << max(live - 1, 0).bit_length()


class _EpochWeights:
    """Every tower's weights and optimizer state at the end of the current epoch, copied off
    the device once and only when a tower asks (a best epoch worth keeping)."""

    def __init__(self, stack: StackedTowers):
        self.stack = stack
        self._weights: list[list[np.ndarray]] | None = None
        self._optimizer: list[list[np.ndarray]] | None = None
        self._optimizer_read = False

    def new_epoch(self) -> None:
        self._weights, self._optimizer, self._optimizer_read = None, None, False

    def of(self, k: int) -> list[np.ndarray]:
        if self._weights is None:
            self._weights = self.stack.all_weights()
        return self._weights[k]

    def optimizer_of(self, k: int) -> list[np.ndarray] | None:
        if not self._optimizer_read:
            self._optimizer, self._optimizer_read = self.stack.all_optimizer_values(), True
        return None if self._optimizer is None else self._optimizer[k]


class _TowerView:
    """What the trial callbacks need of a model, for one tower: its weights and optimizer
    state, a stop flag."""

    def __init__(self, weights: _EpochWeights, k: int) -> None:
        self._weights, self.place = weights, k  # its place in the stack that trains it
        self.stop_training = False

    def get_weights(self) -> list[Any]:
        return self._weights.of(self.place)

    def get_optimizer_values(self) -> list[Any] | None:
        return self._weights.optimizer_of(self.place)


class _Tower(TrialCallbacks):
    """One tower's record in the making, from the very callbacks a sequential trial has,
    driven with that tower's logs."""

    def __init__(
        self,
        objective: kt.Objective,
        settings: dict[str, Any] | None,
        context: TrialContext,
        view: _TowerView,
        epochs: int,
        pruning: PruningRule | None = None,
        peers: Callable[[], Sequence[Sequence[float]]] = lambda: (),
    ):
        super().__init__(
            objective, context, settings, counts_epochs=False, pruning=pruning, peers=peers
        )
        self.view = view
        for callback in self.callbacks:
            callback.set_model(view)
            callback.set_params({"epochs": epochs})
            callback.on_train_begin()

    @property
    def stopped(self) -> bool:
        return self.view.stop_training

    def start(self, loss: float) -> None:
        """The tower's loss on its first batch, as Keras hands it to a trial's callbacks."""
        for callback in self.callbacks:
            callback.on_train_batch_end(0, {"loss": loss})

    def end_epoch(self, epoch: int, logs: dict[str, float]) -> None:
        for callback in self.callbacks:
            callback.on_epoch_end(epoch, logs)


def stack_on(dataset: Any, model: Any, size: int, hp: Any) -> StackedTowers:
    """`size` towers of `model`, compiled over the dataset's arrays in the trial's batch size."""
    return stacked_towers(
        model,
        size,
        dataset.x_train,
        dataset.y_train,
        dataset.x_val,
        dataset.y_val,
        batch_size=trial_batch_size(hp),
    )


class PackedExecutor:
    """Trains trials of one architecture up to `max_pack` at a time as stacked towers
    (on TensorFlow and JAX: `backends.packs_trials`); trials that cannot pack go through a
    `SequentialExecutor`."""

    def __init__(
        self,
        hypermodel: kt.HyperModel,
        pipeline: InputPipeline,
        *,
        objective: kt.Objective,
        seed: int = 0,
        early_stopping: dict[str, Any] | None = None,
        max_pack: int = 16,
        precision: str | None = None,
        jit_compile: bool | None = None,
        pruning: PruningRule | None = None,
    ):
        self.hypermodel, self.pipeline = hypermodel, pipeline
        self.objective, self.seed = objective, seed
        self.early_stopping = early_stopping
        self.max_pack = max_pack
        self.pruning = pruning
        # The trials that train alone compute as the campaign says (packs only ever run in
        # float32: `loop.packing_requested`).
        self.sequential = SequentialExecutor(
            hypermodel,
            pipeline,
            objective=objective,
            seed=seed,
            early_stopping=early_stopping,
            precision=precision,
            jit_compile=jit_compile,
            pruning=pruning,
        )
        self._templates: dict[str, TowerTemplate] = {}
        self._stacks: OrderedDict[tuple[str, int], StackedTowers] = OrderedDict()
        self._small: OrderedDict[tuple[str, int], StackedTowers] = OrderedDict()
        self._orders: np.ndarray = np.zeros((0, 0), "int64")  # [epochs, samples], grown
        self._unpackable: set[str] = set()
        self._reached: tuple[int, int] | None = None  # the running pack's epochs done, of all

    def packing_key(self, trial: kt.engine.trial.Trial) -> str | None:
        """The trial's pack (None: it trains alone)."""
        key = getattr(self.hypermodel, "packing_key", None)
        if key is None or not backends.packs_trials() or has_own_fit(self.hypermodel):
            return None
        result: str | None = key(dict(trial.hyperparameters.values))
        return None if result in self._unpackable else result

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
            if outcomes and context.may_leave_unstarted and context.budget.spent() is not None:
                handed = set(outcomes)
                raise Unstarted([t.trial_id for i, t in enumerate(trials) if i not in handed])
            self._reached = None
            try:
                if len(chosen) == 1:
                    results = self.sequential.run(chosen, context)
                else:
                    results = self.run_pack(chosen, context)
                for i, outcome in zip(pack, results):
                    outcomes[i] = outcome
                    context.any_completed |= outcome.record.scored
                context.save_outcomes(results)
            except KeyboardInterrupt:  # the loop leaves out those whose records were saved
                raise Interrupted([t.trial_id for t in chosen], epoch=self._reached) from None
        return [outcomes[i] for i in range(len(trials))]

    # ------------------------------------------------------------------ one pack

    def _template(self, key: str, hp: kt.HyperParameters, seed: int) -> TowerTemplate:
        if key not in self._templates:
            self._templates[key] = TowerTemplate(self.hypermodel, hp.copy(), seed)
        return self._templates[key]

    def _stack(self, key: str, template: TowerTemplate, size: int, hp: Any) -> StackedTowers:
        """The compiled stack for this architecture and pack size (least recently used ones
        dropped beyond `KEPT_STACKS`)."""
        return self._kept(self._stacks, KEPT_STACKS, key, template, size, hp)

    def _kept(
        self,
        kept: OrderedDict[tuple[str, int], StackedTowers],
        limit: int,
        key: str,
        template: TowerTemplate,
        size: int,
        hp: Any,
    ) -> StackedTowers:
        """The stack of `size` towers for this architecture from `kept`, built on a miss; the
        least recently used ones are released beyond `limit`."""
        if (key, size) in kept:
            kept.move_to_end((key, size))
            return kept[(key, size)]
        stack = stack_on(self.pipeline.dataset, template.model, size, hp)
        kept[(key, size)] = stack
        while len(kept) > limit:
            _, evicted = kept.popitem(last=False)
            evicted.release()
        return stack

    def _epoch_order(self, epoch: int, epochs: int) -> np.ndarray:
        if len(self._orders) < epochs:
            self._orders = self.pipeline.epoch_orders(self.seed, epochs)
        return self._orders[epoch]

    def run_pack(
        self, trials: Sequence[kt.engine.trial.Trial], context: TrialContext
    ) -> list[TrialOutcome]:
        """Train trials of one packing key as stacked towers. Should the pack be impossible
        (a layer or setting that cannot stack) the trials train alone, and so does every
        later trial of that key."""
        started = time.perf_counter()
        key = self.packing_key(trials[0])
        hps = [t.hyperparameters.copy() for t in trials]
        seeds = [trial_seed(self.seed, t.trial_id) for t in trials]
        assert key is not None
        try:
            template = self._template(key, hps[0], seeds[0])
            stack = self._stack(key, template, len(trials), hps[0])
            rates, l2, dropout = tower_settings(template, hps)
            stack.load([template.initial_weights(s) for s in seeds], rates, l2, dropout, seeds[0])
        except (NotPackable, NotStackable):
            self._unpackable.add(key)
            return self.sequential.run(trials, context)
        scheduled = values_as_written(trials[0].hyperparameters)
        epochs = trial_epochs(hps[0], scheduled)
        weights = _EpochWeights(stack)
        views = [_TowerView(weights, k) for k in range(len(trials))]
        towers: list[_Tower] = []
        for view in views:
            # A tower is judged as it would be after the earlier towers of its pack, one
            # trial after another: against their objective so far.
            towers.append(
                _Tower(
                    self.objective,
                    self.early_stopping,
                    context,
                    view,
                    epochs,
                    self.pruning,
                    functools.partial(self._objectives, towers[: len(towers)]),
                )
            )
        ids = tuple(t.trial_id for t in trials)

        def report(done: int) -> None:
            self._reached = (done, epochs)
            context.on_epoch(
                PackEpoch(
                    trial_ids=ids,
                    epoch=done,
                    epochs=epochs,
                    epochs_run=tuple(t.history.epochs for t in towers),
                    epochs_left=tuple(0 if t.stopped else epochs - done for t in towers),
                    best=self._best_score(towers),
                )
            )

        def smaller(size: int) -> StackedTowers:
            return self._smaller_stack(key, template, size, hps[0])

        try:
            shrinks = self.pruning is None or self.pruning.shrink
            train_on = smaller if shrinks else None
            self._train(stack, towers, weights, epochs, report, context.budget, train_on)
        except (ConfigError, Fatal):
            raise
        except Exception:  # the sequential executor tells each trial's failure apart
            return self.sequential.run(trials, context)
        duration = (time.perf_counter() - started) / len(trials)
        n_params = int(template.model.count_params())
        # Each tower is one model of the template's architecture (the values that differ
        # between towers, rates and factors, cost no time at prediction): timed once for all.
        latency = latency_ms(template.model, batch_for_latency(self.pipeline.dataset))
        outcomes = [
            self._outcome(trial, template, hp, tower, duration, n_params, len(trials))
            for trial, hp, tower in zip(trials, hps, towers)
        ]
        for outcome in outcomes:
            if outcome.record.error is None:
                outcome.record.latency_ms = latency
        return outcomes

    def _objectives(self, towers: Sequence[_Tower]) -> list[list[float]]:
        return [t.history.values.get(self.objective.name, []) for t in towers]

    def _best_score(self, towers: list[_Tower]) -> float | None:
        scores = [t.best.score for t in towers if t.best.score is not None]
        best = None
        for score in scores:
            if best is None or self.objective.better_than(score, best):
                best = score
        return best

    def _train(
        self,
        stack: StackedTowers,
        towers: list[_Tower],
        weights: _EpochWeights,
        epochs: int,
        report: Callable[[int], None] = lambda done: None,
        budget: Budget | None = None,
        smaller: Callable[[int], StackedTowers] | None = None,
    ) -> None:
        """Train the towers epoch by epoch; a tower that stops (early stopping, divergence,
        the budget spent, the pruner: its callbacks decide at the epoch's end) is frozen, and
        the pack ends when every tower has stopped. Once at most half the stack's towers
        still train, they go on in a `smaller(size)` stack (a frozen tower still costs its
        arithmetic), when one is given."""
        place = list(range(len(towers)))  # each tower's place in the stack training it
        for epoch in range(epochs):
            logs = stack.train_epoch(self._epoch_order(epoch, epochs))
            logs.update(stack.evaluate())
            weights.new_epoch()
            if budget is not None:  # every tower still training spent this epoch
                budget.add_epochs(sum(1 for t in towers if not t.stopped))
            for k, tower in enumerate(towers):
                if tower.stopped:
                    continue
                p = place[k]
                if epoch == 0:
                    tower.start(float(stack.first_batch_loss[p]))
                tower.end_epoch(epoch, {name: float(value[p]) for name, value in logs.items()})
                if tower.stopped:
                    stack.freeze(p)
            report(epoch + 1)
            live = [k for k, t in enumerate(towers) if not t.stopped]
            if not live:
                return
            size = shrunk_size(len(live), stack.size)
            if smaller is not None and epoch + 1 < epochs and size < stack.size:
                stack = self._shrink(stack, smaller(size), towers, place, live, weights)

    def _shrink(
        self,
        stack: StackedTowers,
        small: StackedTowers,
        towers: list[_Tower],
        place: list[int],
        live: list[int],
        weights: _EpochWeights,
    ) -> StackedTowers:
        """Move the `live` towers from `stack` into `small` (the places left over hold a
        frozen copy of the first), and point their views and `place` at it."""
        chosen = [place[k] for k in live]
        small.adopt(stack, chosen + [chosen[0]] * (small.size - len(chosen)))
        weights.stack = small
        weights.new_epoch()
        for n, k in enumerate(live):
            place[k] = n
            towers[k].view.place = n
        return small

    def _smaller_stack(
        self, key: str, template: TowerTemplate, size: int, hp: Any
    ) -> StackedTowers:
        """A stack of `size` towers for the survivors of a pack (kept for reuse: sizes are
        powers of two, so every pack of the architecture shrinks into the same few)."""
        return self._kept(self._small, KEPT_SMALL_STACKS, key, template, size, hp)

    def _outcome(
        self,
        trial: kt.engine.trial.Trial,
        template: TowerTemplate,
        hp: kt.HyperParameters,
        tower: _Tower,
        duration: float,
        n_params: int,
        pack_size: int,
    ) -> TrialOutcome:
        scheduled = values_as_written(trial.hyperparameters)
        full = hp.copy()  # the trial's own space (stepped floats written as stepped)
        for name, value in template.defaults.items():
            if name not in full.values:  # a builder default the trial's space leaves out
                full.Fixed(name, value)
        record = new_record(trial.trial_id, built_values(full, scheduled))
        record.duration_s, record.n_params = duration, n_params
        if not tower.finish(record):
            return TrialOutcome(record, pack_size=pack_size)
        if tower.best.weights is None:  # not worth keeping: no model to build
            return TrialOutcome(record, pack_size=pack_size)
        return TrialOutcome(
            record,
            best_weights=tower.best.weights,
            best_optimizer=tower.best.optimizer_values,
            pack_size=pack_size,
            make_model=functools.partial(template.build, hp),
        )
