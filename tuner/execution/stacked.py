"""Stacked towers: K models of one architecture as one set of stacked variables, trained in one
compiled function (a TensorFlow graph, or on JAX one jitted function).

Each variable of the K towers is stacked along a leading tower axis ([K, ...]), except the first
Dense kernel: every tower sees the same batch, so that layer is one wide matrix product
([inputs, K * units]), which is where most of an MLP's arithmetic is. The layers that follow are
batched matrix products, one per tower. Each tower keeps its own learning rate, L2 factor,
dropout rate, BatchNormalization statistics and optimizer state: the optimizer is the towers' own
class and configuration, stepping the stacked variables with a learning rate per tower, which is
exactly each tower's update for every optimizer whose update is elementwise (all of Keras' but
those that clip by a global norm, which cannot pack).

A tower whose loss is not finite adds nothing to the summed loss, and a frozen tower (stopped,
or diverged) steps with a learning rate of zero and empty optimizer slots, so its weights stop
changing; no value of one tower ever enters another's arithmetic.

Supported layers: InputLayer, Flatten, Dense (with a `VariableL2` or no kernel regularizer),
BatchNormalization (last axis), Activation, Dropout, chained one after another. Anything else
raises `NotStackable`, and the caller trains those trials alone.

Backends: TensorFlow (this module: one traced graph a step, K plain matrix products, measured
the fastest there) and JAX (`tuner.execution.stacked_jax`: one jitted function trains a whole
epoch, batched matrix products); `tuner.execution.stacking.stacked_towers(...)` gives the active
backend's. Other backends cannot stack.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from tuner import backends, tf_backend
from tuner.builders.regularizers import VariableL2

# Optimizer settings that couple the elements of a variable (or the variables) of one step.
_COUPLING = ("global_clipnorm", "clipnorm", "use_ema", "gradient_accumulation_steps")


class NotStackable(Exception):
    """The towers' models cannot train as stacked towers (a layer, loss, metric or optimizer
    setting this module does not reproduce exactly)."""


@dataclass
class _Layer:
    kind: str  # "flatten" | "dense" | "batch_norm" | "activation" | "dropout"
    activation: Any = None
    use_bias: bool = True
    regularized: bool = False
    momentum: float = 0.99
    epsilon: float = 1e-3
    weights: tuple[int, ...] = ()  # positions of its variables in a tower's `weights`


def _layer_kind(layer: keras.layers.Layer) -> str:
    kinds = {
        keras.layers.InputLayer: "input",
        keras.layers.Flatten: "flatten",
        keras.layers.Dense: "dense",
        keras.layers.BatchNormalization: "batch_norm",
        keras.layers.Activation: "activation",
        keras.layers.Dropout: "dropout",
    }
    kind = kinds.get(type(layer))
    if kind is None:
        raise NotStackable(f"layer {type(layer).__name__} cannot be stacked")
    return kind


def _describe(model: keras.Model) -> list[_Layer]:
    """The model's layers as a chain of `_Layer`s."""
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise NotStackable("a model with several inputs or outputs cannot be stacked")
    position = {id(v): i for i, v in enumerate(model.weights)}
    layers = []
    for layer in model.layers:
        kind = _layer_kind(layer)
        if kind == "input":
            continue
        if len(layer._inbound_nodes) != 1:
            raise NotStackable("a shared layer cannot be stacked")
        described = _Layer(kind, weights=tuple(position[id(v)] for v in layer.weights))
        if kind == "dense":
            regularizer = layer.kernel_regularizer
            if regularizer is not None and not isinstance(regularizer, VariableL2):
                raise NotStackable("only a VariableL2 kernel regularizer can be stacked")
            if layer.bias_regularizer or layer.activity_regularizer or layer.kernel_constraint:
                raise NotStackable("bias/activity regularizers and constraints cannot be stacked")
            described.activation, described.use_bias = layer.activation, layer.use_bias
        elif kind == "batch_norm":
            if layer.axis not in (-1, len(layer.input.shape) - 1) or layer.renorm:
                raise NotStackable("only BatchNormalization on the last axis can be stacked")
            if layer.gamma_regularizer or layer.beta_regularizer:
                raise NotStackable("BatchNormalization regularizers cannot be stacked")
            described.momentum, described.epsilon = layer.momentum, layer.epsilon
            if not (layer.center and layer.scale):
                raise NotStackable("BatchNormalization without center and scale")
        elif kind == "activation":
            described.activation = layer.activation
        layers.append(described)
    return layers


def _metric_functions(model: keras.Model) -> list[tuple[str, Any]]:
    """(log name, per-sample function) for each compiled metric, resolved as `compile` does."""
    config = model.get_compile_config()
    found = []
    output_size = model.outputs[0].shape[-1]
    for identifier in config.get("metrics") or []:
        if not isinstance(identifier, str):
            raise NotStackable("only metrics named by a string can be stacked")
        if identifier.lower() in ("accuracy", "acc"):
            if output_size == 1:
                function = keras.metrics.binary_accuracy
            elif config["loss"] == "sparse_categorical_crossentropy":
                function = keras.metrics.sparse_categorical_accuracy
            else:
                function = keras.metrics.categorical_accuracy
        else:
            function = keras.metrics.get(identifier)
            if isinstance(function, keras.metrics.MeanMetricWrapper):  # a mean of a function
                function = functools.partial(function._fn, **function._fn_kwargs)
            elif isinstance(function, keras.metrics.Metric):
                raise NotStackable(f"metric {identifier!r} keeps state and cannot be stacked")
        found.append((identifier, function))
    return found


def _loss_function(model: keras.Model) -> Any:
    identifier = model.get_compile_config()["loss"]
    if not isinstance(identifier, str):
        raise NotStackable("only a loss named by a string can be stacked")
    loss = keras.losses.get(identifier)
    if isinstance(loss, keras.losses.Loss):
        loss = loss.fn if hasattr(loss, "fn") else None
    if loss is None:
        raise NotStackable(f"loss {identifier!r} cannot be stacked")
    return loss


def _per_tower_optimizer(
    template: keras.optimizers.Optimizer, towers: int, gate: keras.Variable
) -> Any:
    """The towers' optimizer class and config, stepping each tower at its own learning rate
    (a [towers] variable) instead of the optimizer's one, times its `gate` (0: frozen)."""
    config = template.get_config()
    for name in _COUPLING:
        if config.get(name) not in (None, False, 1):
            raise NotStackable(f"optimizer setting {name} couples the towers")
    if not isinstance(config.get("learning_rate"), float):
        raise NotStackable("a learning-rate schedule cannot be stacked")
    base = type(template)

    class PerTower(base):  # type: ignore[valid-type, misc]
        def __init__(self, **kwargs: Any):
            super().__init__(**kwargs)
            self.tower_rates = keras.Variable(
                np.zeros(towers, "float32"), trainable=False, name="tower_learning_rates"
            )
            self.tower_axes: dict[int, tuple[int, ...]] = {}

        def rate_for(self, variable: Any) -> Any:
            """The tower rates, shaped to broadcast against `variable`."""
            shape = self.tower_axes[id(variable)]  # a Keras variable, or TensorFlow's
            rates = keras.ops.cast(self.tower_rates * gate, variable.dtype)
            return keras.ops.reshape(keras.ops.repeat(rates, shape[1]), shape[0])

        def update_step(self, gradient: Any, variable: Any, learning_rate: Any) -> Any:
            return super().update_step(gradient, variable, self.rate_for(variable))

        def _apply_weight_decay(self, variables: Any) -> None:
            if self.weight_decay is None:
                return
            for variable in variables:
                if self._use_weight_decay(variable):
                    rate = self.rate_for(variable)
                    decay = keras.ops.cast(self.weight_decay, variable.dtype)
                    variable.assign(variable - variable * decay * rate)

    config["learning_rate"] = 1.0
    return PerTower(**config)


class StackedTowers:
    """K towers of one architecture, trained together on shared batches.

    Made from a `template` (a built and compiled single-trial model of the architecture);
    `load` gives each tower its initial weights, learning rate, L2 factor and dropout rate and
    resets the optimizer. The compiled functions are traced once and serve every later `load`
    (on JAX: `JaxStackedTowers`, the same interface; `stacked_towers` picks the class).
    `train_epoch(order)` trains one epoch on the training data in that order and returns the
    towers' logs (and keeps each tower's loss on the epoch's first batch, before its step, in
    `first_batch_loss`); `evaluate()` gives the validation logs; `weights(k)` is tower k's
    weights in the template's `get_weights()` order.
    """

    def __init__(
        self,
        template: keras.Model,
        size: int,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_val: np.ndarray,
        y_val: np.ndarray,
        *,
        batch_size: int,
        validation_batch: int = 1024,
    ):
        if not backends.packs_trials():
            raise NotStackable(f"towers cannot stack on the {backends.active()} backend")
        self.size = k = size
        self.first_batch_loss = np.zeros(k, "float32")
        self.layers = _describe(template)
        self.loss = _loss_function(template)
        self.sparse = "sparse" in getattr(self.loss, "__name__", "")
        self.metrics = _metric_functions(template)
        self.batch_size, self.validation_batch = batch_size, validation_batch
        self.shapes = [tuple(v.shape) for v in template.weights]
        self.trainable = [v.trainable for v in template.weights]
        self.regularized = [
            getattr(layer, "kernel_regularizer", None) is not None
            for layer in template.layers
            if _is_dense(layer)
        ]
        first = next((i for i, layer in enumerate(self.layers) if layer.kind == "dense"), None)
        if first is None or any(layer.kind != "flatten" for layer in self.layers[:first]):
            raise NotStackable("the first layer that computes must be Dense")
        self._wide = self.layers[first].weights[0]  # the first Dense kernel
        self.variables = [
            keras.Variable(
                np.zeros(self._stacked_shape(i), "float32"),
                trainable=self.trainable[i],
                name=f"stacked_{i}",
            )
            for i in range(len(self.shapes))
        ]
        self.l2 = keras.Variable(  # [dense layer, tower]
            np.zeros((len(self.regularized), k), "float32"), trainable=False, name="tower_l2"
        )
        self.dropout = keras.Variable(np.zeros(k, "float32"), trainable=False, name="tower_dropout")
        self.active = keras.Variable(np.ones(k, "float32"), trainable=False, name="tower_active")
        self.seed = keras.Variable(np.zeros(2, "int32"), trainable=False, name="dropout_seed")
        self.optimizer = _per_tower_optimizer(template.optimizer, k, self.active)
        self._trainable_variables = [v for v in self.variables if v.trainable]
        # (row of `l2`, stacked kernel index, position among the trainable variables) of each
        # regularized Dense kernel: the L2 penalty and its gradient, taken by hand.
        kernels = [layer.weights[0] for layer in self.layers if layer.kind == "dense"]
        trainable = {id(v): n for n, v in enumerate(self._trainable_variables)}
        self._regularized_kernels = [
            (dense, i, trainable[id(self.variables[i])])
            for dense, i in enumerate(kernels)
            if self.regularized[dense]
        ]
        self.optimizer.build(self._trainable_variables)
        # Each optimizer slot, with a stacked variable of its shape (the same tower layout).
        by_shape = {tuple(v.shape): i for i, v in enumerate(self.variables) if v.trainable}
        self._slots = [
            (v, by_shape[tuple(v.shape)])
            for v in self.optimizer.variables
            if tuple(v.shape) in by_shape and v is not self.optimizer.iterations
        ]
        self._fresh_optimizer = [
            (v, keras.ops.convert_to_numpy(v).copy())
            for v in self.optimizer.variables
            if v is not self.optimizer.tower_rates
        ]
        self._tower_optimizer = self._tower_optimizer_layout(template)
        for i, variable in enumerate(self.variables):
            if not variable.trainable:
                continue
            axes: tuple[tuple[int, ...], int]
            if i == self._wide:
                inputs, units = self.shapes[i]
                axes = ((1, k * units), units)
            else:
                rank = len(self.shapes[i]) + 1
                axes = ((k,) + (1,) * (rank - 1), 1)
            self.optimizer.tower_axes[id(variable)] = axes
            if tf_backend.is_active():  # TensorFlow's optimizer steps its own variable
                self.optimizer.tower_axes[id(variable.value)] = axes
        self._compile(x_train, y_train, x_val, y_val)

    def _compile(
        self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
    ) -> None:
        """Keep the data on the device and trace the training and validation functions."""
        tf = self._tf = tf_backend.tensorflow()
        self.x_train = tf.constant(x_train.reshape(len(x_train), -1), "float32")
        self.y_train = tf.constant(y_train)
        self.x_val = tf.constant(x_val.reshape(len(x_val), -1), "float32")
        self.y_val = tf.constant(y_val)
        # No autograph: the graphs have no Python control flow on tensors, and converting the
        # optimizer's and the layers' code to it was most of the tracing time.
        self._train_step = tf.function(
            self._step_graph, input_signature=[tf.TensorSpec([None], tf.int32)], autograph=False
        )
        scalar = tf.TensorSpec([], tf.int32)
        self._evaluate = tf.function(
            self._evaluate_graph, input_signature=[scalar, scalar], autograph=False
        )
        # Traced now, so that the gradient registrations the tracing makes are known to be
        # this stack's: whoever drops the stack forgets them (`release`), or the registry
        # would keep its graphs alive.
        known = tf_backend.custom_gradients()
        self._train_step.get_concrete_function()
        self._evaluate.get_concrete_function()
        self._registrations = tf_backend.custom_gradients() - known

    def release(self) -> None:
        """Let TensorFlow free this stack's traced graphs; the stack is not used again."""
        tf_backend.forget_custom_gradients(self._registrations)

    # ------------------------------------------------------------------ state

    def _stacked_shape(self, i: int) -> tuple[int, ...]:
        shape = self.shapes[i]
        if i == self._wide:
            return (shape[0], self.size * shape[1])
        return (self.size, *shape)

    def load(
        self,
        weights: Sequence[Sequence[np.ndarray]],
        learning_rates: Sequence[float],
        l2: Sequence[float],
        dropout: Sequence[float],
        seed: int = 0,
    ) -> None:
        """Start over with these towers: initial weights (each in the template's
        `get_weights()` order), learning rates, L2 factors (for the template's regularized
        kernels) and dropout rates, a fresh optimizer; `seed` draws the dropout masks."""
        if not len(weights) == len(learning_rates) == len(l2) == len(dropout) == self.size:
            raise ValueError(f"load takes {self.size} towers")
        for i, variable in enumerate(self.variables):
            values = np.stack([np.asarray(w[i], "float32") for w in weights])
            if i == self._wide:  # [K, in, units] -> [in, K * units]
                values = values.transpose(1, 0, 2).reshape(self._stacked_shape(i))
            variable.assign(values)
        self.l2.assign(
            np.array([[f if on else 0.0 for f in l2] for on in self.regularized], "float32")
        )
        self.dropout.assign(np.array(dropout, "float32"))
        self.active.assign(np.ones(self.size, "float32"))
        self.optimizer.tower_rates.assign(np.array(learning_rates, "float32"))
        for variable, fresh in self._fresh_optimizer:
            variable.assign(fresh)
        self.seed.assign(np.array([seed % 2**31, 0], "int32"))

    def adopt(self, source: StackedTowers, towers: Sequence[int]) -> None:
        """Go on with towers `towers` of `source` (a stack of the same architecture) as this
        stack's towers, in that order: their weights, optimizer state, learning rates, L2
        factors, dropout rates and whether they still train; the step count and the dropout
        seed as `source` has them. A repeated tower fills places that stay frozen."""
        if len(towers) != self.size:
            raise ValueError(f"adopt takes {self.size} towers")
        picked = list(towers)

        def gather(values: np.ndarray, i: int) -> np.ndarray:
            if i == self._wide:
                units = self.shapes[i][1]
                return np.concatenate(
                    [values[:, k * units : (k + 1) * units] for k in picked], axis=1
                )
            return values[picked]

        for i, (mine, theirs) in enumerate(zip(self.variables, source.variables, strict=True)):
            mine.assign(gather(keras.ops.convert_to_numpy(theirs), i))
        slots = {id(v): i for v, i in source._slots}
        pairs = zip(self.optimizer.variables, source.optimizer.variables, strict=True)
        for mine, theirs in pairs:
            values = keras.ops.convert_to_numpy(theirs)
            if theirs is source.optimizer.tower_rates:
                mine.assign(values[picked])
            elif id(theirs) in slots:
                mine.assign(gather(values, slots[id(theirs)]))
            else:  # shared by every tower: the step count
                mine.assign(values)
        self.l2.assign(keras.ops.convert_to_numpy(source.l2)[:, picked])
        self.dropout.assign(keras.ops.convert_to_numpy(source.dropout)[picked])
        active = keras.ops.convert_to_numpy(source.active)[picked].copy()
        active[[n for n, k in enumerate(picked) if k in picked[:n]]] = 0.0  # the fillers
        self.active.assign(active)
        self.seed.assign(keras.ops.convert_to_numpy(source.seed))

    def freeze(self, k: int) -> None:
        """Stop tower k for good: it takes no more steps and its weights stop changing."""
        active = keras.ops.convert_to_numpy(self.active).copy()
        active[k] = 0.0
        self.active.assign(active)
        for variable, i in self._slots:
            values = keras.ops.convert_to_numpy(variable).copy()
            self._tower_slice(values, i, k)[...] = 0.0
            variable.assign(values)

    def copy_tower(self, source: int, target: int) -> None:
        """Tower `target` takes tower `source`'s weights and optimizer slots, exactly (its own
        learning rate, L2 factor and dropout rate stay: `set_tower` changes them); no other
        tower changes. PBT's exploit step inside one stack."""
        for i, variable in enumerate(self.variables):
            values = keras.ops.convert_to_numpy(variable).copy()
            self._tower_slice(values, i, target)[...] = self._tower_slice(values, i, source)
            variable.assign(values)
        for variable, i in self._slots:
            values = keras.ops.convert_to_numpy(variable).copy()
            self._tower_slice(values, i, target)[...] = self._tower_slice(values, i, source)
            variable.assign(values)

    def set_tower(self, k: int, learning_rate: float, l2: float, dropout: float) -> None:
        """Give tower k this learning rate, L2 factor (its regularized kernels') and dropout
        rate, and let it train (a PBT recipient always does); its weights and optimizer state
        stay."""
        rates = keras.ops.convert_to_numpy(self.optimizer.tower_rates).copy()
        rates[k] = learning_rate
        self.optimizer.tower_rates.assign(rates)
        factors = keras.ops.convert_to_numpy(self.l2).copy()
        factors[:, k] = [l2 if on else 0.0 for on in self.regularized]
        self.l2.assign(factors)
        dropouts = keras.ops.convert_to_numpy(self.dropout).copy()
        dropouts[k] = dropout
        self.dropout.assign(dropouts)
        active = keras.ops.convert_to_numpy(self.active).copy()
        active[k] = 1.0
        self.active.assign(active)

    def _tower_slice(self, values: np.ndarray, i: int, k: int) -> np.ndarray:
        if i == self._wide:
            units = self.shapes[i][1]
            return values[:, k * units : (k + 1) * units]
        return values[k]

    def _tower_optimizer_layout(self, template: keras.Model) -> list[tuple[str, Any]] | None:
        """How a single-tower model's optimizer variables come from the stacked optimizer's,
        in their order: ("rate", None) the tower's learning rate, ("slot", (variable, i)) its
        slice of a slot of stacked variable i, ("whole", variable) shared by all (the step
        count). None when they do not line up (an optimizer whose slots are not per weight)."""
        single = type(template.optimizer).from_config(template.optimizer.get_config())
        single.build(template.trainable_variables)
        slots = {id(v): i for v, i in self._slots}
        stacked = [v for v in self.optimizer.variables if v is not self.optimizer.tower_rates]
        if len(stacked) != len(single.variables):
            return None
        layout: list[tuple[str, Any]] = []
        for variable, alone in zip(stacked, single.variables):
            shape = tuple(alone.shape)
            if variable is self.optimizer.iterations or id(variable) not in slots:
                if variable.name == "learning_rate" and shape == ():
                    layout.append(("rate", None))
                elif tuple(variable.shape) == shape:
                    layout.append(("whole", variable))
                else:
                    return None
            else:
                i = slots[id(variable)]
                slice_shape = self._tower_slice(np.empty(variable.shape, "int8"), i, 0).shape
                if slice_shape != shape:
                    return None
                layout.append(("slot", (variable, i)))
        return layout

    def all_optimizer_values(self) -> list[list[np.ndarray]] | None:
        """Every tower's optimizer state, as its single-tower model's optimizer variables
        hold it (`tuner.execution.optimizer_state`): the step count, the tower's learning rate,
        its slice of each slot. One copy off the device for all towers; None when the stacked
        optimizer's state does not map onto a single tower's."""
        if self._tower_optimizer is None:
            return None
        rates = keras.ops.convert_to_numpy(self.optimizer.tower_rates)
        read = {
            id(v): keras.ops.convert_to_numpy(v)
            for kind, entry in self._tower_optimizer
            if kind != "rate"
            for v in [entry[0] if kind == "slot" else entry]
        }
        towers = []
        for k in range(self.size):
            state = []
            for kind, entry in self._tower_optimizer:
                if kind == "rate":
                    state.append(np.array(rates[k], "float32"))
                elif kind == "slot":
                    variable, i = entry
                    state.append(np.array(self._tower_slice(read[id(variable)], i, k)))
                else:
                    state.append(np.array(read[id(entry)]))
            towers.append(state)
        return towers

    def weights(self, k: int) -> list[np.ndarray]:
        """Tower k's weights, in its single-tower model's `get_weights()` order."""
        return [
            np.array(self._tower_slice(keras.ops.convert_to_numpy(v), i, k))
            for i, v in enumerate(self.variables)
        ]

    def all_weights(self) -> list[list[np.ndarray]]:
        """Every tower's weights (one copy off the device for all of them)."""
        values = [keras.ops.convert_to_numpy(v) for v in self.variables]
        return [
            [np.array(self._tower_slice(w, i, k)) for i, w in enumerate(values)]
            for k in range(self.size)
        ]

    # ------------------------------------------------------------------ arithmetic

    def _forward(self, x: Any, training: bool) -> Any:
        """Every tower's output: [K, batch, outputs]."""
        tf = self._tf
        k = self.size
        h = x
        for layer in self.layers:
            if layer.kind == "flatten":
                continue
            if layer.kind == "dense":
                kernel = self.variables[layer.weights[0]]
                if layer.weights[0] == self._wide:
                    units = self.shapes[self._wide][1]
                    wide = tf.matmul(h, kernel)  # [batch, K * units]
                    h = tf.transpose(tf.reshape(wide, [-1, k, units]), [1, 0, 2])
                else:
                    h = self._per_tower_matmul(h, kernel)
                if layer.use_bias:
                    h = h + tf.expand_dims(self.variables[layer.weights[1]], 1)
                h = layer.activation(h)
            elif layer.kind == "batch_norm":
                gamma, beta, mean_var, var_var = (self.variables[i] for i in layer.weights)
                if training:
                    mean, variance = tf.nn.moments(h, axes=[1], keepdims=True)
                    mean_var.assign(
                        mean_var * layer.momentum + tf.squeeze(mean, 1) * (1.0 - layer.momentum)
                    )
                    var_var.assign(
                        var_var * layer.momentum + tf.squeeze(variance, 1) * (1.0 - layer.momentum)
                    )
                else:
                    mean, variance = tf.expand_dims(mean_var, 1), tf.expand_dims(var_var, 1)
                h = tf.nn.batch_normalization(
                    h,
                    mean,
                    variance,
                    tf.expand_dims(beta, 1),
                    tf.expand_dims(gamma, 1),
                    layer.epsilon,
                )
            elif layer.kind == "activation":
                h = layer.activation(h)
            elif layer.kind == "dropout" and training:
                rate = tf.reshape(self.dropout, [k, 1, 1])
                self.seed.assign_add(tf.constant([0, 1], "int32"))
                keep = tf.random.stateless_uniform(tf.shape(h), seed=self.seed.value) >= rate
                h = tf.where(keep, h / (1.0 - rate), tf.zeros_like(h))
        return h

    # The L2 penalty and its gradient are the same arithmetic on every backend (keras.ops):
    # `values` are the stacked variables (TensorFlow) or their traced values (JAX).

    def _per_tower(self, i: int, values: Any) -> Any:
        """[K] values shaped to broadcast over stacked variable i, tower by tower."""
        ops = keras.ops
        if i == self._wide:
            return ops.repeat(values, self.shapes[i][1])  # [K * units], a column each
        return ops.reshape(values, (self.size,) + (1,) * len(self.shapes[i]))

    def _penalty(self, values: Sequence[Any], l2: Any) -> Any:
        """Each tower's L2 penalty, [K]: the sum over its kernels of l2 * sum(kernel ** 2)."""
        ops = keras.ops
        penalty = ops.zeros((self.size,), "float32")
        for dense, i, _ in self._regularized_kernels:
            kernel = values[i]
            if i == self._wide:
                columns = ops.sum(ops.square(kernel), 0)  # [K * units]
                squares = ops.sum(ops.reshape(columns, (self.size, -1)), 1)
            else:
                squares = ops.sum(ops.square(kernel), (1, 2))
            penalty = penalty + l2[dense] * squares
        return penalty

    def _with_penalty_gradients(
        self, gradients: Sequence[Any], stepping: Any, values: Sequence[Any], l2: Any
    ) -> list[Any]:
        """The data loss's gradients plus the L2 penalty's (2 * l2 * kernel, for stepping
        towers). Taken by hand rather than on the tape, which spent several full passes over
        the wide first kernel (square, tile, multiply, add) where one multiply-add does."""
        gate = keras.ops.cast(stepping, "float32")
        gradients = list(gradients)
        for dense, i, n in self._regularized_kernels:
            factor = self._per_tower(i, 2.0 * l2[dense] * gate)
            gradients[n] = gradients[n] + factor * values[i]
        return gradients

    def _per_tower_matmul(self, h: Any, kernel: Any) -> Any:
        """[K, batch, in] times [K, in, out], as K plain products: for these small matrices
        TensorFlow's batched product runs at about 30 GFLOP/s on this project's CPU, K separate
        ones at 60-75 (measured: 5 hidden 100x100 layers, K=50, forward and backward)."""
        tf = self._tf
        return tf.stack([tf.matmul(a, b) for a, b in zip(tf.unstack(h), tf.unstack(kernel))])

    def _losses_and_metrics(self, y: Any, output: Any) -> tuple[Any, list[Any]]:
        """Each tower's mean loss (L2 not included) and summed metrics over the batch."""
        tf = self._tf
        targets = tf.broadcast_to(y, tf.concat([[self.size], tf.shape(y)], 0))
        if len(targets.shape) == len(output.shape) - 1 and not self.sparse:
            targets = tf.expand_dims(targets, -1)  # as Keras' loss and metric wrappers do
        losses = tf.reduce_mean(self.loss(targets, output), axis=1)
        metrics = [
            tf.reduce_sum(tf.cast(tf.reshape(fn(targets, output), [self.size, -1]), "float32"), 1)
            for _, fn in self.metrics
        ]
        return losses, metrics

    def _step_graph(self, indices: Any) -> Any:
        """One training step on the samples at `indices`: [1 + metrics, K] sums over the batch
        (the loss times the batch size, then each metric)."""
        tf = self._tf
        x, y = tf.gather(self.x_train, indices), tf.gather(self.y_train, indices)
        count = tf.cast(tf.shape(indices)[0], "float32")
        penalty = self._penalty(self.variables, self.l2)  # before the update, as Keras adds it
        with tf.GradientTape() as tape:
            output = self._forward(x, training=True)
            data_losses, metrics = self._losses_and_metrics(y, output)
            losses = data_losses + penalty
            stepping = tf.logical_and(self.active > 0, tf.math.is_finite(losses))
            total = tf.reduce_sum(tf.where(stepping, data_losses, 0.0))
        variables = self._trainable_variables
        gradients = tape.gradient(total, [v.value for v in variables])
        gradients = self._with_penalty_gradients(gradients, stepping, self.variables, self.l2)
        self.active.assign(tf.cast(stepping, "float32"))
        self.optimizer.apply(gradients, variables)
        return tf.stack([losses * count, *metrics])

    def _evaluate_graph(self, start: Any, end: Any) -> Any:
        """The validation samples [start, end): [1 + metrics, K] sums, as `_step_graph`."""
        tf = self._tf
        x, y = self.x_val[start:end], self.y_val[start:end]
        output = self._forward(x, training=False)
        losses, metrics = self._losses_and_metrics(y, output)
        losses = losses + self._penalty(self.variables, self.l2)
        return tf.stack([losses * tf.cast(end - start, "float32"), *metrics])

    def _logs(self, sums: Any, count: int, prefix: str = "") -> dict[str, np.ndarray]:
        means = np.asarray(sums) / count
        logs = {f"{prefix}{name}": means[1 + i] for i, (name, _) in enumerate(self.metrics)}
        logs[f"{prefix}loss"] = means[0]  # after the metrics, as Keras logs them
        return logs

    def train_epoch(self, order: np.ndarray) -> dict[str, np.ndarray]:
        """One epoch over the training data in this order; each log is a [K] array. One
        compiled call a step: a loop inside the graph costs more to trace than it saves."""
        order = np.asarray(order, "int32")
        sums = None
        for start in range(0, len(order), self.batch_size):
            step = self._train_step(order[start : start + self.batch_size])
            if sums is None:
                first = min(self.batch_size, len(order))
                self.first_batch_loss = np.asarray(step[0]) / first
            sums = step if sums is None else sums + step
        return self._logs(sums, len(order))

    def evaluate(self) -> dict[str, np.ndarray]:
        """The towers' validation logs ([K] arrays)."""
        n = int(self.x_val.shape[0])
        sums = None
        for start in range(0, n, self.validation_batch):
            end = min(start + self.validation_batch, n)
            part = self._evaluate(np.int32(start), np.int32(end))
            sums = part if sums is None else sums + part
        return self._logs(sums, n, prefix="val_")


def _is_dense(layer: keras.layers.Layer) -> bool:
    return type(layer) is keras.layers.Dense
