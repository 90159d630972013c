"""KerasTuner's hyperparameter conditions, as the space code uses them. A ``*_kt`` module: one of
the only ones that touch KerasTuner's private attributes (tests/test_keras_tuner_seam.py pins
what is relied on here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import keras_tuner as kt


def conditions_hold(hp: kt.HyperParameters, conditions: Sequence[Any]) -> bool:
    """Whether every one of a hyperparameter's `conditions` holds for `hp`'s values (KerasTuner
    keeps this check private: ``HyperParameters._conditions_are_active``)."""
    held: bool = hp._conditions_are_active(conditions)
    return held
