"""One function drives every strategy of ours: `run_ours`, over `create_oracle` (ask with
`tuner.loop.ask_batch`, tell with ``oracle.update_trial`` and `tuner.strategies.end_trial`, as
tests/test_strategy_contract.py does). Switching the suite to another ask-and-tell interface
is a change to this one function."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

from benchmarks.strategy_suite.problems import Problem
from tuner.builder_space import active_values
from tuner.strategies import STRATEGIES, create_oracle, end_trial

SCORE = kt.Objective("score", "min")


@dataclass
class Run:
    """What one run of a strategy on a problem left: each trial's active values and score in
    the order proposed, the seconds each proposal took, and (for ``auto``) what was chosen."""

    values: list[dict[str, Any]] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    ask_seconds: list[float] = field(default_factory=list)
    chosen: str = ""


def our_strategies() -> list[str]:
    """The registry's strategies that can serve an objective that is not Keras training: not
    those that continue a parent trial's weights (hyperband), need every range stepped
    (grid) or train their trials themselves (pbt). A strategy added to the registry joins the
    suite by itself."""
    return [
        name
        for name, s in STRATEGIES.items()
        if not s.trains_from_parent and not s.needs_stepped_ranges and not s.trains_itself
    ]


def run_ours(strategy: str, problem: Problem, seed: int, max_trials: int) -> Run:
    """Drive our `strategy` on `problem` for `max_trials` trials, one proposal at a time."""
    hp = problem.space()
    run = Run()
    with tempfile.TemporaryDirectory() as folder:
        oracle = create_oracle(
            strategy, objective=SCORE, hyperparameters=hp, max_trials=max_trials, seed=seed
        )
        oracle._set_project_dir(folder, "engine")
        run.chosen = getattr(oracle, "chosen_strategy", strategy)
        from tuner.loop import ask_batch

        while True:
            start = time.perf_counter()
            trials, _ = ask_batch(oracle, "chief", 1)
            run.ask_seconds.append(time.perf_counter() - start)
            if not trials:
                run.ask_seconds.pop()
                return run
            trial = trials[0]
            values = active_values(hp, trial.hyperparameters.values)
            values = {k: v for k, v in values.items() if not k.startswith("tuner/")}
            score = problem.score(values)
            run.values.append(values)
            run.scores.append(score)
            oracle.update_trial(trial.trial_id, {"score": score})
            trial.status = trial_module.TrialStatus.COMPLETED
            end_trial(oracle, trial)
