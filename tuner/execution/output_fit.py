"""Why a first trial failed, when the reason is that the model's output does not fit the
labels (2 outputs for 3 classes): one line instead of the backend's error, which names a
loss kernel and a label value but neither the builder nor the fix."""

from __future__ import annotations

from typing import Any

from tuner.datasets import BINARY, MULTICLASS, DataSpec


def builder_label(hypermodel: Any) -> str:
    """``module:function`` for a builder function, ``module:Class`` for a HyperModel."""
    target = getattr(hypermodel, "function", None) or type(hypermodel)
    module = getattr(target, "__module__", None)
    name = getattr(target, "__qualname__", None) or type(target).__name__
    return f"{module}:{name}" if module else name


def output_units(model: Any) -> int | None:
    """The size of the model's (single) output per sample; None when not known."""
    try:
        shapes = [tuple(output.shape) for output in model.outputs]
    except (AttributeError, TypeError, ValueError):  # a subclassed model never called
        return None
    if len(shapes) != 1 or not shapes[0] or shapes[0][-1] is None:
        return None
    return int(shapes[0][-1])


def output_mismatch(model: Any, spec: DataSpec, hypermodel: Any) -> str | None:
    """One line when `model`'s output is too small for the classes in `spec` (what a failed
    first trial then failed on); None when that is not the reason."""
    if spec.task not in (BINARY, MULTICLASS):
        return None
    units = output_units(model)
    classes = 2 if spec.task == BINARY else spec.output_size
    if units is None or units == 1 or units >= classes:
        return None
    return (
        f"model {builder_label(hypermodel)!r} outputs {units} value(s) per sample, but the "
        f"data has {classes} classes: its last layer needs {classes} units (e.g. "
        f'keras.layers.Dense({classes}, activation="softmax")); every trial would fail the '
        "same way."
    )
