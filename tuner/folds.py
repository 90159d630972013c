"""K-fold splits of a campaign's data for ``cross_validation = K``: the training and validation
data together, cut into K folds (stratified for classification, shuffled with the campaign's
seed); the test split, if any, stays out of every fold.

The features are the dataset's as loaded: standardised (where they are) with the statistics of
the training split, as the saved model's preprocessing records them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from tuner.datasets import BINARY, MULTICLASS, Dataset
from tuner.errors import ConfigError


def pooled(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation data together: what the folds are cut from, and what the
    best model is refit on."""
    return (
        np.concatenate([dataset.x_train, dataset.x_val]),
        np.concatenate([dataset.y_train, dataset.y_val]),
    )


def _labels(dataset: Dataset, y: np.ndarray) -> np.ndarray | None:
    """One label per sample to stratify on (None: not a classification with one label)."""
    if dataset.task not in (BINARY, MULTICLASS):
        return None
    flat = y.reshape(len(y), -1)
    return flat[:, 0] if flat.shape[1] == 1 else flat.argmax(axis=1)


def check_folds(dataset: Dataset, k: int) -> None:
    """Refuse `k` folds the data cannot give: more folds than samples, or (classification)
    a class with fewer samples than folds. One `ConfigError` line with the fix."""
    x, y = pooled(dataset)
    if k > len(x):
        raise ConfigError(
            f"cross_validation = {k} needs at least {k} samples, but the training and "
            f"validation data hold {len(x)}; use cross_validation = {max(2, len(x))} or fewer, "
            "or give more data."
        )
    labels = _labels(dataset, y)
    if labels is None:
        return
    counts = Counter(labels.tolist())
    label, fewest = min(counts.items(), key=lambda item: (item[1], str(item[0])))
    if fewest < k:
        names = dataset.preprocessing.class_names
        shown = names[int(label)] if names and 0 <= int(label) < len(names) else label
        hint = f"cross_validation = {fewest}" if fewest >= 2 else "leave cross_validation out"
        raise ConfigError(
            f"cross_validation = {k} needs at least {k} samples of every class, but class "
            f"{shown!r} has {fewest} in the training and validation data; use {hint}, raise "
            "max_samples, or give more data."
        )


def fold_indices(dataset: Dataset, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each fold's (training, validation) positions in `pooled` data: StratifiedKFold for
    classification, KFold otherwise, both shuffled by `seed`."""
    x, y = pooled(dataset)
    labels = _labels(dataset, y)
    if labels is None:
        return list(KFold(k, shuffle=True, random_state=seed).split(x))
    return list(StratifiedKFold(k, shuffle=True, random_state=seed).split(x, labels))


def folds(dataset: Dataset, k: int, seed: int) -> list[Dataset]:
    """The K datasets of ``cross_validation = k``: each trains on K-1 folds and validates on
    the other (checked first: `check_folds`); the test split is every fold's."""
    check_folds(dataset, k)
    x, y = pooled(dataset)
    return [
        dataclasses.replace(
            dataset,
            x_train=x[train],
            y_train=y[train],
            x_val=x[val],
            y_val=y[val],
        )
        for train, val in fold_indices(dataset, k, seed)
    ]


def refit_data(dataset: Dataset) -> Dataset:
    """The dataset the best model is refit on: every training and validation sample trains
    (the validation arrays are kept as they are only because a `Dataset` needs some)."""
    x, y = pooled(dataset)
    return dataclasses.replace(dataset, x_train=x, y_train=y)
