"""Learning-rate range test (Smith 2015; fastai's ``lr_find``) for any Keras 3 backend.

Train while the learning rate grows from `start_lr` to `end_lr`, record the loss of every
batch, smooth it, stop when the raw or the smoothed loss diverges, then put the model back
exactly as it was. Plain functions turn the (learning rate, smoothed loss) curve before the
divergence into suggestions, or say why the curve gives nothing to go on.

Only ``keras`` and ``keras.ops`` are used: no backend is imported directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np

from tuner.errors import ConfigError

SCHEDULES = ("exponential", "linear")
MIN_POINTS = 5
FLAT_RTOL = 0.01
RAW_DIVERGE_BATCHES = 2


# --------------------------------------------------------------------------------------------
# Schedule and smoothing
# --------------------------------------------------------------------------------------------


def lr_schedule(
    start_lr: float, end_lr: float, num_iter: int, schedule: str = "exponential"
) -> np.ndarray:
    """The `num_iter` learning rates of the test, `start_lr` and `end_lr` included."""
    _check_schedule_args(start_lr, end_lr, num_iter, schedule)
    if schedule == "exponential":
        return np.geomspace(start_lr, end_lr, num_iter)
    return np.linspace(start_lr, end_lr, num_iter)


def _check_schedule_args(start_lr: float, end_lr: float, num_iter: int, schedule: str) -> None:
    if schedule not in SCHEDULES:
        raise ConfigError(f"schedule must be one of {SCHEDULES}, but got {schedule!r}.")
    if not (math.isfinite(start_lr) and start_lr > 0):
        raise ConfigError(f"start_lr must be a positive finite number, but got {start_lr!r}.")
    if not (math.isfinite(end_lr) and start_lr < end_lr):
        raise ConfigError(f"`start_lr < end_lr` must hold, but got ({start_lr=}, {end_lr=}).")
    if not isinstance(num_iter, (int, np.integer)) or num_iter < 2:
        raise ConfigError(f"num_iter must be an integer >= 2, but got {num_iter!r}.")


def smooth(losses: np.ndarray, beta: float = 0.98) -> np.ndarray:
    """Exponential moving average with bias correction (as in Adam and fastai)."""
    out = np.empty(len(losses))
    avg = 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1.0 - beta) * float(loss)
        out[i] = avg / (1.0 - beta ** (i + 1))
    return out


# --------------------------------------------------------------------------------------------
# Model state: snapshot and exact restore
# --------------------------------------------------------------------------------------------


def _state_variables(model: keras.Model) -> list:
    """Every variable training touches: weights, seeds, optimizer slots and counters, metrics."""
    seen: set[int] = set()
    variables = []
    groups = (model.variables, model.optimizer.variables, model.metrics_variables)
    for group in groups:
        for v in group:
            if id(v) not in seen:
                seen.add(id(v))
                variables.append(v)
    return variables


@dataclass
class _Snapshot:
    variables: list
    values: list[np.ndarray]

    @classmethod
    def take(cls, model: keras.Model) -> _Snapshot:
        if not model.optimizer.built:
            # Slots do not exist before the first step; build them now so they can be restored.
            model.optimizer.build(model.trainable_variables)
        variables = _state_variables(model)
        return cls(
            variables, [np.array(keras.ops.convert_to_numpy(v), copy=True) for v in variables]
        )

    def restore(self) -> None:
        for variable, value in zip(self.variables, self.values):
            variable.assign(value)


# --------------------------------------------------------------------------------------------
# The callback
# --------------------------------------------------------------------------------------------


class LRRangeTest(keras.callbacks.Callback):
    """Grow the learning rate batch by batch, record each batch's loss, stop on divergence.

    The test may span several `fit` calls or epochs; it stops training once `num_iter` batches
    have run or the loss diverges: the smoothed loss exceeds `diverge_factor` x its best so far,
    or the batch's own loss does so for `RAW_DIVERGE_BATCHES` batches running, or either turns
    NaN/inf. `diverged_at` is the first diverged batch and the curve ends there. With
    `restore=True` the model's variables and the optimizer's state (slots, iteration count,
    learning rate) are put back bit for bit when the test ends.

    The loss Keras hands batch callbacks is the running mean of the epoch (regularisation
    losses included); the batch's own loss is recovered from consecutive means, which is exact
    when all batches of an epoch have the same size (``lr_find`` drops the ragged last batch).
    """

    def __init__(
        self,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_iter: int = 100,
        schedule: str = "exponential",
        beta: float = 0.98,
        diverge_factor: float = 4.0,
        restore: bool = True,
    ) -> None:
        super().__init__()
        if not 0.0 <= beta < 1.0:
            raise ConfigError(f"beta must be in [0, 1), but got {beta!r}.")
        if not diverge_factor > 1.0:
            raise ConfigError(f"diverge_factor must be > 1, but got {diverge_factor!r}.")
        self.schedule = lr_schedule(start_lr, end_lr, num_iter, schedule)
        self.num_iter = int(num_iter)
        self.beta = beta
        self.diverge_factor = diverge_factor
        self.restore = restore
        self.learning_rates: list[float] = []
        self.losses: list[float] = []
        self.smoothed_losses: list[float] = []
        self.diverged_at: int | None = None
        self._avg = 0.0
        self._best_loss = math.inf
        self._best_smoothed = math.inf
        self._raw_run = 0
        self._prev_mean = 0.0
        self._batches_in_epoch = 0
        self._snapshot: _Snapshot | None = None
        self.restored = False

    @property
    def finished(self) -> bool:
        """True once `num_iter` batches have run or the loss diverged."""
        return self.diverged_at is not None or len(self.losses) >= self.num_iter

    def on_train_begin(self, logs: dict | None = None) -> None:
        if getattr(self.model, "steps_per_execution", 1) != 1:
            raise ConfigError(
                "The LR range test sets the rate before every batch, so the model "
                "must be compiled with steps_per_execution=1, but got "
                f"{self.model.steps_per_execution}."
            )
        if not isinstance(self.model.optimizer.learning_rate, keras.Variable):
            raise ConfigError(
                "The LR range test needs an optimizer with a float learning rate, "
                "but this one has a schedule or callable: "
                f"{type(self.model.optimizer._learning_rate).__name__}."
            )
        if self.restore and self._snapshot is None:
            self._snapshot = _Snapshot.take(self.model)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self._prev_mean = 0.0
        self._batches_in_epoch = 0

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self.finished:  # a later fit with this callback: record nothing past the end
            self.model.stop_training = True
            return
        lr = self.schedule[len(self.losses)]
        self.model.optimizer.learning_rate.assign(lr)

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.finished:
            return
        mean = float(keras.ops.convert_to_numpy((logs or {})["loss"]))
        k = self._batches_in_epoch = self._batches_in_epoch + 1
        loss = k * mean - (k - 1) * self._prev_mean
        self._prev_mean = mean
        self._record(float(self.schedule[len(self.losses)]), loss)
        if self.finished:
            self.model.stop_training = True

    def on_train_end(self, logs: dict | None = None) -> None:
        if self.finished:
            self.restore_model()

    def restore_model(self) -> None:
        """Put back the state saved when the test began (idempotent; no-op without restore)."""
        if self._snapshot is not None and not self.restored:
            self._snapshot.restore()
            self.restored = True

    def _record(self, lr: float, loss: float) -> None:
        i = len(self.losses)
        self._avg = self.beta * self._avg + (1.0 - self.beta) * loss
        smoothed = self._avg / (1.0 - self.beta ** (i + 1))
        self.learning_rates.append(lr)
        self.losses.append(loss)
        self.smoothed_losses.append(smoothed)
        # The smoothed loss lags the raw one by about 1 / (1 - beta) batches (50 at the default),
        # several decades of rate on a 100-batch test: judged alone it sees a blow-up long after
        # it happened, and lets the suggestions land past it. One batch of a few samples can
        # exceed 4x the best by chance, so the raw loss must stay up to count.
        self._raw_run = self._raw_run + 1 if loss > self.diverge_factor * self._best_loss else 0
        if self._raw_run >= RAW_DIVERGE_BATCHES:
            self.diverged_at = i + 1 - self._raw_run
            for values in (self.learning_rates, self.losses, self.smoothed_losses):
                del values[self.diverged_at + 1 :]
        elif (
            not math.isfinite(loss)
            or not math.isfinite(smoothed)
            or smoothed > self.diverge_factor * self._best_smoothed
        ):
            self.diverged_at = i
        else:
            self._best_loss = min(self._best_loss, loss)
            self._best_smoothed = min(self._best_smoothed, smoothed)


# --------------------------------------------------------------------------------------------
# Suggestions: plain functions on (learning rates, smoothed losses)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    """A suggested learning rate, or lr=None with the reason the curve gives nothing."""

    lr: float | None
    index: int | None
    reason: str


def _prepare(lrs, losses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finite points only, with their indices in the original arrays."""
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(losses, dtype=float)
    if lrs.shape != losses.shape or lrs.ndim != 1:
        raise ValueError(
            f"lrs and losses must be 1-D of the same length, but got shapes "
            f"{lrs.shape} and {losses.shape}."
        )
    keep = np.isfinite(lrs) & np.isfinite(losses) & (lrs > 0)
    return lrs[keep], losses[keep], np.flatnonzero(keep)


def _degenerate(
    losses: np.ndarray, min_points: int = MIN_POINTS, flat_rtol: float = FLAT_RTOL
) -> str | None:
    """Why a curve gives nothing to go on, or None if it is usable."""
    if len(losses) < min_points:
        return f"too short: {len(losses)} usable points, at least {min_points} needed"
    lo, hi = float(losses.min()), float(losses.max())
    scale = max(abs(lo), abs(hi), 1e-12)
    if (hi - lo) / scale < flat_rtol:
        return (
            f"flat: the loss varies by {(hi - lo) / scale:.2%} of its size "
            f"(< {flat_rtol:.0%}); the range never reached a rate that trains"
        )
    if int(np.argmin(losses)) < 2:
        return (
            "diverged at once: the loss is lowest at the first points and only rises; "
            "lower start_lr"
        )
    return None


def valley(lrs, losses) -> Suggestion:
    """fastai's default: the middle of the longest steady descent of the loss.

    The descent is measured by the longest strictly decreasing subsequence of the smoothed loss
    and taken to span that many points back from where it ends (fastai's rule: on a noisy
    plateau the subsequence would start early by skipping points, its length does not). The
    rate suggested lies halfway along it (start + 1/3 + 1/6 of its length, as in fastai).
    """
    lrs, losses, idx = _prepare(lrs, losses)
    if (why := _degenerate(losses)) is not None:
        return Suggestion(None, None, why)
    start, end = _longest_descent(losses)
    if end - start < 2:
        return Suggestion(None, None, "no descent: the loss never decreases over 3 points")
    sections = (end - start) / 3
    i = start + int(sections) + int(sections / 2)
    return Suggestion(
        float(lrs[i]),
        int(idx[i]),
        f"middle of the longest descent ({lrs[start]:.2e} to {lrs[end]:.2e})",
    )


def _longest_descent(losses: np.ndarray) -> tuple[int, int]:
    """(end - length, end) of the longest strictly decreasing subsequence (earliest end wins)."""
    n = len(losses)
    length = np.ones(n, dtype=int)
    for i in range(1, n):
        higher = losses[:i] > losses[i]
        if higher.any():
            length[i] = int(length[:i][higher].max()) + 1
    end = int(np.argmax(length))
    return max(0, end - int(length[end])), end


def steep(lrs, losses) -> Suggestion:
    """The rate where the smoothed loss falls fastest against log(lr)."""
    lrs, losses, idx = _prepare(lrs, losses)
    if (why := _degenerate(losses)) is not None:
        return Suggestion(None, None, why)
    grads = np.gradient(losses, np.log(lrs))
    i = int(np.argmin(grads))
    if grads[i] >= 0:
        return Suggestion(None, None, "no descent: the loss never falls as the rate grows")
    return Suggestion(
        float(lrs[i]), int(idx[i]), f"steepest descent (d loss / d ln lr = {grads[i]:.3g})"
    )


def minimum_tenth(lrs, losses) -> Suggestion:
    """One tenth of the rate at the minimum of the smoothed loss."""
    lrs, losses, idx = _prepare(lrs, losses)
    if (why := _degenerate(losses)) is not None:
        return Suggestion(None, None, why)
    i = int(np.argmin(losses))
    return Suggestion(
        float(lrs[i] / 10), int(idx[i]), f"one tenth of the rate at the minimum loss ({lrs[i]:.2e})"
    )


SUGGESTION_RULES: dict[str, Callable[[Any, Any], Suggestion]] = {
    "valley": valley,
    "steep": steep,
    "minimum_tenth": minimum_tenth,
}


def suggest(
    lrs,
    smoothed_losses,
    diverged_at: int | None = None,
    *,
    skip_start: float = 0.1,
    skip_end: int = 5,
) -> dict[str, Suggestion]:
    """Apply every rule to the curve, as fastai does: drop the first `skip_start` fraction
    (the smoothing has not settled) and the last `skip_end` points (the loss is already
    exploding), and nothing from the divergence on. Indices refer to the full curve."""
    lrs = np.asarray(lrs, dtype=float)
    losses = np.asarray(smoothed_losses, dtype=float)
    stop = len(losses) if diverged_at is None else diverged_at
    lo = int(len(losses) * skip_start)
    hi = max(lo, stop - skip_end)
    out = {}
    for name, rule in SUGGESTION_RULES.items():
        s = rule(lrs[lo:hi], losses[lo:hi])
        out[name] = s if s.index is None else Suggestion(s.lr, s.index + lo, s.reason)
    return out


# --------------------------------------------------------------------------------------------
# The result and the driver
# --------------------------------------------------------------------------------------------


@dataclass
class LRFindResult:
    """The recorded curve of one range test and the suggestions drawn from it."""

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed_losses: np.ndarray
    diverged_at: int | None
    suggestions: dict[str, Suggestion] = field(default_factory=dict)

    def to_frame(self):
        """A pandas DataFrame with columns learning_rate, loss, smoothed_loss."""
        import pandas as pd

        return pd.DataFrame(
            {
                "learning_rate": self.learning_rates,
                "loss": self.losses,
                "smoothed_loss": self.smoothed_losses,
            }
        )

    def suggestion(self, name: str = "valley") -> Suggestion:
        """The named suggestion; lr is None when the curve gave nothing to go on."""
        if name not in self.suggestions:
            raise ConfigError(
                f"suggestion must be one of {sorted(self.suggestions)}, but got {name!r}."
            )
        return self.suggestions[name]


def shuffled_batches(n: int, batch_size: int, num_iter: int, seed: int = 0) -> list[np.ndarray]:
    """Index arrays of one epoch after another, reshuffled each epoch from `seed`, until
    `num_iter` batches; the ragged last batch of each epoch is dropped."""
    batch_size = min(batch_size, n)
    per_epoch = n // batch_size
    rng = np.random.default_rng(seed)
    batches: list[np.ndarray] = []
    while len(batches) < num_iter:
        order = rng.permutation(n)
        batches += [order[i * batch_size : (i + 1) * batch_size] for i in range(per_epoch)]
    return batches[:num_iter]


def _num_samples(x) -> int:
    leaves = [a for a in keras.tree.flatten(x) if a is not None]
    if not leaves:
        raise ConfigError("lr_find needs training data, but x holds no arrays.")
    return int(np.shape(leaves[0])[0])


def _take(data, index: np.ndarray):
    if data is None:
        return None
    return keras.tree.map_structure(lambda a: np.asarray(a)[index], data)


def lr_find(
    model: keras.Model,
    x,
    y=None,
    *,
    batch_size: int = 32,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    num_iter: int = 100,
    schedule: str = "exponential",
    beta: float = 0.98,
    diverge_factor: float = 4.0,
    seed: int = 0,
) -> LRFindResult:
    """Run the LR range test on a compiled model and return the curve and suggestions.

    `x` and `y` are NumPy arrays (or nested structures of them). The data are reshuffled each
    epoch from `seed`, and epochs follow one another until `num_iter` batches have run. The
    model's variables and optimizer state are afterwards exactly as before, even on error.
    """
    if getattr(model, "optimizer", None) is None:
        raise ConfigError(
            "lr_find needs a compiled model (model.compile(optimizer, loss)), "
            "but the model has no optimizer."
        )
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"batch_size must be a positive integer, but got {batch_size!r}.")
    callback = LRRangeTest(start_lr, end_lr, num_iter, schedule, beta, diverge_factor)
    batches = shuffled_batches(_num_samples(x), batch_size, num_iter, seed)
    per_epoch = min(batch_size, _num_samples(x))
    epoch_len = _num_samples(x) // per_epoch
    try:
        for e in range(0, len(batches), epoch_len):
            index = np.concatenate(batches[e : e + epoch_len])
            model.fit(
                _take(x, index),
                _take(y, index),
                batch_size=per_epoch,
                epochs=1,
                shuffle=False,
                verbose=0,
                callbacks=[callback],
            )
            if callback.finished:
                break
    finally:
        callback.restore_model()
    return _result(callback)


def _result(callback: LRRangeTest) -> LRFindResult:
    lrs = np.asarray(callback.learning_rates, dtype=float)
    smoothed = np.asarray(callback.smoothed_losses, dtype=float)
    return LRFindResult(
        lrs,
        np.asarray(callback.losses, dtype=float),
        smoothed,
        callback.diverged_at,
        suggest(lrs, smoothed, callback.diverged_at),
    )


def find_learning_rate(
    build_model: Callable[[], keras.Model], x, y=None, **kwargs: Any
) -> LRFindResult:
    """Build a fresh compiled model with `build_model()` and run `lr_find` on it."""
    return lr_find(build_model(), x, y, **kwargs)
