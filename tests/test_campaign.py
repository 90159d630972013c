"""Campaign files and [space] entries: what is accepted, and the messages for what is not."""

import keras_tuner as kt
import pytest

from tuner.campaign import from_dict, infer_direction, load_campaign
from tuner.errors import ConfigError
from tuner.space import build_space, distinct_configurations

BASE = {"name": "c", "dataset": "iris"}


def test_defaults_are_resolved():
    campaign = from_dict(dict(BASE, objective="val_accuracy"))
    assert campaign.direction == "max" and campaign.strategy == "auto"
    assert str(campaign.folder) == "results/c"
    assert from_dict(BASE).direction == "min"  # val_loss


@pytest.mark.parametrize(
    "objective, direction",
    [
        ("val_accuracy", "max"),
        ("val_loss", "min"),
        ("val_mae", "min"),
        ("auc", "max"),
        ("val_weird", None),
    ],
)
def test_direction_inferred_from_the_name(objective, direction):
    assert infer_direction(objective) == direction


@pytest.mark.parametrize(
    "extra, message",
    [
        (
            {"max_trail": 3},
            r"unknown key 'max_trail' \(did you mean 'max_trials'\?\); accepted: .*max_trials",
        ),
        ({"max_trials": "ten"}, "max_trials must be a number, but got str 'ten'"),
        ({"max_trials": True}, "max_trials must be a number, but got True"),
        ({"validation_split": "x"}, "validation_split must be a number, but got str 'x'"),
        ({"max_trials": 0}, "max_trials must be at least 1, but got 0"),
        (
            {"strategy": "evolutoin"},
            r"unknown strategy 'evolutoin' \(did you mean 'evolution'\?\); accepted: random, grid",
        ),
        (
            {"strategy": "bayesian", "strategy_options": {"surogate": "GP"}},
            r"\[strategy_options\] unknown key 'surogate' \(did you mean 'surrogate'\?\); accepted: .*surrogate",
        ),
        ({"strategy": "random", "strategy_options": {"factor": 3}}, "accepted: none"),
        ({"objective": "val_weird"}, "add direction"),
        ({"direction": "up"}, "direction must be 'min' or 'max', but got 'up'"),
        ({"early_stopping": {"patience": 2, "wait": 1}}, r"\[early_stopping\] unknown key 'wait'"),
        ({"name": "a/b"}, "plain folder name"),
    ],
)
def test_bad_campaigns_name_the_key_value_and_rule(extra, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(dict(BASE, **extra))


def test_missing_required_key():
    with pytest.raises(ConfigError, match="missing required key 'dataset'"):
        from_dict({"name": "x"})


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_campaign(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_campaign(bad)


def test_round_trip_through_toml(tmp_path):
    campaign = from_dict(dict(BASE, space={"units": [8, 16], "dropout": 0.1}, seed=0))
    path = tmp_path / "c.toml"
    path.write_text(campaign.to_toml())
    assert load_campaign(path) == campaign


def test_space_forms():
    hp = build_space(
        {
            "units": {"min": 16, "max": 128, "step": 16},
            "learning_rate": {"min": 1e-4, "max": 1e-1, "sampling": "log"},
            "dropout": {"min": 0.0, "max": 0.5, "default": 0.2},
            "optimizer": ["adam", "sgd"],
            "batch_norm": [True, False],
            "batch_size": {"values": [32, 64], "default": 64},
            "n_layers": 3,
        }
    )
    kinds = {h.name: type(h).__name__ for h in hp.space}
    assert kinds == {
        "units": "Int",
        "learning_rate": "Float",
        "dropout": "Float",
        "optimizer": "Choice",
        "batch_norm": "Boolean",
        "batch_size": "Choice",
        "n_layers": "Fixed",
    }
    assert hp.get("dropout") == 0.2 and hp.get("batch_size") == 64 and hp.get("n_layers") == 3
    lr = next(h for h in hp.space if h.name == "learning_rate")
    assert lr.sampling == "log" and (lr.min_value, lr.max_value) == (1e-4, 1e-1)


@pytest.mark.parametrize(
    "low, high, step, expected",
    [
        (0.0, 0.3, 0.1, [0.0, 0.1, 0.2, 0.3]),  # 0.3 // 0.1 == 2.0 in floating point
        (0.0, 0.5, 0.1, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]),
        (0.1, 0.7, 0.2, [0.1, 0.3, 0.5, 0.7]),
        (0.0, 1.0, 0.3, [0.0, 0.3, 0.6, 0.9]),  # a step that does not land on max stops short
    ],
)
def test_stepped_float_ranges_reach_their_max(low, high, step, expected):
    hp = build_space({"dropout": {"min": low, "max": high, "step": step}})
    values = list(hp.space[0].values)
    assert values == pytest.approx(expected)
    assert {round(hp.space[0].random_sample(seed), 9) for seed in range(200)} == {
        round(v, 9) for v in expected
    }


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"min": 1, "max": 1}, r"`min < max` must hold, but got \(min=1, max=1\)"),
        ({"min": 0, "max": 1, "sampling": "log"}, "log sampling needs min > 0"),
        ({"min": 1, "max": 2, "sampling": "cubic"}, "sampling must be one of"),
        ({"min": 0, "max": 10, "step": 20}, "step=20 is larger than max - min = 10"),
        ({"min": 1e-4, "max": 1e-1, "sampling": "log", "step": 0.5}, "must be > 1"),
        ({"min": 0, "max": 1, "default": 2}, r"default must lie in \[0, 1\]"),
        ({"min": 0}, "needs both 'min' and 'max'"),
        ({"min": 0, "max": 1, "stepp": 1}, r"unknown key\(s\) \['stepp'\]"),
        ({"min": "a", "max": 1}, "'min' must be a number"),
        ([], "at least one value"),
        (["a", 1], "all be of one type"),
        (["a", "a"], "distinct"),
        ({"values": [1, 2], "default": 3}, "default 3 is not one of"),
    ],
)
def test_impossible_entries_are_refused(entry, message):
    with pytest.raises(ConfigError, match=message):
        build_space({"x": entry})


def test_grid_size_counts_every_combination():
    hp = build_space(
        {
            "a": {"min": 1, "max": 4},
            "b": ["x", "y", "z"],
            "c": [True, False],
            "d": {"min": 0.0, "max": 1.0, "step": 0.25},
            "e": 7,
        }
    )
    assert distinct_configurations(hp) == 4 * 3 * 2 * 5
    assert distinct_configurations(build_space({"lr": {"min": 0.1, "max": 1.0}})) is None
    assert isinstance(hp, kt.HyperParameters)


@pytest.mark.parametrize("pack", ["auto", 1, 16])
def test_pack_is_auto_or_a_size(pack):
    assert from_dict(BASE).pack == "auto"
    assert from_dict(dict(BASE, pack=pack)).pack == pack


@pytest.mark.parametrize(
    "pack, message",
    [
        (
            "big",
            "pack must be \"auto\" or an integer of at least 1 (1 turns packing off), but got 'big'.",
        ),
        ("Auto", "but got 'Auto' (did you mean 'auto'?)"),
        (0, 'pack must be "auto" or an integer of at least 1 (1 turns packing off), but got 0.'),
        (2.5, "but got float 2.5."),
        (True, "but got bool True."),
    ],
)
def test_a_bad_pack_names_the_key_the_value_and_what_is_accepted(pack, message):
    with pytest.raises(ConfigError) as error:
        from_dict(dict(BASE, pack=pack))
    assert message in str(error.value)


def test_pack_may_change_when_a_campaign_resumes():
    from tuner.campaign import changed_fields

    before = from_dict(BASE)
    assert changed_fields(before.replace(pack=1), before) == []
    assert changed_fields(before.replace(pack=8, seed=2), before) == ["seed"]
