"""THE ONE MODULE THAT IMPORTS TENSORFLOW. Everything TensorFlow-only (tf.data pipelines,
TensorBoard summaries) gets the module from `tensorflow()`, so the rest of the package runs on
any Keras backend and a missing TensorFlow is one clear error."""

from __future__ import annotations

from types import ModuleType

import keras

from tuner.errors import ConfigError


def is_active() -> bool:
    """Whether Keras runs on the TensorFlow backend."""
    return keras.backend.backend() == "tensorflow"


def tensorflow() -> ModuleType:
    """The `tensorflow` module, imported on first use."""
    try:
        import tensorflow
    except ImportError as error:
        raise ConfigError(
            f"this needs TensorFlow, which cannot be imported ({error}); install "
            "tensorflow or leave the option off."
        ) from None
    return tensorflow


def configure_threads(threads: int, *, required: bool = True) -> None:
    """Run TensorFlow ops on `threads` threads (0 = TensorFlow's default, all cores).

    Small models train faster on one thread: on 2 cores a 6x100 MLP fit took 2.4 s with one
    thread against 3.2 s with TensorFlow's default pools. It can only be set before TensorFlow
    runs its first op: after that, a `required` setting is a ConfigError and any other is left.
    """
    if threads == 0 or not is_active():
        return
    config = tensorflow().config.threading
    if (config.get_inter_op_parallelism_threads(), config.get_intra_op_parallelism_threads()) == (
        threads,
        threads,
    ):
        return
    try:
        config.set_inter_op_parallelism_threads(threads)
        config.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        if not required:  # a choice made for speed: TensorFlow's default will do
            return
        raise ConfigError(
            f"threads = {threads} must be set before TensorFlow starts; run this "
            "campaign in a fresh process."
        ) from None
