"""TPE: Optuna's `TPESampler` (multivariate, grouped, constant liar) as a KerasTuner `Oracle`.

The only module that imports optuna. The Optuna study is not part of the saved state, and not
kept between proposals either: each proposal replays the oracle's trials (in the order they
started: finished ones with their score, failed ones as failed, running ones as running) into
a fresh in-memory study, and asks a sampler seeded from the campaign's seed and the number of
trials so far. A proposal is therefore a function of the oracle's saved state alone: a resumed
campaign proposes exactly what an uninterrupted one would, and a trial whose proposal was
replaced (a repeat) is told with the values it really ran.

Several objectives (a campaign's ``objective = [...]``) make a multi-objective study: each
finished trial is told the tuple of its values (the loop reports every objective among the
trial's metrics), never their sum.

Batches need no planning: the trials handed out earlier in a batch are running trials of the
study, which the constant liar counts as bad results, so the next proposal goes elsewhere.
"""

from __future__ import annotations

import logging
import math
import warnings
from typing import Any

import keras_tuner as kt
import optuna
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine import trial as trial_module
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import TrialState

from tuner.space_kt import conditions_hold
from tuner.strategies.oracles_kt import fix_seed
from tuner.strategies.proposals import (
    answer,
    grid_index,
    grid_value,
    is_stepped,
    keep_auto_choice,
    note_auto_choice,
    proposal_seed,
)
from tuner.strategies.registry import OracleSettings, check_tpe

STORAGE_LOGGER = "optuna.storages._in_memory"

# Optuna's own default; fewer for small budgets, so that TPE models most of them.
MAX_INITIAL_POINTS = 10


def default_initial_points(max_trials: int | None) -> int:
    """Random trials before TPE takes over: a quarter of the budget, between 3 and 10."""
    if not max_trials:
        return MAX_INITIAL_POINTS
    return max(3, min(MAX_INITIAL_POINTS, max_trials // 4))


def distribution(h: hp_module.HyperParameter) -> BaseDistribution | None:
    """The Optuna distribution for one KerasTuner hyperparameter (None for Fixed). A stepped
    range is searched through the index of its grid of values, which keeps their order."""
    if isinstance(h, hp_module.Fixed):
        return None
    if isinstance(h, hp_module.Boolean):
        return CategoricalDistribution([False, True])
    if isinstance(h, hp_module.Choice):
        return CategoricalDistribution(list(h.values))
    if is_stepped(h):
        return IntDistribution(0, len(list(h.values)) - 1)
    log = h.sampling == "log"
    if isinstance(h, hp_module.Int):
        return IntDistribution(h.min_value, h.max_value, log=log)
    return FloatDistribution(h.min_value, h.max_value, log=log)


def _inside(dist: BaseDistribution, value: Any) -> bool:
    """Whether `value` is one `dist` can propose."""
    if isinstance(dist, CategoricalDistribution):
        return any(type(value) is type(c) and value == c for c in dist.choices)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    assert isinstance(dist, (IntDistribution, FloatDistribution))
    return dist.low <= value <= dist.high


def _suggest(trial: optuna.Trial, key: str, dist: BaseDistribution) -> Any:
    """The value TPE proposes for one entry, as a plain Python value."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(key, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(key, dist.low, dist.high, step=dist.step, log=dist.log)
    assert isinstance(dist, FloatDistribution)
    return float(trial.suggest_float(key, dist.low, dist.high, log=dist.log))


class TPEOracle(kt.Oracle):
    """A KerasTuner oracle whose proposals come from Optuna's TPE sampler.

    A conditional hyperparameter is proposed only when its parents' values allow it (TPE's
    ``group=True`` models each such subspace apart), and a proposal that was already tried is
    replaced by an untried random point.
    """

    def __init__(
        self,
        objective: kt.Objective,
        max_trials: int,
        hyperparameters: kt.HyperParameters,
        seed: int = 0,
        initial_points: int | None = None,
        multivariate: bool = True,
        candidates: int = 24,
        objectives: tuple[tuple[str, str], ...] = (),
        **kwargs: Any,
    ):
        # Sized to the budget the campaign started with: kept when a resume raises max_trials.
        self._sized_to_budget = initial_points is None
        if initial_points is None:
            initial_points = default_initial_points(max_trials)
        check_tpe(dict(initial_points=initial_points, candidates=candidates))
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            seed=seed,
            **kwargs,
        )
        fix_seed(self, seed)
        # Several (name, direction): a multi-objective study; none: the one `objective`.
        self.objectives = tuple(objectives)
        self.initial_points, self.multivariate, self.candidates = (
            initial_points,
            multivariate,
            candidates,
        )

    # -- the search space -------------------------------------------------------------------
    def _entries(self) -> list[tuple[str, hp_module.HyperParameter, BaseDistribution | None]]:
        """Each entry of the space, with its Optuna name (a name that the space declares twice,
        under other conditions, gets its position added) and distribution (None: Fixed)."""
        entries = []
        seen: set[str] = set()
        for i, h in enumerate(self.hyperparameters.space):
            key = h.name if h.name not in seen else f"{h.name}#{i}"
            seen.add(h.name)
            entries.append((key, h, distribution(h)))
        return entries

    def _active(self, h: hp_module.HyperParameter, values: dict[str, Any]) -> bool:
        hp = kt.HyperParameters()
        hp.values = dict(values)
        return conditions_hold(hp, h.conditions)

    def _params(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """A trial's values as Optuna parameters and their distributions: the active entries
        whose value lies in the space (a value from an older, narrower space is left out)."""
        params: dict[str, Any] = {}
        dists: dict[str, BaseDistribution] = {}
        taken: set[str] = set()
        for key, h, dist in self._entries():
            if dist is None:
                continue
            if h.name in taken or h.name not in values or not self._active(h, values):
                continue
            value = grid_index(h, values[h.name]) if is_stepped(h) else values[h.name]
            if not _inside(dist, value):
                continue
            params[key], dists[key] = value, dist
            taken.add(h.name)
        return params, dists

    # -- the study --------------------------------------------------------------------------
    def _sampler(self) -> optuna.samplers.TPESampler:
        # One seed per proposal, from the campaign's seed and the trials so far: the same
        # proposal after a resume as without one.
        seed = proposal_seed(self.seed, len(self.trials))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.samplers.TPESampler(
                seed=seed,
                n_startup_trials=self.initial_points,
                n_ei_candidates=self.candidates,
                multivariate=self.multivariate,
                group=self.multivariate,
                constant_liar=True,
            )

    def _study(self) -> optuna.Study:
        """A fresh in-memory study told every trial so far, in the order they started."""
        storage = optuna.storages.InMemoryStorage()
        directions = [
            optuna.study.StudyDirection["MAXIMIZE" if d == "max" else "MINIMIZE"]
            for d in self._directions()
        ]
        # Optuna logs every new study at INFO: one a proposal here, so not this one.
        logger = logging.getLogger(STORAGE_LOGGER)
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            name = storage.get_study_name_from_id(storage.create_new_study(directions))
        finally:
            logger.setLevel(level)
        study = optuna.Study(name, storage, sampler=self._sampler())
        started = dict.fromkeys(t for t in self.start_order if t in self.trials)
        frozen = []
        for trial_id in [*started, *(t for t in self.trials if t not in started)]:
            trial = self.trials[trial_id]
            params, dists = self._params(trial.hyperparameters.values)
            frozen.append(
                optuna.trial.create_trial(
                    params=params, distributions=dists, **self._outcome(trial)
                )
            )
        study.add_trials(frozen)
        return study

    def _directions(self) -> list[str]:
        return [d for _, d in self.objectives] or [self.objective.direction]

    def _told_values(self, trial: trial_module.Trial) -> list[float] | None:
        """The trial's value of each objective (None when one is missing or not finite): its
        score alone, or every objective from its metrics."""
        if not self.objectives:
            found: list[Any] = [trial.score]
        else:
            found = [
                trial.metrics.get_last_value(name) if trial.metrics.exists(name) else None
                for name, _ in self.objectives
            ]
        if any(v is None or not math.isfinite(v) for v in found):
            return None
        return [float(v) for v in found]

    def _outcome(self, trial: trial_module.Trial) -> dict[str, Any]:
        status = trial.status
        if status in (trial_module.TrialStatus.RUNNING, trial_module.TrialStatus.IDLE):
            return {"state": TrialState.RUNNING}
        values = self._told_values(trial)
        if status == trial_module.TrialStatus.COMPLETED and values is not None:
            return {"state": TrialState.COMPLETE, "values": values}
        return {"state": TrialState.FAIL}

    def _propose(self) -> dict[str, Any]:
        """Values for the next trial, from TPE: each entry asked for only when its conditions
        hold for the values chosen before it (the space lists parents before children)."""
        entries = self._entries()
        values: dict[str, Any] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            # Nothing to tune: the one configuration, as random search runs it (no study).
            asked = None if all(d is None for _, _, d in entries) else self._study().ask()
            for key, h, dist in entries:
                if h.name in values or not self._active(h, values):
                    continue  # an earlier entry of this name is active, or this one is not
                if dist is None:
                    values[h.name] = h.value
                    continue
                assert asked is not None
                raw = _suggest(asked, key, dist)
                values[h.name] = grid_value(h, raw) if is_stepped(h) else raw
        return values

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        return answer(self, self._propose())

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state.update(
            initial_points=self.initial_points,
            multivariate=self.multivariate,
            candidates=self.candidates,
        )
        note_auto_choice(self, state)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        keep_auto_choice(self, state)
        super().set_state(state)
        if self._sized_to_budget and "initial_points" in state:
            self.initial_points = state["initial_points"]


def tpe_oracle(settings: OracleSettings) -> kt.Oracle:
    """The registry's factory for ``tpe``: called by `create_oracle`."""
    return TPEOracle(
        max_trials=settings.max_trials,
        objectives=settings.objectives,
        **settings.oracle_arguments(),
        **settings.options,
    )
