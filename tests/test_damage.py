"""Damaged results folders, damaged for real: every case reruns (or `--rebuild`s) to a folder
that keeps every finished trial once, or stops with one line naming the file and the way out."""

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from campaigns import write_campaign

from tuner import cli
from tuner.store import ResultsFolder

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A tiny campaign that finished its 3 trials (run once; each test damages a copy)."""
    root = tmp_path_factory.mktemp("finished")
    assert cli.main(["search", str(write_campaign(root)), "--quiet"]) == 0
    return root / "results" / "tiny"


@pytest.fixture
def copy(finished, tmp_path):
    """(campaign file, results folder): a copy of the finished campaign."""
    shutil.copytree(finished, tmp_path / "results" / "tiny")
    return write_campaign(tmp_path), tmp_path / "results" / "tiny"


def trials(folder):
    """trial id -> (hyperparameters, history) of every record."""
    return {
        r.trial_id: (r.hyperparameters, r.history) for r in ResultsFolder(folder).read_records()
    }


def engine(folder):
    return folder / ".engine"


def rerun(campaign, *extra):
    return cli.main(["search", str(campaign), "--quiet", *extra])


def one_error_line(capsys, *names):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("tuner: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


DAMAGE = {
    "empty oracle.json": lambda e: (e / "oracle.json").write_text(""),
    "garbage oracle.json": lambda e: (e / "oracle.json").write_bytes(b"\xff\x00{garbage"),
    "deleted oracle.json": lambda e: (e / "oracle.json").unlink(),
    "empty trial.json": lambda e: (e / "trial_1" / "trial.json").write_text(""),
    "deleted trial.json": lambda e: (e / "trial_1" / "trial.json").unlink(),
}


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_engine_state_is_rebuilt_from_records_on_rerun(copy, damage, capsys):
    campaign, folder = copy
    before = trials(folder)
    DAMAGE[damage](engine(folder))
    assert rerun(campaign, "--max-trials", "4") == 0
    assert "tuner: repaired:" in capsys.readouterr().err
    after = trials(folder)
    assert {k: after[k] for k in before} == before  # every finished trial kept, unchanged
    assert sorted(after) == ["0", "1", "2", "3"]  # and one new trial, with a new id
    assert rerun(campaign) == 0  # the rebuilt state reloads


def test_damaged_engine_state_through_the_cli_says_what_it_repaired(copy, capsys):
    campaign, folder = copy
    (engine(folder) / "oracle.json").write_text("")
    assert rerun(campaign) == 0
    err = capsys.readouterr().err
    assert "tuner: repaired:" in err and "oracle.json is empty" in err, err
    assert "Traceback" not in err


def test_garbage_record_stops_with_one_line_then_rebuild_restores_it(copy, capsys):
    campaign, folder = copy
    before = trials(folder)
    (engine(folder) / "records" / "1.json").write_bytes(b"\x00\xffnot json")
    assert rerun(campaign) == 2
    one_error_line(capsys, "1.json", "--rebuild")
    assert cli.main(["results", str(folder), "--rebuild"]) == 0
    assert "1.json is damaged" in capsys.readouterr().out
    assert trials(folder) == before
    assert rerun(campaign) == 0


def test_campaign_toml_that_is_not_text_is_one_line(copy, capsys):
    campaign, folder = copy
    (folder / "campaign.toml").write_bytes(b"\xff\xfe\x00garbage")
    assert rerun(campaign) == 2
    one_error_line(capsys, "campaign.toml", "--overwrite")


def test_campaign_saved_on_a_machine_with_more_cores_resumes_here(copy, capsys):
    campaign, folder = copy
    saved = folder / "campaign.toml"
    threads = 4 * (os.cpu_count() or 1) + 1  # above this machine's limit, not another's
    text = saved.read_text()
    assert "\nthreads = 0\n" in text
    saved.write_text(text.replace("\nthreads = 0\n", f"\nthreads = {threads}\n"))
    assert cli.main(["results", str(folder), "--rebuild"]) == 0
    assert rerun(campaign, "--max-trials", "4") == 0
    assert sorted(trials(folder)) == ["0", "1", "2", "3"]
    assert "Traceback" not in capsys.readouterr().err


def test_empty_trials_csv_is_one_line_then_rebuild_rewrites_it(copy, capsys):
    _, folder = copy
    before = (folder / "trials.csv").read_text()
    (folder / "trials.csv").write_text("")
    assert cli.main(["results", str(folder)]) == 2
    one_error_line(capsys, "trials.csv", "--rebuild")
    assert cli.main(["results", str(folder), "--rebuild"]) == 0
    assert (folder / "trials.csv").read_text() == before


def test_truncated_trials_csv_is_shown_with_a_warning(copy, capsys):
    _, folder = copy
    text = (folder / "trials.csv").read_text()
    (folder / "trials.csv").write_text("\n".join(text.splitlines()[:2]) + "\n")
    assert cli.main(["results", str(folder)]) == 0
    err = capsys.readouterr().err
    assert "lists 1 trial(s) but 3 are recorded" in err and "--rebuild" in err, err
    assert cli.main(["results", str(folder), "--rebuild"]) == 0
    assert (folder / "trials.csv").read_text() == text


def test_deleted_record_is_restored_from_the_tables(copy, capsys):
    campaign, folder = copy
    before = trials(folder)
    (engine(folder) / "records" / "1.json").unlink()
    assert rerun(campaign) == 0
    assert "record of trial 1 was missing; restored" in capsys.readouterr().err
    after = trials(folder)
    assert after.keys() == before.keys()
    # the values the trial was run with (the builder's defaults are not kept by the engine)
    assert after["1"][0].items() <= before["1"][0].items() and "units" in after["1"][0]
    assert after["1"][1].keys() == before["1"][1].keys()
    for metric, values in before["1"][1].items():
        assert after["1"][1][metric] == pytest.approx(values)
    assert len(ResultsFolder(folder).table()) == 3


def test_deleted_record_missing_from_the_tables_runs_again(copy, capsys):
    campaign, folder = copy
    before = trials(folder)
    (engine(folder) / "records" / "1.json").unlink()
    table = ResultsFolder(folder).table()
    (folder / "trials.csv").write_text(table[table["trial_id"] != "1"].to_csv(index=False))
    assert rerun(campaign) == 0
    assert "trial 1 was missing and the tables lack it; it runs again" in capsys.readouterr().err
    after = trials(folder)
    assert sorted(after) == ["0", "1", "2"]
    assert after["1"][0] == before["1"][0]  # the same trial, run again
    assert len(ResultsFolder(folder).table()) == 3


def test_a_finished_campaign_reruns_without_writing(copy, monkeypatch, capsys):
    """A read-only folder (root ignores permissions, so every write fails instead)."""
    campaign, folder = copy
    assert rerun(campaign) == 0  # the copy's campaign.toml names its new results_dir

    def refuse(path, text):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("tuner.files.atomic_write_text", refuse)
    monkeypatch.setattr("tuner.store.records.atomic_write_text", refuse)
    assert rerun(campaign) == 0


def test_leftover_temporary_files_are_cleaned_when_the_folder_is_claimed(copy, capsys):
    campaign, folder = copy
    leftovers = [
        folder / ".campaign.toml.abc123.tmp",
        folder / ".trials.csv.x_9.tmp",
        folder / "models" / ".1.tmp.keras",
        engine(folder) / ".oracle.json.q1.tmp",
    ]
    for path in leftovers:
        path.parent.mkdir(exist_ok=True)
        path.write_text("half")
    assert rerun(campaign) == 0
    assert not any(p.exists() for p in leftovers)


def test_folder_of_user_files_without_campaign_toml_is_refused(tmp_path, capsys):
    campaign = write_campaign(tmp_path)
    folder = tmp_path / "results" / "tiny"
    folder.mkdir(parents=True)
    (folder / "thesis.tex").write_text("mine")
    assert rerun(campaign) == 2
    one_error_line(capsys, "no campaign.toml")
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.tex"]


# Planted in the killed process as sitecustomize: signals itself at the chosen write (the
# Nth file replaced whose path ends so), before or after the file lands. Every state file,
# KerasTuner's included, is written through a temporary file and os.replace.
KILL_HOOK = """
import os, signal, sys
_replace, _seen = os.replace, 0
def _signal():
    print("kill hook: signalling", file=sys.stderr, flush=True)
    os.kill(os.getpid(), int(os.environ["KILL_SIGNAL"]))
def _replace_then_signal(src, dst, *args, **kwargs):
    global _seen
    hit = str(dst).endswith(os.environ["KILL_AT"])
    _seen += hit
    at = hit and _seen == int(os.environ["KILL_COUNT"])
    if at and os.environ["KILL_WHEN"] == "before":
        _signal()
    _replace(src, dst, *args, **kwargs)
    if at and os.environ["KILL_WHEN"] == "after":
        _signal()
os.replace = _replace_then_signal
"""

# (signal, file, its Nth write, before/after it lands). A pack of 3 writes the 3 records, the
# tables, then ends each trial in the oracle (trial_N/trial.json, oracle.json twice each).
# Each case costs a process start (TensorFlow's import): three moments that each once lost or
# double-counted a trial. Others checked by hand the same way (records/1.json before,
# trials.csv before, trial_1/trial.json before) pass too.
KILLS = [
    (signal.SIGKILL, "records/2.json", 1, "after"),  # every record saved, no trial ended
    (signal.SIGKILL, "oracle.json", 5, "before"),  # trial 0 ended and still ongoing on disk
    (signal.SIGINT, "oracle.json", 4, "before"),  # Ctrl-C mid-end: exit 130, resume line
]


@pytest.mark.parametrize(("how", "path", "count", "when"), KILLS)
def test_killed_while_state_is_written_resumes_with_every_trial_once(
    tmp_path, how, path, count, when, capsys
):
    campaign = write_campaign(tmp_path, max_trials=3)
    folder = tmp_path / "results" / "tiny"
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(KILL_HOOK)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(hook), str(Path(__file__).parents[1])]),
        KILL_AT=path,
        KILL_COUNT=str(count),
        KILL_WHEN=when,
        KILL_SIGNAL=str(int(how)),
    )
    process = subprocess.run(
        [sys.executable, "-m", "tuner", "search", str(campaign), "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert process.stderr.startswith("kill hook: signalling"), process.stderr
    if how == signal.SIGINT:
        assert process.returncode == 130, process.stderr
        assert "run the same command to resume" in process.stderr, process.stderr
        assert "Traceback" not in process.stderr, process.stderr
    else:
        assert process.returncode == -signal.SIGKILL, process.stderr
    kept = trials(folder)
    assert rerun(campaign) == 0
    after = trials(folder)
    assert sorted(after) == ["0", "1", "2"]
    assert {k: after[k] for k in kept} == kept
    assert len(json.loads((engine(folder) / "oracle.json").read_text())["end_order"]) == 3
    assert not list(folder.rglob("*.tmp*"))  # the killed write's temporary file is gone
    assert ResultsFolder(folder).table_trial_ids() == {"0", "1", "2"}
