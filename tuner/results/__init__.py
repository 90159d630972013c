"""Results as tables and text: the ranked table and history from records (`tables`), their
rendering (`render`), and comparisons of campaigns (`comparison`). Reading a results folder is the
store's job (`tuner.store.folder`); its functions are re-exported here, imported on first use."""

from __future__ import annotations

import importlib
from typing import Any

from tuner.results.pareto import PARETO, pareto_front, pareto_mask
from tuner.results.render import (
    FORMATS,
    format_cell,
    format_table,
    settings_table,
    summary_markdown,
    to_markdown,
)
from tuner.results.tables import (
    FIXED_COLUMNS,
    INTERNAL_PREFIX,
    METRIC_PREFIX,
    HistoryCSV,
    history_table,
    infer_log,
    is_categorical,
    ranked_table,
    split_columns,
)

_LAZY = {
    "compare": "tuner.results.comparison",
    "campaign_runs": "tuner.results.comparison",
    "load": "tuner.store.folder",
    "load_history": "tuner.store.folder",
    "load_with_history": "tuner.store.folder",
    "load_campaign_settings": "tuner.store.folder",
    "resolve_folder": "tuner.store.folder",
    "write_results": "tuner.store.disk",
    "TRIALS_FILE": "tuner.store.folder",
    "HISTORY_FILE": "tuner.store.folder",
    "SUMMARY_FILE": "tuner.store.folder",
    "CAMPAIGN_FILE": "tuner.store.folder",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'tuner.results' has no attribute {name!r}")
    return getattr(importlib.import_module(_LAZY[name]), name)


__all__ = [
    "PARETO",
    "pareto_front",
    "pareto_mask",
    "FORMATS",
    "format_cell",
    "format_table",
    "settings_table",
    "summary_markdown",
    "to_markdown",
    "FIXED_COLUMNS",
    "INTERNAL_PREFIX",
    "METRIC_PREFIX",
    "HistoryCSV",
    "history_table",
    "infer_log",
    "is_categorical",
    "ranked_table",
    "split_columns",
    *_LAZY,
]
