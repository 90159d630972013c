"""Draw an LR range test (`tuner.lr_finder.LRFindResult`) on matplotlib Axes. Drawing only."""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

_MARKERS = {
    "valley": ("o", "tab:red"),
    "steep": ("^", "tab:green"),
    "minimum_tenth": ("s", "tab:purple"),
}


def plot_lr_find(result, ax: Axes | None = None) -> Axes:
    """Loss against learning rate (log x): raw loss faint, smoothed solid, suggestions marked.

    Without `ax` a new `Figure` (no pyplot state) is made; save it with
    ``ax.figure.savefig(path)``. The y range is clipped to the informative part of the
    smoothed curve so a divergence does not squash it.
    """
    if ax is None:
        ax = Figure(figsize=(7, 4.5), layout="constrained").add_subplot()
    lrs = np.asarray(result.learning_rates, dtype=float)
    raw = np.asarray(result.losses, dtype=float)
    smoothed = np.asarray(result.smoothed_losses, dtype=float)

    ax.plot(lrs, raw, color="tab:blue", alpha=0.25, linewidth=1, label="loss (per batch)")
    ax.plot(lrs, smoothed, color="tab:blue", linewidth=2, label="smoothed loss")
    for name, s in result.suggestions.items():
        if s.lr is None or s.index is None:
            ax.plot([], [], " ", label=f"{name}: none ({s.reason.split(':')[0]})")
            continue
        marker, color = _MARKERS.get(name, ("D", "black"))
        # Marked at the suggested rate itself (minimum_tenth lies a decade left of its index).
        y = np.interp(np.log(s.lr), np.log(lrs), np.where(np.isfinite(smoothed), smoothed, np.nan))
        ax.plot(
            s.lr,
            y,
            marker=marker,
            color=color,
            markersize=9,
            linestyle="none",
            zorder=3,
            label=f"{name}: {s.lr:.2e}",
        )
    if result.diverged_at is not None:
        ax.axvline(
            lrs[result.diverged_at],
            color="grey",
            linestyle=":",
            linewidth=1,
            label=f"diverged at {lrs[result.diverged_at]:.2e}",
        )

    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss")
    ax.set_title("Learning-rate range test")
    stop = len(raw) if result.diverged_at is None else result.diverged_at
    if (ylim := _ylim(smoothed, raw[:stop])) is not None:
        ax.set_ylim(*ylim)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="upper left", fontsize="small", framealpha=0.9)
    return ax


def _ylim(smoothed: np.ndarray, raw: np.ndarray) -> tuple[float, float] | None:
    """From just under the lowest loss before divergence to a little over the starting loss:
    what lies above the start is the divergence, which says nothing more once it is rising."""
    finite = smoothed[np.isfinite(smoothed)]
    if len(finite) == 0:
        return None
    raw = raw[np.isfinite(raw)]
    lo = float(min(finite.min(), raw.min() if len(raw) else np.inf))
    start = float(finite[: max(1, len(finite) // 10)].max())
    hi = max(start, lo)
    pad = 0.1 * (hi - lo) if hi > lo else max(abs(lo) * 0.1, 1e-3)
    return lo - pad, hi + 2 * pad
