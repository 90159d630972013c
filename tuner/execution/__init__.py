"""Executors: the seam where trials are trained. The loop hands an executor the trials the
oracle gave out and gets one `TrialOutcome` per trial back."""

from tuner.execution.base import (
    Executor,
    PackEpoch,
    TrialContext,
    TrialOutcome,
    Unstarted,
    trials_per_run,
)
from tuner.execution.packed import PackedExecutor
from tuner.execution.sequential import SequentialExecutor, trial_seed

__all__ = [
    "Executor",
    "PackEpoch",
    "TrialContext",
    "TrialOutcome",
    "Unstarted",
    "SequentialExecutor",
    "PackedExecutor",
    "trial_seed",
    "trials_per_run",
]
