"""Search strategies: each turns a campaign's space into a KerasTuner `Oracle` that decides the
next trial. A new strategy is one entry in `registry.STRATEGIES` (its options, its factory, its
traits) and one module with the factory.

Light to import: the registry loads now; names that need KerasTuner load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from tuner.strategies.registry import (
    STRATEGIES,
    OracleSettings,
    Strategy,
    create_oracle,
    get_strategy,
    strategy_names,
)

_LAZY = {
    "end_trial": "tuner.strategies.oracles_kt",
    "is_client": "tuner.strategies.oracles_kt",
    "SkoptOracle": "tuner.strategies.bayesian",
    "TPEOracle": "tuner.strategies.tpe",
    "EvolutionOracle": "tuner.strategies.evolution",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tuner.strategies' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = [
    "create_oracle",
    "end_trial",
    "is_client",
    "get_strategy",
    "strategy_names",
    "Strategy",
    "OracleSettings",
    "STRATEGIES",
    "SkoptOracle",
    "TPEOracle",
    "EvolutionOracle",
]
