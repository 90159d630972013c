"""Repairing a results folder's engine state: the records are the source of truth. When
KerasTuner's state is damaged or missing, it is rebuilt from them; a record missing for a trial
the state counts as ended is restored from the tables, or that trial runs again. Each repair is
reported as a `Repaired` warning."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

from tuner.errors import ConfigError
from tuner.store.folder import ResultsFolder
from tuner.trial import canonical_id

if TYPE_CHECKING:
    import keras_tuner as kt


class Repaired(UserWarning):
    """A damaged or missing piece of a results folder was repaired (the message says what)."""


def attach_oracle(folder: ResultsFolder, oracle: kt.Oracle, *, rebuild: bool = False) -> kt.Oracle:
    """Point a local oracle at the folder's engine state, reloading it when there is some, and
    make its every state write atomic.

    The records are the source of truth: when KerasTuner's state is damaged or missing (or
    `rebuild`), it is rebuilt from them; a record missing for a trial the state counts as
    ended is restored from the tables, or that trial runs again. Each repair is reported as a
    `Repaired` warning."""
    from tuner.store import engine_kt as seam  # imports keras_tuner: only when attaching

    seam.set_project_dir(oracle, str(folder.path), folder.engine.name)
    if seam.is_client(oracle):
        return oracle
    seam.make_durable(oracle)
    engine = folder.engine
    records = {r.trial_id: r for r in folder.read_records()}
    damage = seam.engine_damage(engine) if (records or seam.has_state(engine)) else []
    if damage or rebuild:
        notes = [f"{problem}; rebuilding the engine's state from the records" for problem in damage]
        for trial_id, record in folder.restore_records(
            sorted(folder.table_trial_ids() - records.keys())
        ).items():
            folder.save_record(record)
            records[trial_id] = record
            notes.append(f"record of trial {trial_id} restored from the tables")
        seam.clear_state(engine)
        for placeholder in seam.replay(oracle, list(records.values())):
            folder.save_record(placeholder)
            notes.append(f"trial {placeholder.trial_id} is lost: kept as a failed trial")
        notes.append(f"engine state rebuilt from {len(records)} record(s)")
        _report(notes)
        return oracle
    if not seam.has_state(engine):
        return oracle
    try:
        seam.reload(oracle)
    except ConfigError:
        raise  # the oracle refuses these settings (auto's choice changed): not damage
    except Exception as error:
        raise ConfigError(
            f"{folder.oracle_state} cannot be reloaded ({type(error).__name__}: "
            f"{error}); `tuner results {folder.path} --rebuild` rebuilds it from the records."
        ) from None
    notes = []
    again = []
    for trial_id, values in seam.finished_trials(oracle).items():
        if canonical_id(trial_id) in records:  # the engine's id may be padded ("07")
            continue
        restored = folder.restore_record(trial_id, values)
        if restored is not None:
            folder.save_record(restored)
            notes.append(f"record of trial {trial_id} was missing; restored from the tables")
        else:
            again.append(trial_id)
            notes.append(
                f"record of trial {trial_id} was missing and the tables lack it; it runs again"
            )
    seam.run_again(oracle, again)
    _report(notes)
    return oracle


def _report(notes: list[str]) -> None:
    for note in notes:
        warnings.warn(note, Repaired, stacklevel=3)
