"""Hyperparameter tuning for Keras: model builders, four search strategies, ranked results.

    import tuner
    found = tuner.search("experiments/quickstart.toml")
    found.table.head()              # ranked pandas DataFrame
    found.best_hyperparameters      # dict
    model = found.best_model()      # keras.Model at its best epoch

Names are imported on first use, so ``import tuner.errors`` (or the CLI's argument parsing)
does not pay for importing Keras; the first name that needs Keras imports it without
TensorFlow's start-up lines (see `tuner.quiet`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import Any
del TYPE_CHECKING  # the namespace holds the public API only (private names aside)

_EXPORTS = {
    "search": "tuner.api",
    "Results": "tuner.run",
    "load_results": "tuner.api",
    "Campaign": "tuner.campaign",
    "load_campaign": "tuner.campaign",
    "load_dataset": "tuner.datasets",
    "Dataset": "tuner.datasets",
    "DataSpec": "tuner.datasets",
    "dataset_from_arrays": "tuner.datasets",
    "Preprocessing": "tuner.preprocessing",
    "MLPHyperModel": "tuner.builders.mlp",
    "build_mlp": "tuner.builders.mlp",
    "get_builder": "tuner.builders",
    "resolve_builder": "tuner.builders",
    "create_oracle": "tuner.strategies",
    "Study": "tuner.study",
    "StudyTrial": "tuner.study",
    "lr_find": "tuner.lr_finder",
    "find_learning_rate": "tuner.lr_finder",
    "LRRangeTest": "tuner.lr_finder",
    "load": "tuner.results",
    "compare": "tuner.results",
    "write_report": "tuner.report",
    "replay_pbt": "tuner.pbt_replay",
    "ConfigError": "tuner.errors",
    "TrialError": "tuner.errors",
    "Fatal": "tuner.errors",
    "FailedTrial": "tuner.errors",
}

__all__ = sorted(_EXPORTS)

# Modules that never import Keras: reaching them should not cost its import.
_WITHOUT_KERAS = {"tuner.errors", "tuner.campaign", "tuner.results", "tuner.report"}


def __dir__() -> list[str]:
    """The public API (what tab completion offers), though its names are imported lazily."""
    return list(__all__)


def __getattr__(name: str) -> Any:
    import importlib

    if name not in _EXPORTS:
        raise AttributeError(f"module 'tuner' has no attribute {name!r}")
    module = _EXPORTS[name]
    if module not in _WITHOUT_KERAS:
        from tuner.quiet import import_keras_quietly

        import_keras_quietly()
    return getattr(importlib.import_module(module), name)
