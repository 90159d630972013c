"""The campaign: one rule table derived from the `Campaign` dataclass, and one validation path
for every way a campaign is made (a TOML file, Python keywords, `Campaign.replace`)."""

from __future__ import annotations

import dataclasses
import math
import os
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from tuner import objectives
from tuner.errors import ConfigError, did_you_mean
from tuner.pruning import PruningRule, has_room, pruning_rule

EARLY_STOPPING_KEYS: dict[str, type | tuple[type, ...]] = {
    "patience": int,
    "min_delta": (int, float),
}
# target_outliers = { fraction = 0.05, scale = 10 }: both required (see `tuner.datasets`).
TARGET_OUTLIERS_KEYS: dict[str, type | tuple[type, ...]] = {
    "fraction": (int, float),
    "scale": (int, float),
}
MAXIMISED = ("acc", "auc", "precision", "recall", "f1", "r2", "iou")
MINIMISED = ("loss", "error", "mse", "mae", "mape", "msle", "hinge", "crossentropy")
# Settings that may change between runs of one campaign; any other change starts a new one.
RESUMABLE_CHANGES = frozenset(
    {
        "max_trials",
        "keep_top",
        "tensorboard",
        "max_consecutive_failures",
        "results_dir",
        "threads",
        # Packing changes how trials train, not which are proposed (random, grid): a campaign
        # may resume with another pack size.
        "pack",
        # XLA, likewise, changes how a trial's steps run, not what they compute (up to the
        # order of floating-point operations). Mixed precision changes the arithmetic: not it.
        "jit_compile",
        # A budget bounds how much more is spent, not what a trial computes.
        "max_time",
        "max_epochs_total",
    }
)
SEED_LIMIT = 2**32
# More threads than this only oversubscribe the cores; a billion crashes TensorFlow's pools.
CPU_COUNT = os.cpu_count() or 1
MAX_THREADS = 4 * CPU_COUNT
DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?")
DURATION_FORMS = 'a number of seconds or text such as "90s", "30m", "2h", "1h30m"'


def _rule(
    minimum: float | None = None,
    maximum: float | None = None,
    why: str = "",
    words: tuple[str, ...] = (),
) -> Any:
    """A field's bounds (numbers) and, for a field that also takes text, the words it takes."""
    return {"min": minimum, "max": maximum, "why": why, "words": words}


@dataclass(frozen=True)
class Campaign:
    """A validated tuning campaign; every field has its resolved value.

    Constructing one validates it (``Campaign(name="x", dataset="iris",
    objective="val_accuracy")`` infers ``direction="max"``), and so does `replace`.
    """

    name: str
    dataset: str
    model: str = "mlp"
    results_dir: str = "results"
    target: str | None = None
    validation_split: float = 0.2
    test_split: float = 0.0
    max_samples: int | None = field(default=None, metadata=_rule(10))
    standardize: bool | None = None
    # One metric, or a list of two or more (a Pareto front; `tuner.objectives`).
    objective: str | list[str] = "val_loss"
    direction: str | list[str] | None = None  # None: inferred from the objective's name
    strategy: str = "auto"  # tpe when anything is tuned (tuner.strategies.auto)
    max_trials: int = field(default=10, metadata=_rule(1))
    epochs: int = field(default=20, metadata=_rule(1))
    # Budgets over every run of the campaign (None: none): once spent, no trial starts and
    # the running ones stop at their next epoch boundary (status "stopped").
    max_time: float | str | None = None  # seconds, or "90s", "30m", "2h", "1h30m"
    max_epochs_total: int | None = field(default=None, metadata=_rule(1))
    # K: score each trial by K-fold cross-validation over the training and validation data
    # (`tuner.execution.cross_validation`); None: on the one validation split.
    cross_validation: int | None = field(
        default=None, metadata=_rule(2, None, "K folds: at least 2; leave it out for none")
    )
    seed: int = field(default=0, metadata=_rule(0, SEED_LIMIT - 1))
    strategy_options: dict[str, Any] = field(default_factory=dict)
    space: dict[str, Any] = field(default_factory=dict)
    # KerasTuner's tune_new_entries: search every hyperparameter the builder declares (true),
    # or only the [space] entries (false); None: the builder's choice (yours: true).
    tune_new_entries: bool | None = None
    early_stopping: dict[str, Any] | None = None
    # Stop hopeless trials early: "median", "asha", a table ({ kind = "median", warmup = 5 }),
    # "none"; "auto": the toolkit's default (`tuner.pruning`), none for Hyperband.
    pruning: str | dict[str, Any] = "auto"
    # Regression only: shift a seeded fraction of the TRAINING targets up by `scale` standard
    # deviations (validation and test untouched), to compare losses under outliers.
    target_outliers: dict[str, Any] | None = None
    keep_top: int = field(default=1, metadata=_rule(1))
    tensorboard: bool = False
    max_consecutive_failures: int = field(default=10, metadata=_rule(1))
    threads: int = field(
        default=0,
        metadata=_rule(
            0,
            MAX_THREADS,
            f"0 lets TensorFlow decide; at most 4x this machine's {CPU_COUNT} cores",
        ),
    )
    pack: int | str = field(
        default="auto",
        metadata=_rule(1, None, "1 turns packing off", words=("auto",)),
    )
    mixed_precision: bool | str = field(
        default=False,
        metadata=_rule(
            why="true: mixed_float16 on a GPU, mixed_bfloat16 on a TPU, off on a CPU",
            words=("mixed_float16", "mixed_bfloat16"),
        ),
    )
    jit_compile: bool | str = field(
        default="auto",
        metadata=_rule(
            why='XLA; "auto": as the model was compiled (Keras: on a GPU, not on a CPU)',
            words=("auto",),
        ),
    )

    def __post_init__(self) -> None:
        inferred = self.direction is None
        _validate(self)
        if inferred:
            spec = objectives.resolve(self.objective, None, infer_direction)
            resolved = [d for _, d in spec]
            object.__setattr__(
                self, "direction", resolved[0] if isinstance(self.objective, str) else resolved
            )
        for key in ("validation_split", "test_split"):
            object.__setattr__(self, key, float(getattr(self, key)))
        object.__setattr__(self, "_direction_inferred", inferred)

    @property
    def folder(self) -> Path:
        """The campaign's results folder."""
        return Path(self.results_dir) / self.name

    @property
    def objectives(self) -> objectives.Spec:
        """Each objective's (name, direction), the first the primary (it is the score)."""
        return objectives.resolve(self.objective, self.direction, infer_direction)

    @property
    def multi_objective(self) -> bool:
        """Whether the campaign has several objectives (a Pareto front)."""
        return not isinstance(self.objective, str)

    @property
    def max_time_s(self) -> float | None:
        """``max_time`` in seconds (None: no time budget)."""
        return None if self.max_time is None else parse_duration("max_time", self.max_time)

    @property
    def pruning_rule(self) -> PruningRule | None:
        """The pruner ``pruning`` asks for with this strategy (None: no pruning)."""
        return _pruning_rule(self)

    @property
    def source_dir(self) -> Path | None:
        """The folder of the campaign file it was read from (None when made in Python)."""
        return getattr(self, "_source_dir", None)

    def replace(self, **changes: Any) -> Campaign:
        """A copy with some fields changed, validated again. A direction that was inferred is
        inferred again when the objective changes."""
        if getattr(self, "_direction_inferred", False) and "direction" not in changes:
            changes["direction"] = None
        unknown = [key for key in changes if key not in FIELDS]
        if unknown:
            raise ConfigError(
                f"unknown campaign field {unknown[0]!r}"
                f"{did_you_mean(unknown[0], FIELDS)}; accepted: "
                f"{', '.join(sorted(FIELDS))}."
            )
        changed = dataclasses.replace(self, **changes)
        if self.source_dir is not None:
            object.__setattr__(changed, "_source_dir", self.source_dir)
        return changed

    def to_dict(self) -> dict[str, Any]:
        """Plain data, None values left out (TOML has no null)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())


def _accepted_types(hint: Any) -> tuple[type, ...]:
    """The isinstance types for a field's annotation: ``float`` takes ints, Optional is
    unwrapped, ``dict[str, Any]`` is a dict."""
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    accepted: list[type] = []
    for option in options:
        if option is type(None):
            continue
        origin = typing.get_origin(option) or option
        accepted += [int, float] if origin is float else [origin]
    return tuple(dict.fromkeys(accepted))


# The rule table: every field's accepted types and bounds, read from the dataclass itself.
FIELDS: dict[str, tuple[type, ...]] = {
    f.name: _accepted_types(hint)
    for f, hint in (
        (f, typing.get_type_hints(Campaign)[f.name]) for f in dataclasses.fields(Campaign)
    )
}
BOUNDS: dict[str, dict[str, Any]] = {
    f.name: dict(f.metadata) for f in dataclasses.fields(Campaign) if f.metadata
}
REQUIRED = tuple(
    f.name
    for f in dataclasses.fields(Campaign)
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
)


def infer_direction(objective: str) -> str | None:
    """'max' or 'min' from a metric's name, or None when the name does not tell."""
    lowered = objective.lower()
    if any(token in lowered for token in MINIMISED):
        return "min"
    if any(token in lowered for token in MAXIMISED):
        return "max"
    return None


def _type_name(expected: tuple[type, ...]) -> str:
    names = ["number" if t in (int, float) else t.__name__ for t in expected]
    return " or ".join(dict.fromkeys(names))


def _check_type(key: str, value: Any, expected: type | tuple[type, ...]) -> None:
    expected = expected if isinstance(expected, tuple) else (expected,)
    # bool is an int in Python, but `max_trials = true` is a mistake, not a 1.
    if isinstance(value, bool) and bool not in expected:
        raise ConfigError(f"{key} must be a {_type_name(expected)}, but got {value!r}.")
    if not isinstance(value, expected):
        raise ConfigError(
            f"{key} must be a {_type_name(expected)}, but got {type(value).__name__} {value!r}."
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key} must be a finite number, but got {value!r}.")
    if isinstance(value, str) and "\x00" in value:
        raise ConfigError(f"{key} must not contain a NUL character, but got {value!r}.")


def _check_bounds(key: str, value: Any) -> None:
    bounds = BOUNDS.get(key)
    if bounds is None or value is None:
        return
    low, high, why = bounds["min"], bounds["max"], bounds["why"]
    note = f" ({why})" if why else ""
    if high is None and value < low:
        raise ConfigError(f"{key} must be at least {low}{note}, but got {value}.")
    if high is not None and not low <= value <= high:
        raise ConfigError(f"{key} must be in [{low}, {high}]{note}, but got {value}.")


def parse_duration(key: str, value: Any) -> float:
    """A duration in seconds from a number of seconds or text such as ``"1h30m"``; one
    `ConfigError` line naming `key`, the value and what is accepted when it is not one, or
    not above zero."""
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value) if math.isfinite(value) else None
    elif isinstance(value, str):
        match = DURATION.fullmatch(value.strip())
        if match is not None and any(match.groups()):
            hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
            seconds = hours * 3600 + minutes * 60 + secs
    if seconds is None or seconds <= 0:
        raise ConfigError(
            f"{key} must be a duration above zero, {DURATION_FORMS}, but got {value!r}."
        )
    return seconds


def _check_number_or_word(key: str, value: Any) -> None:
    """A field that takes an integer within bounds or one of a few words (``pack``)."""
    bounds = BOUNDS[key]
    low, why, words = bounds["min"], bounds["why"], bounds["words"]
    note = f" ({why})" if why else ""
    spelled = " or ".join(f'"{w}"' for w in words)
    accepted = f"{key} must be {spelled} or an integer of at least {low}{note}"
    if isinstance(value, str):
        if value not in words:
            raise ConfigError(f"{accepted}, but got {value!r}{did_you_mean(value, words)}.")
    elif isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{accepted}, but got {type(value).__name__} {value!r}.")
    elif value < low:
        raise ConfigError(f"{accepted}, but got {value}.")


def _check_flag_or_word(key: str, value: Any) -> None:
    """A field that takes true, false or one of a few words (``jit_compile``)."""
    bounds = BOUNDS[key]
    why, words = bounds["why"], bounds["words"]
    options = ["true", "false"] + [f'"{w}"' for w in words]
    note = f" ({why})" if why else ""
    accepted = f"{key} must be {', '.join(options[:-1])} or {options[-1]}{note}"
    if isinstance(value, str):
        if value.strip().lower() in ("true", "false"):
            hint = f"; write {value.strip().lower()} without quotes"
        else:
            hint = did_you_mean(value, words)
        if value not in words:
            raise ConfigError(f"{accepted}, but got {value!r}{hint}.")
    elif not isinstance(value, bool):
        raise ConfigError(f"{accepted}, but got {type(value).__name__} {value!r}.")


def _check_table(section: str, table: dict[str, Any], allowed: dict[str, Any]) -> None:
    for key, value in table.items():
        if key not in allowed:
            accepted = ", ".join(sorted(allowed)) or "none"
            raise ConfigError(
                f"[{section}] unknown key {key!r}{did_you_mean(key, allowed)}; "
                f"accepted: {accepted}."
            )
        _check_type(f"[{section}] {key}", value, allowed[key])


def _strategy_options(strategy: str) -> dict[str, Any]:
    from tuner.strategies.registry import get_strategy  # import-light: no KerasTuner

    return dict(get_strategy(strategy).options)


def _check_multi_objective(strategy: str) -> None:
    """Several objectives need a strategy that models them all (never their sum)."""
    from tuner.strategies.registry import check_multi_objective  # import-light

    check_multi_objective(strategy)


def _pruning_rule(campaign: Campaign) -> PruningRule | None:
    """The campaign's pruner; a `ConfigError` when ``pruning`` is not one, or asks a strategy
    that prunes by design (Hyperband, PBT) to prune."""
    from tuner.strategies.registry import STRATEGIES  # import-light: no KerasTuner

    strategy = STRATEGIES.get(campaign.strategy)
    by_design = strategy is not None and strategy.prunes_by_design
    rule = pruning_rule(campaign.pruning, campaign.strategy, prunes_by_design=by_design)
    if rule is not None:
        if campaign.pruning == "auto" and not has_room(rule, campaign.epochs):
            return None  # the default, on trials too short to prune: nothing to do
        key = "warmup" if rule.kind == "median" else "min_epochs"
        if getattr(rule, key) >= campaign.epochs:
            raise ConfigError(
                f"pruning {key} must be below epochs = {campaign.epochs} (no trial could be "
                f"pruned), but got {getattr(rule, key)}."
            )
    return rule


def _check_loss_objective(campaign: Campaign) -> None:
    """Losses of different kinds are different units: `val_loss` cannot rank them."""
    tuned_loss = campaign.space.get("loss")
    varies = isinstance(tuned_loss, (list, dict))
    primary = campaign.objective if isinstance(campaign.objective, str) else campaign.objective[0]
    if varies and primary in ("loss", "val_loss"):
        raise ConfigError(
            f"objective {primary!r} compares different units when "
            "[space] loss is tuned; use a metric every trial logs the same way, "
            'e.g. objective = "val_mse" or "val_mae" for regression.'
        )


def _check_target_outliers(table: dict[str, Any]) -> None:
    _check_table("target_outliers", table, TARGET_OUTLIERS_KEYS)
    missing = [key for key in TARGET_OUTLIERS_KEYS if key not in table]
    if missing:
        raise ConfigError(
            f"[target_outliers] missing key {missing[0]!r}; write e.g. "
            "target_outliers = { fraction = 0.05, scale = 10 }."
        )
    fraction, scale = table["fraction"], table["scale"]
    if not 0 < fraction < 1:
        raise ConfigError(
            f"[target_outliers] fraction must be in (0, 1) (the share of training targets "
            f"made outliers), but got {fraction}."
        )
    if not scale > 0:
        raise ConfigError(
            f"[target_outliers] scale must be above 0 (how many standard deviations of the "
            f"training targets an outlier is shifted by), but got {scale}."
        )


def _validate(campaign: Campaign) -> None:
    """Every rule that does not need the data or the builder."""
    for key, expected in FIELDS.items():
        value = getattr(campaign, key)
        if value is None and (
            key in REQUIRED
            or type(None) not in typing.get_args(typing.get_type_hints(Campaign)[key])
        ):
            raise ConfigError(f"{key} must be a {_type_name(expected)}, but got None.")
        if value is not None and key == "max_time":
            parse_duration(key, value)
        elif key == "pruning":
            continue  # `_pruning_rule` judges it, with the strategy
        elif value is not None and BOUNDS.get(key, {}).get("words"):
            if bool in expected:
                _check_flag_or_word(key, value)
            else:
                _check_number_or_word(key, value)
        elif value is not None:
            _check_type(key, value, expected)
            _check_bounds(key, value)
    if (
        not campaign.name
        or "/" in campaign.name
        or "\\" in campaign.name
        or campaign.name.startswith(".")
    ):
        raise ConfigError(f"name must be a plain folder name, but got {campaign.name!r}.")
    _check_table(
        "strategy_options", campaign.strategy_options, _strategy_options(campaign.strategy)
    )
    if campaign.early_stopping is not None:
        _check_table("early_stopping", campaign.early_stopping, EARLY_STOPPING_KEYS)
    if campaign.target_outliers is not None:
        _check_target_outliers(campaign.target_outliers)
    spec = objectives.resolve(campaign.objective, campaign.direction, infer_direction)
    if len(spec) > 1:
        _check_multi_objective(campaign.strategy)
    _check_loss_objective(campaign)
    _pruning_rule(campaign)
    if campaign.cross_validation is not None:
        _check_cross_validation(campaign.strategy)


def _check_cross_validation(strategy: str) -> None:
    """A strategy whose trials continue other trials' weights (Hyperband's parents, PBT's
    exploited members) cannot score them by folds: a fold's model would continue weights
    trained on its own validation data."""
    from tuner.strategies.registry import get_strategy  # import-light

    chosen = get_strategy(strategy)
    if chosen.trains_from_parent or chosen.prunes_by_design:
        raise ConfigError(
            f"cross_validation does not work with strategy {strategy!r}: its trials continue "
            "other trials' weights, trained on other folds' validation data; use strategy = "
            "'random', 'grid', 'bayesian', 'tpe' or 'evolution', or leave cross_validation out."
        )


def from_dict(data: dict[str, Any], source: str = "campaign") -> Campaign:
    """A `Campaign` from parsed TOML, with unknown keys and missing ones refused."""
    for key in data:
        if key not in FIELDS:
            raise ConfigError(
                f"{source}: unknown key {key!r}{did_you_mean(key, FIELDS)}; "
                f"accepted: {', '.join(sorted(FIELDS))}."
            )
    for key in REQUIRED:
        if key not in data:
            raise ConfigError(f"{source}: missing required key {key!r}.")
    return Campaign(**data)


def load_campaign(path: str | Path) -> Campaign:
    """Read and validate a campaign file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"campaign file {str(path)!r} does not exist.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}.") from None
    campaign = from_dict(data, source=str(path))
    object.__setattr__(campaign, "_source_dir", path.resolve().parent)
    return campaign


def from_saved(text: str, source: str, way_out: str = "") -> Campaign:
    """The campaign a results folder saved (its campaign.toml text); `source` names the file.
    One `ConfigError` line, "<source> is damaged (...)" plus `way_out`, when it cannot be
    read. A thread count above this machine's limit was the saving machine's: this one
    decides (0), rather than calling the file damaged."""
    try:
        data = tomllib.loads(text)
        threads = data.get("threads")
        if isinstance(threads, int) and not isinstance(threads, bool) and threads > MAX_THREADS:
            data["threads"] = 0
        return from_dict(data, source=source)
    except (tomllib.TOMLDecodeError, ConfigError) as error:
        raise ConfigError(f"{source} is damaged ({error}){way_out}.") from None


def changed_fields(now: Campaign, before: Campaign) -> list[str]:
    """The fields that differ and may not change while a campaign keeps its finished trials."""
    a, b = now.to_dict(), before.to_dict()
    return sorted(k for k in set(a) | set(b) if k not in RESUMABLE_CHANGES and a.get(k) != b.get(k))
