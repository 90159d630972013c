"""Packed trials: K trials that share an architecture train as K towers of one Keras model.

Each tower is exactly the model the builder makes for its trial (same layers, same initial
weights, its own dropout rate, L2 factor and BatchNormalization statistics), with its own
optimizer (its own learning rate and slots). One training step runs every tower's forward and
backward pass in one graph, then steps each tower's optimizer on that tower's variables only:
the summed loss of independent towers gives each tower exactly its own gradient, so every
optimizer behaves as it would for the trial alone. A tower whose loss is not finite, or that
was stopped, is frozen: its optimizer does not step, and its values never enter another tower.

Each tower may be fed its own batches (its sequential trial's shuffle order): a packed trial
then computes what the trial computes alone. TensorFlow only (the train step is TF's).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from tuner import tf_backend
from tuner.datasets import DataSpec

# Only these may differ between the trials of one pack (each tower has its own anyway; the
# rest fixes the graph, the batches and the number of epochs).
VARYING = ("learning_rate", "l2", "dropout")
PARENT = "tuner/trial_id"  # KerasTuner's names (Hyperband)
INITIAL_EPOCH = "tuner/initial_epoch"
TARGET_EPOCHS = "tuner/epochs"
SEPARATOR = "__"
_TOWER_KEY = re.compile(rf"^(val_)?tower(\d+){SEPARATOR}(.+)$")


def packing_key(hp_values: dict[str, Any]) -> str | None:
    """Text equal for two MLP trials exactly when they may train in one pack: the same values
    of every hyperparameter except learning_rate, l2 and dropout. None when the trial cannot
    pack (it continues a parent's training)."""
    if hp_values.get(PARENT) is not None or int(hp_values.get(INITIAL_EPOCH) or 0) > 0:
        return None
    values = {
        k: v
        for k, v in hp_values.items()
        if k not in VARYING and (not k.startswith("tuner/") or k == TARGET_EPOCHS)
    }
    n_layers = values.get("n_layers")
    for name in list(values):
        if match := re.fullmatch(r"units_(\d+)", name):
            inactive = not values.get("per_layer_units") or (
                isinstance(n_layers, int) and int(match.group(1)) >= n_layers
            )
            if inactive:
                del values[name]
    try:
        return json.dumps(values, sort_keys=True)
    except TypeError:
        return None


def _tower_loss(model: keras.Model) -> keras.losses.Loss:
    """The loss `compile` gave the tower, as Keras' compile resolves it (mean over the batch)."""
    identifier = model.get_compile_config()["loss"]
    if isinstance(identifier, dict):
        identifier = keras.saving.deserialize_keras_object(identifier)
    if isinstance(identifier, keras.losses.Loss):
        return identifier
    loss = keras.losses.get(identifier)
    if isinstance(loss, keras.losses.Loss):
        return loss
    name = identifier if isinstance(identifier, str) else getattr(loss, "__name__", "loss")
    return _FunctionLoss(loss, name=name)


class _FunctionLoss(keras.losses.Loss):
    """A loss function as compile wraps it: ranks matched, then the mean over the batch."""

    def __init__(self, fn: Any, name: str):
        super().__init__(name=name)
        self.fn = fn

    def call(self, y_true: Any, y_pred: Any) -> Any:
        true_rank, pred_rank = len(y_true.shape), len(y_pred.shape)
        if pred_rank == true_rank + 1 and y_pred.shape[-1] == 1:
            y_pred = keras.ops.squeeze(y_pred, -1)
        elif true_rank == pred_rank + 1 and y_true.shape[-1] == 1:
            y_true = keras.ops.squeeze(y_true, -1)
        return self.fn(y_true, y_pred)


def _tower_metrics(model: keras.Model, k: int) -> list[keras.metrics.Metric]:
    """The tower's compiled metrics, named ``tower{k}__{name}`` ("accuracy" resolved as
    Keras' compile resolves it, from the shapes of targets and outputs)."""
    identifiers = model.get_compile_config().get("metrics") or []
    output = model.outputs[0]
    metrics = []
    for identifier in identifiers:
        name = identifier if isinstance(identifier, str) else None
        if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
            if output.shape[-1] == 1:
                metric: Any = keras.metrics.BinaryAccuracy()
            elif model.get_compile_config()["loss"] == "sparse_categorical_crossentropy":
                metric = keras.metrics.SparseCategoricalAccuracy()
            else:
                metric = keras.metrics.CategoricalAccuracy()
        else:
            if isinstance(identifier, dict):
                identifier = keras.saving.deserialize_keras_object(identifier)
            metric = keras.metrics.get(identifier)
            if not isinstance(metric, keras.metrics.Metric):
                metric = keras.metrics.MeanMetricWrapper(metric)
        metric.name = f"tower{k}{SEPARATOR}{name or metric.name}"
        metrics.append(metric)
    return metrics


class PackedModel(keras.Model):
    """K towers (single-trial models with one input and one output) trained in one `fit`.

    Fed ``x`` of the towers' input shape, every tower sees the same batch; fed ``x`` with one
    more leading axis of size K (and ``y`` likewise), tower k sees ``x[k]``. Logs are named
    ``tower{k}__{metric}`` (``val_tower{k}__{metric}`` for validation); `tower_logs` splits
    them. `active` holds 1 for each tower still training; set it with `freeze`.
    """

    def __init__(self, towers: Sequence[keras.Model], **kwargs: Any):
        super().__init__(**kwargs)
        self.towers = list(towers)
        self.input_rank = len(self.towers[0].inputs[0].shape)
        self.active = keras.Variable(
            np.ones(len(self.towers), "float32"), trainable=False, name="active"
        )
        self.tower_losses = [_tower_loss(t) for t in self.towers]
        self.loss_trackers = [keras.metrics.Mean(f"tower{k}{SEPARATOR}loss") for k in self._ks]
        self.tower_metrics = [_tower_metrics(t, k) for k, t in enumerate(self.towers)]
        for tower in self.towers:
            if not tower.optimizer.built:  # before tracing: a tf.cond branch creates no variables
                tower.optimizer.build(tower.trainable_variables)
        self.built = True

    @property
    def _ks(self) -> range:
        return range(len(self.towers))

    def freeze(self, k: int) -> None:
        """Stop stepping tower k's optimizer."""
        values = keras.ops.convert_to_numpy(self.active).copy()
        values[k] = 0.0
        self.active.assign(values)

    def _split(self, x: Any, y: Any, k: int) -> tuple[Any, Any]:
        """Tower k's batch: its own slice of stacked batches, or the shared batch."""
        if len(x.shape) == self.input_rank + 1:
            return x[k], (None if y is None else y[k])
        return x, y

    def call(self, x: Any, training: bool = False) -> list[Any]:
        return [t(self._split(x, None, k)[0], training=training) for k, t in enumerate(self.towers)]

    def _loss(self, k: int, y: Any, y_pred: Any) -> Any:
        loss = self.tower_losses[k](y, y_pred)
        for extra in self.towers[k].losses:  # the L2 terms, as a compiled model adds them
            loss = loss + keras.ops.cast(extra, loss.dtype)
        return loss

    def _update_metrics(self, k: int, y: Any, y_pred: Any, loss: Any) -> None:
        self.loss_trackers[k].update_state(loss, sample_weight=keras.ops.shape(y_pred)[0])
        for metric in self.tower_metrics[k]:
            metric.update_state(y, y_pred)

    def _results(self) -> dict[str, Any]:
        results = {}
        for k in self._ks:
            for metric in [self.loss_trackers[k], *self.tower_metrics[k]]:
                results[metric.name] = metric.result()
        return results

    def train_step(self, data: Any) -> dict[str, Any]:
        tf = tf_backend.tensorflow()
        x, y = data[0], data[1]
        with tf.GradientTape() as tape:
            losses, predictions, targets = [], [], []
            for k, tower in enumerate(self.towers):
                xk, yk = self._split(x, y, k)
                y_pred = tower(xk, training=True)
                losses.append(self._loss(k, yk, y_pred))
                predictions.append(y_pred)
                targets.append(yk)
            steps = [
                tf.logical_and(self.active[k] > 0, tf.math.is_finite(losses[k])) for k in self._ks
            ]
            # A frozen or non-finite tower adds zero: the sum stays finite for the others.
            total = tf.add_n([tf.where(steps[k], losses[k], 0.0) for k in self._ks])
        variables = [t.trainable_variables for t in self.towers]
        gradients = tape.gradient(total, [v for vs in variables for v in vs])
        start = 0
        for k, tower in enumerate(self.towers):
            grads = gradients[start : start + len(variables[k])]
            start += len(variables[k])

            def apply(tower: keras.Model = tower, grads: list[Any] = grads, k: int = k) -> Any:
                tower.optimizer.apply(grads, variables[k])
                return tf.constant(True)

            tf.cond(steps[k], apply, lambda: tf.constant(False))
        self.active.assign(tf.cast(tf.stack(steps), "float32"))
        for k in self._ks:
            self._update_metrics(k, targets[k], predictions[k], losses[k])
        return self._results()

    def test_step(self, data: Any) -> dict[str, Any]:
        x, y = data[0], data[1]
        for k, tower in enumerate(self.towers):
            xk, yk = self._split(x, y, k)
            y_pred = tower(xk, training=False)
            self._update_metrics(k, yk, y_pred, self._loss(k, yk, y_pred))
        return self._results()

    def predict_step(self, data: Any) -> list[Any]:
        x = data[0] if isinstance(data, (tuple, list)) else data
        return self(x, training=False)

    @staticmethod
    def tower_logs(logs: dict[str, Any], k: int) -> dict[str, float]:
        """Tower k's part of a packed model's logs, under the names its own model logs."""
        found = {}
        for name, value in logs.items():
            match = _TOWER_KEY.match(name)
            if match and int(match.group(2)) == k:
                found[(match.group(1) or "") + match.group(3)] = float(value)
        return found


def build_towers(
    hypermodel: kt.HyperModel, hps: Sequence[kt.HyperParameters], seeds: Sequence[int]
) -> list[keras.Model]:
    """Each trial's model, built as its sequential trial builds it (seeded, then `build`)."""
    towers = []
    for hp, seed in zip(hps, seeds, strict=True):
        keras.utils.set_random_seed(seed)
        towers.append(hypermodel.build(hp))
    return towers


def build_packed(
    hypermodel: kt.HyperModel, hps: Sequence[kt.HyperParameters], seeds: Sequence[int]
) -> PackedModel:
    """The packed model of trials with these hyperparameters and seeds, compiled."""
    model = PackedModel(build_towers(hypermodel, hps, seeds), name="packed")
    model.compile(optimizer=keras.optimizers.SGD(), jit_compile=False)  # the towers' own step
    return model


def build_packed_mlp(
    spec: DataSpec, hp_list: list[dict[str, Any]], seeds: list[int]
) -> PackedModel:
    """K MLP trials (hyperparameter values, seed each) as one packed model; tower k is the
    model `MLPHyperModel.build` makes for trial k after ``keras.utils.set_random_seed``."""
    from tuner.builders.mlp import MLPHyperModel

    hps = []
    for values in hp_list:
        hp = kt.HyperParameters()
        for name, value in values.items():
            hp.Fixed(name, value)
        hps.append(hp)
    return build_packed(MLPHyperModel.for_data(spec), hps, seeds)


def tower_batches(
    x: np.ndarray,
    y: np.ndarray,
    seeds: Sequence[int],
    *,
    batch_size: int,
    epochs: int,
) -> tuple[Any, int]:
    """A `tf.data` pipeline of `epochs` epochs of batches stacked across towers, tower k's in
    the order its sequential trial shuffles them (`InputPipeline.fit_arguments` with seed k);
    and the steps per epoch."""
    tf = tf_backend.tensorflow()
    n = len(x)
    orders = []
    # Keras' `fit` starts one iteration of the dataset more per epoch than it trains on: epoch
    # e trains on the dataset's iteration 2e (measured, Keras 3.15), each reshuffled.
    iterations = 2 * epochs - 1
    for seed in seeds:
        keras.utils.set_random_seed(seed)  # the shuffle seeds from the global seed too
        indices = (
            tf.data.Dataset.range(n)
            .shuffle(n, seed=seed, reshuffle_each_iteration=True)
            .repeat(iterations)
            .batch(n * iterations)
        )
        drawn = next(iter(indices)).numpy().reshape(iterations, n)
        orders.append(drawn[::2].reshape(-1))
    order = tf.constant(np.stack(orders))
    steps = -(-n // batch_size)
    starts = [e * n + s * batch_size for e in range(epochs) for s in range(steps)]
    sizes = [min(batch_size, n - s * batch_size) for _ in range(epochs) for s in range(steps)]
    x_all, y_all = tf.constant(x), tf.constant(y)

    def gather(start: Any, size: Any) -> tuple[Any, Any]:
        chosen = order[:, start : start + size]
        return tf.gather(x_all, chosen), tf.gather(y_all, chosen)

    data = tf.data.Dataset.from_tensor_slices((starts, sizes)).map(gather)
    return data.prefetch(tf.data.AUTOTUNE), steps
