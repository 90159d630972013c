"""Input pipelines, built once per campaign and reused by every trial.

`model.fit` on NumPy arrays rebuilds its input pipeline every epoch; on the TensorFlow backend a
cached `tf.data` pipeline is several times faster for small models. Other backends get the
arrays, which they handle well, shuffled by NumPy's global generator (`SeedShuffle`).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

from tuner import tf_backend
from tuner.datasets import Dataset

VALIDATION_BATCH = 1024


class SeedShuffle(keras.callbacks.Callback):
    """Seeds NumPy's global generator when training starts.

    Off TensorFlow, `fit` on arrays draws each epoch's order from that generator, and a model's
    first `fit` draws one order more than later ones (it runs a batch to build its metrics): so
    without this a reused compiled model (`tuner.execution.model_reuse`) would see other
    batches than a fresh one. Called after that build and before the first epoch's order is drawn.
    """

    def __init__(self, seed: int):
        super().__init__()
        self.seed = seed

    def on_train_begin(self, logs: dict | None = None) -> None:
        np.random.seed(self.seed)


class InputPipeline:
    """The training and validation data of a campaign, in the form `model.fit` runs fastest on."""

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.backend = keras.backend.backend()
        if tf_backend.is_active():
            tf = self._tf = tf_backend.tensorflow()
            self._train = tf.data.Dataset.from_tensor_slices(
                (dataset.x_train, dataset.y_train)
            ).cache()
            self._validation = (
                tf.data.Dataset.from_tensor_slices((dataset.x_val, dataset.y_val))
                .batch(VALIDATION_BATCH)
                .cache()
            )

    def array_arguments(self, seed: int) -> dict[str, Any]:
        """The data as NumPy arrays, for a HyperModel whose own `fit` sets the batch size.
        No ``shuffle``: Keras shuffles by default, and KerasTuner's guide tunes it in `fit`
        (``model.fit(x, y, shuffle=hp.Boolean("shuffle"), **kwargs)``)."""
        keras.utils.set_random_seed(seed)
        return {
            "x": self.dataset.x_train,
            "y": self.dataset.y_train,
            "validation_data": (self.dataset.x_val, self.dataset.y_val),
        }

    def fit_callbacks(self, seed: int) -> list[keras.callbacks.Callback]:
        """Callbacks every `fit` on this pipeline's data needs (with `fit_arguments` or
        `array_arguments` of the same `seed`): `SeedShuffle` off TensorFlow."""
        return [] if self.backend == "tensorflow" else [SeedShuffle(seed)]

    def fit_arguments(self, batch_size: int, seed: int) -> dict[str, Any]:
        """Keyword arguments for `model.fit`: data, shuffled by `seed`, in batches of batch_size.

        The order depends on `seed` alone: every trial of a campaign, alone or packed, sees the
        same batches (so trials differ by their hyperparameters and initial weights only)."""
        if self.backend != "tensorflow":
            return dict(self.array_arguments(seed), batch_size=batch_size)
        tf = self._tf
        train = self._shuffled(self._train, seed).batch(batch_size).prefetch(tf.data.AUTOTUNE)
        return {"x": train, "validation_data": self._validation, "shuffle": False}

    def _shuffled(self, data: Any, seed: int) -> Any:
        """`data` reshuffled at every iteration, by `seed` alone."""
        self._tf.random.set_seed(seed)  # the shuffle's seed is this and the global seed together
        return data.shuffle(len(self.dataset.x_train), seed=seed, reshuffle_each_iteration=True)

    def epoch_orders(self, seed: int, epochs: int) -> np.ndarray:
        """The order of the training samples in each of `epochs` epochs of a `model.fit` on
        ``fit_arguments(batch_size, seed)`` ([epochs, samples]), for code that trains on the
        same batches without `fit` (packed trials). TensorFlow and JAX."""
        n = len(self.dataset.x_train)
        if self.backend == "jax":
            # `fit` on arrays draws one permutation from NumPy's global generator at the start
            # of each epoch, after `SeedShuffle` seeded it (Keras 3.15's array data adapter).
            generator = np.random.RandomState(seed)
            return np.stack([generator.permutation(n) for _ in range(epochs)])
        if self.backend != "tensorflow":
            raise NotImplementedError(f"epoch orders on the {self.backend} backend")
        tf = self._tf
        # Keras' `fit` starts one iteration of the dataset more per epoch than it trains on:
        # epoch e trains on the shuffle's iteration 2e (measured, Keras 3.15).
        iterations = 2 * epochs - 1
        shuffled = self._shuffled(tf.data.Dataset.range(n), seed)
        indices = shuffled.repeat(iterations).batch(n * iterations)
        drawn = next(iter(indices)).numpy().reshape(iterations, n)
        return drawn[::2]
