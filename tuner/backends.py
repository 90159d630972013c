"""Which Keras backend runs the trials, and what a campaign does without TensorFlow's extras.

Every backend trains the same builders and writes the same results. Off TensorFlow, trials
train on NumPy arrays instead of a cached `tf.data` pipeline, one model at a time (packed trials
are written in TensorFlow), and the `threads` setting, TensorFlow's thread pools, does not
apply. TensorBoard logs are written with TensorFlow's summary writer whichever backend trains,
so they need TensorFlow importable, nothing more. `campaign_notes` says which of these applies,
for the campaign's header and its summary.
"""

from __future__ import annotations

import keras

from tuner import tf_backend

TENSORFLOW = "tensorflow"


def active() -> str:
    """The name of the Keras backend in use (``KERAS_BACKEND``)."""
    return str(keras.backend.backend())


def packs_trials() -> bool:
    """Whether trials of one architecture can train as towers of one model (TensorFlow)."""
    return active() == TENSORFLOW


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
        if pack_requested:
            notes.append(
                f"packing: off (packed trials need the TensorFlow backend; on {backend} "
                "trials train one model at a time)"
            )
        if threads:
            notes.append(f"threads = {threads}: TensorFlow's thread pools, not used on {backend}")
    if tensorboard and not writes_tensorboard():
        notes.append("tensorboard: off (TensorFlow writes its logs, and it is not installed)")
    return notes


__all__ = ["active", "packs_trials", "writes_tensorboard", "campaign_notes", "TENSORFLOW"]
