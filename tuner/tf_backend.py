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
        raise ConfigError(f"this needs TensorFlow, which cannot be imported ({error}); install "
                          "tensorflow or leave the option off.") from None
    return tensorflow
