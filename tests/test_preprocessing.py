"""Preprocessing: plain-data round trip, a saved model that takes raw inputs, labels per task."""

from __future__ import annotations

import json
import zipfile

import keras
import numpy as np
import pytest

from tuner.datasets import load_dataset
from tuner.errors import ConfigError
from tuner.preprocessing import (
    BINARY,
    MULTICLASS,
    MULTILABEL,
    REGRESSION,
    Preprocessing,
    json_label,
)

# ---------------------------------------------------------------------------------- plain data


def test_to_dict_is_json_and_round_trips_exactly():
    p = Preprocessing(
        MULTICLASS,
        (2,),
        mean=[0.1, -1.0 / 3.0],
        variance=[1e-12, 2.5],
        class_names=["cat", 7, 2.5, True],
    )
    data = p.to_dict()
    assert data == {
        "task": "multiclass",
        "input_shape": [2],
        "mean": [0.1, -1.0 / 3.0],
        "variance": [1e-12, 2.5],
        "class_names": ["cat", 7, 2.5, True],
    }
    back = Preprocessing.from_dict(json.loads(json.dumps(data)))
    assert back == p
    assert back.input_shape == (2,)
    assert [type(v) for v in back.class_names] == [str, int, float, bool]


def test_round_trip_without_standardisation_or_names():
    p = Preprocessing(REGRESSION, (3, 4))
    assert p.standardized is False
    assert Preprocessing.from_dict(json.loads(json.dumps(p.to_dict()))) == p


def test_from_dict_names_unexpected_keys():
    with pytest.raises(ConfigError, match="'scale'"):
        Preprocessing.from_dict({"task": BINARY, "scale": [1.0]})
    with pytest.raises(ConfigError, match="'task'"):
        Preprocessing.from_dict({"mean": None})


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"task": "ranking"}, "'ranking'"),
        ({"task": BINARY, "input_shape": (2,), "mean": [0.0, 0.0]}, "only mean"),
        (
            {"task": BINARY, "input_shape": (3,), "mean": [0.0, 0.0], "variance": [1.0, 1.0]},
            "input_shape (3,)",
        ),
    ],
)
def test_inconsistent_fields_are_refused(kwargs, fragment):
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        Preprocessing(**kwargs)


def test_json_label_unwraps_numpy_and_bytes():
    assert [json_label(v) for v in np.array([1, 2])] == [1, 2]
    assert type(json_label(np.int64(3))) is int and type(json_label(np.float32(0.5))) is float
    assert json_label(np.bool_(True)) is True
    assert json_label(np.str_("cat")) == "cat" and json_label(b"dog") == "dog"


# ---------------------------------------------------------------------------------- raw inputs


def _tiny_model(input_shape: tuple[int, ...], outputs: int) -> keras.Model:
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(4, activation="tanh"),
            keras.layers.Dense(outputs, activation="softmax"),
        ]
    )


def _modules(config: object) -> set[str]:
    """Every 'module' named anywhere in a saved model's config."""
    if isinstance(config, dict):
        found = {config["module"]} if isinstance(config.get("module"), str) else set()
        return found.union(*(_modules(v) for v in config.values()))
    if isinstance(config, list):
        return set().union(*(_modules(v) for v in config))
    return set()


def _npz(tmp_path, x, y) -> str:
    path = tmp_path / "arrays.npz"
    np.savez(path, x=x, y=y)
    return f"npz:{path}"


def test_with_raw_inputs_saves_and_predicts_like_the_trained_model(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(
        loc=[[5.0, -3.0, 0.0, 100.0]] * 3, scale=[2.0, 0.5, 1.0, 30.0], size=(40, 3, 4)
    ).astype("float32")
    x[:, 1, 2] = 7.0  # a constant feature: StandardScaler divides it by 1
    y = np.arange(40) % 3
    name = _npz(tmp_path, x, y)
    ds = load_dataset(name, standardize=True, seed=1)
    raw = load_dataset(name, standardize=False, seed=1)
    assert ds.preprocessing.variance[1 * 4 + 2] == 1.0
    model = _tiny_model((3, 4), 3)

    path = tmp_path / "best.keras"
    ds.preprocessing.with_raw_inputs(model).save(path)
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    assert {m.split(".")[0] for m in _modules(config)} == {"keras"}
    loaded = keras.models.load_model(path)

    expected = model.predict(ds.x_val, verbose=0)
    np.testing.assert_allclose(loaded.predict(raw.x_val, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(
        loaded.predict(raw.x_train, verbose=0), model.predict(ds.x_train, verbose=0), atol=1e-5
    )


def test_with_raw_inputs_is_the_model_itself_without_standardisation(tmp_path):
    ds = load_dataset("xor")
    assert ds.preprocessing.standardized is False
    model = _tiny_model((2,), 1)
    assert ds.preprocessing.with_raw_inputs(model) is model


# ---------------------------------------------------------------------------------- labels


def test_multiclass_labels_are_argmax_class_names():
    p = Preprocessing(MULTICLASS, (2,), class_names=["bird", "cat", "dog"])
    outputs = np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3], [0.0, 0.1, 0.9]])
    assert p.labels(outputs).tolist() == ["cat", "bird", "dog"]
    assert Preprocessing(MULTICLASS, (2,)).labels(outputs).tolist() == [1, 0, 2]


def test_binary_labels_threshold_the_sigmoid_at_a_half():
    p = Preprocessing(BINARY, (2,), class_names=[-1, 1])
    assert p.labels(np.array([[0.2], [0.5], [0.51], [0.9]])).tolist() == [-1, -1, 1, 1]
    assert p.labels(np.array([0.9, 0.1])).tolist() == [1, -1]
    yes_no = Preprocessing(BINARY, (2,), class_names=["no", "yes"])
    assert yes_no.labels(np.array([[0.7]])).tolist() == ["yes"]


def test_multilabel_labels_are_a_boolean_matrix():
    p = Preprocessing(MULTILABEL, (2,), class_names=["red", "round"])
    labels = p.labels(np.array([[0.6, 0.4], [0.1, 0.99]]))
    assert labels.dtype == np.bool_
    assert labels.tolist() == [[True, False], [False, True]]


def test_regression_labels_are_the_predictions_unchanged():
    outputs = np.array([[1.5], [-2.25]], dtype="float32")
    labels = Preprocessing(REGRESSION, (2,)).labels(outputs)
    np.testing.assert_array_equal(labels, outputs)
    assert labels.dtype == np.float32
