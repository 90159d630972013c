"""The learning-rate range test at the level of a campaign.

`tuner lr-find` runs it on a campaign's model and data (`run_lr_find`, `write_lr_find`);
a campaign with ``learning_rate = "auto"`` or ``"auto-fixed"`` has it run before the search
(`resolve_auto_learning_rate`), and the search then tunes within a decade either side of the
``valley`` suggestion, or keeps that one rate. The suggestion is stored in
``<folder>/lr_find.json`` so that a resumed campaign searches exactly the same space.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from tuner import backends
from tuner.builders import get_builder
from tuner.campaign import Campaign
from tuner.datasets import Dataset, load_campaign_data
from tuner.errors import ConfigError
from tuner.files import atomic_write_text
from tuner.lr_finder import LRFindResult, find_learning_rate
from tuner.space import AUTO_LEARNING_RATE, check_names, declared_hyperparameters
from tuner.store.folder import ResultsFolder

SUGGESTION_NAMES = ("valley", "steep", "minimum_tenth")
DEFAULT_BATCH_SIZE = 32


# --------------------------------------------------------------------------------------------
# Hyperparameters: the campaign's fixed values plus --set overrides
# --------------------------------------------------------------------------------------------


def parse_value(text: str) -> Any:
    """A ``--set`` value: an int, a float, true/false (any case), or else the string itself."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_assignments(assignments: Iterable[str]) -> dict[str, Any]:
    """``["n_layers=3", "optimizer=sgd"]`` -> ``{"n_layers": 3, "optimizer": "sgd"}``."""
    values: dict[str, Any] = {}
    for text in assignments:
        name, sep, value = text.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--set takes name=value, but got {text!r}.")
        values[name.strip()] = parse_value(value.strip())
    return values


def _is_fixed(name: str, spec: Any) -> bool:
    if name == "learning_rate" and spec in AUTO_LEARNING_RATE:
        return False
    return isinstance(spec, (str, int, float, bool))


def hyperparameters_for(
    campaign: Campaign, overrides: dict[str, Any] | None = None
) -> kt.HyperParameters:
    """Fixed values for the campaign's scalar ``[space]`` entries and for `overrides` (strings
    are parsed with `parse_value`); every other hyperparameter is left to the builder, at its
    default (ranges and choices of the space are not fixed)."""
    values = {name: spec for name, spec in campaign.space.items() if _is_fixed(name, spec)}
    values.update(
        {name: parse_value(v) if isinstance(v, str) else v for name, v in (overrides or {}).items()}
    )
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


# --------------------------------------------------------------------------------------------
# Running the finder on a campaign
# --------------------------------------------------------------------------------------------


def _batch_size(hp: kt.HyperParameters, declared: kt.HyperParameters) -> int:
    for source in (hp, declared):
        if "batch_size" in source:
            return int(source.get("batch_size"))
    return DEFAULT_BATCH_SIZE


def _find(
    campaign: Campaign,
    dataset: Dataset,
    hypermodel: kt.HyperModel,
    hp: kt.HyperParameters,
    declared: kt.HyperParameters,
    **lr_find_kwargs: Any,
) -> LRFindResult:
    """Run the range test on a fresh model built from a copy of `hp`, on the training split,
    in the precision the campaign's trials compute in."""
    lr_find_kwargs.setdefault("batch_size", _batch_size(hp, declared))
    lr_find_kwargs.setdefault("seed", campaign.seed)
    keras.backend.clear_session(free_memory=False)
    keras.utils.set_random_seed(campaign.seed)
    policy = backends.precision_policy(campaign.mixed_precision)

    def build() -> keras.Model:
        with backends.dtype_policy(policy):
            return hypermodel.build(hp.copy())

    try:
        return find_learning_rate(build, dataset.x_train, dataset.y_train, **lr_find_kwargs)
    finally:
        keras.backend.clear_session(free_memory=False)


def run_lr_find(
    campaign: Campaign, overrides: dict[str, Any] | None = None, **lr_find_kwargs: Any
) -> LRFindResult:
    """The LR range test on the campaign's model (fixed values and `overrides` applied, the rest
    at the builder's defaults) and training split. `lr_find_kwargs` go to `lr_find`
    (start_lr, end_lr, num_iter, ...); batch_size defaults to the model's, seed to the
    campaign's."""
    dataset = load_campaign_data(campaign)
    hypermodel = get_builder(campaign.model, dataset.spec)
    declared = declared_hyperparameters(hypermodel)
    check_names(overrides or {}, declared, campaign.model, label="--set")
    hp = hyperparameters_for(campaign, overrides)
    return _find(campaign, dataset, hypermodel, hp, declared, **lr_find_kwargs)


def write_lr_find(result: LRFindResult, folder: str | Path) -> tuple[Path, Path]:
    """Write ``lr_find.csv`` (atomically) and ``lr_find.png`` into `folder`; return both paths."""
    from tuner.plots.lr import plot_lr_find  # plots sit above the loop; import when drawing

    files = ResultsFolder(folder)
    files.path.mkdir(parents=True, exist_ok=True)
    csv_path, png_path = files.lr_find_csv, files.lr_find_png
    atomic_write_text(csv_path, result.to_frame().to_csv(index=False))
    ax = plot_lr_find(result)
    temporary = png_path.with_name(f".{png_path.name}.tmp.png")
    figure = ax.get_figure(root=True)
    assert figure is not None  # plot_lr_find draws on a Figure of its own
    figure.savefig(temporary, dpi=110)
    temporary.replace(png_path)
    return csv_path, png_path


def suggestion_lines(result: LRFindResult) -> list[str]:
    """One line per suggestion: ``valley: 3.16e-03 (middle of ...)`` or ``valley: none: why``."""
    lines = []
    for name, s in result.suggestions.items():
        text = f"none: {s.reason}" if s.lr is None else f"{s.lr:.3g} ({s.reason})"
        lines.append(f"{name}: {text}")
    return lines


# --------------------------------------------------------------------------------------------
# learning_rate = "auto" | "auto-fixed"
# --------------------------------------------------------------------------------------------


def _lr_entry(mode: str, valley: float, strategy: str = "random") -> float | dict[str, Any]:
    if mode == "auto-fixed":
        return valley
    low = max(valley / 10, math.ulp(0.0))
    entry: dict[str, Any] = {"min": low, "max": valley * 10, "sampling": "log"}
    if strategy == "grid":
        entry["step"] = math.sqrt(10.0)  # a grid needs a step: 5 rates over the two decades
    return entry


def _suggestions_info(result: LRFindResult, folder: Path) -> dict[str, Any]:
    valley = result.suggestion("valley")
    if valley.lr is None:
        raise ConfigError(
            f'learning_rate = "auto": the range finder found no valley '
            f"({valley.reason}); see {ResultsFolder(folder).lr_find_png} and give learning_rate "
            'a range instead, e.g. { min = 1e-4, max = 1e-1, sampling = "log" }.'
        )
    return {
        f"lr_find_{name}": result.suggestions[name].lr
        for name in SUGGESTION_NAMES
        if name in result.suggestions
    }


def _stored_info(folder: Path) -> dict[str, Any] | None:
    path = ResultsFolder(folder).lr_find_json
    if not path.is_file():
        return None
    info = json.loads(path.read_text(encoding="utf-8"))
    valley = info.get("lr_find_valley")
    if not (isinstance(valley, (int, float)) and valley > 0):
        raise ConfigError(
            f"{path}: lr_find_valley must be a positive number, but got "
            f"{valley!r}; delete the file to run the range finder again."
        )
    return info


def resolve_auto_learning_rate(
    campaign: Campaign, dataset: Dataset, hypermodel: kt.HyperModel
) -> tuple[dict[str, Any], dict | None]:
    """The campaign's ``[space]`` with ``learning_rate = "auto"`` replaced by a log range one
    decade either side of the range finder's ``valley`` (``"auto-fixed"``: that rate, fixed),
    and what the finder found (None when learning_rate is not automatic).

    The finder runs once per campaign folder: its suggestions are kept in ``lr_find.json`` and
    reused when the campaign is resumed, so the oracle sees the same space every time. The curve
    goes to ``lr_find.csv`` and ``lr_find.png``.
    """
    mode = campaign.space.get("learning_rate")
    if not isinstance(mode, str) or mode not in AUTO_LEARNING_RATE:
        return campaign.space, None
    folder = campaign.folder
    info = _stored_info(folder)
    if info is None:
        declared = declared_hyperparameters(hypermodel)
        if "learning_rate" not in declared:
            raise ConfigError(
                f"learning_rate = {mode!r}: model {campaign.model!r} has no "
                "learning_rate hyperparameter; it has: "
                f"{', '.join(sorted(h.name for h in declared.space))}."
            )
        result = _find(campaign, dataset, hypermodel, hyperparameters_for(campaign), declared)
        write_lr_find(result, folder)
        info = _suggestions_info(result, folder)
        info["learning_rate"] = _lr_entry(mode, float(info["lr_find_valley"]), campaign.strategy)
        atomic_write_text(ResultsFolder(folder).lr_find_json, json.dumps(info, indent=2) + "\n")
    # Rebuilt from the stored valley, not read back: the mode is the campaign's own.
    entry = _lr_entry(mode, float(info["lr_find_valley"]), campaign.strategy)
    return dict(campaign.space, learning_rate=entry), dict(info, learning_rate=entry)
