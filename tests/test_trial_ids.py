"""Trial ids: one numbering, whatever width KerasTuner pads its ids to (issue 20, item 5).

KerasTuner pads trial ids to the width of ``max_trials`` ("0" with 8 trials, "00" with 40);
a trial's seed, and every id a user sees, depend on the trial's number only.
"""

from __future__ import annotations

import json
import re
import zlib

import keras
import numpy as np
import pandas as pd
import pytest

from tests.campaigns import two_class_build
from tests.fakes import OBJECTIVE, NamedModelStore, ScriptedExecutor, oracle
from tuner import api
from tuner.execution import trial_seed
from tuner.loop import attach_oracle, run_trials
from tuner.store import DiskStore, ResultsFolder
from tuner.store import folder as names
from tuner.store.records import trial_file
from tuner.trial import TrialRecord, canonical_id


def test_the_seed_depends_on_the_trial_number_not_on_its_padding():
    assert trial_seed(0, "0") == trial_seed(0, "00") == trial_seed(0, "000")
    assert trial_seed(0, "07") == trial_seed(0, "7") != trial_seed(0, "0")
    assert trial_seed(0, "7") != trial_seed(1, "7")
    # Unpadded ids keep the seeds they always had (committed reference results still match).
    assert trial_seed(3, "5") == zlib.crc32(b"3:5") % 2**31


def test_records_spell_ids_one_way():
    assert canonical_id("007") == "7" and canonical_id("10") == "10" and canonical_id("0") == "0"
    assert canonical_id("abc") == "abc"
    assert TrialRecord("03", "completed", {}).trial_id == "3"


@pytest.mark.slow
def test_trial_zero_trains_the_same_with_8_or_40_trials(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    shown = {}
    for max_trials in (8, 40):
        lines: list[str] = []
        # A space of one configuration: the campaign ends after its trial 0.
        found = api.search(
            two_class_build,
            x,
            y,
            space={"units": 4},
            name=f"t{max_trials}",
            results_dir=str(tmp_path),
            max_trials=max_trials,
            epochs=1,
            quiet=False,
            print_line=lines.append,
        )
        (record,) = found.records
        trials_csv = pd.read_csv(found.folder / "trials.csv", dtype={"trial_id": str})
        history_csv = pd.read_csv(found.folder / "history.csv", dtype={"trial_id": str})
        progress = next(m for m in map(re.compile(r"\] trial (\S+)").search, lines) if m)
        shown[max_trials] = (
            record.trial_id,
            record.history["loss"],
            list(trials_csv["trial_id"]),
            set(history_csv["trial_id"]),
            progress.group(1),
        )
    assert shown[8] == shown[40]
    assert shown[40][0] == "0" and shown[40][2] == ["0"] and shown[40][4] == "0"


def test_tables_records_and_progress_spell_padded_engine_ids_as_numbers(tmp_path):
    made = oracle(12, tmp_path)  # KerasTuner's ids: "00" ... "11"
    store = NamedModelStore(tmp_path, OBJECTIVE, keep_top=2, settings={"name": "ids"})
    executor = ScriptedExecutor({"00": 0.9, "10": 0.95})
    ended = []
    run_trials(made, executor, store, on_trial_end=ended.append)
    assert executor.seen[:2] == ["00", "01"]  # the engine keeps its own spelling
    numbers = [str(n) for n in range(12)]
    assert [r.trial_id for r in store.records()] == numbers
    assert sorted(p.stem for p in ResultsFolder(tmp_path).records.glob("*.json")) == sorted(numbers)
    table = ResultsFolder(tmp_path).table()
    assert list(table["trial_id"][:2]) == ["10", "0"] and set(table["trial_id"]) == set(numbers)
    assert set(ResultsFolder(tmp_path).history_table()["trial_id"]) == set(numbers)
    summary = (tmp_path / names.SUMMARY_FILE).read_text()
    assert "trial 10," in summary and "| 00 " not in summary
    # What the progress lines print.
    assert [o.record.trial_id for o in ended[:2]] == ["0", "1"]


def _as_older_version_wrote_it(folder):
    """Respell a results folder's ids as this toolkit did before ids were canonical
    (KerasTuner's padded ones) in its records, record and model file names and tables."""
    for path in ResultsFolder(folder).records.glob("*.json"):
        state = json.loads(path.read_text())
        state["trial_id"] = f"{int(state['trial_id']):02d}"
        path.unlink()
        (path.parent / f"{state['trial_id']}.json").write_text(json.dumps(state))
    for path in (folder / names.MODELS_FOLDER).glob("*.keras"):
        path.rename(path.with_name(f"{int(path.stem):02d}.keras"))
    for name in (names.TRIALS_FILE, names.HISTORY_FILE):
        table = pd.read_csv(folder / name, dtype={"trial_id": str})
        table["trial_id"] = [f"{int(t):02d}" for t in table["trial_id"]]
        table.to_csv(folder / name, index=False)


def _interrupt_at(trial_id):
    def on_trial_end(outcome):
        if outcome.record.trial_id == trial_id:
            raise KeyboardInterrupt

    return on_trial_end


def test_an_older_folder_with_padded_ids_resumes_without_running_a_trial_twice(tmp_path):
    first = attach_oracle(oracle(12, tmp_path), tmp_path)
    store = NamedModelStore(tmp_path, OBJECTIVE, settings={"name": "old"})
    # Ctrl-C once trial 03's record is saved, before the engine saw it end.
    with pytest.raises(KeyboardInterrupt):
        run_trials(first, ScriptedExecutor({"02": 0.9}), store, on_trial_end=_interrupt_at("3"))
    _as_older_version_wrote_it(tmp_path)
    models = tmp_path / names.MODELS_FOLDER
    assert trial_file(models, "2", names.MODEL_SUFFIX).name == "02.keras"

    again = attach_oracle(oracle(12, tmp_path), tmp_path)
    resumed = NamedModelStore(tmp_path, OBJECTIVE, settings={"name": "old"})
    assert [r.trial_id for r in resumed.records()] == ["0", "1", "2", "3"]
    assert list(ResultsFolder(tmp_path).table()["trial_id"]) == ["2", "0", "1", "3"]
    executor = ScriptedExecutor({"04": 0.95})
    run_trials(again, executor, resumed)
    assert executor.seen == [f"{n:02d}" for n in range(4, 12)]  # 03 ended with its record
    assert [r.trial_id for r in resumed.records()] == [str(n) for n in range(12)]
    assert list(ResultsFolder(tmp_path).table()["trial_id"][:2]) == ["4", "2"]
    # The new best's model replaced the old best's, which had its padded name.
    assert sorted(p.name for p in models.iterdir()) == ["4.keras"]


@pytest.mark.parametrize("kind", ["disk", "memory"])
def test_a_promoted_trial_finds_its_parent_under_the_engines_padded_id(tmp_path, kind):
    from tuner.store import MemoryStore

    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    store = (
        DiskStore(tmp_path, OBJECTIVE, keeps_parents=True)
        if kind == "disk"
        else MemoryStore(OBJECTIVE, keeps_parents=True)
    )
    store._save_parent("5", model)  # under its record's id
    other = keras.models.clone_model(model)
    assert not np.array_equal(other.get_weights()[0], model.get_weights()[0])
    store.restore_parent(other, "05")  # Hyperband's tuner/trial_id: the engine's id
    assert np.array_equal(other.get_weights()[0], model.get_weights()[0])
