"""Activation histograms per hidden layer (Saito, "Deep Learning from Scratch" ch.6): compute
the info first (`activation_info`: each hidden layer's outputs for a batch, binned), then draw
it on matplotlib Axes (`draw_activation_histograms`), one panel per layer.

A hidden layer's activations are the outputs of its non-linearity: every `keras.layers.
Activation` layer (how the bundled MLP applies its activation, after any batch normalisation),
and every other layer built with a non-linear ``activation=`` (``Dense(100, activation=
"sigmoid")`` in a user's Sequential), except the output layer. Works for Sequential and
functional models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from tuner.errors import ConfigError

if TYPE_CHECKING:  # Keras is imported when a model is given: `import tuner.plots` stays light
    import keras

DEFAULT_BINS = 30
LINEAR = ("linear", None)


@dataclass(frozen=True)
class LayerActivations:
    """One hidden layer's activations for a batch: histogram counts over `edges`, and their
    mean, standard deviation and the share of values within 1% of the range's ends (the
    saturated sigmoid's 0 and 1, the dead ReLU's 0)."""

    name: str
    activation: str
    counts: np.ndarray
    edges: np.ndarray
    mean: float
    std: float
    at_ends: float


@dataclass(frozen=True)
class ActivationInfo:
    """Every hidden layer's `LayerActivations`, input side first; `title` names the model
    (and e.g. "at initialisation")."""

    title: str
    layers: tuple[LayerActivations, ...]
    n_samples: int


def _activation_name(layer: keras.layers.Layer) -> str | None:
    function = getattr(layer, "activation", None)
    if function is None:
        return None
    name = getattr(function, "__name__", None) or type(function).__name__
    return None if name in LINEAR else str(name)


def hidden_activation_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers whose outputs are a hidden layer's activations, input side first."""
    output_layers = {id(model.layers[-1])} if model.layers else set()
    for tensor in _outputs(model):
        history = getattr(tensor, "_keras_history", None)
        if history:
            output_layers.add(id(history[0]))
    return [
        layer
        for layer in model.layers
        if _activation_name(layer) is not None and id(layer) not in output_layers
    ]


def _outputs(model: keras.Model) -> list:
    try:
        return list(model.outputs or [])
    except (AttributeError, ValueError):  # a Sequential not yet built
        return []


def _layer_outputs(
    model: keras.Model, layers: Sequence[keras.layers.Layer], x: np.ndarray
) -> list[np.ndarray]:
    import keras

    if isinstance(model, keras.Sequential):  # built or not: run its layers one by one
        wanted = {id(layer) for layer in layers}
        values, current = [], keras.ops.convert_to_tensor(x)
        for layer in model.layers:
            current = layer(current, training=False)
            if id(layer) in wanted:
                values.append(keras.ops.convert_to_numpy(current))
        return values
    probe = keras.Model(model.inputs, [layer.output for layer in layers])
    outputs = probe.predict(x, verbose=0, batch_size=max(1, len(x)))
    return [np.asarray(o) for o in (outputs if isinstance(outputs, list) else [outputs])]


def activation_info(
    model: keras.Model,
    x: np.ndarray,
    *,
    bins: int = DEFAULT_BINS,
    value_range: tuple[float, float] | None = None,
    title: str | None = None,
) -> ActivationInfo:
    """The activations of every hidden layer of `model` for inputs `x`, binned.

    Without `value_range` every layer shares the edges from the smallest to the largest
    value seen in any layer, so the panels compare (Saito's sigmoid plots span 0..1).
    """
    if bins < 1:
        raise ConfigError(f"bins must be at least 1, but got {bins}.")
    x = np.asarray(x, dtype="float32")
    if len(x) == 0:
        raise ConfigError("activation histograms need at least one input sample, but got none.")
    layers = hidden_activation_layers(model)
    if not layers:
        raise ConfigError(
            f"model {model.name!r} has no hidden layer with a non-linear activation to draw; "
            "give Dense layers an activation= or add keras.layers.Activation layers."
        )
    values = [v.reshape(len(x), -1) for v in _layer_outputs(model, layers, x)]
    if value_range is None:
        finite = [v[np.isfinite(v)] for v in values]
        low = min((float(v.min()) for v in finite if v.size), default=0.0)
        high = max((float(v.max()) for v in finite if v.size), default=1.0)
        value_range = (low, high if high > low else low + 1.0)
    edges = np.linspace(value_range[0], value_range[1], bins + 1)
    span = value_range[1] - value_range[0]
    infos = []
    for layer, v in zip(layers, values):
        flat = v[np.isfinite(v)].astype("float64")
        counts, _ = np.histogram(flat, bins=edges)
        near_end = (flat <= value_range[0] + 0.01 * span) | (flat >= value_range[1] - 0.01 * span)
        infos.append(
            LayerActivations(
                name=layer.name,
                activation=str(_activation_name(layer)),
                counts=counts,
                edges=edges,
                mean=float(flat.mean()) if flat.size else float("nan"),
                std=float(flat.std()) if flat.size else float("nan"),
                at_ends=float(near_end.mean()) if flat.size else float("nan"),
            )
        )
    return ActivationInfo(title or model.name, tuple(infos), len(x))


def draw_activation_histograms(
    infos: ActivationInfo | Sequence[ActivationInfo], figure: Figure | None = None
) -> Figure:
    """One row of panels per `ActivationInfo` (e.g. at initialisation, then trained), one
    panel per hidden layer; returns the Figure (no pyplot state): ``figure.savefig(path)``."""
    rows = [infos] if isinstance(infos, ActivationInfo) else list(infos)
    if not rows:
        raise ConfigError("nothing to draw: give at least one ActivationInfo.")
    ncols = max(len(r.layers) for r in rows)
    if figure is None:
        figure = Figure(figsize=(2.4 * ncols + 0.6, 2.4 * len(rows) + 0.5), layout="constrained")
    axes = figure.subplots(len(rows), ncols, squeeze=False, sharey="row")
    for row, info in zip(axes, rows):
        for i, ax in enumerate(row):
            if i < len(info.layers):
                _draw_layer(ax, info.layers[i], i, row_title=info.title)
            else:
                ax.set_visible(False)
    figure.suptitle(f"Activations of each hidden layer ({rows[0].n_samples} inputs)")
    return figure


def _draw_layer(ax: Axes, layer: LayerActivations, index: int, *, row_title: str) -> None:
    widths = np.diff(layer.edges)
    ax.bar(layer.edges[:-1], layer.counts, width=widths, align="edge", color="tab:blue")
    ax.set_title(f"{index + 1}: {layer.name} ({layer.activation})", fontsize=9)
    ax.text(
        0.97,
        0.95,
        f"mean {layer.mean:.3g}\nstd {layer.std:.3g}",
        transform=ax.transAxes,
        ha="right",
        va="top",
        fontsize=7,
    )
    ax.tick_params(labelsize=7)
    if index == 0:
        ax.set_ylabel(f"{row_title}\ncount", fontsize=8)


def activation_histograms(
    model: keras.Model,
    x: np.ndarray,
    *,
    bins: int = DEFAULT_BINS,
    value_range: tuple[float, float] | None = None,
) -> Figure:
    """Saito's figure for any Keras model: a histogram of each hidden layer's activations for
    inputs `x`. ``activation_histograms(model, x).savefig("activations.png")``."""
    return draw_activation_histograms(activation_info(model, x, bins=bins, value_range=value_range))


__all__ = [
    "ActivationInfo",
    "LayerActivations",
    "activation_info",
    "activation_histograms",
    "draw_activation_histograms",
    "hidden_activation_layers",
]
