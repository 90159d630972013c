"""Population Based Training (Jaderberg et al. 2017): its options, the exploit rule (who copies
whom) and the explore rule (how a copied configuration is perturbed), and its oracle.

The oracle only samples the population's starting values (random search over the space, one
trial per member); the training, exploit and explore steps are the PBT executor's
(`tuner.execution.pbt`). Everything here is plain Python over KerasTuner's hyperparameter
objects, so it is tested without training anything.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import keras_tuner as kt
import numpy as np

from tuner.direction import gain
from tuner.errors import ConfigError
from tuner.strategies.registry import OracleSettings, check_pbt

hps = kt.engine.hyperparameters

DEFAULT_POPULATION = 20
DEFAULT_QUANTILE = 0.25
DEFAULT_RESAMPLE = 0.25
DEFAULT_PERTURB = (0.8, 1.2)
NOT_EXPLORED = ("epochs",)  # every member trains the same epochs


@dataclass(frozen=True)
class PBTSettings:
    """A campaign's PBT options, resolved: `population` members (trials), an exploit step every
    `ready` epochs, the bottom and top `quantile`, the `resample_probability`, the two
    `perturb` factors and the names of the hyperparameters that may change (`explore`)."""

    population: int
    ready: int
    epochs: int
    quantile: float = DEFAULT_QUANTILE
    resample_probability: float = DEFAULT_RESAMPLE
    perturb: tuple[float, float] = DEFAULT_PERTURB
    explore: tuple[str, ...] = ()

    def rounds(self) -> list[tuple[int, int]]:
        """The epochs of each round, as (first, end): an exploit step between rounds."""
        return [(a, min(a + self.ready, self.epochs)) for a in range(0, self.epochs, self.ready)]


def population(options: Mapping[str, Any], max_trials: int) -> int:
    """How many members: the ``population`` option, else 20 or `max_trials` when fewer."""
    return int(options.get("population", min(DEFAULT_POPULATION, max_trials)))


def default_ready(epochs: int) -> int:
    """A tenth of the epochs, at least 1: ten exploit steps in a run."""
    return max(1, round(epochs / 10))


def explorable(space: kt.HyperParameters) -> list[str]:
    """The hyperparameters PBT perturbs by default: the searched floats (learning rate, L2,
    dropout, ...) and choices among floats. Integers, strings and booleans (units, layers,
    optimizer, activation) usually decide the architecture or the optimizer's state, which a
    copy of weights must keep: they are named in ``explore`` to be perturbed."""
    names = []
    for h in space.space:
        if h.name in NOT_EXPLORED or h.name.startswith("tuner/"):
            continue
        if isinstance(h, hps.Float) or (
            isinstance(h, hps.Choice)
            and all(isinstance(v, float) for v in h.values)
            and len(h.values) > 1
        ):
            names.append(h.name)
    return names


def resolve(
    options: Mapping[str, Any], max_trials: int, epochs: int, space: kt.HyperParameters
) -> PBTSettings:
    """The campaign's `PBTSettings`; a `ConfigError` when they cannot work with its
    ``max_trials``, ``epochs`` or space."""
    check_pbt(options)
    members = population(options, max_trials)
    if members > max_trials:
        raise ConfigError(
            f"[strategy_options] population must be at most max_trials ({max_trials}): each "
            f"member is one trial; got population = {members}. Raise max_trials or lower "
            f"population."
        )
    if members < 2:
        raise ConfigError(
            f"strategy 'pbt' needs a population of at least 2, but max_trials = {max_trials}."
        )
    ready = options.get("ready", default_ready(epochs))
    if ready >= epochs:
        raise ConfigError(
            f"[strategy_options] ready must be less than epochs ({epochs}), or no member is "
            f"ever exploited; got ready = {ready}."
        )
    epochs_hp = next((h for h in space.space if h.name == "epochs"), None)
    if epochs_hp is not None and not isinstance(epochs_hp, hps.Fixed):
        raise ConfigError(
            "strategy 'pbt' trains every member for the same epochs: fix epochs (epochs = N), "
            "do not search it."
        )
    names = {h.name for h in space.space}
    explore = tuple(options.get("explore", explorable(space)))
    for name in explore:
        if name not in names:
            raise ConfigError(
                f"[strategy_options] explore names {name!r}, which is not in the space; "
                f"the space has: {', '.join(sorted(names))}."
            )
    return PBTSettings(
        population=members,
        ready=ready,
        epochs=epochs,
        quantile=float(options.get("quantile", DEFAULT_QUANTILE)),
        resample_probability=float(options.get("resample_probability", DEFAULT_RESAMPLE)),
        perturb=tuple(float(f) for f in options.get("perturb", DEFAULT_PERTURB)),  # type: ignore[arg-type]
        explore=explore,
    )


# --------------------------------------------------------------------------- exploit


def choose_exploits(
    scores: Mapping[str, float | None],
    has_state: Iterable[str],
    quantile: float,
    direction: str,
    rng: np.random.Generator,
) -> dict[str, str]:
    """Which members copy which: {recipient: donor}. Members with a finite score are ranked
    (by `direction`); each of the bottom `quantile` (at least one) copies a member of the top
    `quantile` drawn at random among those with saved state (`has_state`); a recipient with no
    such donor goes on as it is. Members without a score are neither."""
    ranked = sorted(
        (m for m, s in scores.items() if s is not None and math.isfinite(s)),
        key=lambda m: gain(float(scores[m]), direction),  # type: ignore[arg-type]
        reverse=True,
    )
    n = max(1, int(len(ranked) * quantile))
    if len(ranked) < 2 * n:
        return {}
    stateful = set(has_state)
    donors = [m for m in ranked[:n] if m in stateful]
    if not donors:
        return {}
    return {m: donors[int(rng.integers(len(donors)))] for m in ranked[-n:]}


# --------------------------------------------------------------------------- explore


def perturb(
    values: Mapping[str, Any],
    space: kt.HyperParameters,
    settings: PBTSettings,
    rng: np.random.Generator,
) -> dict[str, Any]:
    """`values` with each explored hyperparameter perturbed (`perturb_value`), the others kept:
    numbers multiplied by one of the `perturb` factors (on a stepped range, at least one step
    that way) or, with `resample_probability`, drawn again from their range; choices moved to a
    neighbour; booleans flipped. Every value stays inside its searched range and on its step."""
    by_name = {h.name: h for h in space.space}
    new = dict(values)
    for name in settings.explore:
        if name in new and name in by_name:
            new[name] = perturb_value(by_name[name], new[name], settings, rng)
    return new


def perturb_value(h: Any, value: Any, settings: PBTSettings, rng: np.random.Generator) -> Any:
    """One hyperparameter's next value (see `perturb`)."""
    if isinstance(h, hps.Fixed):
        return value
    if isinstance(h, hps.Boolean):
        return not value
    if isinstance(h, hps.Choice):
        return _neighbour(list(h.values), value, rng)
    if isinstance(h, (hps.Float, hps.Int)):
        if rng.random() < settings.resample_probability:
            return snap(h, h.prob_to_value(float(rng.random())))
        factor = settings.perturb[int(rng.integers(2))]
        moved = snap(h, value * factor)
        step = getattr(h, "step", None) or (1 if isinstance(h, hps.Int) else None)
        if step and moved == snap(h, value) and factor != 1:
            # On a grid coarser than the factor (0.2 * 1.2 rounds back to 0.2): one step its way.
            moved = snap(h, value + step if factor > 1 else value - step)
        return moved
    return value


def _neighbour(choices: Sequence[Any], value: Any, rng: np.random.Generator) -> Any:
    if len(choices) < 2:
        return value
    index = choices.index(value) if value in choices else 0
    if index == 0:
        return choices[1]
    if index == len(choices) - 1:
        return choices[-2]
    return choices[index + (1 if rng.random() < 0.5 else -1)]


def snap(h: Any, value: float) -> Any:
    """`value` clipped to `h`'s range and put on its step (a float range without a step: only
    clipped). Ints stay ints."""
    low, high = h.min_value, h.max_value
    step = getattr(h, "step", None)
    if isinstance(h, hps.Int):
        step = step or 1
    if step:
        # The last value on the grid, not `max_value` itself (0.3 // 0.1 is 2.0 in floats).
        last = int(math.floor((high - low) / step + 1e-9))
        index = min(max(round((value - low) / step), 0), last)
        snapped = low + index * step
        return int(snapped) if isinstance(h, hps.Int) else float(f"{snapped:.15g}")
    return float(min(max(value, low), high))


# --------------------------------------------------------------------------- oracle


def pbt_oracle(settings: OracleSettings) -> kt.Oracle:
    """The starting values of the population: a random sample of the space per member (one
    trial each), no more trials than members."""
    resolved = resolve(
        settings.options, settings.max_trials, settings.epochs, settings.hyperparameters
    )
    return kt.oracles.RandomSearchOracle(
        max_trials=resolved.population, **settings.oracle_arguments()
    )
