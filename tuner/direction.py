"""An objective's direction ("max" or "min") and the one conversion of its scores.

The campaign decides the direction (``direction = ...``, or inferred from the objective's
name); everything else takes it from there and turns a score into "higher is better" (`gain`)
or "lower is better" (`loss`) here, never with a sign of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from tuner.errors import ConfigError

if TYPE_CHECKING:  # the campaign imports this module before anything numeric
    import numpy as np

DIRECTIONS = ("max", "min")
Score = TypeVar("Score", float, "np.ndarray")


def check_direction(direction: object) -> str:
    """`direction` when it is ``"max"`` or ``"min"``; a `ConfigError` naming it otherwise."""
    if direction not in DIRECTIONS:
        raise ConfigError(f"direction must be 'min' or 'max', but got {direction!r}.")
    return str(direction)


def gain(score: Score, direction: str) -> Score:
    """`score` (a number or an array of them) turned so that higher is better: itself for
    "max", negated for "min"."""
    return score if check_direction(direction) == "max" else -score


def loss(score: Score, direction: str) -> Score:
    """`score` turned so that lower is better: what minimisers and best-first sorts take."""
    return -gain(score, direction)


__all__ = ["DIRECTIONS", "check_direction", "gain", "loss"]
