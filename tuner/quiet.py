"""Import Keras without TensorFlow's start-up lines on stderr, whichever backend runs.

TensorFlow writes its start-up lines (oneDNN, CUDA stubs, absl's "before InitializeLog"
warning) to file descriptor 2 from C++ before any log level applies, so neither an environment
variable nor Python's logging can stop them: only pointing fd 2 elsewhere while it loads does.
On the JAX and PyTorch backends Keras imports TensorFlow too, when it is installed, the first
time it seeds the random generators (``keras.utils.set_random_seed``): so TensorFlow is loaded
here, quietly, on every backend rather than later and loudly in the middle of a search.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator

# The level the quiet import sets when the user has not chosen one, as the CLI does: "2" would
# still show the C++ ERROR line a CUDA build of TensorFlow logs on a machine without a GPU
# ("failed call to cuInit") at its first op; real failures still raise Python exceptions.
DEFAULT_TF_LOG_LEVEL = "3"


@contextlib.contextmanager
def silenced_stderr() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the duration (what C++ writes there included)."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def import_keras_quietly() -> None:
    """Import TensorFlow (when installed) and Keras with their start-up lines silenced.

    Quiet unless ``TF_CPP_MIN_LOG_LEVEL`` asks for TensorFlow's information lines ("0" or "1");
    when unset it becomes "3". A failed import is not reported here: it surfaces, with its
    message, where the module is first used. Does nothing for a module already imported.
    """
    level = os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", DEFAULT_TF_LOG_LEVEL)
    # Keras first: with PyTorch's CUDA wheels, Keras' PyTorch backend loading Triton after
    # TensorFlow crashed the process (a segfault in Triton's extension, torch 2.14, TF 2.21).
    missing = [name for name in ("keras", "tensorflow") if name not in sys.modules]
    if level not in ("2", "3") or not missing:
        return
    with silenced_stderr():
        for name in missing:
            try:
                __import__(name)
            except ImportError:
                pass
