"""KerasTuner's engine state in a results folder (``.engine/``: ``oracle.json``,
``trial_*/trial.json``): pointing an oracle at it, making its writes atomic, finding damage,
clearing, reloading and replaying it. Beside `ResultsFolder`, which decides where it lives; a
``*_kt`` module, so one of the only ones that touch KerasTuner's private attributes
(tests/test_keras_tuner_seam.py pins each behaviour relied on here).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras_tuner as kt

from tuner.files import atomic_write_text
from tuner.objectives import spec_of, told
from tuner.store.folder import ORACLE_FILE, TRIAL_FILE, TRIAL_FOLDER_PREFIX
from tuner.strategies.oracles_kt import is_client
from tuner.trial import FAILED, TrialRecord, canonical_id


def set_project_dir(oracle: Any, directory: str | os.PathLike[str], project_name: str) -> None:
    """Make the oracle keep its state (``oracle.json``, ``trial_*/``) in
    ``directory/project_name``. Called once, after `create_oracle` and before ``reload()``.

    KerasTuner only does this from inside a ``Tuner``. A worker-side client keeps no state (the
    chief does), so for one this does nothing.
    """
    if is_client(oracle):
        return
    oracle._set_project_dir(str(directory), project_name)


def reload(oracle: Any) -> None:
    """Reload a local oracle's state, without queueing ended trials to run again.

    ``end_trial`` saves with the trial already in ``end_order`` but still ongoing (see
    `end_trial`); a process stopped before the save that follows leaves it so on disk, and
    KerasTuner's ``reload`` queues every ongoing trial to run again: it would end twice."""
    oracle.reload()
    ended = set(oracle.end_order)
    oracle._retry_queue = [t for t in oracle._retry_queue if t not in ended]


_ORACLE_KEYS = {"ongoing_trials", "hyperparameters", "start_order", "end_order", "run_times"}
LOST = "lost: its record and the engine's state were both damaged"
PARENT = "tuner/trial_id"  # KerasTuner's Hyperband: the id of the trial a promoted one continues
_TRIAL_KEYS = {"trial_id", "hyperparameters", "metrics", "score", "best_step", "status"}


def make_durable(oracle: Any) -> Any:
    """Make a local oracle write ``oracle.json`` and every ``trial_*/trial.json`` atomically.
    Called once, after `set_project_dir`.

    KerasTuner writes them in place (``utils.save_json``), so a kill or Ctrl-C in the middle
    leaves an empty file that no later run can reload. Every state write goes through
    ``Oracle.save`` and ``Oracle._save_trial``; both are replaced on this instance.
    """
    if is_client(oracle):
        return oracle

    def save() -> None:
        atomic_write_text(oracle._get_oracle_fname(), json.dumps(oracle.get_state()))

    def save_trial(trial: kt.engine.trial.Trial) -> None:
        folder = oracle._get_trial_dir(trial.trial_id)
        atomic_write_text(os.path.join(folder, TRIAL_FILE), json.dumps(trial.get_state()))

    oracle.save = save
    oracle._save_trial = save_trial
    return oracle


def _read_json(path: Path, keys: set[str]) -> tuple[dict[str, Any] | None, str | None]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "is missing"
    except (OSError, ValueError) as error:  # ValueError: bad JSON or not UTF-8
        reason = "is empty" if path.stat().st_size == 0 else f"is damaged ({error})"
        return None, reason
    if not isinstance(state, dict) or not keys <= state.keys():
        return None, "is damaged (not KerasTuner's state)"
    return state, None


def engine_damage(project_dir: Path) -> list[str]:
    """What stops KerasTuner reloading its state from `project_dir` (``oracle.json`` and the
    ``trial_*/trial.json`` it names): one line per damaged or missing file, empty when none."""
    problems = []
    state, reason = _read_json(project_dir / ORACLE_FILE, _ORACLE_KEYS)
    if reason is not None:
        problems.append(f"{project_dir / ORACLE_FILE} {reason}")
    readable = set()
    for folder in sorted(project_dir.glob(f"{TRIAL_FOLDER_PREFIX}*")):
        trial, reason = _read_json(folder / TRIAL_FILE, _TRIAL_KEYS)
        if reason is not None:
            problems.append(f"{folder / TRIAL_FILE} {reason}")
        elif trial is not None:
            readable.add(str(trial["trial_id"]))
    if state is not None:
        named = set(state["start_order"]) | set(state["ongoing_trials"].values())
        for trial_id in sorted(named - readable):
            path = project_dir / f"{TRIAL_FOLDER_PREFIX}{trial_id}" / TRIAL_FILE
            if f"{path} " not in " ".join(p + " " for p in problems):
                problems.append(f"{path} is missing")
    return problems


def has_state(project_dir: Path) -> bool:
    """Whether KerasTuner left any state in `project_dir`."""
    return (project_dir / ORACLE_FILE).exists() or any(project_dir.glob(f"{TRIAL_FOLDER_PREFIX}*"))


def clear_state(project_dir: Path) -> None:
    """Delete KerasTuner's state in `project_dir` (``oracle.json``, ``trial_*/``), before it is
    rebuilt; anything else there (our records, parents' weights) stays."""
    (project_dir / ORACLE_FILE).unlink(missing_ok=True)
    for folder in project_dir.glob(f"{TRIAL_FOLDER_PREFIX}*"):
        shutil.rmtree(folder, ignore_errors=True)


def finished_trials(oracle: kt.Oracle) -> dict[str, dict[str, Any]]:
    """The values of every trial a reloaded oracle counts as ended (it will not run again),
    by trial id."""
    return {t: dict(oracle.trials[t].hyperparameters.values) for t in oracle.end_order}


def run_again(oracle: kt.Oracle, trial_ids: Sequence[str]) -> None:
    """Make ended trials run again, with the same id and values (their results were lost).
    Called after ``reload()``; saves the state."""
    for trial_id in trial_ids:
        oracle.end_order.remove(trial_id)
        oracle._run_times[trial_id] = 0
        oracle.trials[trial_id].status = kt.engine.trial.TrialStatus.RUNNING
        oracle._retry_queue.append(trial_id)
    if trial_ids:
        oracle.save()


def replay(oracle: kt.Oracle, records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Give a fresh oracle (project folder set, nothing reloaded) `records`' trials as if it had
    run them, and save its state. Called when KerasTuner's state is damaged: the records are
    the truth. Ids missing between records become failed trials, so that no new trial can
    take a finished trial's id (KerasTuner numbers a new trial ``len(oracle.trials)``).

    Returns those placeholders (the caller keeps them as records). Strategy-specific state
    outside the trials (Hyperband's brackets) starts afresh."""
    by_id = {r.trial_id: r for r in records}  # `canonical_id`s: the replayed trials' ids
    lost = []
    numbers = [int(t) for t in by_id if t.isdigit()]
    for number in range(max(numbers) + 1 if numbers else 0):
        if str(number) not in by_id:
            lost.append(TrialRecord(str(number), FAILED, {}, error=LOST))
            by_id[str(number)] = lost[-1]
    status = kt.engine.trial.TrialStatus
    for trial_id in sorted(by_id, key=lambda t: (int(t), t) if t.isdigit() else (10**9, t)):
        record = by_id[trial_id]
        hp = oracle.hyperparameters.copy()
        hp.values = dict(record.hyperparameters)
        if hp.values.get(PARENT) is not None:  # the parent's engine id, perhaps padded
            hp.values[PARENT] = canonical_id(str(hp.values[PARENT]))
        trial = kt.engine.trial.Trial(hyperparameters=hp, trial_id=trial_id, status=status.RUNNING)
        oracle.trials[trial_id] = trial
        oracle.start_order.append(trial_id)
        oracle._record_values(trial)
        if record.hyperparameters:  # move the random draws past this trial's (RandomSearch)
            oracle._seed_state += len(oracle.hyperparameters.space)
        if record.scored and record.score is not None:
            oracle.update_trial(trial_id, told(record, spec_of(oracle.objective)))
            trial.status = status.COMPLETED
            oracle.score_trial(trial)
        else:
            trial.status = status.FAILED
            trial.message = record.error
        oracle._run_times[trial_id] += 1
        oracle.end_order.append(trial_id)
        oracle._save_trial(trial)
    oracle.save()
    return lost
