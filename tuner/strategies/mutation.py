"""Points of a KerasTuner space for evolutionary search: a space-filling initial design, fresh
samples, and mutation (a few entries change, conditionals kept consistent).

Every numeric entry is handled on its unit scale: the position in [0, 1) that KerasTuner's own
``value_to_prob``/``prob_to_value`` give it (log sampling is a log scale there); a stepped range
is its grid of values, searched by index, as bayesian and tpe search it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras_tuner as kt
import numpy as np
from keras_tuner.engine import hyperparameters as hp_module

from tuner.space_kt import conditions_hold
from tuner.strategies.proposals import grid_index, grid_value, is_stepped

# The largest unit position: an Int's ``prob_to_value(1.0)`` would be max_value + 1.
TOP = math.nextafter(1.0, 0.0)


@dataclass(frozen=True)
class Mutation:
    """How a child differs from its parent: `changes` entries change; a numeric one moves by a
    normal step of standard deviation `scale` on its unit scale, or (with probability
    `resample`, as an ordered choice does) is drawn afresh."""

    changes: int = 1
    scale: float = 0.1
    resample: float = 0.1


def tunable(h: hp_module.HyperParameter) -> bool:
    """Whether `h` can take more than one value."""
    if isinstance(h, hp_module.Fixed):
        return False
    if isinstance(h, (hp_module.Boolean, hp_module.Choice)):
        return len(list(h.values)) > 1
    if is_stepped(h):
        return len(list(h.values)) > 1
    return bool(h.min_value < h.max_value)


def inside(h: hp_module.HyperParameter, value: Any) -> bool:
    """Whether `value` is one `h` can take (a value from an older, other space may not be)."""
    if isinstance(h, hp_module.Fixed):
        return bool(value == h.value)
    if isinstance(h, (hp_module.Boolean, hp_module.Choice)):
        return any(type(value) is type(v) and value == v for v in h.values)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return bool(h.min_value <= value <= h.max_value)


def _categories(h: hp_module.HyperParameter) -> list[Any] | None:
    if isinstance(h, (hp_module.Boolean, hp_module.Choice)) or is_stepped(h):
        return list(h.values)
    return None


def to_unit(h: hp_module.HyperParameter, value: Any) -> float:
    """The position of `value` in [0, 1) on `h`'s scale (the middle of its cell if discrete)."""
    grid = _categories(h)
    if grid is not None:
        index = grid_index(h, value) if is_stepped(h) else grid.index(value)
        return (index + 0.5) / len(grid)
    return min(max(float(h.value_to_prob(value)), 0.0), TOP)


def from_unit(h: hp_module.HyperParameter, unit: float) -> Any:
    """The value of `h` at position `unit` of its scale (clipped to [0, 1)): in its range, on
    its step, a plain Python value."""
    unit = min(max(unit, 0.0), TOP)
    if isinstance(h, hp_module.Fixed):
        return h.value
    grid = _categories(h)
    if grid is not None:
        index = min(int(unit * len(grid)), len(grid) - 1)
        return grid_value(h, index) if is_stepped(h) else grid[index]
    if isinstance(h, hp_module.Int):
        return int(min(max(h.prob_to_value(unit), h.min_value), h.max_value))
    return float(min(max(h.prob_to_value(unit), h.min_value), h.max_value))


def _is_ordered_choice(h: hp_module.HyperParameter) -> bool:
    return isinstance(h, hp_module.Choice) and bool(getattr(h, "ordered", False))


def mutate_value(
    h: hp_module.HyperParameter, value: Any, rng: np.random.Generator, how: Mutation
) -> Any:
    """A value of `h` other than `value` (`h` must be `tunable`). A Boolean flips; an unordered
    choice takes another value; an ordered choice moves to a neighbour (or, with probability
    ``how.resample``, to any other value); a range moves by a normal step on its unit scale
    (or is resampled), clipped to the range and snapped to its step, at least one step."""
    if not inside(h, value):
        return from_unit(h, float(rng.random()))
    if isinstance(h, hp_module.Boolean):
        return not value
    grid = _categories(h)
    if isinstance(h, hp_module.Choice) and not _is_ordered_choice(h):
        assert grid is not None
        others = [v for v in grid if not (type(v) is type(value) and v == value)]
        return others[int(rng.integers(len(others)))]
    if _is_ordered_choice(h):
        assert grid is not None
        index = grid.index(value)
        if rng.random() < how.resample:
            others = [i for i in range(len(grid)) if i != index]
            return grid[others[int(rng.integers(len(others)))]]
        return grid[_neighbour(index, len(grid), 1 if rng.random() < 0.5 else -1)]
    unit = to_unit(h, value)
    if rng.random() < how.resample:
        moved = float(rng.random())
    else:
        step = float(rng.normal(0.0, how.scale))
        moved = unit + step
        if not 0.0 <= moved <= TOP and from_unit(h, moved) == value:
            moved = unit - step  # pushed out at the end it sits on: go inward instead
    child = from_unit(h, moved)
    if child != value:
        return child
    # Too small a move for the step (or a resample that drew the same cell): one step along.
    direction = 1 if moved >= unit else -1
    if grid is not None:
        return grid_value(h, _neighbour(grid_index(h, value), len(grid), direction))
    if isinstance(h, hp_module.Int):
        return (
            value + direction
            if h.min_value <= value + direction <= h.max_value
            else value - direction
        )
    for unit_step in (direction * how.scale, -direction * how.scale):
        child = from_unit(h, unit + unit_step)
        if child != value:
            break
    return child


def _neighbour(index: int, size: int, direction: int) -> int:
    """The index next to `index` in `direction`, or the other way at an end."""
    return index + direction if 0 <= index + direction < size else index - direction


def _active(h: hp_module.HyperParameter, values: Mapping[str, Any]) -> bool:
    hp = kt.HyperParameters()
    hp.values = dict(values)
    return conditions_hold(hp, h.conditions)


def fill(
    space: Iterable[hp_module.HyperParameter],
    pick: Any,
) -> dict[str, Any]:
    """Values for every entry active under the values chosen before it (the space lists parents
    before children); ``pick(position, h, values)`` chooses each tunable one."""
    values: dict[str, Any] = {}
    for position, h in enumerate(space):
        if h.name in values or not _active(h, values):
            continue  # an earlier entry of this name is active, or this one is not
        values[h.name] = h.value if isinstance(h, hp_module.Fixed) else pick(position, h, values)
    return values


def random_point(
    space: Sequence[hp_module.HyperParameter], rng: np.random.Generator
) -> dict[str, Any]:
    """A uniform sample of the space (on each entry's scale)."""
    return fill(space, lambda _, h, __: from_unit(h, float(rng.random())))


def design_point(
    space: Sequence[hp_module.HyperParameter], index: int, size: int, seed: int
) -> dict[str, Any]:
    """Point `index` of a Latin hypercube of `size` points: each entry's values spread over
    `size` equal strata of its scale, one point a stratum, in an order of its own. An entry's
    column depends on its position in the space, `size` and `seed` alone, so a space that
    gains entries keeps the columns of the ones it had."""

    def pick(position: int, h: hp_module.HyperParameter, _: Any) -> Any:
        rng = np.random.default_rng([seed, size, position])
        strata, jitter = rng.permutation(size), rng.random(size)
        return from_unit(h, (strata[index] + jitter[index]) / size)

    return fill(space, pick)


def mutate(
    space: Sequence[hp_module.HyperParameter],
    parent: Mapping[str, Any],
    rng: np.random.Generator,
    how: Mutation,
) -> dict[str, Any]:
    """A child of `parent`: ``how.changes`` of its active tunable entries (fewer if it has
    fewer) take other values; the rest keep theirs. An entry that the changes make active gets
    a fresh sample (so does one whose value the space no longer allows), and one they make
    inactive is left out."""
    candidates = sorted(
        {h.name for h in space if tunable(h) and h.name in parent and _active(h, parent)}
    )
    count = min(how.changes, len(candidates))
    chosen = {candidates[int(i)] for i in rng.choice(len(candidates), count, replace=False)}

    def pick(_: int, h: hp_module.HyperParameter, values: Mapping[str, Any]) -> Any:
        if h.name not in parent or not inside(h, parent[h.name]):
            return from_unit(h, float(rng.random()))
        if h.name in chosen and tunable(h):
            return mutate_value(h, parent[h.name], rng, how)
        return parent[h.name]

    return fill(space, pick)
