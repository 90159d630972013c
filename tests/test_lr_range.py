"""The range test at campaign level: `tuner lr-find`, --set, and learning_rate = "auto"."""

import json

import pandas as pd
import pytest

from tests.campaigns import write_campaign
from tests.fakes import fake_result
from tuner import api, cli, lr_range
from tuner.builders import get_builder
from tuner.campaign import load_campaign
from tuner.datasets import load_campaign_data
from tuner.errors import ConfigError
from tuner.lr_finder import find_learning_rate

AUTO_SPACE = {"learning_rate": "auto", "units": {"min": 8, "max": 32, "step": 8}}


@pytest.fixture
def short_finder(monkeypatch):
    """The real finder, cut to 30 batches so that real training stays tiny."""
    calls = []

    def finder(build_model, x, y=None, **kwargs):
        calls.append(kwargs)
        return find_learning_rate(build_model, x, y, **dict(kwargs, num_iter=30))

    monkeypatch.setattr(lr_range, "find_learning_rate", finder)
    return calls


# -- values and overrides ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, value",
    [("3", 3), ("0.5", 0.5), ("1e-3", 1e-3), ("true", True), ("False", False), ("sgd", "sgd")],
)
def test_parse_value(text, value):
    parsed = lr_range.parse_value(text)
    assert parsed == value and type(parsed) is type(value)


def test_parse_assignments_refuses_a_missing_equals_sign():
    assert lr_range.parse_assignments(["n_layers=3", "optimizer=sgd"]) == {
        "n_layers": 3,
        "optimizer": "sgd",
    }
    for bad in ("n_layers", "=3"):
        with pytest.raises(ConfigError, match="name=value"):
            lr_range.parse_assignments([bad])


def test_hyperparameters_for_fixes_scalars_and_overrides_only(tmp_path):
    campaign = load_campaign(
        write_campaign(
            tmp_path,
            space={
                "learning_rate": "auto",
                "dropout": 0.1,
                "units": {"min": 8, "max": 32, "step": 8},
                "optimizer": ["adam", "sgd"],
            },
        )
    )
    hp = lr_range.hyperparameters_for(campaign, {"n_layers": "3", "batch_norm": "true"})
    assert hp.values == {"dropout": 0.1, "n_layers": 3, "batch_norm": True}
    model = get_builder("mlp", _iris_spec()).build(hp)
    assert sum(type(layer).__name__ == "Dense" for layer in model.layers) == 3 + 1


def _iris_spec():
    from tuner.datasets import load_dataset

    return load_dataset("iris").spec


# -- tuner lr-find (fast: the finder replaced) ---------------------------------------------------


def test_lr_find_set_reaches_the_model(tmp_path, monkeypatch, capsys):
    seen = {}

    def finder(build_model, x, y=None, **kwargs):
        model = build_model()
        seen["dense"] = sum(type(layer).__name__ == "Dense" for layer in model.layers)
        seen["kwargs"] = kwargs
        return fake_result(1e-3, "middle of the longest descent")

    monkeypatch.setattr(lr_range, "find_learning_rate", finder)
    path = write_campaign(tmp_path)
    code = cli.main(
        [
            "lr-find",
            str(path),
            "--set",
            "n_layers=3",
            "--set",
            "batch_size=16",
            "--num-iter",
            "12",
            "--start-lr",
            "1e-6",
            "--end-lr",
            "1",
        ]
    )
    assert code == 0
    assert seen["dense"] == 3 + 1
    assert seen["kwargs"] == {
        "start_lr": 1e-6,
        "end_lr": 1.0,
        "num_iter": 12,
        "batch_size": 16,
        "seed": 0,
    }
    out = capsys.readouterr().out
    assert "valley: 0.001" in out and "steep: none: flat" in out


def test_lr_find_unknown_set_name_exits_2_naming_the_known_ones(tmp_path, capsys):
    code = cli.main(["lr-find", str(write_campaign(tmp_path)), "--set", "n_layer=3"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "n_layer" in err and "n_layers" in err and "learning_rate" in err


def test_lr_find_malformed_set_exits_2(tmp_path, capsys):
    assert cli.main(["lr-find", str(write_campaign(tmp_path)), "--set", "n_layers"]) == 2
    assert "name=value" in capsys.readouterr().err


# -- learning_rate = "auto" (fast: the finder replaced) -------------------------------------------


def _data_and_builder(campaign):
    dataset = load_campaign_data(campaign)
    return dataset, get_builder(campaign.model, dataset.spec)


def test_resolve_leaves_other_spaces_alone(tmp_path):
    campaign = load_campaign(write_campaign(tmp_path))
    space, info = lr_range.resolve_auto_learning_rate(campaign, *_data_and_builder(campaign))
    assert space == campaign.space and info is None


def test_resolve_without_a_valley_says_why_and_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(lr_range, "find_learning_rate", lambda *a, **k: fake_result(None))
    campaign = load_campaign(write_campaign(tmp_path, space=AUTO_SPACE))
    with pytest.raises(ConfigError, match="flat: the loss.*range instead"):
        lr_range.resolve_auto_learning_rate(campaign, *_data_and_builder(campaign))
    assert (campaign.folder / "lr_find.png").is_file()
    assert not (campaign.folder / "lr_find.json").exists()


def test_resolve_ranges_a_decade_each_side_and_reuses_lr_find_json(tmp_path, monkeypatch):
    monkeypatch.setattr(lr_range, "find_learning_rate", lambda *a, **k: fake_result(2e-3, "ok"))
    campaign = load_campaign(write_campaign(tmp_path, space=AUTO_SPACE))
    inputs = _data_and_builder(campaign)
    space, info = lr_range.resolve_auto_learning_rate(campaign, *inputs)
    assert space["learning_rate"] == {"min": 2e-4, "max": 2e-2, "sampling": "log"}
    assert space["units"] == AUTO_SPACE["units"]
    assert info["lr_find_valley"] == 2e-3 and info["lr_find_steep"] is None
    assert json.loads((campaign.folder / "lr_find.json").read_text()) == info

    def fail(*args, **kwargs):
        raise AssertionError("the finder ran again")

    monkeypatch.setattr(lr_range, "find_learning_rate", fail)
    assert lr_range.resolve_auto_learning_rate(campaign, *inputs) == (space, info)
    fixed = campaign.replace(space=dict(AUTO_SPACE, learning_rate="auto-fixed"))
    space, info = lr_range.resolve_auto_learning_rate(fixed, *inputs)
    assert space["learning_rate"] == 2e-3 == info["learning_rate"]


# -- real training ----------------------------------------------------------------------------


@pytest.mark.slow
def test_lr_find_cli_writes_csv_and_png_only(tmp_path, capsys):
    path = write_campaign(tmp_path)
    folder = load_campaign(path).folder
    folder.mkdir(parents=True)
    (folder / "notes.txt").write_text("mine")
    code = cli.main(["lr-find", str(path), "--num-iter", "30", "--start-lr", "1e-5"])
    assert code == 0
    frame = pd.read_csv(folder / "lr_find.csv")
    assert list(frame.columns) == ["learning_rate", "loss", "smoothed_loss"]
    assert 5 < len(frame) <= 30 and frame["learning_rate"].iloc[0] == pytest.approx(1e-5)
    assert (folder / "lr_find.png").read_bytes()[:4] == b"\x89PNG"
    assert sorted(p.name for p in folder.iterdir()) == ["lr_find.csv", "lr_find.png", "notes.txt"]
    out = capsys.readouterr().out
    assert "valley: " in out and "steep: " in out and "minimum_tenth: " in out
    assert str(folder / "lr_find.csv") in out and str(folder / "lr_find.png") in out


def _trial_rates(results):
    return [r.hyperparameters["learning_rate"] for r in results.records]


@pytest.mark.slow
def test_auto_searches_near_the_valley_and_resumes_without_rerunning(
    tmp_path, monkeypatch, short_finder
):
    path = write_campaign(tmp_path, space=AUTO_SPACE, max_trials=2)
    found = api.search(path)
    folder = found.folder
    info = json.loads((folder / "lr_find.json").read_text())
    valley = info["lr_find_valley"]
    assert len(short_finder) == 1 and len(found.records) == 2
    assert all(valley / 10 <= lr <= valley * 10 for lr in _trial_rates(found))
    assert f"| lr_find_valley | {valley:.4g} |" in (folder / "summary.md").read_text()
    assert (folder / "lr_find.csv").is_file() and (folder / "lr_find.png").is_file()

    mtime = (folder / "lr_find.json").stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("the finder ran again on resume")

    monkeypatch.setattr(lr_range, "find_learning_rate", fail)
    resumed = api.search(path, max_trials=3)
    assert len(resumed.records) == 3
    assert _trial_rates(resumed)[:2] == _trial_rates(found)
    assert all(valley / 10 <= lr <= valley * 10 for lr in _trial_rates(resumed))
    assert (folder / "lr_find.json").stat().st_mtime_ns == mtime
    assert f"{valley:.4g}" in (folder / "summary.md").read_text()


@pytest.mark.slow
def test_auto_fixed_gives_every_trial_the_valley(tmp_path, short_finder):
    path = write_campaign(
        tmp_path, space=dict(AUTO_SPACE, learning_rate="auto-fixed"), max_trials=2
    )
    found = api.search(path)
    valley = json.loads((found.folder / "lr_find.json").read_text())["lr_find_valley"]
    assert _trial_rates(found) == [valley, valley]


def test_auto_range_has_a_step_for_grid_search():
    from tuner.lr_range import _lr_entry
    from tuner.space import build_space, distinct_configurations

    assert "step" not in _lr_entry("auto", 1e-3, "random")
    entry = _lr_entry("auto", 1e-3, "grid")
    assert distinct_configurations(build_space({"learning_rate": entry})) == 5
    assert _lr_entry("auto-fixed", 1e-3, "grid") == 1e-3
