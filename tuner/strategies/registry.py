"""The strategy registry: every search strategy is one `Strategy` entry in `STRATEGIES`.

Import-light on purpose: the campaign validation and the CLI read it before Keras loads, so
nothing here imports keras_tuner, keras or skopt at import time; a strategy's factory is
imported only when `create_oracle` builds its oracle.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from tuner.direction import check_direction
from tuner.errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    import keras_tuner as kt

OptionType = type | tuple[type, ...]

SURROGATES = ("GP", "RF", "ET", "GBRT")
ACQUISITIONS = ("EI", "PI", "LCB", "gp_hedge")


@dataclass(frozen=True)
class OracleSettings:
    """What a strategy's factory gets: the campaign's settings, options already checked."""

    objective: kt.Objective
    hyperparameters: kt.HyperParameters
    max_trials: int
    seed: int = 0
    epochs: int = 20
    options: Mapping[str, Any] = field(default_factory=dict)
    max_consecutive_failures: int = 10
    tune_new_entries: bool = False
    # Every objective's (name, direction) when there are several (`objective` is the first).
    objectives: tuple[tuple[str, str], ...] = ()
    # What ``auto`` chose when the search started (resumed from its saved state), which it
    # keeps: None for a new search.
    auto_choice: str | None = None

    def oracle_arguments(self) -> dict[str, Any]:
        """Keyword arguments every KerasTuner oracle takes. `tune_new_entries`: a hyperparameter
        that a trial declares and the space lacks (one a builder's ``fit`` declares, or a
        branch the exploration did not reach) joins the space, searched from the next trial
        on; otherwise it keeps its default."""
        return dict(
            objective=self.objective,
            hyperparameters=self.hyperparameters,
            seed=self.seed,
            tune_new_entries=self.tune_new_entries,
            allow_new_entries=True,
            max_consecutive_failed_trials=self.max_consecutive_failures,
        )


OptionCheck = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class Strategy:
    """One search strategy.

    `options` maps each ``[strategy_options]`` key to its accepted type(s); `factory` is
    ``"module:function"``, imported only when an oracle is built, and called with an
    `OracleSettings`; `check` (optional) refuses option values of the right type that the
    strategy cannot use. `trains_from_parent`: a trial may continue a parent trial's weights
    (``tuner/trial_id``). `needs_stepped_ranges`: every float range needs a step.
    `learns_from_results`: each proposal is made from a model of the results so far (a
    batch's proposals then learn less from each other: packs are capped).
    `prunes_by_design`: the strategy decides itself how long each trial trains (Hyperband's
    brackets, PBT's exploit steps): a pruner would fight it, so ``pruning`` is refused.
    `trains_itself`: the strategy is carried out by its own executor (PBT copies weights
    between members as they train), not by proposals alone: ask and tell cannot serve it.
    `multi_objective`: it searches several objectives at once (a Pareto front), or ignores
    scores altogether; the others are refused for a campaign with several.
    """

    name: str
    description: str
    options: Mapping[str, OptionType]
    factory: str
    trains_from_parent: bool = False
    needs_stepped_ranges: bool = False
    learns_from_results: bool = False
    multi_objective: bool = False
    prunes_by_design: bool = False
    trains_itself: bool = False
    check: OptionCheck | None = None

    def __post_init__(self) -> None:
        module, _, function = self.factory.partition(":")
        if not module or not function:
            raise ValueError(
                f"a strategy's factory must be 'module:function', but got "
                f"{self.factory!r} for {self.name!r}."
            )
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Refuse unknown keys, wrong types and unusable values with a `ConfigError`. Called by
        the campaign validation and by `create_oracle`, before anything is built."""
        for key, value in options.items():
            if key not in self.options:
                accepted = ", ".join(sorted(self.options)) or "none"
                raise ConfigError(
                    f"[strategy_options] unknown key {key!r}"
                    f"{did_you_mean(key, self.options)} for strategy "
                    f"{self.name!r}; accepted: {accepted}."
                )
            _check_type(f"[strategy_options] {key}", value, self.options[key])
        if self.check is not None:
            self.check(options)

    def load_factory(self) -> Callable[[OracleSettings], kt.Oracle]:
        """The factory function, imported now."""
        module, _, function = self.factory.partition(":")
        return getattr(importlib.import_module(module), function)


def _type_name(expected: OptionType) -> str:
    names = [
        "number" if t in (int, float) else t.__name__
        for t in (expected if isinstance(expected, tuple) else (expected,))
    ]
    return " or ".join(dict.fromkeys(names))


def _check_type(key: str, value: Any, expected: OptionType) -> None:
    # bool is an int in Python, but `factor = true` is a mistake, not a 1.
    if isinstance(value, bool) and expected is not bool:
        raise ConfigError(f"{key} must be a {_type_name(expected)}, but got {value!r}.")
    if not isinstance(value, expected):
        raise ConfigError(
            f"{key} must be a {_type_name(expected)}, but got {type(value).__name__} {value!r}."
        )


def _at_least(options: Mapping[str, Any], key: str, low: int) -> None:
    if key in options and options[key] < low:
        raise ConfigError(
            f"[strategy_options] {key} must be at least {low}, but got {options[key]!r}."
        )


def check_bayesian(options: Mapping[str, Any]) -> None:
    """Surrogate and acquisition names skopt knows; at least one initial point and candidate."""
    if options.get("surrogate", "GP") not in SURROGATES:
        raise ConfigError(
            f"[strategy_options] surrogate must be one of {list(SURROGATES)}, "
            f"but got {options['surrogate']!r}."
        )
    if options.get("acquisition", "EI") not in ACQUISITIONS:
        raise ConfigError(
            f"[strategy_options] acquisition must be one of "
            f"{list(ACQUISITIONS)}, but got {options['acquisition']!r}."
        )
    _at_least(options, "initial_points", 1)
    _at_least(options, "candidates", 1)


def check_hyperband(options: Mapping[str, Any]) -> None:
    """Brackets that KerasTuner can build (``min_epochs = 0`` would never end)."""
    _at_least(options, "factor", 2)
    _at_least(options, "max_epochs", 2)
    _at_least(options, "iterations", 1)
    _at_least(options, "min_epochs", 1)
    if "min_epochs" in options and "max_epochs" in options:
        check_epoch_range(options["min_epochs"], options["max_epochs"])


def check_tpe(options: Mapping[str, Any]) -> None:
    """At least one initial point and one candidate a proposal."""
    _at_least(options, "initial_points", 1)
    _at_least(options, "candidates", 1)


def check_pbt(options: Mapping[str, Any]) -> None:
    """Option values PBT can use (types are the registry's): checked before anything runs."""
    for key, low in (("population", 2), ("ready", 1)):
        if key in options and options[key] < low:
            raise ConfigError(
                f"[strategy_options] {key} must be at least {low}, but got {options[key]!r}."
            )
    quantile = options.get("quantile", 0.25)
    if not 0 < quantile <= 0.5:
        raise ConfigError(
            f"[strategy_options] quantile must be in (0, 0.5] (the bottom and top fractions "
            f"of the population), but got {quantile!r}."
        )
    resample = options.get("resample_probability", 0.25)
    if not 0 <= resample <= 1:
        raise ConfigError(
            f"[strategy_options] resample_probability must be in [0, 1], but got {resample!r}."
        )
    perturb = options.get("perturb", [0.8, 1.2])
    if (
        len(perturb) != 2
        or not all(isinstance(f, (int, float)) and not isinstance(f, bool) for f in perturb)
        or not all(f > 0 for f in perturb)
    ):
        raise ConfigError(
            f"[strategy_options] perturb must be two positive factors such as [0.8, 1.2], "
            f"but got {perturb!r}."
        )
    explore = options.get("explore", [])
    if not all(isinstance(name, str) for name in explore):
        raise ConfigError(
            f"[strategy_options] explore must be a list of hyperparameter names, "
            f"but got {explore!r}."
        )


def check_evolution(options: Mapping[str, Any]) -> None:
    """A population that a sample fits in, at least one change a child, a scale and a
    probability that mean something."""
    _at_least(options, "population", 2)
    _at_least(options, "sample", 2)
    _at_least(options, "mutations", 1)
    if "population" in options and options.get("sample", 0) > options["population"]:
        raise ConfigError(
            f"[strategy_options] sample must be at most population, but got "
            f"sample={options['sample']!r}, population={options['population']!r}."
        )
    if "scale" in options and not 0 < options["scale"] <= 1:
        raise ConfigError(
            f"[strategy_options] scale must be in (0, 1] (a fraction of each range, on its "
            f"scale), but got {options['scale']!r}."
        )
    if "resample" in options and not 0 <= options["resample"] <= 1:
        raise ConfigError(
            f"[strategy_options] resample must be a probability in [0, 1], but got "
            f"{options['resample']!r}."
        )


def check_epoch_range(min_epochs: int, max_epochs: int) -> None:
    """Hyperband's smallest budget must fit in its largest."""
    if min_epochs > max_epochs:
        raise ConfigError(
            f"[strategy_options] min_epochs must be at most max_epochs, but got "
            f"min_epochs={min_epochs!r}, max_epochs={max_epochs!r}."
        )


STRATEGIES: dict[str, Strategy] = {
    "random": Strategy(
        "random",
        "uniform random samples of the space, without repeats",
        options={},
        factory="tuner.strategies.keras_oracles:random_oracle",
        multi_objective=True,
    ),
    "grid": Strategy(
        "grid",
        "every combination of the space's values, in order",
        options={},
        factory="tuner.strategies.keras_oracles:grid_oracle",
        needs_stepped_ranges=True,
        multi_objective=True,
    ),
    "bayesian": Strategy(
        "bayesian",
        "scikit-optimize's ask/tell Bayesian optimisation (GP, RF, ET, GBRT)",
        options={
            "surrogate": str,
            "acquisition": str,
            "initial_points": int,
            "xi": (int, float),
            "kappa": (int, float),
            "candidates": int,
        },
        factory="tuner.strategies.bayesian:bayesian_oracle",
        learns_from_results=True,
        check=check_bayesian,
    ),
    "hyperband": Strategy(
        "hyperband",
        "Hyperband: many short trials, the best continued for more epochs",
        options={"max_epochs": int, "factor": int, "iterations": int, "min_epochs": int},
        factory="tuner.strategies.keras_oracles:hyperband_oracle",
        trains_from_parent=True,
        prunes_by_design=True,
        check=check_hyperband,
    ),
    "tpe": Strategy(
        "tpe",
        "Optuna's Tree-structured Parzen Estimator (multivariate, conditionals apart)",
        options={"initial_points": int, "multivariate": bool, "candidates": int},
        factory="tuner.strategies.tpe:tpe_oracle",
        learns_from_results=True,
        multi_objective=True,
        check=check_tpe,
    ),
    "pbt": Strategy(
        "pbt",
        "Population Based Training: a population trained together, the worst copying the best",
        options={
            "population": int,
            "ready": int,
            "quantile": (int, float),
            "resample_probability": (int, float),
            "perturb": list,
            "explore": list,
        },
        factory="tuner.strategies.pbt:pbt_oracle",
        prunes_by_design=True,
        trains_itself=True,
        check=check_pbt,
    ),
    "evolution": Strategy(
        "evolution",
        "regularised (aging) evolution: the best of a sample of the population, mutated",
        options={
            "population": int,
            "sample": int,
            "mutations": int,
            "scale": (int, float),
            "resample": (int, float),
        },
        factory="tuner.strategies.evolution:evolution_oracle",
        learns_from_results=True,
        check=check_evolution,
    ),
    "auto": Strategy(
        "auto",
        "by space and budget: bayesian for 50-200 trials, half continuous; else tpe",
        options={},
        factory="tuner.strategies.auto:auto_oracle",
        learns_from_results=True,
        multi_objective=True,
    ),
}


def check_multi_objective(name: str) -> None:
    """Refuse several objectives for a strategy that optimises one (none sums them), naming
    the strategies that take several, those that learn from results first."""
    if get_strategy(name).multi_objective:
        return
    usable = sorted(
        (s for s in STRATEGIES.values() if s.multi_objective),
        key=lambda s: not s.learns_from_results,
    )
    raise ConfigError(
        f"strategy {name!r} optimises one objective, but objective lists several; use "
        f"strategy = {' or '.join(repr(s.name) for s in usable)}, or one objective."
    )


def strategy_names() -> tuple[str, ...]:
    """The registered strategy names, in registration order."""
    return tuple(STRATEGIES)


def get_strategy(name: str) -> Strategy:
    """The registered strategy called `name`; a `ConfigError` naming the accepted ones if none."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ConfigError(
            f"unknown strategy {name!r}{did_you_mean(name, STRATEGIES)}; "
            f"accepted: {', '.join(STRATEGIES)}."
        ) from None


def create_oracle(
    strategy: str,
    *,
    objective: kt.Objective | str,
    hyperparameters: kt.HyperParameters,
    max_trials: int,
    seed: int = 0,
    epochs: int = 20,
    options: Mapping[str, Any] | None = None,
    max_consecutive_failures: int = 10,
    direction: str | None = None,
    tune_new_entries: bool = False,
    objectives: tuple[tuple[str, str], ...] = (),
    auto_choice: str | None = None,
) -> kt.Oracle:
    """The oracle for a registered strategy, deterministic for a seed (``seed=0`` included) and
    silent (the caller reports trials). Called once per campaign run, before the project folder
    is set; every option is checked before anything is built.

    `objective` is a ``kt.Objective``; the older form, a metric name with `direction`
    (``"min"``/``"max"``), still works. `objectives`: every objective's (name, direction)
    when there are several, the first `objective`'s (a strategy without `multi_objective`
    refuses them: none sums them). `auto_choice`: the strategy ``auto`` chose when a resumed
    search started (`AutoChoiceChanged.saved`), which it keeps.
    """
    entry = get_strategy(strategy)
    options = dict(options or {})
    entry.check_options(options)
    if len(objectives) > 1:
        check_multi_objective(strategy)
    from tuner.strategies import oracles_kt  # imports keras_tuner: only when building

    settings = OracleSettings(
        objective=_objective(objective, direction),
        hyperparameters=hyperparameters,
        max_trials=max_trials,
        seed=seed,
        epochs=epochs,
        options=options,
        max_consecutive_failures=max_consecutive_failures,
        tune_new_entries=tune_new_entries,
        objectives=tuple(objectives) if len(objectives) > 1 else (),
        auto_choice=auto_choice,
    )
    oracle = entry.load_factory()(settings)
    oracles_kt.fix_seed(oracle, seed)
    oracles_kt.silence(oracle)
    return oracle


def _objective(objective: kt.Objective | str, direction: str | None) -> kt.Objective:
    import keras_tuner as kt

    if isinstance(objective, str):
        return kt.Objective(objective, check_direction(direction))
    if direction is not None:
        raise TypeError("direction is only for a metric name; a kt.Objective has its own.")
    return objective
