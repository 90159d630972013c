"""A campaign's objectives: one metric, or several (``objective = ["val_accuracy", "n_params"]``)
whose trade-off is a Pareto front.

Import-light (the campaign validates with it before Keras loads). The first objective picks
each trial's best epoch and is its ``score``; the others are read at that epoch. Cost metrics
(`COST_METRICS`) are not logged by Keras: every trial's record carries them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tuner.direction import check_direction
from tuner.errors import ConfigError, did_you_mean

# Record fields every trial measures, each minimised: parameters, seconds spent training
# (building and fitting), milliseconds to predict one sample (`tuner.execution.latency`).
COST_METRICS = ("n_params", "duration_s", "latency_ms")

Spec = tuple[tuple[str, str], ...]  # (name, direction) of each objective, the first primary


def resolve(objective: Any, direction: Any, infer: Any) -> Spec:
    """Each objective's name and direction, checked: `objective` a name or a list of two or
    more distinct names, the first not a cost metric; `direction` None (inferred by `infer`;
    a cost metric is "min"), one direction for one objective, or a list as long as the
    objectives. One `ConfigError` line naming the problem otherwise."""
    first = objective if isinstance(objective, str) else next(iter(objective), None)
    if isinstance(first, str) and first in COST_METRICS:
        # The first objective picks each trial's best epoch among its logged metrics.
        raise ConfigError(
            f"the first objective must be a metric the model logs (it picks each trial's best "
            f"epoch), but got cost metric {first!r}; list it after one, e.g. objective = "
            f'["val_accuracy", "{first}"].'
        )
    if isinstance(objective, str):
        if isinstance(direction, list):
            raise ConfigError(
                f"direction must be 'min' or 'max' for one objective, but got {direction!r}."
            )
        return ((objective, _direction(objective, direction, infer, several=False)),)
    names = list(objective)
    if len(names) < 2:
        raise ConfigError(
            f"objective must be one metric name or a list of two or more, but got {objective!r}; "
            f"for one objective write objective = {names[0]!r}."
            if names
            else f"objective must be one metric name or a list of two or more, but got {names!r}."
        )
    for name in names:
        if not isinstance(name, str) or not name:
            raise ConfigError(f"objective entries must be metric names, but got {name!r}.")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(
            f"objective must name each metric once, but got {names!r} ({', '.join(repeated)} "
            "repeated)."
        )
    if direction is None:
        directions: list[Any] = [None] * len(names)
    elif isinstance(direction, list) and len(direction) == len(names):
        directions = direction
    else:
        raise ConfigError(
            f"direction must be a list of {len(names)} ('min' or 'max', one per objective) "
            f"or left out to infer them, but got {direction!r}."
        )
    return tuple((n, _direction(n, d, infer, several=True)) for n, d in zip(names, directions))


def _direction(name: str, direction: Any, infer: Any, *, several: bool) -> str:
    if direction is not None:
        return check_direction(direction)
    if name in COST_METRICS:
        return "min"
    inferred = infer(name)
    if inferred is None:
        way_out = (
            'add direction = [...], "max" or "min" for each objective'
            if several
            else 'add direction = "max" or "min"'
        )
        raise ConfigError(
            f"cannot tell whether objective {name!r} should be maximised or minimised"
            f"{did_you_mean(name, COST_METRICS)}; {way_out} (cost metrics, always "
            f"minimised: {', '.join(COST_METRICS)})."
        )
    return str(inferred)


def value(record: Any, name: str, primary: str) -> float | None:
    """A record's value of objective `name` (None when it has none): its score for the
    `primary` objective, a cost metric from its fields, any other metric at its best epoch."""
    if name == primary:
        found = record.score
    elif name in COST_METRICS:
        found = getattr(record, name, None)
    else:
        found = record.metrics_at_best_epoch().get(name)
    if found is None or isinstance(found, bool):
        return None
    number = float(found)
    return number if math.isfinite(number) else None


def values(record: Any, spec: Spec) -> list[float] | None:
    """The record's value of every objective (None when it is not scored or misses one)."""
    if not record.scored:
        return None
    found = [value(record, name, spec[0][0]) for name, _ in spec]
    return None if any(v is None for v in found) else [float(v) for v in found]  # type: ignore[arg-type]


def told(record: Any, spec: Spec) -> dict[str, float]:
    """What an oracle is told of a scored record: its score as the first objective, and the
    other objectives' values (those it has)."""
    primary = spec[0][0]
    found = {primary: float(record.score)}
    for name, _ in spec[1:]:
        number = value(record, name, primary)
        if number is not None:
            found[name] = number
    return found


def logged(spec: Sequence[tuple[str, str]]) -> list[str]:
    """The objectives Keras must log (every one but the cost metrics)."""
    return [name for name, _ in spec if name not in COST_METRICS]


def spec_of(objective: Any) -> Spec:
    """Every objective of a ``kt.Objective``: a `tuner.campaign_objective.CampaignObjective`'s
    list, or the one objective it is."""
    spec = getattr(objective, "spec", None)
    return tuple(spec) if spec else ((objective.name, objective.direction),)


__all__ = ["COST_METRICS", "Spec", "resolve", "value", "values", "logged", "spec_of", "told"]
