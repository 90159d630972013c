"""The TOML campaign: parse, validate and resolve defaults into a frozen `Campaign`."""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from tuner.errors import ConfigError, did_you_mean

STRATEGIES = ("random", "grid", "bayesian", "hyperband")
STRATEGY_OPTIONS: dict[str, dict[str, type | tuple[type, ...]]] = {
    "random": {},
    "grid": {},
    "bayesian": {"surrogate": str, "acquisition": str, "initial_points": int, "xi": (int, float),
                 "kappa": (int, float), "candidates": int},
    "hyperband": {"max_epochs": int, "factor": int, "iterations": int, "min_epochs": int},
}
EARLY_STOPPING_KEYS = {"patience": int, "min_delta": (int, float)}
MAXIMISED = ("acc", "auc", "precision", "recall", "f1", "r2", "iou")
MINIMISED = ("loss", "error", "mse", "mae", "mape", "msle", "hinge", "crossentropy")


@dataclass(frozen=True)
class Campaign:
    """A validated tuning campaign; every field has its resolved value."""

    name: str
    dataset: str
    model: str = "mlp"
    results_dir: str = "results"
    target: str | None = None
    validation_split: float = 0.2
    test_split: float = 0.0
    max_samples: int | None = None
    standardize: bool | None = None
    objective: str = "val_loss"
    direction: str = "min"
    strategy: str = "random"
    max_trials: int = 10
    epochs: int = 20
    seed: int = 0
    strategy_options: dict[str, Any] = field(default_factory=dict)
    space: dict[str, Any] = field(default_factory=dict)
    early_stopping: dict[str, Any] | None = None
    keep_top: int = 1
    tensorboard: bool = False
    max_consecutive_failures: int = 10
    threads: int = 0

    @property
    def folder(self) -> Path:
        """The campaign's results folder."""
        return Path(self.results_dir) / self.name

    def replace(self, **changes: Any) -> "Campaign":
        """A copy with some fields changed, validated again."""
        return validate(dataclasses.replace(self, **changes))

    def to_dict(self) -> dict[str, Any]:
        """Plain data, None values left out (TOML has no null)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str, "dataset": str, "model": str, "results_dir": str, "target": str,
    "validation_split": (int, float), "test_split": (int, float), "max_samples": int,
    "standardize": bool, "objective": str, "direction": str, "strategy": str, "max_trials": int,
    "epochs": int, "seed": int, "strategy_options": dict, "space": dict, "early_stopping": dict,
    "keep_top": int, "tensorboard": bool, "max_consecutive_failures": int, "threads": int,
}
REQUIRED = ("name", "dataset")


def infer_direction(objective: str) -> str | None:
    """'max' or 'min' from a metric's name, or None when the name does not tell."""
    lowered = objective.lower()
    if any(token in lowered for token in MINIMISED):
        return "min"
    if any(token in lowered for token in MAXIMISED):
        return "max"
    return None


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = [t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,))]
    return " or ".join("number" if n in ("int", "float") else n for n in dict.fromkeys(names))


def _check_type(key: str, value: Any, expected: type | tuple[type, ...]) -> None:
    # bool is an int in Python, but `max_trials = true` is a mistake, not a 1.
    if isinstance(value, bool) and expected is not bool:
        raise ConfigError(f"{key} must be a {_type_name(expected)}, but got {value!r}.")
    if not isinstance(value, expected):
        raise ConfigError(f"{key} must be a {_type_name(expected)}, but got "
                          f"{type(value).__name__} {value!r}.")


def _check_table(section: str, table: dict[str, Any], allowed: dict[str, Any]) -> None:
    for key, value in table.items():
        if key not in allowed:
            accepted = ", ".join(sorted(allowed)) or "none"
            raise ConfigError(f"[{section}] unknown key {key!r}{did_you_mean(key, allowed)}; "
                              f"accepted: {accepted}.")
        _check_type(f"[{section}] {key}", value, allowed[key])


def validate(campaign: Campaign) -> Campaign:
    """Check every rule that does not need the data or the builder; resolve the direction."""
    for key in ("max_trials", "epochs", "keep_top", "max_consecutive_failures"):
        if getattr(campaign, key) < 1:
            raise ConfigError(f"{key} must be at least 1, but got {getattr(campaign, key)}.")
    if campaign.threads < 0:
        raise ConfigError(f"threads must be 0 (TensorFlow decides) or more, but got "
                          f"{campaign.threads}.")
    if not campaign.name or "/" in campaign.name or campaign.name.startswith("."):
        raise ConfigError(f"name must be a plain folder name, but got {campaign.name!r}.")
    if campaign.strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {campaign.strategy!r}; accepted: "
                          f"{', '.join(STRATEGIES)}.")
    _check_table("strategy_options", campaign.strategy_options,
                 STRATEGY_OPTIONS[campaign.strategy])
    if campaign.early_stopping is not None:
        _check_table("early_stopping", campaign.early_stopping, EARLY_STOPPING_KEYS)
    if campaign.direction not in ("min", "max"):
        raise ConfigError(f"direction must be 'min' or 'max', but got {campaign.direction!r}.")
    return campaign


def from_dict(data: dict[str, Any], source: str = "campaign") -> Campaign:
    """A `Campaign` from parsed TOML, with unknown keys and wrong types refused."""
    for key in data:
        if key not in FIELD_TYPES:
            raise ConfigError(f"{source}: unknown key {key!r}{did_you_mean(key, FIELD_TYPES)}; "
                              f"accepted: {', '.join(sorted(FIELD_TYPES))}.")
    for key in REQUIRED:
        if key not in data:
            raise ConfigError(f"{source}: missing required key {key!r}.")
    for key, value in data.items():
        _check_type(key, value, FIELD_TYPES[key])
    values = dict(data)
    if "direction" not in values:
        direction = infer_direction(values.get("objective", "val_loss"))
        if direction is None:
            raise ConfigError(f"cannot tell whether objective {values['objective']!r} should be "
                              "maximised or minimised; add direction = \"max\" or \"min\".")
        values["direction"] = direction
    for key in ("validation_split", "test_split"):
        if key in values:
            values[key] = float(values[key])
    return validate(Campaign(**values))


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"campaign file {str(path)!r} does not exist.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path} is not valid TOML: {error}.") from None
    return from_dict(data, source=str(path))
