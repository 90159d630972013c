"""Which Keras backend runs the trials, and what a campaign does without TensorFlow's extras.

Every backend trains the same builders and writes the same results. Off TensorFlow, trials
train on NumPy arrays instead of a cached `tf.data` pipeline. Packed trials (stacked towers)
train on TensorFlow and JAX; on PyTorch trials train one model at a time. The `threads`
setting sizes TensorFlow's thread pools and PyTorch's; JAX fixes its own when it starts.
TensorBoard logs are written with TensorFlow's summary writer whichever backend trains, so they
need TensorFlow importable, nothing more.
`campaign_notes` says which of these applies, for the campaign's header and its summary.
"""

from __future__ import annotations

import keras

from tuner import tf_backend

TENSORFLOW = "tensorflow"
PACKING_BACKENDS = (TENSORFLOW, "jax")  # where `tuner.builders.stacked` runs


def active() -> str:
    """The name of the Keras backend in use (``KERAS_BACKEND``)."""
    return str(keras.backend.backend())


def configure_threads(threads: int, *, required: bool = True) -> None:
    """Run the backend's ops on `threads` threads (0: its default). On TensorFlow see
    `tf_backend.configure_threads`; on PyTorch the intra-op pool (one thread trained the
    MLP's digits trials 9x faster than two on a busy 2-core machine); JAX has none to set."""
    backend = active()
    if backend == TENSORFLOW:
        tf_backend.configure_threads(threads, required=required)
    elif backend == "torch" and threads:
        import torch

        torch.set_num_threads(threads)


def sets_threads() -> bool:
    """Whether `configure_threads` does anything on this backend."""
    return active() in (TENSORFLOW, "torch")


def packs_trials() -> bool:
    """Whether trials of one architecture can train as towers of one model (TensorFlow,
    JAX)."""
    return active() in PACKING_BACKENDS


def writes_tensorboard() -> bool:
    """Whether TensorBoard logs can be written (TensorFlow importable, any backend)."""
    return tf_backend.available()


def campaign_notes(*, pack_requested: bool, threads: int, tensorboard: bool) -> list[str]:
    """One line for each feature the campaign asks for (or gets by default) that falls back on
    this backend; empty on TensorFlow. `pack_requested`: the campaign's ``pack`` is not 1 and
    its builder can pack trials."""
    backend = active()
    notes = []
    if backend != TENSORFLOW:
        notes.append(
            f"backend: {backend}; trials train on NumPy arrays (the cached tf.data "
            "pipeline is TensorFlow's)"
        )
        if pack_requested and not packs_trials():
            notes.append(
                f"packing: off (packed trials need the TensorFlow or JAX backend; on {backend} "
                "trials train one model at a time)"
            )
        if threads and not sets_threads():
            notes.append(f"threads = {threads}: not applied on {backend}, which sets its own")
    if tensorboard and not writes_tensorboard():
        notes.append("tensorboard: off (TensorFlow writes its logs, and it is not installed)")
    return notes


__all__ = [
    "active",
    "configure_threads",
    "sets_threads",
    "packs_trials",
    "writes_tensorboard",
    "campaign_notes",
    "TENSORFLOW",
]
