"""Small Keras callbacks, one behaviour each, that a trial's record is made of."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import keras
import keras_tuner as kt

from tuner.errors import Fatal
from tuner.execution.divergence import Divergence
from tuner.execution.optimizer_state import optimizer_values
from tuner.pruning import PruningRule, should_prune

NOT_A_METRIC = ("learning_rate",)


class History(keras.callbacks.Callback):
    """Every epoch's logged metrics, as floats."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, list[float]] = {}

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        for name, value in (logs or {}).items():
            if name not in NOT_A_METRIC:
                self.values.setdefault(name, []).append(float(value))

    @property
    def epochs(self) -> int:
        return len(next(iter(self.values.values()), []))


class StopOnDivergence(keras.callbacks.Callback):
    """Stops training once the trial diverges (`tuner.execution.divergence`: the loss is not
    finite, or far above its first batch's), and says why."""

    def __init__(self) -> None:
        super().__init__()
        self.rule = Divergence()
        self.reason: str | None = None
        self._epochs = 0

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if self.rule.start_loss is None and (logs or {}).get("loss") is not None:
            self.rule.start(float(logs["loss"]))  # type: ignore[index]

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epochs += 1
        loss = (logs or {}).get("loss")
        if loss is not None and self.reason is None:
            self.reason = self.rule.check(float(loss), self._epochs)
            if self.reason is not None:
                self.model.stop_training = True


class StopOnBudget(keras.callbacks.Callback):
    """Stops training at the end of an epoch once the campaign's budget is spent (`Budget`),
    unless that epoch was the trial's last; counts each epoch in the budget when `counts`
    (a packed executor counts its towers' epochs itself). `cut`: whether it stopped one."""

    def __init__(self, budget: Any, counts: bool = True) -> None:
        super().__init__()
        self.budget, self.counts = budget, counts
        self.cut = False

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.counts:
            self.budget.add_epochs(1)
        last = (self.params or {}).get("epochs")
        if self.budget.spent() is not None and (last is None or epoch + 1 < last):
            self.model.stop_training = True
            self.cut = True


class StopOnPruning(keras.callbacks.Callback):
    """Stops training at the end of an epoch when the campaign's pruner says the trial will not
    win (`tuner.pruning.should_prune`), judged against `saved()` (the objective histories of
    the trials saved before this one started, read when training begins) and `peers()` (those
    of earlier towers of its pack, read each epoch). `cut`: whether it stopped the trial."""

    def __init__(
        self,
        rule: PruningRule,
        objective: kt.Objective,
        saved: Callable[[], Sequence[Sequence[float]]],
        peers: Callable[[], Sequence[Sequence[float]]] = lambda: (),
    ) -> None:
        super().__init__()
        self.rule, self.objective = rule, objective
        self.saved_histories, self.peers = saved, peers
        self.values: list[float] = []
        self.earlier: list[Sequence[float]] = []
        self.cut = False

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self.earlier = list(self.saved_histories())

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.values.append(float((logs or {}).get(self.objective.name, math.nan)))
        epochs = int((self.params or {}).get("epochs") or 0)
        earlier = self.earlier + list(self.peers())
        if should_prune(self.rule, earlier, self.values, self.objective.direction, epochs):
            self.model.stop_training = True
            self.cut = True


class RequireObjective(keras.callbacks.Callback):
    """Stops the campaign when the objective is not among the metrics: every trial would miss it."""

    def __init__(self, objective: str) -> None:
        super().__init__()
        self.objective = objective

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.objective not in logs and math.isfinite(float(logs.get("loss", 0.0))):
            logged = ", ".join(sorted(k for k in logs if k not in NOT_A_METRIC)) or "none"
            raise Fatal(
                f"objective {self.objective!r} is not a logged metric; this model logs: "
                f"{logged}. Set objective to one of them."
            )


def early_stopping(objective: kt.Objective, settings: dict[str, Any]) -> keras.callbacks.Callback:
    """Keras' EarlyStopping on the objective, with a campaign's ``early_stopping`` settings."""
    return keras.callbacks.EarlyStopping(
        monitor=objective.name,
        mode=objective.direction,
        patience=settings.get("patience", 5),
        min_delta=settings.get("min_delta", 0.0),
    )


class BestEpoch(keras.callbacks.Callback):
    """The best epoch by the objective (1-based, counted from this fit's first epoch) and, when
    it beats `keep_beyond` (or always, with `keep_all`), the weights and the optimizer's state
    at that epoch (`optimizer_values`: the kept model goes on training from there).

    Copying weights off the device costs about 1 ms each time; only an epoch that could enter
    the campaign's top k is worth it."""

    def __init__(
        self, objective: kt.Objective, keep_beyond: float | None = None, keep_all: bool = False
    ) -> None:
        super().__init__()
        self.objective, self.keep_beyond, self.keep_all = objective, keep_beyond, keep_all
        self.score: float | None = None
        self.epoch: int | None = None
        self.weights: list[Any] | None = None
        self.optimizer_values: list[Any] | None = None
        self._epochs = 0

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._epochs += 1
        value = (logs or {}).get(self.objective.name)
        if value is None or not math.isfinite(float(value)):
            return
        value = float(value)
        if self.score is None or self.objective.better_than(value, self.score):
            self.score, self.epoch = value, self._epochs
            if (
                self.keep_all
                or self.keep_beyond is None
                or self.objective.better_than(value, self.keep_beyond)
            ):
                self.weights = self.model.get_weights()
                self.optimizer_values = optimizer_values(self.model)
