"""target_outliers: outliers in the regression training targets only, seeded, validated."""

from __future__ import annotations

import numpy as np
import pytest

from tuner.api import _in_memory_campaign
from tuner.campaign import Campaign
from tuner.datasets import load_campaign_data, load_dataset
from tuner.errors import ConfigError
from tuner.fingerprint import data_fingerprint

OUTLIERS = {"fraction": 0.05, "scale": 10}


def campaign(**fields) -> Campaign:
    fields.setdefault("target_outliers", OUTLIERS)
    return Campaign(name="c", dataset="regression", objective="val_mae", **fields)


def test_a_seeded_fraction_of_training_targets_moves_up_by_scale_standard_deviations():
    clean = load_dataset("regression")
    dirty = load_campaign_data(campaign())
    moved = np.flatnonzero(dirty.y_train != clean.y_train)
    assert len(moved) == round(0.05 * len(clean.y_train)) == 40
    shift = dirty.y_train[moved] - clean.y_train[moved]
    np.testing.assert_allclose(shift, 10 * clean.y_train.astype("float64").std(), rtol=1e-5)
    # validation (and test) targets are what the model is judged on: untouched
    np.testing.assert_array_equal(dirty.y_val, clean.y_val)
    np.testing.assert_array_equal(dirty.x_train, clean.x_train)
    assert dirty.y_train.dtype == clean.y_train.dtype
    again = load_campaign_data(campaign())
    other = load_campaign_data(campaign(seed=1))
    assert (again.y_train == dirty.y_train).all()
    assert set(np.flatnonzero(other.y_train != load_dataset("regression", seed=1).y_train)) != set(
        moved
    )


def test_the_data_fingerprint_sees_the_outliers_when_features_are_standardised():
    # regression data is standardised by default: the fingerprint is kept from before scaling
    clean, dirty = load_dataset("regression"), load_campaign_data(campaign())
    assert clean.fingerprint is not None
    assert data_fingerprint(dirty)["y_train"] != data_fingerprint(clean)["y_train"]
    assert data_fingerprint(dirty)["y_val"] == data_fingerprint(clean)["y_val"]


def test_in_memory_data_gets_them_too():
    x = np.random.default_rng(0).normal(size=(100, 3)).astype("float32")
    y = x.sum(axis=1)
    _, dataset = _in_memory_campaign(
        "mlp", x, y, None, 0.2, None, {"objective": "val_mae", "target_outliers": OUTLIERS}
    )
    assert (dataset.y_train > y.max()).sum() == 4  # 5% of 80, all above any clean target


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"fraction": 0.05}, "[target_outliers] missing key 'scale'"),
        ({"fraction": 0.0, "scale": 10}, "fraction must be in (0, 1)"),
        ({"fraction": 1, "scale": 10}, "fraction must be in (0, 1)"),
        ({"fraction": 0.1, "scale": 0}, "scale must be above 0"),
        ({"fraction": 0.1, "scale": 1, "sigma": 2}, "unknown key 'sigma'"),
        ({"fraction": "5%", "scale": 1}, "fraction must be a number, but got str '5%'"),
    ],
)
def test_bad_tables_are_refused_by_name(table, message):
    with pytest.raises(ConfigError) as error:
        campaign(target_outliers=table)
    assert message in str(error.value)


def test_classification_data_and_a_fraction_that_makes_none_are_refused():
    iris = Campaign(name="c", dataset="iris", objective="val_accuracy", target_outliers=OUTLIERS)
    with pytest.raises(ConfigError, match="applies to regression targets, but dataset 'iris' is"):
        load_campaign_data(iris)
    with pytest.raises(ConfigError, match="makes no outlier; use a fraction of at least"):
        load_campaign_data(campaign(target_outliers={"fraction": 0.0001, "scale": 1}))
