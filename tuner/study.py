"""Ask and tell: any registered strategy, for an objective that is not Keras training (a
simulator, a scikit-learn model, a table of results).

    study = tuner.Study({"C": {"min": 1e-3, "max": 1e3, "sampling": "log"}}, strategy="tpe")
    for _ in range(20):
        trial = study.ask()
        study.tell(trial, cross_val_error(**trial.values))
    study.best.values

`ask()` returns None once the strategy has nothing more to propose (``max_trials`` asked, or a
grid walked to its end), as KerasTuner's oracle answers STOPPED rather than failing. The
strategy is the campaign's own oracle, asked and told through `tuner.strategies.asking`, the
module the campaign loop goes through. With a `folder`, the oracle's state is saved after every
tell, and a `Study` made on the same folder resumes it: it proposes what an uninterrupted one
would have, and trials asked but never told are handed out again first.

Hyperband's trials carry a budget (`StudyTrial.budget`: the epochs KerasTuner's Hyperband gives
the trial, between ``options["min_epochs"]`` and ``options["max_epochs"]``, 1 and 20 by
default) and a promoted trial names the trial it continues (`StudyTrial.parent`): spend that
much on the evaluation (iterations, samples, simulated time). Strategies without budgets leave
both None.
"""

from __future__ import annotations

import json
import math
import numbers
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import keras_tuner as kt
from keras_tuner.engine import trial as trial_module

from tuner.campaign_objective import CampaignObjective
from tuner.direction import check_direction, loss
from tuner.errors import ConfigError, did_you_mean
from tuner.files import atomic_write_text
from tuner.results.pareto import pareto_mask
from tuner.space import PYTHON_LABEL, build_space, space_labelled, values_as_written
from tuner.store import engine_kt
from tuner.store.folder import ENGINE_FOLDER, STUDY_FILE
from tuner.strategies import asking, create_oracle, get_strategy, strategy_names
from tuner.strategies.proposals import AutoChoiceChanged
from tuner.strategies.registry import check_multi_objective
from tuner.trial import COMPLETED, FAILED, canonical_id

if TYPE_CHECKING:
    import pandas as pd

RUNNING = "running"
TUNER_ID = "study"
# Told failures are the user's data (an infeasible point), not a broken campaign: KerasTuner's
# consecutive-failure limit (it compares with ==) never fires at this count.
_NO_FAILURE_LIMIT = 2**62
# What a saved study must share with the Study that resumes it (max_trials may change).
_IDENTITY = ("strategy", "objective", "direction", "seed", "options", "space")
_ARGUMENT = {"space": "space=", "options": "options="}


@dataclass(frozen=True)
class StudyTrial:
    """One trial of a `Study`: what `ask()` hands out and `trials` lists.

    `values` holds the active hyperparameters only (a conditional one only where its parent
    allows it); `hp` is KerasTuner's object with the same values (what a builder takes).
    `budget` is the trial's epoch budget for strategies that give one (Hyperband), else None;
    `parent` the trial a promoted one continues. `status` is ``"running"`` (asked, not told),
    ``"completed"`` (with its `value`: a tuple, one number an objective, in a study of
    several) or ``"failed"`` (with its `error`).
    """

    trial_id: str
    values: dict[str, Any]
    hp: kt.HyperParameters = field(repr=False)
    budget: int | None = None
    parent: str | None = None
    status: str = RUNNING
    value: float | tuple[float, ...] | None = None
    error: str | None = None


class Study:
    """Ask-and-tell search over `space` with a registered strategy.

    `space` is a dict in a campaign's ``[space]`` syntax (``{"units": {"min": 16, "max": 128,
    "step": 16}, "optimizer": ["adam", "sgd"]}``) or a ``kt.HyperParameters`` (conditional
    scopes included). `objective` names the value told, `direction` is ``"min"`` or
    ``"max"``; `options` are the strategy's ``[strategy_options]``. Every argument is checked
    here, before anything is written.
    """

    def __init__(
        self,
        space: Mapping[str, Any] | kt.HyperParameters,
        *,
        objective: str | Sequence[str] = "score",
        direction: str | Sequence[str] = "min",
        strategy: str = "auto",
        seed: int = 0,
        max_trials: int = 100,
        folder: str | Path | None = None,
        options: Mapping[str, Any] | None = None,
    ):
        if get_strategy(strategy).trains_itself:
            raise ConfigError(
                f"strategy {strategy!r} trains its trials itself (it needs Keras training, "
                f"not told values): run it from a campaign; ask and tell serves "
                f"{', '.join(n for n in strategy_names() if not get_strategy(n).trains_itself)}."
            )
        hyperparameters = _space(space)
        spec = _objectives(objective, direction)
        if len(spec) > 1:
            check_multi_objective(strategy)
        for name, value in (("seed", seed), ("max_trials", max_trials)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{name} must be an integer, but got {value!r}.")
        if max_trials < 1:
            raise ConfigError(f"max_trials must be at least 1, but got {max_trials}.")
        # One objective: its name and direction; several: the lists, in the order told.
        self.objective: str | list[str] = spec[0][0] if len(spec) == 1 else [n for n, _ in spec]
        self.direction: str | list[str] = spec[0][1] if len(spec) == 1 else [d for _, d in spec]
        self._spec = spec
        self.strategy = strategy
        self.seed = seed
        self.max_trials = max_trials
        self.options = dict(options or {})
        self._oracle = self._new_oracle(hyperparameters)
        self._identity = {
            "strategy": strategy,
            "objective": self.objective,
            "direction": self.direction,
            "seed": seed,
            "options": self.options,
            "space": hyperparameters.get_config()["space"],
        }
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        if folder is None:  # KerasTuner's oracle saves as it goes: somewhere that goes away
            self._scratch = tempfile.TemporaryDirectory(prefix="tuner-study-")
            self.folder = Path(self._scratch.name)
        else:
            self.folder = Path(folder)
        self._open()

    # ------------------------------------------------------------------ asking and telling

    def ask(self) -> StudyTrial | None:
        """The next trial to evaluate, or None when the strategy has nothing more to propose.
        A strategy that must hear back first (Hyperband promotes from a finished round) raises
        a `ConfigError` naming the trials to tell."""
        trials = self.ask_batch(1)
        return trials[0] if trials else None

    def ask_batch(self, n: int) -> list[StudyTrial]:
        """Up to `n` distinct trials to evaluate together, asked as the campaign loop asks a
        pack (none ends before the last is asked); fewer when the strategy has fewer left."""
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ConfigError(f"ask_batch(n) needs n >= 1, but got {n!r}.")
        oracle = self._oracle
        left = asking.trials_left(oracle)
        # Never more than are left: a batch-planning strategy (bayesian) makes every one.
        limit = max(1, min(n, left)) if left is not None else n
        trials, answer = asking.ask_batch(oracle, TUNER_ID, limit, busy=set(oracle.ongoing_trials))
        if not trials and answer.status == asking.IDLE:
            pending = ", ".join(canonical_id(t.trial_id) for t in oracle.ongoing_trials.values())
            raise ConfigError(
                f"strategy {self.strategy!r} waits for the results of trial(s) {pending}: it "
                "proposes nothing while they are untold; tell them first."
            )
        return [self._study_trial(t) for t in trials]

    def tell(
        self,
        trial: StudyTrial | str | int,
        value: float | Sequence[float] | None = None,
        *,
        failed: str | None = None,
    ) -> StudyTrial:
        """Report a trial's result: its `value` (one number an objective, in their order, for
        a study of several), or ``failed="why"``. Each trial is told once; with a folder the
        state is saved before this returns. Returns the trial as told."""
        trial_id = canonical_id(str(trial.trial_id if isinstance(trial, StudyTrial) else trial))
        running = self._running(trial_id)
        if (value is None) == (failed is None):
            raise ConfigError(
                f"tell(trial {trial_id}, ...) needs a value or failed='why', exactly one; "
                f"got value={value!r}, failed={failed!r}."
            )
        metrics = self._metrics(trial_id, value) if failed is None else None
        asking.tell(self._oracle, running, metrics, None if failed is None else str(failed))
        return self._study_trial(self._oracle.trials[running.trial_id])

    def optimize(
        self,
        fn: Callable[[StudyTrial], float | Sequence[float]],
        n_trials: int | None = None,
        *,
        catch: tuple[type[Exception], ...] = (),
    ) -> None:
        """Ask, call ``fn(trial)``, tell its value, until `n_trials` are told (all the study
        has left when None). As Optuna's ``optimize``: an exception is told as the trial's
        failure (its type and text) and raised again unless it is one of `catch`; a value
        that is not a finite number is told as a failure; Ctrl-C leaves the trial being
        evaluated untold (a study on a folder hands it out again on resume) and keeps every
        trial told before."""
        told = 0
        while n_trials is None or told < n_trials:
            trial = self.ask()
            if trial is None:
                return
            try:
                value = fn(trial)
            except Exception as error:
                self.tell(trial, failed=f"{type(error).__name__}: {error}")
                if not isinstance(error, catch):
                    raise
            else:
                try:
                    self._metrics(trial.trial_id, value)
                except ConfigError as error:
                    self.tell(trial, failed=str(error))
                else:
                    self.tell(trial, value)
            told += 1

    # ------------------------------------------------------------------ what is known

    @property
    def trials(self) -> list[StudyTrial]:
        """Every trial asked so far, in the order asked, told or not."""
        ordered = sorted(self._oracle.trials.values(), key=lambda t: _order(t.trial_id))
        return [self._study_trial(t) for t in ordered]

    @property
    def best(self) -> StudyTrial | None:
        """The completed trial with the best value (the first asked among equals); None before
        any trial completes. A study of several objectives has no one best: `pareto_front`."""
        if len(self._spec) > 1:
            raise ConfigError(
                f"a study of several objectives ({', '.join(self.objective)}) has no one best "
                "trial; pareto_front() gives the trials no other beats in every objective."
            )
        completed = [(t.value, t) for t in self.trials if isinstance(t.value, float)]
        if not completed:
            return None
        return min(completed, key=lambda scored: loss(scored[0], self._spec[0][1]))[1]

    def pareto_front(self) -> list[StudyTrial]:
        """The completed trials that no other is at least as good as in every objective and
        better in one (equal ones all kept), in the order asked; for one objective, the best
        trial and any that equal it."""
        trials = self.trials
        points = [
            None if t.value is None else (t.value if isinstance(t.value, tuple) else (t.value,))
            for t in trials
        ]
        on = pareto_mask(points, [d for _, d in self._spec])
        return [t for t, front in zip(trials, on) if front]

    def dataframe(self) -> pd.DataFrame:
        """The trials as a pandas table, in the order asked: trial_id, status, the objective
        (one column each, for several), budget (where the strategy gives one), one column per
        hyperparameter (empty where inactive), error."""
        import pandas as pd

        trials = self.trials
        names = [h.name for h in self._oracle.get_space().space]
        objectives = [n for n, _ in self._spec]
        rows = []
        for t in trials:
            row: dict[str, Any] = {"trial_id": t.trial_id, "status": t.status}
            told = t.value if isinstance(t.value, tuple) else (t.value,)
            row.update(
                {
                    name: told[i] if t.value is not None else None
                    for i, name in enumerate(objectives)
                }
            )
            if any(u.budget is not None for u in trials):
                row["budget"] = t.budget
            row.update({name: t.values.get(name) for name in names})
            row["error"] = t.error
            rows.append(row)
        columns = ["trial_id", "status", *objectives]
        columns += ["budget"] if any(t.budget is not None for t in trials) else []
        return pd.DataFrame(rows, columns=[*columns, *names, "error"])

    # ------------------------------------------------------------------ inside

    def _metrics(self, trial_id: str, value: Any) -> dict[str, float]:
        """The metrics a told value becomes (the one place a value is read): a finite number
        an objective; a `ConfigError` naming what was told otherwise."""
        names = [n for n, _ in self._spec]
        several = len(names) > 1
        told = list(value) if several and isinstance(value, (list, tuple)) else [value]
        if several and len(told) != len(names):
            raise ConfigError(
                f"trial {trial_id}: tell one value an objective ({', '.join(names)}), in that "
                f"order, but got {value!r}."
            )
        for name, number in zip(names, told):
            if (
                not isinstance(number, numbers.Real)
                or isinstance(number, bool)
                or not math.isfinite(float(number))
            ):
                raise ConfigError(
                    f"trial {trial_id}: the value told for {name!r} must be a finite "
                    f"number, but got {number!r}; tell a failure with failed='why' instead."
                )
        return {name: float(number) for name, number in zip(names, told)}

    def _running(self, trial_id: str) -> kt.engine.trial.Trial:
        """The oracle's trial `trial_id`, which must be asked and not told yet."""
        for trial in self._oracle.ongoing_trials.values():
            if canonical_id(trial.trial_id) == trial_id:
                return trial
        known = {canonical_id(t): t for t in self._oracle.trials}
        if trial_id not in known:
            raise ConfigError(
                f"trial {trial_id!r} is not a trial of this study{did_you_mean(trial_id, known)};"
                f" tell a trial that ask() returned."
            )
        told = self._study_trial(self._oracle.trials[known[trial_id]])
        if told.status == RUNNING:  # asked before a resume, not handed out again yet
            raise ConfigError(
                f"trial {trial_id} was asked before this study was resumed; ask() hands it "
                "out again (before any new trial): tell it then."
            )
        result = f"value {told.value!r}" if told.status == COMPLETED else f"error {told.error!r}"
        raise ConfigError(
            f"trial {trial_id} was already told ({told.status}, {result}); each trial is "
            "told once: ask() for a new one."
        )

    def _study_trial(self, trial: kt.engine.trial.Trial) -> StudyTrial:
        hp = trial.hyperparameters
        written = values_as_written(hp)
        active = [h.name for h in hp.space if h.name in written and hp.is_active(h)]
        values = {name: written[name] for name in active}
        status = {
            trial_module.TrialStatus.COMPLETED: str(COMPLETED),
            trial_module.TrialStatus.FAILED: str(FAILED),
            trial_module.TrialStatus.INVALID: str(FAILED),
        }.get(trial.status, RUNNING)
        value: float | tuple[float, ...] | None = None
        names = [n for n, _ in self._spec]
        if status == COMPLETED and all(trial.metrics.exists(n) for n in names):
            told = tuple(float(trial.metrics.get_last_value(n)) for n in names)
            value = told if len(told) > 1 else told[0]
        budget = hp.values.get("tuner/epochs")
        parent = hp.values.get("tuner/trial_id")
        return StudyTrial(
            trial_id=canonical_id(trial.trial_id),
            values=values,
            hp=hp,
            budget=None if budget is None else int(budget),
            parent=None if parent is None else canonical_id(parent),
            status=status,
            value=value,
            error=trial.message if status == FAILED else None,
        )

    def _open(self) -> None:
        """Point the oracle at the folder: a new study writes its settings there, a saved one
        is checked against this one's and reloaded."""
        settings = self.folder / STUDY_FILE
        if self.folder.exists() and not self.folder.is_dir():
            raise ConfigError(f"folder {str(self.folder)!r} is a file; give a folder's path.")
        if settings.exists():
            saved = json.loads(settings.read_text(encoding="utf-8"))
            self._check_same(saved)
        elif self.folder.exists() and any(self.folder.iterdir()):
            raise ConfigError(
                f"folder {str(self.folder)!r} is not empty and holds no study ({STUDY_FILE}); "
                "give a new or empty folder."
            )
        else:
            atomic_write_text(settings, json.dumps(self._identity, indent=1, sort_keys=True))
        self._attach()
        if engine_kt.has_state(self.folder / ENGINE_FOLDER):
            try:
                engine_kt.reload(self._oracle)
            except AutoChoiceChanged as changed:  # the strategy auto started it with goes on
                self._oracle = self._new_oracle(self._oracle.hyperparameters, changed.saved)
                self._attach()
                engine_kt.reload(self._oracle)

    def _new_oracle(
        self, hyperparameters: kt.HyperParameters, auto_choice: str | None = None
    ) -> kt.Oracle:
        return create_oracle(
            self.strategy,
            objective=CampaignObjective(tuple(self._spec)),
            hyperparameters=hyperparameters,
            max_trials=self.max_trials,
            seed=self.seed,
            options=self.options,
            max_consecutive_failures=_NO_FAILURE_LIMIT,
            auto_choice=auto_choice,
        )

    def _attach(self) -> None:
        engine_kt.set_project_dir(self._oracle, self.folder, ENGINE_FOLDER)
        engine_kt.make_durable(self._oracle)

    def _check_same(self, saved: Mapping[str, Any]) -> None:
        """Refuse to resume a study saved with other settings, naming the first that differs."""
        mine = json.loads(json.dumps(self._identity))  # as saved: tuples become lists
        for key in _IDENTITY:
            if saved.get(key) == mine[key]:
                continue
            if key == "space":
                shown = _space_difference(saved.get(key) or [], mine[key])
            else:
                shown = f"it was saved with {key}={saved.get(key)!r}, not {mine[key]!r}"
            argument = _ARGUMENT.get(key, f"{key}=")
            raise ConfigError(
                f"folder {str(self.folder)!r} holds a study with another {key}: {shown}; pass "
                f"the saved {argument} to resume it, or another folder to start a new study."
            )


def _space(space: Mapping[str, Any] | kt.HyperParameters) -> kt.HyperParameters:
    """The space as KerasTuner's hyperparameters: a ``[space]``-syntax dict built by the
    campaign's own parser (errors name entries as ``space["units"]``), or a copy of `space`."""
    if isinstance(space, kt.HyperParameters):
        hp = space.copy()
    elif isinstance(space, Mapping):
        with space_labelled(PYTHON_LABEL):
            hp = build_space(dict(space))
    else:
        raise ConfigError(
            "space must be a dict in the [space] syntax or a kt.HyperParameters, but got "
            f"{type(space).__name__} {space!r}."
        )
    if not hp.space:
        raise ConfigError("space= declares no hyperparameters; give at least one entry.")
    return hp


def _space_difference(saved: list[dict[str, Any]], given: list[dict[str, Any]]) -> str:
    """Which hyperparameters differ between two spaces' configs, by name."""
    before = {h["config"]["name"]: h for h in saved}
    after = {h["config"]["name"]: h for h in given}
    parts = []
    if removed := [n for n in before if n not in after]:
        parts.append(f"{', '.join(removed)} only in the saved space")
    if added := [n for n in after if n not in before]:
        parts.append(f"{', '.join(added)} only in the one given")
    if changed := [n for n in before if n in after and before[n] != after[n]]:
        parts.append(f"{', '.join(changed)} declared otherwise")
    return "; ".join(parts) or "the same entries in another order"


def _objectives(objective: Any, direction: Any) -> list[tuple[str, str]]:
    """(name, direction) of each objective: one name, or a list of two or more distinct names
    with one direction for all or a list of them; a `ConfigError` naming the problem."""
    names = [objective] if isinstance(objective, str) else objective
    if not isinstance(names, (list, tuple)) or not names:
        raise ConfigError(f"objective must be a name or a list of names, but got {objective!r}.")
    if not all(isinstance(n, str) and n for n in names) or len(set(names)) != len(names):
        raise ConfigError(f"objective must be non-empty, distinct names, but got {objective!r}.")
    directions = [direction] * len(names) if isinstance(direction, str) else direction
    if not isinstance(directions, (list, tuple)) or len(directions) != len(names):
        raise ConfigError(
            f"direction must be 'min' or 'max', or one of them an objective "
            f"({len(names)}), but got {direction!r}."
        )
    return [(n, check_direction(d)) for n, d in zip(names, directions)]


def _order(trial_id: str) -> tuple[int, str]:
    text = canonical_id(trial_id)
    return (int(text), text) if text.isdigit() else (2**63, text)


__all__ = ["Study", "StudyTrial"]
