"""Which Keras backend runs the trials, and what a campaign does without TensorFlow's extras.

Every backend trains the same builders and writes the same results. Off TensorFlow, trials
train on NumPy arrays instead of a cached `tf.data` pipeline. Packed trials (stacked towers)
train on TensorFlow and JAX; on PyTorch trials train one model at a time. The `threads`
setting sizes TensorFlow's thread pools and PyTorch's; JAX fixes its own when it starts.
TensorBoard logs are written with TensorFlow's summary writer whichever backend trains, so they
need TensorFlow importable, nothing more.

Keras places every op on the first accelerator it sees, else on the CPU: `device` names it for
the trial records. Mixed precision is Keras' dtype policy (`precision_policy`, applied around
each build by `dtype_policy`); XLA is Keras' ``jit_compile``, which TensorFlow and JAX have and
PyTorch has not. `campaign_notes` says what falls back, for the campaign's header and summary.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator

import keras

from tuner import tf_backend

TENSORFLOW = "tensorflow"
JAX = "jax"
CPU, GPU, TPU = "CPU", "GPU", "TPU"
MIXED_FLOAT16, MIXED_BFLOAT16 = "mixed_float16", "mixed_bfloat16"
# What ``mixed_precision = true`` means on each kind of device, as Keras' mixed-precision guide
# advises: float16 with loss scaling on a GPU, bfloat16 on a TPU. A CPU gets neither: on this
# project's 2-core AVX2 machine (no AVX-512 BF16 or AMX) float16 trials ran 1.2-1.4x slower than
# float32 and bfloat16 ones no faster (`benchmarks/precision.py`, the README's Measured), for
# less precise arithmetic.
TRUE_POLICY = {GPU: MIXED_FLOAT16, TPU: MIXED_BFLOAT16}
XLA_BACKENDS = (TENSORFLOW, JAX)
PACKING_BACKENDS = (TENSORFLOW, JAX)  # where `tuner.execution.stacked` runs


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


@functools.cache
def _accelerator() -> tuple[str, str, str] | None:
    """(kind, index, name) of the accelerator Keras trains on in this process (None: the CPU).
    The index is the one ``CUDA_VISIBLE_DEVICES`` gave the GPU, so that the workers of one
    machine, each shown its own GPU as its first, name different ones."""
    backend = active()
    found: tuple[str, int, str] | None = None
    if backend == TENSORFLOW:
        gpu = tf_backend.first_gpu()
        found = (GPU, *gpu) if gpu is not None else None
    elif backend == JAX:
        import jax

        first = jax.devices()[0]
        if first.platform != "cpu":
            kind = TPU if first.platform == "tpu" else GPU
            found = (kind, int(first.id), str(getattr(first, "device_kind", "")))
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            index = torch.cuda.current_device()
            found = (GPU, index, torch.cuda.get_device_name(index))
        elif torch.backends.mps.is_available():
            found = (GPU, 0, "Apple MPS")
    if found is None:
        return None
    kind, index, name = found
    label = str(index)
    if kind == GPU:
        from tuner.distributed.env import visible_gpus  # a leaf module: no Keras, no loop

        named = visible_gpus(os.environ, query=False)
        label = named[index] if index < len(named) else label
    return kind, label, name


def device() -> str:
    """The device this process trains on, for the trial records: ``"CPU"``, or
    ``"GPU:<index> (<name>)"`` (``"TPU:0 (TPU v4)"``) where the backend can tell the name. A
    GPU named by UUID in ``CUDA_VISIBLE_DEVICES`` is shown by it (``"GPU-8f1c...  (...)"``)."""
    found = _accelerator()
    if found is None:
        return CPU
    kind, label, name = found
    text = label if not label.isdigit() and kind == GPU else f"{kind}:{label}"
    return f"{text} ({name})" if name else text


def device_kind() -> str:
    """``"CPU"``, ``"GPU"`` or ``"TPU"``: the kind of `device`."""
    found = _accelerator()
    return CPU if found is None else found[0]


def precision_policy(mixed_precision: bool | str) -> str | None:
    """The Keras dtype policy a campaign's models are built under (None: float32, Keras'
    default). ``true`` is `TRUE_POLICY`'s for this device (None on a CPU, which
    `campaign_notes` says); a policy's name is that policy on any device."""
    if isinstance(mixed_precision, str):
        return mixed_precision
    return TRUE_POLICY.get(device_kind()) if mixed_precision else None


@contextlib.contextmanager
def dtype_policy(name: str | None) -> Iterator[None]:
    """Layers (and models) made inside compute in policy `name` (None: as they would anyway).
    A layer keeps the policy it was made with, so scoping the build is enough; Keras' policy
    is global, and it is restored afterwards so nothing else (a packed stack, the next
    campaign in this process) sees it. A model built under ``mixed_float16`` wraps its
    optimizer in a `keras.optimizers.LossScaleOptimizer` when it is compiled."""
    if name is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def compiles_with_xla() -> bool:
    """Whether Keras' ``jit_compile`` means XLA on this backend (on PyTorch it means
    ``torch.compile``)."""
    return active() in XLA_BACKENDS


def jit_compile_setting(jit_compile: bool | str) -> bool | None:
    """What the executor sets as each trial model's ``jit_compile``: True or False, or None to
    leave the one it was compiled with (``"auto"``, and ``true`` where there is no XLA)."""
    if not isinstance(jit_compile, bool) or (jit_compile and not compiles_with_xla()):
        return None
    return jit_compile


def computes_unlike_packs(mixed_precision: bool | str, jit_compile: bool | str) -> bool:
    """Whether the campaign's trials must compute otherwise than packed trials do (in
    float32; on TensorFlow as graphs without XLA, on JAX compiled by XLA as every JAX step
    is): mixed precision that applies on this device, or ``jit_compile = true`` on
    TensorFlow."""
    return precision_policy(mixed_precision) is not None or _xla_unlike_packs(jit_compile)


def _xla_unlike_packs(jit_compile: bool | str) -> bool:
    """Whether ``jit_compile`` asks for XLA where packs run without it (TensorFlow's graphs;
    a JAX pack is XLA-compiled already)."""
    return jit_compile_setting(jit_compile) is True and active() == TENSORFLOW


def campaign_notes(
    *,
    pack_requested: bool,
    threads: int,
    tensorboard: bool,
    mixed_precision: bool | str = False,
    jit_compile: bool | str = "auto",
) -> list[str]:
    """One line for each feature the campaign asks for (or gets by default) that falls back on
    this backend or device; empty on TensorFlow when none does. `pack_requested`: the
    campaign's ``pack`` is not 1 and its builder can pack trials."""
    backend = active()
    notes = []
    policy = precision_policy(mixed_precision)
    if mixed_precision is True and policy is None:
        notes.append(
            "mixed_precision: off on the CPU (float16 is slower than float32 there, bfloat16 "
            'no faster); trials compute in float32. mixed_precision = "mixed_bfloat16" uses it '
            "anyway"
        )
    if pack_requested and packs_trials() and computes_unlike_packs(mixed_precision, jit_compile):
        asked = [f"mixed_precision: {policy}"] if policy else []
        asked += ["jit_compile = true"] if _xla_unlike_packs(jit_compile) else []
        how = "float32 without XLA" if backend == TENSORFLOW else "float32"
        notes.append(
            f"packing: off ({', '.join(asked)}; packed trials compute in {how}, "
            "so trials train one model at a time)"
        )
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
    if jit_compile is True and not compiles_with_xla():
        notes.append(
            f"jit_compile = true: not applied on {backend} (XLA is TensorFlow's and JAX's; "
            "Keras would use torch.compile)"
        )
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
    "device",
    "device_kind",
    "precision_policy",
    "dtype_policy",
    "compiles_with_xla",
    "jit_compile_setting",
    "computes_unlike_packs",
    "TENSORFLOW",
]
