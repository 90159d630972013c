"""Regularised ("aging") evolution (Real et al. 2019) as a KerasTuner `Oracle`.

The first `population` trials are a space-filling random design. After them, each proposal
samples `sample` members of the population, and the best of the sample (by the objective) is
mutated into the child; the population is the `population` most recently started trials that
finished with a score, so each child pushes out the oldest member, however good it was.
Failed trials never join the population; trials still running join it when they finish.

Nothing but the oracle's own trials is state: a proposal is a function of them (in the order
they started), of the seed and of how many trials there are, so a resumed campaign proposes
exactly what an uninterrupted one does (as tpe's replay). A child that repeats a trial (one
that ran, failed or is still running: a batch's earlier proposals count) is mutated again,
then from another sample; random untried values replace it after that.

Own code, not DEAP: DEAP's algorithms are generational (no aging population), its operators
mutate flat lists through the global ``random`` module (a seed there would reseed the whole
process) and know nothing of choices or conditional entries, which is where the work is here
(`tuner.strategies.mutation`); the algorithm itself is a dozen lines.
"""

from __future__ import annotations

import math
from typing import Any

import keras_tuner as kt
import numpy as np
from keras_tuner.engine import trial as trial_module

from tuner.direction import loss
from tuner.strategies.mutation import Mutation, design_point, mutate, random_point
from tuner.strategies.oracles_kt import fix_seed, was_tried
from tuner.strategies.proposals import answer, proposal_seed
from tuner.strategies.registry import OracleSettings, check_evolution

MAX_POPULATION = 20
# Mutations of one sample's best tried before another sample is drawn, and samples in all,
# before a repeated child gives way to random untried values.
TRIES_PER_PARENT = 4
PARENTS = 5


def default_population(max_trials: int | None) -> int:
    """A third of the budget, between 2 and 20 (Real et al. used 100 of 20,000)."""
    if not max_trials:
        return MAX_POPULATION
    return max(2, min(MAX_POPULATION, max_trials // 3))


def default_sample(population: int) -> int:
    """A quarter of the population, at least 2 (Real et al.'s ratio, 25 of 100)."""
    return min(population, max(2, round(population / 4)))


class EvolutionOracle(kt.Oracle):
    """A KerasTuner oracle whose proposals come from regularised evolution."""

    def __init__(
        self,
        objective: kt.Objective,
        max_trials: int,
        hyperparameters: kt.HyperParameters,
        seed: int = 0,
        population: int | None = None,
        sample: int | None = None,
        mutations: int = 1,
        scale: float = 0.1,
        resample: float = 0.1,
        **kwargs: Any,
    ):
        # Sized to the budget the campaign started with: kept when a resume raises max_trials.
        self._sized_to_budget = population is None
        if population is None:
            population = max(default_population(max_trials), sample or 0)
        if sample is None:
            sample = default_sample(population)
        check_evolution(
            dict(
                population=population,
                sample=sample,
                mutations=mutations,
                scale=scale,
                resample=resample,
            )
        )
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            seed=seed,
            **kwargs,
        )
        fix_seed(self, seed)
        self.population, self.sample = population, sample
        self.mutation = Mutation(changes=mutations, scale=float(scale), resample=float(resample))

    def _in_start_order(self) -> list[trial_module.Trial]:
        started = dict.fromkeys(t for t in self.start_order if t in self.trials)
        return [self.trials[t] for t in [*started, *(t for t in self.trials if t not in started)]]

    def members(self) -> list[tuple[dict[str, Any], float]]:
        """The population now: the values and loss (lower is better) of the `population` most
        recently started trials that finished with a finite score, oldest first."""
        direction = "max" if self.objective.direction == "max" else "min"
        alive = []
        for trial in self._in_start_order():
            score = trial.score
            if (
                trial.status == trial_module.TrialStatus.COMPLETED
                and score is not None
                and math.isfinite(score)
            ):
                alive.append((dict(trial.hyperparameters.values), loss(score, direction)))
        return alive[-self.population :]

    def _propose(self) -> dict[str, Any]:
        """Values for the next trial: a point of the initial design, or a mutated child."""
        space = self.hyperparameters.space
        n = len(self.trials)
        if n < self.population:
            return design_point(space, n, self.population, self.seed)
        rng = np.random.default_rng(proposal_seed(self.seed, n))
        members = self.members()
        if not members:  # nothing has finished yet (a large first batch): explore
            return random_point(space, rng)
        child: dict[str, Any] = {}
        for _ in range(PARENTS):
            drawn = rng.choice(len(members), min(self.sample, len(members)), replace=False)
            parent = members[min(drawn, key=lambda i: (members[i][1], i))][0]
            for _ in range(TRIES_PER_PARENT):
                child = mutate(space, parent, rng, self.mutation)
                if not was_tried(self, child):
                    return child
        return child  # a repeat: `answer` replaces it with untried random values

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        return answer(self, self._propose())

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state.update(
            population=self.population,
            sample=self.sample,
            mutations=self.mutation.changes,
            scale=self.mutation.scale,
            resample=self.mutation.resample,
        )
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        if self._sized_to_budget and "population" in state:
            self.population = state["population"]
            self.sample = state["sample"]


def evolution_oracle(settings: OracleSettings) -> kt.Oracle:
    """The registry's factory for ``evolution``: called by `create_oracle`."""
    return EvolutionOracle(
        max_trials=settings.max_trials, **settings.oracle_arguments(), **settings.options
    )
