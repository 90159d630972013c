"""Resuming on other data is refused (issue 20, item 8): a campaign keeps its data's fingerprint
and compares it before anything is written or deleted."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tests.campaigns import two_class_build, write_campaign
from tuner import api, cli
from tuner.campaign import Campaign
from tuner.datasets import dataset_from_arrays
from tuner.errors import ConfigError
from tuner.fingerprint import array_fingerprint, data_changes, data_fingerprint
from tuner.loop import claim
from tuner.store import ResultsFolder
from tuner.trial import TrialRecord


def _arrays(n: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int64")


def _folder_state(folder):
    """Every file under `folder` with its contents and modification time."""
    return {
        p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_the_fingerprint_tells_what_changed():
    x, y = _arrays()
    before = data_fingerprint(dataset_from_arrays(x, y))
    assert data_fingerprint(dataset_from_arrays(x.copy(), y.copy())) == before
    # Of the arrays before standardisation: its statistics may differ between machines.
    standardized = dataset_from_arrays(x, y, standardize=True)
    assert not np.array_equal(standardized.x_train, dataset_from_arrays(x, y).x_train)
    assert data_fingerprint(standardized) == before
    assert data_changes(data_fingerprint(dataset_from_arrays(x[:30], y[:30])), before) == [
        "x_train has shape (24, 4), was (32, 4)",
        "y_train has shape (24,), was (32,)",
        "x_val has shape (6, 4), was (8, 4)",
        "y_val has shape (6,), was (8,)",
    ]
    edited = x.copy()
    edited[0, 0] += 1.0
    assert data_changes(data_fingerprint(dataset_from_arrays(edited, y)), before) in (
        ["x_train holds other values"],
        ["x_val holds other values"],
    )
    as_float64 = {"x_train": array_fingerprint(x.astype("float64"))}
    assert data_changes(as_float64, {"x_train": array_fingerprint(x)}) == [
        "x_train has dtype float64, was float32"
    ]


def test_fingerprinting_5000_mnist_images_is_cheap():
    from tuner.datasets import load_dataset

    mnist = load_dataset("mnist")
    started = time.perf_counter()
    data_fingerprint(mnist)
    assert time.perf_counter() - started < 0.5  # ~40 ms for its 16 MB


def _claimed_with_a_trial(tmp_path, dataset):
    campaign = Campaign(name="study", dataset="arrays", results_dir=str(tmp_path))
    claim(campaign, dataset=dataset)
    ResultsFolder(campaign.folder).save_record(
        TrialRecord("0", "completed", {}, score=0.5, best_epoch=1)
    )
    return campaign


def test_claim_refuses_other_data_before_writing_or_deleting_anything(tmp_path):
    x, y = _arrays()
    campaign = _claimed_with_a_trial(tmp_path, dataset_from_arrays(x, y))
    before = _folder_state(campaign.folder)
    with pytest.raises(ConfigError) as caught:
        claim(campaign, dataset=dataset_from_arrays(x[:30], y[:30]))
    message = str(caught.value)
    assert message.startswith("campaign 'study' in ")
    assert "started on different data (x_train has shape (24, 4), was (32, 4);" in message
    assert message.endswith(
        "to start over run again with overwrite=True, or give the campaign a new name to keep both."
    )
    assert "\n" not in message
    assert _folder_state(campaign.folder) == before
    claim(campaign, dataset=dataset_from_arrays(x, y))  # the same data resumes
    assert ResultsFolder(campaign.folder).read_records()
    claim(campaign, dataset=dataset_from_arrays(x[:30], y[:30]), overwrite=True)
    assert not ResultsFolder(campaign.folder).read_records()


def test_a_folder_without_a_fingerprint_resumes_and_keeps_one_from_then_on(tmp_path):
    x, y = _arrays()
    campaign = _claimed_with_a_trial(tmp_path, dataset_from_arrays(x, y))
    ResultsFolder(campaign.folder).data_fingerprint.unlink()  # as folders from before it was kept
    claim(campaign, dataset=dataset_from_arrays(x[:30], y[:30]))
    assert ResultsFolder(campaign.folder).read_records()  # resumed: nothing to compare with
    assert ResultsFolder(campaign.folder).read_data_fingerprint() == data_fingerprint(
        dataset_from_arrays(x[:30], y[:30])
    )
    with pytest.raises(ConfigError, match="different data"):
        claim(campaign, dataset=dataset_from_arrays(x, y))


def test_other_data_before_any_trial_finished_starts_afresh(tmp_path):
    x, y = _arrays()
    campaign = Campaign(name="study", dataset="arrays", results_dir=str(tmp_path))
    claim(campaign, dataset=dataset_from_arrays(x, y))
    claim(campaign, dataset=dataset_from_arrays(x[:30], y[:30]))
    assert ResultsFolder(campaign.folder).read_data_fingerprint() == data_fingerprint(
        dataset_from_arrays(x[:30], y[:30])
    )


def test_a_damaged_fingerprint_is_one_line_with_the_ways_out(tmp_path):
    x, y = _arrays()
    campaign = _claimed_with_a_trial(tmp_path, dataset_from_arrays(x, y))
    ResultsFolder(campaign.folder).data_fingerprint.write_text("{not json")
    with pytest.raises(ConfigError, match=r"data.json is damaged; delete it to resume on the data"):
        claim(campaign, dataset=dataset_from_arrays(x, y), overwrite_hint="--overwrite")


@pytest.mark.slow
def test_search_on_a_subset_of_the_data_is_refused_and_the_same_data_resumes(tmp_path):
    x, y = _arrays()
    common = dict(name="study", results_dir=str(tmp_path), space={"units": 4}, epochs=1)
    first = api.search(two_class_build, x, y, max_trials=1, **common)
    with pytest.raises(ConfigError, match=r"different data \(x_train has shape \(24, 4\)"):
        api.search(two_class_build, x[:30], y[:30], max_trials=2, **common)
    again = api.search(two_class_build, x, y, max_trials=1, **common)
    assert [r.history for r in again.records] == [r.history for r in first.records]


@pytest.mark.slow
def test_cli_refuses_an_edited_csv_file_with_exit_2(tmp_path, capsys):
    rows = _csv_rows()
    data, path = _csv_campaign(tmp_path, rows)
    assert cli.main(["search", str(path)]) == 0
    data.write_text("\n".join(rows[:31]) + "\n")
    folder = tmp_path / "results" / "tiny"
    before = _folder_state(folder)
    capsys.readouterr()
    assert cli.main(["search", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "different data (x_train has shape (24, 4), was (32, 4)" in err
    assert "run again with --overwrite" in err
    assert _folder_state(folder) == before
    assert cli.main(["search", str(path), "--overwrite"]) == 0


def _csv_campaign(tmp_path, rows):
    data = tmp_path / "data.csv"
    data.write_text("\n".join(rows) + "\n")
    return data, write_campaign(
        tmp_path, dataset=f"csv:{data}", target="label", max_trials=1, epochs=1, space={"units": 4}
    )


def _csv_rows():
    x, y = _arrays()
    return ["a,b,c,d,label", *(",".join(map(str, [*r, t])) for r, t in zip(x.tolist(), y))]


def test_a_worker_on_other_data_than_the_chiefs_is_refused_with_exit_2(tmp_path, capsys):
    from tuner.campaign import load_campaign
    from tuner.datasets import load_campaign_data
    from tuner.distributed.session import write_session

    rows = _csv_rows()
    data, path = _csv_campaign(tmp_path, rows)
    campaign = load_campaign(path)
    claim(campaign, dataset=load_campaign_data(campaign))  # as the chief does
    write_session(campaign, "127.0.0.1:1")
    data.write_text("\n".join(rows[:31]) + "\n")  # this machine's copy of the file differs
    capsys.readouterr()
    assert cli.main(["worker", str(path), "--chief", "127.0.0.1:1", "--id", "w"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"tuner: error: the data of campaign file {path} (csv:{data}) differs from the chief's "
        "(x_train has shape (24, 4), was (32, 4); y_train has shape (24,), was (32,); x_val has "
        "shape (6, 4), was (8, 4); y_val has shape (6,), was (8,)); give every worker the "
        "chief's data."
    ]
