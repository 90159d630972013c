"""Pruning: stop a trial whose objective, epoch by epoch, shows it will not win.

Two rules, each a pure function of the earlier trials' objective histories and this trial's
(`should_prune`), so they are tested without Keras:

- **median** (Optuna's `MedianPruner`): from epoch ``warmup + 1`` on, once at least
  `startup_trials` earlier trials reached the epoch, stop a trial whose best objective so far
  is worse than the median of those trials' objective at that epoch.
- **asha** (asynchronous successive halving, Optuna's `SuccessiveHalvingPruner`): rungs at
  ``min_epochs * factor**k`` epochs; at a rung a trial goes on only if its objective there is
  among the top ``1/factor`` of every trial that reached the rung, itself included (with fewer
  than `factor` of them, only the best so far goes on).

"Earlier" trials are those saved before this one started and, in a pack, the towers before it
in trial order: so a pack prunes as the same trials would, one after another. A trial is never
pruned at its last epoch (nothing would be saved).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tuner.direction import gain
from tuner.errors import ConfigError, did_you_mean

KINDS = ("median", "asha")
WORDS = KINDS + ("none", "auto")
# What ``pruning = "auto"`` (the default) means for strategies that may prune; Hyperband and
# PBT prune by design and never take a pruner. ASHA, from measurement (benchmarks/pruning.py,
# the textbook campaign, 100 trials x 50 epochs, packed): the same best score as no pruning
# (0.74) with 702 of 5,000 epochs in 14.8 s against 26.5 s; median kept it too, with 2,048
# epochs in 23.0 s (its trials stop later, so packs shrink later).
DEFAULT_KIND = "asha"
KEYS: dict[str, dict[str, type]] = {
    "median": {"kind": str, "warmup": int, "startup_trials": int, "shrink": bool},
    "asha": {"kind": str, "min_epochs": int, "factor": int, "shrink": bool},
}
LOWEST = {"warmup": 0, "startup_trials": 1, "min_epochs": 1, "factor": 2}


@dataclass(frozen=True)
class PruningRule:
    """A validated pruner: `kind` ("median" or "asha") and its settings. `shrink`: a pack
    whose towers stop moves its survivors into a smaller stack (faster; their results agree
    with an unpruned run's to float rounding), else it keeps them in place (bit-identical)."""

    kind: str
    warmup: int = 5
    startup_trials: int = 5
    min_epochs: int = 1
    factor: int = 3
    shrink: bool = True

    def rungs(self, epochs: int) -> list[int]:
        """ASHA's rungs below `epochs` (a rung at the last epoch would save nothing)."""
        found, rung = [], self.min_epochs
        while rung < epochs:
            found.append(rung)
            rung *= self.factor
        return found


def pruning_rule(
    value: Any, strategy: str = "random", prunes_by_design: bool = False
) -> PruningRule | None:
    """The rule a campaign's ``pruning`` value asks for (None: no pruning), or one
    `ConfigError` line naming the key, the value and what is accepted. ``"auto"`` is the
    toolkit's default (`DEFAULT_KIND`; none for a strategy that `prunes_by_design`, such as
    Hyperband); an explicit pruner with such a `strategy` is refused."""
    if isinstance(value, str):
        if value not in WORDS:
            accepted = ", ".join(f'"{w}"' for w in WORDS)
            raise ConfigError(
                f"pruning must be one of {accepted} or a table such as "
                f'{{ kind = "median", warmup = 5 }}, but got {value!r}'
                f"{did_you_mean(value, WORDS)}."
            )
        if value == "auto":
            value = "none" if prunes_by_design else DEFAULT_KIND
        if value == "none":
            return None
        table: Mapping[str, Any] = {"kind": value}
    elif isinstance(value, Mapping):
        table = value
    else:
        raise ConfigError(
            f'pruning must be "median", "asha", "none" or a table such as '
            f'{{ kind = "asha", factor = 3 }}, but got {type(value).__name__} {value!r}.'
        )
    rule = _rule_from_table(table)
    if prunes_by_design:
        raise ConfigError(
            f"pruning = {rule.kind!r} does not go with strategy = {strategy!r}, which prunes "
            'by design; remove pruning (or set pruning = "none").'
        )
    return rule


def has_room(rule: PruningRule, epochs: int) -> bool:
    """Whether the default pruner has room to work in trials of `epochs`: the median past its
    warmup; ASHA with two rungs below the last epoch (``min_epochs * factor**2 < epochs``: 9
    epochs at its defaults). Shorter trials train in full: their first epochs say little, and
    there is little to save. A pruner the campaign names is used as it asks."""
    if rule.kind == "median":
        return rule.warmup < epochs
    return rule.min_epochs * rule.factor**2 < epochs


def _rule_from_table(table: Mapping[str, Any]) -> PruningRule:
    kind = table.get("kind")
    if kind not in KINDS:
        hint = did_you_mean(kind, KINDS) if isinstance(kind, str) else ""
        raise ConfigError(
            f'pruning kind must be "median" or "asha", but got {kind!r}{hint}.'
            if "kind" in table
            else 'pruning needs a kind: pruning = { kind = "median" } or { kind = "asha" }.'
        )
    allowed = KEYS[kind]
    for key, setting in table.items():
        if key not in allowed:
            raise ConfigError(
                f"pruning: unknown key {key!r} for kind {kind!r}{did_you_mean(key, allowed)}; "
                f"accepted: {', '.join(sorted(allowed))}."
            )
        if key == "kind":
            continue
        if allowed[key] is bool:
            if not isinstance(setting, bool):
                raise ConfigError(
                    f"pruning {key} must be true or false, but got "
                    f"{type(setting).__name__} {setting!r}."
                )
            continue
        if isinstance(setting, bool) or not isinstance(setting, int):
            raise ConfigError(
                f"pruning {key} must be an integer, but got {type(setting).__name__} {setting!r}."
            )
        if setting < LOWEST[key]:
            raise ConfigError(f"pruning {key} must be at least {LOWEST[key]}, but got {setting}.")
    return PruningRule(**{k: v for k, v in table.items()})


def should_prune(
    rule: PruningRule,
    earlier: Sequence[Sequence[float]],
    current: Sequence[float],
    direction: str,
    epochs: int,
) -> bool:
    """Whether a trial whose objective so far is `current` (one value an epoch, epoch 1
    first) stops now, given the `earlier` trials' objective histories, the objective's
    `direction` and the `epochs` the trial would train. Not a finite value is the worst."""
    epoch = len(current)
    if epoch == 0 or epoch >= epochs:
        return False
    reached = [_gain(h[epoch - 1], direction) for h in earlier if len(h) >= epoch]
    if rule.kind == "median":
        if epoch <= rule.warmup or len(reached) < rule.startup_trials:
            return False
        best = max(_gain(v, direction) for v in current)
        return best < _median(reached)
    if epoch not in rule.rungs(epochs):
        return False
    competing = sorted(reached + [_gain(current[-1], direction)], reverse=True)
    threshold = competing[max(len(competing) // rule.factor - 1, 0)]
    return _gain(current[-1], direction) < threshold


def _gain(value: float, direction: str) -> float:
    value = float(value)
    return gain(value, direction) if math.isfinite(value) else -math.inf


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2  # gains are finite or -inf: no NaN


__all__ = ["DEFAULT_KIND", "KINDS", "PruningRule", "has_room", "pruning_rule", "should_prune"]
