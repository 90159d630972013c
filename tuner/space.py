"""Campaign ``[space]`` entries -> KerasTuner hyperparameters that override a builder's own.

Forms accepted for one entry:
- a scalar (``dropout = 0.2``): fixed at that value;
- a list (``optimizer = ["adam", "sgd"]``): a choice; ``[true, false]`` is a boolean;
- a table with ``values`` (and optionally ``default``): a choice with a default;
- a table with ``min``, ``max`` and optionally ``step``, ``sampling`` (linear | log |
  reverse_log) and ``default``: an integer range when min, max and step are all integers,
  otherwise a float range.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from contextvars import ContextVar
from typing import Any

import keras_tuner as kt

from tuner.errors import ConfigError, Fatal, did_you_mean

HPS = kt.engine.hyperparameters

CAMPAIGN_LABEL = "[space]"
PYTHON_LABEL = "space="
SAMPLINGS = ("linear", "log", "reverse_log")
RANGE_KEYS = {"min", "max", "step", "sampling", "default"}
CHOICE_KEYS = {"values", "default"}
# Values a campaign may give `learning_rate` to run the range finder first.
AUTO_LEARNING_RATE = ("auto", "auto-fixed")
# The settings every trial's training takes (model.fit's own), whether the builder declares them
# or not: accepted in every campaign's [space].
TRAINING_SETTINGS = ("epochs", "batch_size")


# More values than any search could try; beyond it a step is a typo (and overflows counts).
MAX_STEPS = 1e12


# How errors name the space: "[space]" for a campaign file, "space=" for Python's argument.
_SPACE_LABEL: ContextVar[str] = ContextVar("space_label", default=CAMPAIGN_LABEL)


@contextlib.contextmanager
def space_labelled(label: str) -> Iterator[None]:
    """Within this block, errors name the space as `label` (`PYTHON_LABEL`: ``space=``)."""
    token = _SPACE_LABEL.set(label)
    try:
        yield
    finally:
        _SPACE_LABEL.reset(token)


def space_label() -> str:
    """``[space]`` or ``space=``, as the user wrote the space."""
    return _SPACE_LABEL.get()


def entry_label(name: str) -> str:
    """One entry as the user wrote it: ``[space] units`` in a file, ``space["units"]`` in
    Python."""
    if _SPACE_LABEL.get() == PYTHON_LABEL:
        return f"space[{json.dumps(name)}]"
    return f"{CAMPAIGN_LABEL} {_shown(name)}"


def _shown(name: str) -> str:
    """A name as an error shows it: quoted when it is empty or has characters (a newline, a
    record separator) that would break the one-line error or hide in it."""
    return name if name.isprintable() and name.strip() == name and name else repr(name)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_finite(name: str, value: Any, key: str | None = None) -> None:
    """inf and nan are valid TOML but no hyperparameter's value: refuse them by name."""
    if isinstance(value, float) and not math.isfinite(value):
        where = f"{entry_label(name)}: '{key}'" if key else entry_label(name)
        raise ConfigError(f"{where} must be a finite number, but got {value!r}.")


def _add_range(hp: kt.HyperParameters, name: str, spec: dict[str, Any]) -> None:
    unknown = set(spec) - RANGE_KEYS
    if unknown:
        raise ConfigError(
            f"{entry_label(name)}: unknown key(s) {sorted(unknown)}; a range accepts "
            f"{sorted(RANGE_KEYS)}."
        )
    if "min" not in spec or "max" not in spec:
        raise ConfigError(
            f"{entry_label(name)}: a range needs both 'min' and 'max', but got {spec}."
        )
    low, high = spec["min"], spec["max"]
    step, sampling = spec.get("step"), spec.get("sampling", "linear")
    for key, value in (("min", low), ("max", high), ("step", step)):
        if value is not None and not _is_number(value):
            raise ConfigError(f"{entry_label(name)}: '{key}' must be a number, but got {value!r}.")
        _check_finite(name, value, key)
    _check_finite(f"{name}: 'default'", spec.get("default"))
    if not low < high:
        raise ConfigError(
            f"{entry_label(name)}: `min < max` must hold, but got (min={low}, max={high})."
        )
    if sampling not in SAMPLINGS:
        raise ConfigError(
            f"{entry_label(name)}: sampling must be one of {list(SAMPLINGS)}, but got {sampling!r}."
        )
    if sampling != "linear" and low <= 0:
        raise ConfigError(
            f"{entry_label(name)}: {sampling} sampling needs min > 0, but got min={low}."
        )
    if step is not None and step <= 0:
        raise ConfigError(f"{entry_label(name)}: step must be > 0, but got step={step}.")
    if step is not None and sampling == "linear" and step > high - low:
        raise ConfigError(
            f"{entry_label(name)}: step={step} is larger than max - min = {high - low}."
        )
    if step is not None and sampling == "linear" and not (high - low) / step <= MAX_STEPS:
        raise ConfigError(
            f"{entry_label(name)}: step={step} cuts [{low}, {high}] into more than "
            f"{MAX_STEPS:.0e} values; use a larger step, or no step for a continuous range."
        )
    if step is not None and sampling != "linear" and step <= 1:
        raise ConfigError(
            f"{entry_label(name)}: with {sampling} sampling the step is a factor and "
            f"must be > 1, but got step={step}."
        )
    default = spec.get("default")
    if default is not None and not (_is_number(default) and low <= default <= high):
        raise ConfigError(
            f"{entry_label(name)}: default must lie in [{low}, {high}], but got {default!r}."
        )
    if _is_int(low) and _is_int(high) and (step is None or _is_int(step)):
        hp.Int(name, low, high, step=step, sampling=sampling, default=default)
    else:
        high = _reachable_max(float(low), float(high), step) if sampling == "linear" else high
        hp.Float(name, float(low), float(high), step=step, sampling=sampling, default=default)


def _reachable_max(low: float, high: float, step: float | None) -> float:
    """`high`, nudged up by a billionth of a step when the steps land on it exactly.

    KerasTuner counts a float range's values as ``(max - min) // step + 1``, and in floating
    point ``0.3 // 0.1 == 2.0``: dropout in [0, 0.3] with step 0.1 would never try 0.3. (Its
    other stepped-float sharp edge is mended by `values_as_written`.)
    """
    if step is None:
        return high
    steps = (high - low) / step
    if abs(steps - round(steps)) < 1e-9 * max(1.0, steps):
        return high + step * 1e-9
    return high


def values_as_written(hp: kt.HyperParameters) -> dict[str, Any]:
    """A trial's values, stepped floats to 15 significant digits: KerasTuner makes them as
    min + i * step, so 0.30000000000000004 would otherwise reach the tables for 0.3."""
    stepped = {
        h.name
        for h in hp.space
        if isinstance(h, kt.engine.hyperparameters.Float) and h.step is not None
    }
    return {
        name: float(f"{value:.15g}") if name in stepped else value
        for name, value in hp.values.items()
    }


def _add_choice(hp: kt.HyperParameters, name: str, values: list[Any], default: Any = None) -> None:
    if not values:
        raise ConfigError(f"{entry_label(name)}: a choice needs at least one value, but got [].")
    kinds = {type(v) for v in values}
    if not all(isinstance(v, (str, int, float, bool)) for v in values):
        raise ConfigError(
            f"{entry_label(name)}: choice values must be strings, numbers or booleans, "
            f"but got {values!r}."
        )
    for value in values:
        _check_finite(name, value)
    if len(set(values)) != len(values):
        raise ConfigError(
            f"{entry_label(name)}: choice values must be distinct, but got {values!r}."
        )
    if default is not None and default not in values:
        raise ConfigError(f"{entry_label(name)}: default {default!r} is not one of {values!r}.")
    if kinds == {bool}:
        if len(values) == 1:
            hp.Fixed(name, values[0])
        else:
            hp.Boolean(name, default=bool(default) if default is not None else False)
        return
    if bool in kinds or (len(kinds) > 1 and not kinds <= {int, float}):
        raise ConfigError(
            f"{entry_label(name)}: choice values must all be of one type, but got {values!r}."
        )
    if kinds == {int, float}:
        values = [float(v) for v in values]
    hp.Choice(name, values, default=default)


def add_entry(hp: kt.HyperParameters, name: str, spec: Any) -> None:
    """Register one ``[space]`` entry on `hp`."""
    if isinstance(spec, dict):
        if "values" in spec:
            unknown = set(spec) - CHOICE_KEYS
            if unknown:
                raise ConfigError(
                    f"{entry_label(name)}: unknown key(s) {sorted(unknown)}; a choice "
                    f"table accepts {sorted(CHOICE_KEYS)}."
                )
            _add_choice(hp, name, list(spec["values"]), spec.get("default"))
        else:
            _add_range(hp, name, spec)
    elif isinstance(spec, list):
        _add_choice(hp, name, spec)
    elif isinstance(spec, (str, int, float, bool)):
        _check_finite(name, spec)
        hp.Fixed(name, spec)
    else:
        raise ConfigError(
            f"{entry_label(name)}: expected a value, a list or a table, but got "
            f"{type(spec).__name__} {spec!r}."
        )


def without_auto_learning_rate(entries: Mapping[str, Any]) -> dict[str, Any]:
    """The ``[space]`` entries less a ``learning_rate = "auto"`` not resolved yet (the search
    resolves it once the folder is claimed)."""
    return {
        name: spec
        for name, spec in entries.items()
        if not (name == "learning_rate" and spec in AUTO_LEARNING_RATE)
    }


def build_space(entries: dict[str, Any]) -> kt.HyperParameters:
    """KerasTuner hyperparameters for a campaign's ``[space]``.

    ``learning_rate = "auto"`` entries must be resolved (by the range finder) before this.
    """
    hp = kt.HyperParameters()
    for name, spec in entries.items():
        if name == "learning_rate" and spec in AUTO_LEARNING_RATE:
            raise ConfigError(
                'learning_rate = "auto" must be resolved by the range finder '
                "before the space is built."
            )
        add_entry(hp, name, spec)
    return hp


def declared_hyperparameters(hypermodel: kt.HyperModel) -> kt.HyperParameters:
    """Every hyperparameter a builder declares, found by building it once at its defaults. A
    builder that cannot build, or builds something other than a
    compiled Keras model, would fail the same way in every trial: that is `Fatal`."""
    import keras

    hp = kt.HyperParameters()
    name = getattr(hypermodel, "name", None) or type(hypermodel).__name__
    try:
        model = hypermodel.build(hp)
    except (ConfigError, Fatal):
        raise
    except Exception as error:
        raise Fatal(
            f"model {name!r} failed to build at its default hyperparameters: "
            f"{type(error).__name__}: {error}"
        ) from error
    finally:
        keras.backend.clear_session(free_memory=False)
    if not isinstance(model, keras.Model):
        raise Fatal(
            f"model {name!r}: build(hp) must return a compiled keras.Model, but "
            f"returned {type(model).__name__}."
        )
    if not getattr(model, "compiled", True):
        raise Fatal(
            f"model {name!r}: build(hp) returned a model that is not compiled; call "
            "model.compile(optimizer=..., loss=..., metrics=[...]) before returning it."
        )
    return hp


def _extremes(h: Any) -> list[Any]:
    """The values of one hyperparameter that a search may reach first at its edges: both ends
    of a range (the last value a step reaches, not a max it steps past), every choice."""
    hps = kt.engine.hyperparameters
    if isinstance(h, hps.Fixed):
        return [h.value]
    if isinstance(h, hps.Boolean):
        return [False, True]
    if isinstance(h, hps.Choice):
        return list(h.values)
    low, high, step = h.min_value, h.max_value, h.step
    if step is not None and h.sampling == "linear":
        high = low + math.floor((high - low) / step + 1e-9) * step
    elif step is not None:  # log sampling: the step is a factor
        high = low * step ** math.floor(math.log(high / low) / math.log(step) + 1e-9)
    if isinstance(h, hps.Int):
        return [int(low), int(round(high))]
    return [float(low), float(f"{high:.15g}")]


def most_epochs(space: kt.HyperParameters) -> int | None:
    """The most epochs a trial of `space` may train: its ``epochs`` value, or the largest a
    search of it reaches (None: the space has no ``epochs``)."""
    for h in space.space:
        if h.name == "epochs":
            return int(max(_extremes(h)))
    return None


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    text = text if len(text) <= 300 else text[:299] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# (builder, [space]) pairs whose every extreme built in this process: planning the same campaign
# again (a rerun, the Python API called twice in a notebook, the test suite) skips the builds.
# Only successes are kept; a refusal is found again every time.
_BUILT_EVERY_EXTREME: set[tuple[Any, str]] = set()


def memo_key(hypermodel: kt.HyperModel, entries: Mapping[str, Any]) -> tuple[Any, str] | None:
    """What the builds depend on: the builder's class and its own attributes (a registry
    builder's data spec, a user's function), and the entries. None (no memo) when an attribute
    cannot be compared by value or the entries are not plain TOML values."""
    own = tuple(
        sorted(
            (name, value)
            for name, value in vars(hypermodel).items()
            # KerasTuner keeps the instance's own bound build method: equal only to itself.
            if getattr(value, "__self__", None) is not hypermodel
        )
    )
    try:
        key = ((type(hypermodel), own), json.dumps(entries, sort_keys=True))
        hash(key)
    except (TypeError, ValueError):
        return None
    return key


def check_space_against_builder(
    hypermodel: kt.HyperModel,
    space_entries: Mapping[str, Any],
    model: str | None = None,
    declared: kt.HyperParameters | None = None,
) -> None:
    """Build the model once at each extreme of every ``[space]`` entry (the ends of a range,
    every choice), the other hyperparameters at their defaults, so that a value the builder
    refuses (``units = -1``) is a `ConfigError` before anything trains or is written. The
    training settings (epochs, batch_size) must be positive integers.

    Called by the plan after `check_names`; each build costs about as much as the one at the
    defaults, and the Keras session is cleared after each. A builder and space that passed are
    remembered for the rest of the process (see `memo_key`). An entry the builder declares
    only under a condition (`declared` says which) is built with its parents set to enable it.
    """
    import keras

    label = model or getattr(hypermodel, "name", None) or type(hypermodel).__name__
    entries = without_auto_learning_rate(space_entries)
    key = memo_key(hypermodel, entries)
    if key is not None and key in _BUILT_EVERY_EXTREME:
        return
    space = build_space(entries)
    for h in space.space:
        for value in _extremes(h):
            shown = f"{entry_label(h.name)} = {json.dumps(value)}"
            if h.name in TRAINING_SETTINGS:
                if not _is_int(value) or value < 1:
                    raise ConfigError(f"{shown}: {h.name} must be a positive integer.")
                continue
            hp = kt.HyperParameters()
            hp.values.update(_enabling_values(h.name, declared))
            hp.Fixed(h.name, value)
            try:
                hypermodel.build(hp)
            except Exception as error:
                raise ConfigError(
                    f"{shown}: model {label!r} refused it: {_one_line(error)}"
                ) from None
            finally:
                keras.backend.clear_session(free_memory=False)
    if key is not None:
        _BUILT_EVERY_EXTREME.add(key)


def _enabling_values(name: str, declared: kt.HyperParameters | None) -> dict[str, Any]:
    """Parent values under which the builder declares `name` (none for an unconditional one)."""
    if declared is None:
        return {}
    conditions: list[Any] = next((h.conditions for h in declared.space if h.name == name), [])
    enabling: dict[str, Any] = {}
    for condition in conditions:
        enabling.update(_enabling_values(condition.name, declared))
        enabling[condition.name] = condition.values[0]
    return enabling


def check_names(
    names: Iterable[str], declared: kt.HyperParameters, model: str, label: str | None = None
) -> None:
    """Refuse names the builder never reads (``[space]`` entries, ``--set`` overrides): a typo
    would otherwise change nothing. The training settings (epochs, batch_size) always pass."""
    known = {h.name for h in declared.space} | set(TRAINING_SETTINGS)
    unknown = [name for name in dict.fromkeys(names) if name not in known]
    if unknown:
        hint = did_you_mean(unknown[0], known) if len(unknown) == 1 else ""
        shown = (
            f"{label} {', '.join(map(_shown, unknown))}"
            if label is not None
            else ", ".join(map(entry_label, unknown))
        )
        raise ConfigError(
            f"{shown}: not a hyperparameter of model {model!r}{hint}; it has: "
            f"{', '.join(sorted(known))}."
        )


def parent_condition(name: str, values: list[Any]) -> dict[str, Any]:
    """KerasTuner's condition "`name` takes one of `values`", as its config."""
    return {"class_name": "Parent", "config": {"name": name, "values": list(values)}}


def with_conditions(h: Any, conditions: list[Any]) -> Any:
    """A copy of hyperparameter `h` active only under `conditions` (KerasTuner's condition
    objects, or their configs)."""
    config = h.get_config()
    config["conditions"] = [
        c if isinstance(c, dict) else {"class_name": type(c).__name__, "config": c.get_config()}
        for c in conditions
    ]
    return type(h).from_config(config)


def compose_space(
    entries: Mapping[str, Any],
    declared: kt.HyperParameters,
    *,
    tune_declared: bool,
    epochs: int,
) -> kt.HyperParameters:
    """The oracle's space: every hyperparameter the builder declares (`declared`, conditions
    included) when `tune_declared`, each ``[space]`` entry in place of the declaration of its
    name (under the same conditions), entries the builder does not declare (the training
    settings) after them, and ``epochs`` fixed at the campaign's unless an entry names it.

    Without `tune_declared` only the entries are searched (KerasTuner's
    ``tune_new_entries=False``): the builder's other hyperparameters keep their defaults, so a
    condition on one of them holds or not once and for all."""
    overrides = {h.name: h for h in build_space(dict(entries)).space}
    first: dict[str, Any] = {}
    for h in declared.space:
        first.setdefault(h.name, h)
    chosen: dict[str, Any] = {}
    # The order values are drawn in: the builder's (its declarations) when it is searched,
    # else the entries' as written (a seed draws the same trials as before declared spaces).
    for name in list(first) + list(overrides) if tune_declared else list(overrides):
        if name in chosen:
            continue
        if name in overrides:
            declared_under = first[name].conditions if name in first else []
            chosen[name] = with_conditions(overrides[name], declared_under)
        elif name == "epochs":
            chosen[name] = HPS.Fixed(name, epochs)
        else:
            chosen[name] = first[name]
    if "epochs" not in chosen:
        chosen["epochs"] = HPS.Fixed("epochs", epochs)
    space = kt.HyperParameters()
    for name in _parents_first(chosen):
        h = chosen[name]
        conditions: list[Any] = []
        for condition in h.conditions:
            if condition.name in chosen:
                conditions.append(condition)
            elif first[condition.name].default not in condition.values:
                raise ConfigError(
                    f"{entry_label(name)}: used only when {condition.name} is one of "
                    f"{condition.values}, and {condition.name} keeps its default "
                    f"{first[condition.name].default!r}; add {condition.name} to the space "
                    f"(or fix it at one of those values)."
                )
        space.merge([with_conditions(h, conditions)])
    return space


def _parents_first(chosen: Mapping[str, Any]) -> list[str]:
    """The names of `chosen` in order, each moved after the parents its conditions name: a
    condition is checked against the values drawn before it."""
    order: list[str] = []

    def place(name: str) -> None:
        if name in order:
            return
        for condition in chosen[name].conditions:
            if condition.name in chosen and condition.name != name:
                place(condition.name)
        order.append(name)

    for name in chosen:
        place(name)
    return order


def distinct_configurations(space: kt.HyperParameters) -> int | None:
    """How many distinct sets of values `space` holds, conditions respected (``rate`` counts
    only where ``dropout`` is on); None when a float range has no step (infinitely many)."""
    hps = list(space.space)
    parents = {c.name for h in hps for c in h.conditions}

    def values_of(h: Any) -> list[Any]:
        if isinstance(h, HPS.Fixed):
            return [h.value]
        if isinstance(h, HPS.Boolean):
            return [False, True]
        return list(h.values)

    if any(isinstance(h, HPS.Float) and h.step is None for h in hps):
        return None

    def count(i: int, values: dict[str, Any]) -> int:
        if i == len(hps):
            return 1
        h = hps[i]
        if not all(c.is_active(values) for c in h.conditions):
            return count(i + 1, values)
        options = values_of(h)
        if h.name in parents:
            return sum(count(i + 1, {**values, h.name: v}) for v in options)
        return len(options) * count(i + 1, values)

    return count(0, {})
