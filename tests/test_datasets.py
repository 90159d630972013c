"""Datasets: the offline registry, csv:/npz: files, deterministic splits, standardisation, tasks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tuner.datasets import (
    BINARY,
    MULTICLASS,
    MULTILABEL,
    REGISTRY,
    REGRESSION,
    Dataset,
    available,
    dataset_from_arrays,
    infer_task,
    load_dataset,
)
from tuner.errors import ConfigError

EXPECTED = {
    # name: (task, input_shape, output_size, total samples)
    "iris": (MULTICLASS, (4,), 3, 150),
    "iris_setosa": (BINARY, (2,), 1, 150),
    "wine": (MULTICLASS, (13,), 3, 178),
    "breast_cancer": (BINARY, (30,), 1, 569),
    "digits": (MULTICLASS, (64,), 10, 1797),
    "diabetes": (REGRESSION, (10,), 1, 442),
    "mnist": (MULTICLASS, (784,), 10, 5000),
    "xor": (BINARY, (2,), 1, 1000),
    "and": (BINARY, (2,), 1, 1000),
    "classification": (MULTICLASS, (20,), 4, 1000),
    "multilabel": (MULTILABEL, (20,), 5, 1000),
    "regression": (REGRESSION, (10,), 1, 1000),
}


def _total(ds: Dataset) -> int:
    return len(ds.x_train) + len(ds.x_val) + len(ds.x_test)


def _row_keys(x: np.ndarray) -> list[bytes]:
    return [np.ascontiguousarray(row).tobytes() for row in x]


def _rows(x: np.ndarray) -> set[bytes]:
    return set(_row_keys(x))


# ---------------------------------------------------------------------------------- registry


def test_registry_is_exactly_the_expected_entries():
    assert set(REGISTRY) == set(EXPECTED)
    names = available()
    assert names[: len(REGISTRY)] == sorted(REGISTRY)
    assert "csv:PATH" in names and "npz:PATH" in names


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_registry_entry_loads_offline_with_task_and_shapes(name):
    task, input_shape, output_size, total = EXPECTED[name]
    ds = load_dataset(name)
    assert ds.name == name
    assert ds.task == task
    assert ds.input_shape == input_shape
    assert ds.output_size == output_size
    assert ds.spec.task == task and ds.spec.input_shape == input_shape
    assert ds.spec.output_size == output_size
    assert _total(ds) == total
    assert ds.x_train.shape[1:] == input_shape and ds.x_val.shape[1:] == input_shape
    assert ds.x_train.dtype == np.float32
    assert len(ds.x_test) == 0  # test_split defaults to 0
    assert len(ds.y_train) == len(ds.x_train) and len(ds.y_val) == len(ds.x_val)
    if task in (BINARY, MULTICLASS):
        assert ds.y_train.dtype == np.int64
        labels = np.unique(np.concatenate([ds.y_train, ds.y_val]))
        expected_labels = 2 if task == BINARY else output_size
        np.testing.assert_array_equal(labels, np.arange(expected_labels))
    elif task == MULTILABEL:
        assert ds.y_train.shape[1:] == (output_size,)
        assert set(np.unique(ds.y_train)) <= {0.0, 1.0}
    else:
        assert ds.y_train.dtype == np.float32


def test_mnist_is_5000_images_scaled_not_standardised():
    ds = load_dataset("mnist")
    x = np.concatenate([ds.x_train, ds.x_val])
    assert x.shape == (5000, 784)
    assert x.min() == 0.0 and x.max() == 1.0
    # standardised data would have negative values and a mean near 0
    assert 0.05 < x.mean() < 0.3
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_val]))
    np.testing.assert_array_equal(counts, [500] * 10)


def test_positive_targets_flag():
    assert load_dataset("diabetes").positive_targets is True  # disease progression 25..346
    assert load_dataset("regression").positive_targets is False  # make_regression is signed
    assert load_dataset("iris").positive_targets is False
    assert load_dataset("diabetes").spec.positive_targets is True


# ---------------------------------------------------------------------------------- splits


def test_split_is_deterministic_for_a_seed_and_differs_for_another():
    a = load_dataset("wine", seed=3, test_split=0.2)
    b = load_dataset("wine", seed=3, test_split=0.2)
    for part in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(a, part), getattr(b, part))
    c = load_dataset("wine", seed=4, test_split=0.2)
    assert a.x_train.shape == c.x_train.shape
    assert not np.array_equal(a.x_train, c.x_train)
    assert not np.array_equal(a.y_val, c.y_val) or not np.array_equal(a.x_val, c.x_val)


def test_splits_are_disjoint_and_cover_the_data():
    ds = load_dataset("wine", standardize=False, validation_split=0.2, test_split=0.2, seed=1)
    from sklearn.datasets import load_wine

    x_all = load_wine().data.astype("float32")
    all_rows = _rows(x_all)
    assert len(all_rows) == len(x_all)  # guard: no duplicate rows, so row matching is exact
    train, val, test = _rows(ds.x_train), _rows(ds.x_val), _rows(ds.x_test)
    assert len(train) == len(ds.x_train) and len(val) == len(ds.x_val)
    assert not train & val
    assert not train & test
    assert not val & test
    assert train | val | test == all_rows


@pytest.mark.parametrize("validation_split,test_split", [(0.2, 0.0), (0.25, 0.25), (0.1, 0.3)])
def test_split_sizes_follow_fractions(validation_split, test_split):
    ds = load_dataset("regression", validation_split=validation_split, test_split=test_split)
    n = 1000
    assert _total(ds) == n
    assert abs(len(ds.x_val) - validation_split * n) <= 1
    assert abs(len(ds.x_test) - test_split * n) <= 1
    assert abs(len(ds.x_train) - (1 - validation_split - test_split) * n) <= 1


def test_stratification_keeps_class_proportions():
    ds = load_dataset("breast_cancer", validation_split=0.3, test_split=0.2, seed=7)
    overall = np.mean(np.concatenate([ds.y_train, ds.y_val, ds.y_test]))
    for part in (ds.y_train, ds.y_val, ds.y_test):
        assert abs(part.mean() - overall) < 0.02
    iris = load_dataset("iris", validation_split=0.2, seed=5)
    np.testing.assert_array_equal(np.bincount(iris.y_val), [10, 10, 10])
    np.testing.assert_array_equal(np.bincount(iris.y_train), [40, 40, 40])


def test_max_samples_caps_the_total_before_splitting():
    ds = load_dataset("digits", max_samples=200, validation_split=0.25, test_split=0.25)
    assert _total(ds) == 200
    assert len(ds.x_val) == 50 and len(ds.x_test) == 50 and len(ds.x_train) == 100
    # stratified cap: every digit stays represented, roughly 20 each
    counts = np.bincount(np.concatenate([ds.y_train, ds.y_val, ds.y_test]), minlength=10)
    assert counts.min() >= 18 and counts.max() <= 22
    assert ds.output_size == 10
    # a cap above the size of the data changes nothing
    assert _total(load_dataset("iris", max_samples=10_000)) == 150


def test_max_samples_too_small_for_stratification_still_splits():
    ds = load_dataset("digits", max_samples=12, validation_split=0.2)
    assert _total(ds) == 12
    assert len(ds.x_val) == 3


# ---------------------------------------------------------------------------------- standardisation


def test_standardisation_uses_training_statistics_only():
    ds = load_dataset("wine", validation_split=0.3, seed=2)
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(ds.x_train.std(axis=0), 1.0, atol=1e-4)
    # the validation split is transformed with the training statistics, so it is not centred
    assert np.abs(ds.x_val.mean(axis=0)).max() > 1e-3
    raw = load_dataset("wine", validation_split=0.3, seed=2, standardize=False)
    mean, std = raw.x_train.mean(axis=0), raw.x_train.std(axis=0)
    np.testing.assert_allclose(ds.x_val, (raw.x_val - mean) / std, rtol=1e-4, atol=1e-4)


def test_standardize_flag_overrides_dataset_default():
    raw = load_dataset("iris", standardize=False)
    assert raw.x_train.min() >= 0.0  # centimetres
    assert raw.x_train.mean() > 1.0
    mnist = load_dataset("mnist", standardize=True, max_samples=500)
    np.testing.assert_allclose(mnist.x_train.mean(axis=0), 0.0, atol=1e-5)
    xor = load_dataset("xor")
    assert np.abs(xor.x_train).max() <= 1.0  # not standardised by default


# ---------------------------------------------------------------------------------- infer_task


@pytest.mark.parametrize(
    "y,task",
    [
        (np.array([0, 1, 1, 0]), BINARY),
        (np.array([-1, 1, 1, -1]), BINARY),
        (np.array([True, False, True]), BINARY),
        (np.array(["cat", "dog", "dog", "cat"]), BINARY),
        (np.array(["cat", "dog", "bird", "cat"], dtype=object), MULTICLASS),
        (np.array(["a", "b", "c"]), MULTICLASS),
        (np.array([0, 1, 2, 3, 2, 1]), MULTICLASS),
        (np.array([0.0, 1.0, 2.0]), MULTICLASS),
        (np.array([0.5, 1.25, -3.0, 2.0]), REGRESSION),
        (np.linspace(0.0, 1.0, 50), REGRESSION),
        (np.arange(100), REGRESSION),  # 100 distinct integers are a quantity, not classes
        (np.array([-2, -1, 0, 1, 2]), REGRESSION),  # negative integers are not class labels
        (np.array([[0, 1, 1], [1, 0, 0], [0, 0, 1]]), MULTILABEL),
        (np.array([[0.0, 1.0], [1.0, 1.0]]), MULTILABEL),
        (np.array([[0.3, 1.0], [1.0, 2.5]]), REGRESSION),
        (np.array([[0], [1], [1]]), BINARY),
    ],
)
def test_infer_task(y, task):
    assert infer_task(y) == task


# ---------------------------------------------------------------------------------- csv / npz


def _frame(n=60, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "label": np.where(np.arange(n) % 3 == 0, "yes", "no"),
            "c": rng.normal(size=n),
        }
    )


def test_csv_named_target_column_with_string_labels(tmp_path):
    path = tmp_path / "data.csv"
    _frame().to_csv(path, index=False)
    ds = load_dataset(f"csv:{path}", target="label")
    assert ds.task == BINARY
    assert ds.input_shape == (3,)
    assert ds.output_size == 1
    assert _total(ds) == 60
    labels = np.concatenate([ds.y_train, ds.y_val])
    assert labels.dtype == np.int64
    assert np.bincount(labels).tolist() == [40, 20]  # "no" -> 0, "yes" -> 1 (sorted)
    np.testing.assert_allclose(ds.x_train.mean(axis=0), 0.0, atol=1e-5)  # csv is standardised


def test_csv_default_target_is_last_column(tmp_path):
    frame = _frame().drop(columns=["label"])
    frame["species"] = np.array(["x", "y", "z"])[np.arange(60) % 3]
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    ds = load_dataset(f"csv:{path}", standardize=False)
    assert ds.task == MULTICLASS
    assert ds.output_size == 3
    assert ds.input_shape == (3,)
    # the features are a, b, c unchanged
    assert _rows(np.concatenate([ds.x_train, ds.x_val])) == _rows(
        frame[["a", "b", "c"]].to_numpy(dtype="float32")
    )


def test_csv_regression_target(tmp_path):
    frame = _frame().drop(columns=["label"])
    frame["price"] = np.linspace(-5.0, 5.0, 60)
    path = tmp_path / "houses.csv"
    frame.to_csv(path, index=False)
    ds = load_dataset(f"csv:{path}")
    assert ds.task == REGRESSION and ds.output_size == 1 and ds.positive_targets is False


def test_npz_x_and_y(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3, 4)).astype("float32")
    y = (rng.uniform(size=(80, 2)) > 0.5).astype("int64")
    path = tmp_path / "arrays.npz"
    np.savez(path, x=x, y=y)
    ds = load_dataset(f"npz:{path}", standardize=False, validation_split=0.25)
    assert ds.task == MULTILABEL
    assert ds.input_shape == (3, 4)
    assert ds.output_size == 2
    assert len(ds.x_val) == 20 and len(ds.x_train) == 60
    assert _rows(np.concatenate([ds.x_train, ds.x_val])) == _rows(x)


# ---------------------------------------------------------------------------------- errors


def test_unknown_name_lists_accepted_names():
    with pytest.raises(ConfigError) as info:
        load_dataset("digitz")
    message = str(info.value)
    assert "digitz" in message
    assert "digits" in message and "iris" in message and "csv:PATH" in message


@pytest.mark.parametrize("prefix", ["csv", "npz"])
def test_missing_file_names_the_path(tmp_path, prefix):
    path = tmp_path / f"nowhere.{prefix}"
    with pytest.raises(ConfigError, match="nowhere") as info:
        load_dataset(f"{prefix}:{path}")
    assert str(path) in str(info.value)


def test_missing_target_column_lists_the_columns(tmp_path):
    path = tmp_path / "data.csv"
    _frame().to_csv(path, index=False)
    with pytest.raises(ConfigError) as info:
        load_dataset(f"csv:{path}", target="price")
    message = str(info.value)
    assert "price" in message
    for column in ("a", "b", "label", "c"):
        assert repr(column) in message


def test_non_numeric_feature_names_the_column(tmp_path):
    path = tmp_path / "data.csv"
    frame = _frame()
    frame["colour"] = "red"
    frame.to_csv(path, index=False)
    with pytest.raises(ConfigError) as info:
        load_dataset(f"csv:{path}", target="c")
    message = str(info.value)
    assert "'label'" in message and "'colour'" in message
    assert "'a'" not in message


def test_csv_with_one_column(tmp_path):
    path = tmp_path / "one.csv"
    pd.DataFrame({"y": [0, 1, 0, 1] * 5}).to_csv(path, index=False)
    with pytest.raises(ConfigError, match="at least"):
        load_dataset(f"csv:{path}")


def test_npz_without_x_and_y_lists_its_arrays(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, features=np.zeros((20, 2)), labels=np.zeros(20))
    with pytest.raises(ConfigError) as info:
        load_dataset(f"npz:{path}")
    message = str(info.value)
    assert "features" in message and "labels" in message and "'x'" in message


def test_mismatched_lengths(tmp_path):
    path = tmp_path / "arrays.npz"
    np.savez(path, x=np.zeros((20, 2)), y=np.zeros(19))
    with pytest.raises(ConfigError, match="20 samples but 19 targets"):
        load_dataset(f"npz:{path}")


@pytest.mark.parametrize(
    "kwargs,fragment",
    [
        ({"validation_split": 0.0}, "validation_split"),
        ({"validation_split": -0.1}, "validation_split"),
        ({"validation_split": 1.0}, "validation_split"),
        ({"validation_split": 1.5}, "validation_split"),
        ({"test_split": -0.2}, "test_split"),
        ({"test_split": 1.0}, "test_split"),
        ({"validation_split": 0.6, "test_split": 0.4}, "validation_split + test_split"),
        ({"max_samples": 5}, "max_samples"),
    ],
)
def test_bad_split_arguments_raise_config_error(kwargs, fragment):
    with pytest.raises(ConfigError) as info:
        load_dataset("iris", **kwargs)
    message = str(info.value)
    assert fragment in message
    value = list(kwargs.values())[-1]
    assert repr(value) in message or str(value) in message


# ---------------------------------------------------------------------------------- preprocessing


def test_preprocessing_holds_the_training_statistics_that_were_used():
    ds = load_dataset("wine", validation_split=0.3, test_split=0.1, seed=2)
    raw = load_dataset("wine", validation_split=0.3, test_split=0.1, seed=2, standardize=False)
    p = ds.preprocessing
    assert p.task == MULTICLASS and p.input_shape == (13,) and p.class_names == [0, 1, 2]
    np.testing.assert_allclose(p.mean, raw.x_train.astype("float64").mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(p.variance, raw.x_train.astype("float64").var(axis=0), rtol=1e-5)
    mean, scale = np.array(p.mean), np.sqrt(p.variance)
    for part in ("x_train", "x_val", "x_test"):
        np.testing.assert_allclose(
            getattr(ds, part), (getattr(raw, part) - mean) / scale, atol=1e-5
        )


def test_unstandardised_data_keeps_no_statistics():
    p = load_dataset("mnist", max_samples=100).preprocessing
    assert p.mean is None and p.variance is None and p.standardized is False
    assert p.class_names == list(range(10))
    assert load_dataset("regression").preprocessing.class_names is None
    assert load_dataset("multilabel").preprocessing.task == MULTILABEL


def test_constant_feature_has_variance_one_like_standard_scaler(tmp_path):
    frame = _frame()
    frame["k"] = 4.0
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    ds = load_dataset(f"csv:{path}", target="label")
    assert ds.preprocessing.mean[-1] == 4.0 and ds.preprocessing.variance[-1] == 1.0
    np.testing.assert_array_equal(ds.x_train[:, -1], 0.0)


def test_csv_string_labels_keep_their_names_in_code_order(tmp_path):
    frame = _frame().drop(columns=["label"])
    frame["species"] = np.array(["zebra", "ant", "moth"])[np.arange(60) % 3]
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    ds = load_dataset(f"csv:{path}", seed=4)
    p = ds.preprocessing
    assert p.class_names == ["ant", "moth", "zebra"]
    # code i is class_names[i]: decoding the targets gives back each row's label in the csv
    label_of = dict(
        zip(_row_keys(frame[["a", "b", "c"]].to_numpy(dtype="float32")), frame["species"])
    )
    raw = load_dataset(f"csv:{path}", seed=4, standardize=False)
    decoded = p.labels(np.eye(3)[raw.y_train])
    assert decoded.tolist() == [label_of[key] for key in _row_keys(raw.x_train)]


def test_csv_binary_string_labels(tmp_path):
    path = tmp_path / "data.csv"
    _frame().to_csv(path, index=False)
    p = load_dataset(f"csv:{path}", target="label").preprocessing
    assert p.task == BINARY and p.class_names == ["no", "yes"]
    assert p.labels(np.array([[0.9], [0.1]])).tolist() == ["yes", "no"]


def test_csv_missing_feature_values_name_the_column(tmp_path):
    frame = _frame()
    frame.loc[5, "b"] = np.nan
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"\['b'\].*NaN"):
        load_dataset(f"csv:{path}", target="label")


# ---------------------------------------------------------------------------------- in memory


def _arrays(n=50, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(loc=10.0, scale=3.0, size=(n, 3)).astype("float32")
    return x, np.arange(n) % 2


def test_dataset_from_numpy_splits_like_load_dataset(tmp_path):
    x, y = _arrays()
    ds = dataset_from_arrays(x, y, validation_split=0.2, test_split=0.2, seed=3, standardize=True)
    np.savez(tmp_path / "same.npz", x=x, y=y)
    same = load_dataset(
        f"npz:{tmp_path / 'same.npz'}", validation_split=0.2, test_split=0.2, seed=3
    )
    assert ds.name == "arrays" and ds.task == BINARY and ds.input_shape == (3,)
    assert ds.output_size == 1
    assert (len(ds.x_train), len(ds.x_val), len(ds.x_test)) == (30, 10, 10)
    for part in ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(ds, part), getattr(same, part))
    assert ds.preprocessing == same.preprocessing
    assert ds.preprocessing.class_names == [0, 1]


def test_dataset_from_arrays_is_not_standardised_by_default():
    x, y = _arrays()
    ds = dataset_from_arrays(x, y, name="mine", max_samples=20)
    assert ds.name == "mine" and len(ds.x_train) + len(ds.x_val) == 20
    assert ds.preprocessing.mean is None
    assert _rows(ds.x_train) <= _rows(x)


def test_dataset_from_pandas_keeps_string_label_names():
    frame = _frame()
    ds = dataset_from_arrays(
        frame[["a", "b", "c"]], frame["label"].astype("category"), validation_split=0.25
    )
    assert ds.task == BINARY and ds.input_shape == (3,)
    assert ds.preprocessing.class_names == ["no", "yes"]
    assert np.bincount(np.concatenate([ds.y_train, ds.y_val])).tolist() == [40, 20]
    assert len(ds.x_val) == 15


def test_dataset_from_pandas_multilabel_frame_names_the_labels():
    frame = _frame()
    targets = pd.DataFrame({"red": np.arange(60) % 2, "round": (np.arange(60) // 2) % 2})
    ds = dataset_from_arrays(frame[["a", "b"]], targets)
    assert ds.task == MULTILABEL and ds.output_size == 2
    assert ds.preprocessing.class_names == ["red", "round"]


def test_dataset_from_batched_tf_data():
    from tuner import tf_backend

    tf = tf_backend.tensorflow()
    x, _ = _arrays(n=40)
    names = np.array(["ant", "bee", "cat", "dog"])[np.arange(40) % 4]
    data = tf.data.Dataset.from_tensor_slices((x, names)).batch(16)
    ds = dataset_from_arrays(data, validation_split=0.25)
    assert ds.task == MULTICLASS and ds.output_size == 4 and ds.input_shape == (3,)
    assert ds.preprocessing.class_names == ["ant", "bee", "cat", "dog"]
    assert _rows(np.concatenate([ds.x_train, ds.x_val])) == _rows(x)
    assert len(ds.x_val) == 10
    # the same samples unbatched, and batched with a fixed batch size, read the same
    for same in (
        tf.data.Dataset.from_tensor_slices((x, names)),
        tf.data.Dataset.from_tensor_slices((x, names)).batch(8, drop_remainder=True),
    ):
        other = dataset_from_arrays(same, validation_split=0.25)
        np.testing.assert_array_equal(other.x_train, ds.x_train)
        np.testing.assert_array_equal(other.y_val, ds.y_val)


def test_validation_data_is_used_as_given():
    x, y = _arrays(n=40)
    x_val, y_val = _arrays(n=8, seed=1)
    ds = dataset_from_arrays(
        x, y, validation_data=(x_val, y_val), validation_split=0.5, standardize=True
    )
    assert len(ds.x_train) == 40 and len(ds.x_test) == 0
    np.testing.assert_array_equal(ds.y_val, y_val)
    p = ds.preprocessing
    np.testing.assert_allclose(p.mean, x.astype("float64").mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(
        ds.x_val, (x_val - np.array(p.mean)) / np.sqrt(p.variance), atol=1e-5
    )
    with_test = dataset_from_arrays(x, y, validation_data=(x_val, y_val), test_split=0.25)
    assert (len(with_test.x_train), len(with_test.x_val), len(with_test.x_test)) == (30, 8, 10)


def test_validation_data_as_tf_data_and_labels_seen_only_there():
    from tuner import tf_backend

    tf = tf_backend.tensorflow()
    x, _ = _arrays(n=20)
    y = np.array(["a", "b"] * 10)
    val = tf.data.Dataset.from_tensor_slices((x[:6], np.array(["a", "b", "c"] * 2))).batch(4)
    ds = dataset_from_arrays(x, y, validation_data=val)
    assert ds.task == MULTICLASS and ds.output_size == 3
    assert ds.preprocessing.class_names == ["a", "b", "c"]
    assert ds.y_val.tolist() == [0, 1, 2, 0, 1, 2]
    _raises("labels of one type", x, np.arange(20) % 2, validation_data=val)


def _raises(fragment: str, *args, **kwargs) -> str:
    with pytest.raises(ConfigError) as info:
        dataset_from_arrays(*args, **kwargs)
    assert fragment in str(info.value)
    return str(info.value)


def test_from_arrays_errors_name_the_argument():
    x, y = _arrays(n=20)
    message = _raises("x has 20 samples but y has 19", x, y[:-1])
    assert "one target per sample" in message
    _raises("y is missing", x)
    _raises("x is empty", x[:0], y[:0])
    _raises("y is empty", x, [])
    _raises("x is empty", pd.DataFrame({"a": []}), [])
    _raises("x must have one row per sample", x[:, 0], y)
    _raises("x must be numeric", np.array([["a", "b"]] * 20), y)
    bad = x.copy()
    bad[3, 1] = np.inf
    _raises("x holds 1 NaN or infinite feature value(s), the first at sample 3, feature 1", bad, y)
    _raises("y holds 1 missing", x, np.where(np.arange(20) == 2, np.nan, 1.0))
    _raises("y holds 1 missing", x, pd.Series(["a", None] + ["b"] * 18))
    _raises("validation_split must be > 0", x, y, validation_split=0.0)
    _raises("max_samples must be at least 10", x, y, max_samples=3)


def test_from_pandas_errors_name_the_columns():
    frame = _frame()
    message = _raises("feature column(s) ['label'] in x are not numeric", frame, frame["c"])
    assert "'a'" not in message
    frame.loc[2, "a"] = np.nan
    _raises("feature column(s) ['a'] in x hold NaN", frame[["a", "b"]], frame["label"])


def test_bad_validation_data_is_named():
    x, y = _arrays(n=20)
    _raises(
        "validation_data must be a pair (x_val, y_val) or a tf.data.Dataset",
        x,
        y,
        validation_data=(x, y, y),
    )
    _raises("a tuple of 3", x, y, validation_data=(x, y, y))
    _raises("validation_data must be a pair", x, y, validation_data=x)
    _raises(
        "validation_data's x has samples of shape (2,), but x has (3,)",
        x,
        y,
        validation_data=(x[:, :2], y),
    )
    _raises(
        "validation_data's x has 20 samples but validation_data's y has 5",
        x,
        y,
        validation_data=(x, y[:5]),
    )
    _raises(
        "validation_data's y has samples of shape (2,), but y has ()",
        x,
        y,
        validation_data=(x, np.zeros((20, 2))),
    )
    _raises(
        "validation_data's y holds <U1 labels but y holds int64",
        x,
        y,
        validation_data=(x, np.array(["a", "b"] * 10)),
    )
    frame = _frame()
    _raises(
        "validation_data's x has columns ['b', 'a'], but x has ['a', 'b']",
        frame[["a", "b"]],
        frame["label"],
        validation_data=(frame[["b", "a"]], frame["label"]),
    )


def test_bad_tf_data_is_named():
    from tuner import tf_backend

    tf = tf_backend.tensorflow()
    x, y = _arrays(n=20)
    pairs = tf.data.Dataset.from_tensor_slices((x, y))
    _raises("y must be None when x is a tf.data.Dataset", pairs, y)
    _raises("x repeats forever", pairs.repeat())
    _raises("x must yield (x, y) pairs", tf.data.Dataset.from_tensor_slices(x))
    _raises("x is empty", pairs.take(0))
    _raises("validation_data repeats forever", x, y, validation_data=pairs.repeat())
