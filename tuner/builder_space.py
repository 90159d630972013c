"""The search space a builder declares, found the way KerasTuner's users expect: by building it.

A KerasTuner builder *is* its search space: every ``hp.Int``/``hp.Float``/``hp.Choice``/
``hp.Boolean`` it calls (in ``build``, or in a ``HyperModel``'s ``fit``) is a hyperparameter to
search. Some are declared only under a condition (``if hp.Boolean("dropout"): hp.Float("rate",
...)``, a loop over ``range(hp.Int("layers", ...))``), so one build at the defaults does not see
them. `explore` builds the model again with each other value of every choice, boolean and
small integer range (a layer count), and records under which parent values every newly seen
hyperparameter appears: ``rate`` becomes active only when ``dropout`` is True, ``units_2`` only
when ``layers`` is 3, as if the builder had written ``hp.conditional_scope``. Conditions
written with ``conditional_scope`` are kept as written. A name that appears only at the top of
a wide integer range has no condition that can be stated: it is searched always, as
KerasTuner does. Exploring runs the builder only: a ``HyperModel``'s own ``fit`` is probed
with a model that does not train (`fit_probe`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import keras_tuner as kt

from tuner.space import memo_key, parent_condition, with_conditions
from tuner.space_kt import conditions_hold

hps_module = kt.engine.hyperparameters
# Builds one exploration may make; each costs about one build at the defaults (a small model:
# tens of milliseconds). A builder with more alternatives than this is explored breadth-first
# up to it; what it misses is added when a trial declares it (`new_declarations`).
MAX_BUILDS = 64
# An integer range with at most this many values is built at each (a number of layers whose
# per-layer widths then get exact conditions); a wider one only at its top.
SMALL_RANGE = 8
FitProbe = Callable[[kt.HyperParameters, Any], None]


def _alternatives(h: Any) -> list[Any]:
    """The values, other than the default, worth one build each to reveal what they enable."""
    if isinstance(h, hps_module.Fixed):
        return []
    if isinstance(h, hps_module.Boolean):
        return [not h.default]
    if isinstance(h, hps_module.Choice):
        return [v for v in h.values if v != h.default]
    if isinstance(h, hps_module.Int):
        values = list(h.values)
        if len(values) <= SMALL_RANGE:  # a layer count: each value, for exact conditions
            return [v for v in values if v != h.default]
        return [values[-1]] if values[-1] != h.default else []
    return []  # a float range's values enable nothing a builder branches on


def _condition(parent: Any, values: list[Any]) -> list[Any]:
    """The condition "parent takes one of `values`", where every value of the parent was
    built: a choice, a boolean, a small integer range; a wide integer range's top only shows
    that some larger values enable the name, so it stays unconditional."""
    if isinstance(parent, hps_module.Int) and len(list(parent.values)) > SMALL_RANGE:
        return []
    return [parent_condition(parent.name, values)]


class _Explorer:
    def __init__(self, hypermodel: kt.HyperModel, probe_fit: FitProbe | None, max_builds: int):
        self.hypermodel, self.probe_fit, self.max_builds = hypermodel, probe_fit, max_builds
        self.builds: dict[tuple[tuple[str, Any], ...], list[Any]] = {}
        self.found: dict[str, Any] = {}

    def declared_by(self, preset: Mapping[str, Any]) -> list[Any] | None:
        """The hyperparameters one build (and fit probe) declares with `preset` values, first
        of each name, in order; None when the budget is spent or the build fails."""
        key = tuple(sorted(preset.items(), key=lambda item: item[0]))
        if key in self.builds:
            return self.builds[key]
        if len(self.builds) >= self.max_builds:
            return None
        import keras

        hp = kt.HyperParameters()
        hp.values.update(preset)
        try:
            model = self.hypermodel.build(hp)
            if self.probe_fit is not None:
                try:
                    self.probe_fit(hp, model)
                except Exception:  # the probe only looks for declarations; trials train for real
                    pass
        except Exception:
            if not preset:
                raise  # the defaults: the caller's check (`declared_hyperparameters`) says why
            # A value this builder refuses in some combination: the trial that draws it fails
            # on its own. What was declared before the failure still counts.
        finally:
            keras.backend.clear_session(free_memory=False)
        seen: dict[str, Any] = {}
        for h in hp.space:
            seen.setdefault(h.name, h)
        self.builds[key] = list(seen.values())
        return self.builds[key]

    def visit(self, preset: dict[str, Any], conditions_of: Callable[[str], list[Any]]) -> None:
        """Record what a build with `preset` declares that no earlier build did, then build
        again with each new hyperparameter's alternatives to find what they enable."""
        declared = self.declared_by(preset)
        if declared is None:
            return
        new = [h for h in declared if h.name not in self.found]
        for h in new:
            self.found[h.name] = h if h.conditions else with_conditions(h, conditions_of(h.name))
        here = {h.name for h in declared}
        for h in new:
            alternatives = _alternatives(h)
            revealed: dict[str, list[Any]] = {}
            for value in alternatives:
                for child in self.declared_by({**preset, h.name: value}) or []:
                    if child.name not in here and child.name not in self.found:
                        revealed.setdefault(child.name, []).append(value)
            for value in alternatives:
                if any(value in values for values in revealed.values()):
                    self.visit({**preset, h.name: value}, self._under(h, revealed))

    def _under(self, parent: Any, revealed: dict[str, list[Any]]) -> Callable[[str], list[Any]]:
        """The conditions of a name first declared when `parent` took one of the values in
        `revealed[name]`: the parent's own, and that one."""
        inherited = list(self.found[parent.name].conditions)

        def conditions_of(name: str) -> list[Any]:
            return inherited + _condition(parent, revealed.get(name, []))

        return conditions_of


# Builders explored in this process, by `memo_key` (the builder's class and attributes): a
# campaign planned again (a rerun, a notebook's second search) is not explored again.
_EXPLORED: dict[Any, dict[str, Any]] = {}


def explore(
    hypermodel: kt.HyperModel,
    *,
    probe_fit: FitProbe | None = None,
    max_builds: int = MAX_BUILDS,
) -> kt.HyperParameters:
    """Every hyperparameter `hypermodel` declares, each with the conditions under which it is
    active, parents before their children. `probe_fit(hp, model)` (for a ``HyperModel`` with
    its own ``fit``) runs that ``fit`` without training, so that what it declares counts too.

    The first build is at the defaults, which the caller has checked already
    (`tuner.space.declared_hyperparameters`, as `make_plan` does: a builder that fails there
    would fail the same way in every trial); it is not repeated."""
    key = memo_key(hypermodel, {"fit probed": probe_fit is not None, "builds": max_builds})
    if key is not None and key in _EXPLORED:
        # A deep copy: KerasTuner's from_config turns the conditions' configs into objects in
        # place, and the memo must stay plain.
        return kt.HyperParameters.from_config(copy.deepcopy(_EXPLORED[key]))
    explorer = _Explorer(hypermodel, probe_fit, max_builds)
    explorer.visit({}, lambda name: [])
    space = kt.HyperParameters()
    for h in explorer.found.values():
        space.merge([h])
    if key is not None:
        _EXPLORED[key] = space.get_config()
    return space


def new_declarations(space: kt.HyperParameters, built: kt.HyperParameters) -> list[Any]:
    """What a trial's build declared that the oracle's `space` lacks (a branch exploration
    did not reach), to add to the oracle's space as KerasTuner's ``update_space`` does."""
    known = {h.name for h in space.space}
    new: dict[str, Any] = {}
    for h in built.space:
        if h.name not in known and not h.name.startswith("tuner/"):
            new.setdefault(h.name, with_conditions(h, []))
    return list(new.values())


def active_values(space: kt.HyperParameters, values: Mapping[str, Any]) -> dict[str, Any]:
    """`values` less those whose conditions in `space` do not hold for them (a ``rate`` drawn
    while ``dropout`` is off): what a trial really used."""
    hp = kt.HyperParameters()
    hp.values = dict(values)
    by_name: dict[str, list[Any]] = {}
    for h in space.space:
        by_name.setdefault(h.name, []).append(h)
    return {
        name: value
        for name, value in values.items()
        if name not in by_name or any(conditions_hold(hp, h.conditions) for h in by_name[name])
    }


class _NoTraining:
    """Stands in for the built model while a ``HyperModel``'s own ``fit`` is probed for what it
    declares: it answers as the model does, except that ``fit`` trains nothing."""

    def __init__(self, model: Any):
        self._model = model

    def fit(self, *args: Any, **kwargs: Any) -> Any:
        import keras

        history = keras.callbacks.History()
        history.history = {}
        return history

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


PROBE_SAMPLES = 8


def fit_probe(hypermodel: kt.HyperModel, x: Any, y: Any, x_val: Any, y_val: Any) -> FitProbe:
    """A probe that calls `hypermodel`'s own ``fit`` as a trial does (on a few samples of the
    data), with a model that does not train, so that what ``fit`` declares (``shuffle``, a
    ``normalize`` flag, the batch size) is found before the search starts."""
    n = PROBE_SAMPLES

    def probe(hp: kt.HyperParameters, model: Any) -> None:
        hypermodel.fit(
            hp,
            _NoTraining(model),
            x=x[:n],
            y=y[:n],
            validation_data=(x_val[:n], y_val[:n]),
            callbacks=[],
            epochs=1,
            initial_epoch=0,
            verbose=0,
        )

    return probe


__all__ = ["explore", "fit_probe", "new_declarations", "active_values"]
