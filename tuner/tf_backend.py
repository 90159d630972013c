"""THE ONE MODULE THAT IMPORTS TENSORFLOW. Everything TensorFlow-only (tf.data pipelines,
TensorBoard summaries) gets the module from `tensorflow()`, so the rest of the package runs on
any Keras backend and a missing TensorFlow is one clear error."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import Any

import keras

from tuner.errors import ConfigError


def is_active() -> bool:
    """Whether Keras runs on the TensorFlow backend."""
    return keras.backend.backend() == "tensorflow"


def available() -> bool:
    """Whether TensorFlow can be imported (whichever backend Keras runs on)."""
    try:
        tensorflow()
    except ConfigError:
        return False
    return True


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


def first_gpu() -> tuple[int, str] | None:
    """(index, name) of the first GPU TensorFlow may use, where Keras places its ops (None:
    none). Asked without starting TensorFlow's runtime, so thread pools can still be set."""
    tf = tensorflow()
    gpus = tf.config.get_visible_devices("GPU")
    if not gpus:
        return None
    index = int(gpus[0].name.rsplit(":", 1)[-1])
    try:
        name = str(tf.config.experimental.get_device_details(gpus[0]).get("device_name", ""))
    except (ValueError, RuntimeError):
        name = ""
    return index, name


# TensorFlow's `tf.custom_gradient`, used in graph mode, registers its gradient function in a
# process-wide registry under a fresh name and never removes it; the function's closure holds
# the traced tensors, so the registry keeps the whole FuncGraph of every traced training step
# alive (2-6 MB for a small MLP) long after its model is gone. Keras' TensorFlow optimizer goes
# through one (`ReplicaContext.all_reduce` of the gradients) in every traced train step, and
# `keras.backend.clear_session` does not remove it (tensorflow/tensorflow#97697,
# keras-team/keras#20245). These helpers let the owner of the models release the entries.
CUSTOM_GRADIENT_PREFIX = "CustomGradient-"


def _gradient_registry() -> dict[str, Any] | None:
    tensorflow()  # the one clear error when it is missing
    ops = importlib.import_module("tensorflow.python.framework.ops")
    registry = getattr(getattr(ops, "_gradient_registry", None), "_registry", None)
    return registry if isinstance(registry, dict) else None


def custom_gradients() -> frozenset[str]:
    """The names of the gradient functions `tf.custom_gradient` has registered so far (empty
    off TensorFlow, or where TensorFlow's registry is not where this version expects it)."""
    if not is_active():
        return frozenset()
    registry = _gradient_registry()
    if registry is None:
        return frozenset()
    return frozenset(name for name in registry if name.startswith(CUSTOM_GRADIENT_PREFIX))


def forget_custom_gradients(names: Iterable[str]) -> None:
    """Remove these `tf.custom_gradient` registrations, so that the graphs they hold can be
    freed. Only for graphs whose gradients are built already (a Keras train step computes its
    gradients while it is traced) or that will never run again."""
    registry = _gradient_registry() if is_active() else None
    if registry is None:
        return
    for name in names:
        if name.startswith(CUSTOM_GRADIENT_PREFIX):
            registry.pop(name, None)


def clear_kernel_cache() -> None:
    """Empty TensorFlow's eager kernel cache, which keeps an instantiated kernel for every
    function ever run (about 0.9 MB a small model) until cleared. The models still in use
    re-create theirs on their next run (0.06-0.1 s for a 6x100 MLP)."""
    if is_active():
        importlib.import_module("tensorflow.python.eager.context").context().clear_kernel_cache()
