"""One trial's record as a file: its JSON format, and finding a trial's files under whichever
spelling of its id they were written with. Where the files live is `ResultsFolder`'s."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from tuner.files import atomic_write_text
from tuner.trial import TrialRecord, canonical_id


class DamagedFile(Exception):
    """A results-folder file that cannot be read back: `path` and why."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path} {reason}")
        self.path, self.reason = path, reason


def write_record(path: Path, record: TrialRecord) -> None:
    """Write one finished trial's record to `path` (atomically)."""
    atomic_write_text(path, json.dumps(asdict(record), default=float))


def read_record(path: Path) -> TrialRecord:
    """One record file; `DamagedFile` when it cannot be read back."""
    try:
        return TrialRecord(**json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as error:  # bad JSON, not UTF-8, wrong fields
        reason = "is empty" if path.stat().st_size == 0 else f"is damaged ({error})"
        raise DamagedFile(path, reason) from None


def trial_files(directory: Path, trial_id: str, suffix: str) -> list[Path]:
    """The files of trial `trial_id` in `directory` named ``<id><suffix>``, under whichever
    spelling of its id: folders written before ids were canonical have KerasTuner's padded
    ones ("07.json")."""
    wanted = canonical_id(trial_id)
    own = directory / f"{wanted}{suffix}"
    found = [own] if own.is_file() else []
    if directory.is_dir() and wanted.isdigit():
        for path in directory.glob(f"0*{suffix}"):
            if path != own and canonical_id(path.name.removesuffix(suffix)) == wanted:
                found.append(path)
    return found


def trial_file(directory: Path, trial_id: str, suffix: str) -> Path:
    """The file of trial `trial_id` in `directory` (`trial_files`), or where a new one goes
    (its canonical name)."""
    found = trial_files(directory, trial_id, suffix)
    return found[0] if found else directory / f"{canonical_id(trial_id)}{suffix}"
