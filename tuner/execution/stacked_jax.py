"""Stacked towers on the JAX backend: one jitted function trains a whole epoch of the pack.

The towers' state (stacked weights, BatchNormalization statistics, optimizer variables, the
per-tower learning rates, L2 factors, dropout rates, the active gate and the dropout seed) goes
into the jitted functions as arguments and comes out as results, so that nothing a `load`,
`freeze` or another pack changes is a constant of the trace: the epoch function is traced once
per stack and serves every batch of every epoch of every `load`. An epoch is a `lax.scan` of the
training step over the epoch's batches, the last one padded to the batch size and masked (so
that every step has one shape); validation is one jitted function over padded chunks. The
state's buffers are donated to each epoch.

The step's arithmetic is the TensorFlow one's, written for JAX: the first Dense layer one wide
matrix product, the later ones one batched product (`einsum`) for all towers, the L2 penalty's
gradient added by hand. The optimizer is the towers' own Keras optimizer (the per-tower subclass
of `tuner.execution.stacked`), applied in a `keras.StatelessScope` that maps every variable it
reads (its slots, the per-tower rates, the gate) to the traced values: so each tower's update is
exactly the one Keras makes for its trial.

Between calls the Keras variables of `StackedTowers` hold the state (so `load`, `freeze` and
`weights` are the shared ones); an epoch reads them once and writes them back once.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import keras
import numpy as np

from tuner.execution.stacked import StackedTowers


class JaxStackedTowers(StackedTowers):
    """`StackedTowers` on the JAX backend (made by ``stacked_towers(...)`` when Keras runs on
    JAX). `traces` counts the tracings of the training step (1 for the stack's lifetime)."""

    traces = 0

    def _compile(
        self, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray
    ) -> None:
        """Put the data on the device; the jitted functions trace at their first call."""
        self.traces = 0
        optimizer_variables: list[Any] = []
        for variable in self.optimizer.variables:
            if all(variable is not v for v in optimizer_variables):
                optimizer_variables.append(variable)
        self._optimizer_variables = optimizer_variables
        # The state, in the order the jitted functions take and return it.
        self._state_variables = [
            *self.variables,
            *optimizer_variables,
            self.l2,
            self.dropout,
            self.active,
            self.seed,
        ]
        self._trainable_positions = [i for i, v in enumerate(self.variables) if v.trainable]
        self.x_train = jnp.asarray(x_train.reshape(len(x_train), -1), "float32")
        self.y_train = jnp.asarray(y_train)
        # Validation in chunks of at most `validation_batch` samples, the last one padded.
        n = len(x_val)
        chunk = max(1, min(self.validation_batch, n))
        chunks = max(1, math.ceil(n / chunk))
        padding = chunks * chunk - n
        x = x_val.reshape(n, -1).astype("float32")
        self._val_count = n
        y = np.pad(np.asarray(y_val), [(0, padding)] + [(0, 0)] * (np.ndim(y_val) - 1))
        mask = (np.arange(chunks * chunk) < n).reshape(chunks, chunk)
        self._val_data = (
            jnp.asarray(np.pad(x, [(0, padding), (0, 0)]).reshape(chunks, chunk, -1)),
            jnp.asarray(y.reshape(chunks, chunk, *np.shape(y_val)[1:])),
            jnp.asarray(mask, "float32"),
        )
        self._epoch: Any = jax.jit(self._epoch_function, donate_argnums=0)
        self._validate: Any = jax.jit(self._validation_function)

    def release(self) -> None:
        """Drop the compiled functions; the stack is not used again."""
        self._epoch = self._validate = None

    # ------------------------------------------------------------------ arithmetic

    def _forward_values(
        self,
        values: list[Any],
        x: Any,
        *,
        training: bool,
        mask: Any = None,
        count: Any = None,
        dropout: Any = None,
        seed: Any = None,
    ) -> tuple[Any, dict[int, Any], Any]:
        """Every tower's output ([K, batch, outputs]) from the stacked variables' `values`,
        the new BatchNormalization statistics (by variable position) and the dropout seed."""
        k = self.size
        h = x
        updates: dict[int, Any] = {}
        for layer in self.layers:
            if layer.kind == "flatten":
                continue
            if layer.kind == "dense":
                kernel = values[layer.weights[0]]
                if layer.weights[0] == self._wide:
                    units = self.shapes[self._wide][1]
                    wide = jnp.matmul(h, kernel)  # [batch, K * units]
                    h = jnp.transpose(jnp.reshape(wide, (-1, k, units)), (1, 0, 2))
                else:
                    h = jnp.einsum("kbi,kio->kbo", h, kernel)
                if layer.use_bias:
                    h = h + values[layer.weights[1]][:, None, :]
                h = layer.activation(h)
            elif layer.kind == "batch_norm":
                gamma, beta, moving_mean, moving_variance = layer.weights
                if training:
                    weights = (mask / count)[None, :, None]
                    mean = jnp.sum(h * weights, axis=1, keepdims=True)
                    variance = jnp.sum(jnp.square(h - mean) * weights, axis=1, keepdims=True)
                    momentum = layer.momentum
                    updates[moving_mean] = values[moving_mean] * momentum + mean[:, 0] * (
                        1.0 - momentum
                    )
                    updates[moving_variance] = values[moving_variance] * momentum + variance[
                        :, 0
                    ] * (1.0 - momentum)
                else:
                    mean = values[moving_mean][:, None, :]
                    variance = values[moving_variance][:, None, :]
                scale = jax.lax.rsqrt(variance + layer.epsilon) * values[gamma][:, None, :]
                h = h * scale + (values[beta][:, None, :] - mean * scale)
            elif layer.kind == "activation":
                h = layer.activation(h)
            elif layer.kind == "dropout" and training:
                rate = dropout[:, None, None]
                key = jax.random.fold_in(jax.random.key(seed[0]), seed[1])
                seed = seed + jnp.array([0, 1], seed.dtype)
                keep = jax.random.uniform(key, h.shape) >= rate
                h = jnp.where(keep, h / (1.0 - rate), 0.0)
        return h, updates, seed

    def _sums(self, y: Any, output: Any, mask: Any) -> tuple[Any, list[Any]]:
        """Each tower's summed loss (L2 not included) and summed metrics over the unmasked
        samples: [K] each."""
        targets = jnp.broadcast_to(y, (self.size, *y.shape))
        if targets.ndim == output.ndim - 1 and not self.sparse:
            targets = targets[..., None]  # as Keras' loss and metric wrappers do
        # `where`, not a product: a padded sample's value may not be finite.
        valid = mask > 0
        losses = jnp.sum(jnp.where(valid, self.loss(targets, output), 0.0), axis=1)
        metrics = []
        for _, fn in self.metrics:
            values = jnp.reshape(fn(targets, output), (self.size, mask.shape[0], -1)).astype(
                "float32"
            )
            metrics.append(jnp.sum(jnp.where(valid[:, None], values, 0.0), axis=(1, 2)))
        return losses, metrics

    def _step(
        self, state: tuple[Any, ...], data: tuple[Any, Any], batch: tuple[Any, Any]
    ) -> tuple[Any, Any]:
        """One training step on the samples of `data` at `indices` (the first `count` of them
        count): the new state and [1 + metrics, K] sums over the batch (the loss times the
        batch size, then each metric)."""
        self.traces += 1
        indices, count = batch
        n_variables, n_optimizer = len(self.variables), len(self._optimizer_variables)
        values = list(state[:n_variables])
        optimizer_values = list(state[n_variables : n_variables + n_optimizer])
        l2, dropout, active, seed = state[n_variables + n_optimizer :]
        x, y = data[0][indices], data[1][indices]
        mask = (jnp.arange(indices.shape[0]) < count).astype("float32")
        count = count.astype("float32")
        penalty = self._penalty(values, l2)  # before the update, as Keras adds it
        positions = self._trainable_positions

        def data_loss(trainable: list[Any]) -> tuple[Any, tuple[Any, ...]]:
            current = list(values)
            for i, value in zip(positions, trainable):
                current[i] = value
            output, updates, new_seed = self._forward_values(
                current, x, training=True, mask=mask, count=count, dropout=dropout, seed=seed
            )
            loss_sums, metrics = self._sums(y, output, mask)
            data_losses = loss_sums / count
            losses = data_losses + penalty
            stepping = jnp.logical_and(active > 0, jnp.isfinite(losses))
            total = jnp.sum(jnp.where(stepping, data_losses, 0.0))
            return total, (losses, metrics, updates, new_seed, stepping)

        gradients, (losses, metrics, updates, seed, stepping) = jax.grad(data_loss, has_aux=True)(
            [values[i] for i in positions]
        )
        gradients = self._with_penalty_gradients(gradients, stepping, values, l2)
        gate = stepping.astype("float32")
        for i, value in updates.items():
            values[i] = value
        mapping = [(self.active, gate)]
        mapping += zip(self._trainable_variables, (values[i] for i in positions))
        mapping += zip(self._optimizer_variables, optimizer_values)
        with keras.StatelessScope(state_mapping=mapping) as scope:
            self.optimizer.apply(gradients, self._trainable_variables)
        for i, variable in zip(positions, self._trainable_variables):
            values[i] = scope.get_current_value(variable)
        optimizer_values = [scope.get_current_value(v) for v in self._optimizer_variables]
        new_state = (*values, *optimizer_values, l2, dropout, gate, seed)
        return new_state, jnp.stack([losses * count, *metrics])

    def _epoch_function(
        self, state: tuple[Any, ...], data: tuple[Any, Any], indices: Any, counts: Any
    ) -> tuple[tuple[Any, ...], Any, Any]:
        """Every step of an epoch on `data` (`indices`: [steps, batch], `counts`: [steps]):
        the new state, the summed logs and the first step's."""

        def step(state: tuple[Any, ...], batch: tuple[Any, Any]) -> tuple[Any, Any]:
            return self._step(state, data, batch)

        state, sums = jax.lax.scan(step, state, (indices, counts))
        return state, jnp.sum(sums, axis=0), sums[0]

    def _validation_function(
        self, values: tuple[Any, ...], l2: Any, data: tuple[Any, Any, Any]
    ) -> Any:
        """[1 + metrics, K] sums over the validation `data` (x, y and mask, in chunks), as
        `_step`'s."""
        listed = list(values)

        def chunk(total: Any, data: tuple[Any, Any, Any]) -> tuple[Any, None]:
            x, y, mask = data
            output, _, _ = self._forward_values(listed, x, training=False)
            loss_sums, metrics = self._sums(y, output, mask)
            return total + jnp.stack([loss_sums, *metrics]), None

        zeros = jnp.zeros((1 + len(self.metrics), self.size), "float32")
        sums, _ = jax.lax.scan(chunk, zeros, data)
        penalty = self._penalty(listed, l2) * self._val_count
        return sums.at[0].add(penalty)

    # ------------------------------------------------------------------ epochs

    def train_epoch(self, order: np.ndarray) -> dict[str, np.ndarray]:
        """One epoch over the training data in this order; each log is a [K] array."""
        order = np.asarray(order, "int32")
        steps = max(1, math.ceil(len(order) / self.batch_size))
        indices = np.zeros(steps * self.batch_size, "int32")
        indices[: len(order)] = order
        counts = np.full(steps, self.batch_size, "int32")
        counts[-1] = len(order) - (steps - 1) * self.batch_size
        state = tuple(v.value for v in self._state_variables)
        data = (self.x_train, self.y_train)
        state, sums, first = self._epoch(
            state, data, indices.reshape(steps, self.batch_size), counts
        )
        for variable, value in zip(self._state_variables, state):
            variable.assign(value)
        self.first_batch_loss = np.asarray(first[0]) / counts[0]
        return self._logs(sums, len(order))

    def evaluate(self) -> dict[str, np.ndarray]:
        """The towers' validation logs ([K] arrays)."""
        values = tuple(v.value for v in self.variables)
        sums = self._validate(values, self.l2.value, self._val_data)
        return self._logs(sums, self._val_count, prefix="val_")
