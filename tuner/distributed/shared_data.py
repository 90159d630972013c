"""A campaign's data as its local workers read it: the chief's `Dataset`, already split (and
standardised), written once into the results folder as one ``.npz`` (no pickle), so that data
held only in the chief's memory (``tuner.search(build, x, y, workers=N)``) reaches the worker
processes, and every worker trains on exactly the chief's arrays."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np

from tuner.datasets import Dataset
from tuner.errors import ConfigError
from tuner.files import FILE_MODE
from tuner.preprocessing import Preprocessing

ARRAYS = ("x_train", "y_train", "x_val", "y_val", "x_test", "y_test")


def save_dataset(dataset: Dataset, path: Path) -> None:
    """Write `dataset` to `path` (atomically: a worker never reads half a file)."""
    meta = {
        "name": dataset.name,
        "task": dataset.task,
        "input_shape": list(dataset.input_shape),
        "output_size": dataset.output_size,
        "positive_targets": dataset.positive_targets,
        "preprocessing": dataset.preprocessing.to_dict(),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            arrays = {name: np.asarray(getattr(dataset, name)) for name in ARRAYS}
            np.savez(stream, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def load_saved_dataset(path: Path) -> Dataset:
    """The `Dataset` `save_dataset` wrote to `path`."""
    try:
        with np.load(path) as archive:  # allow_pickle=False: plain arrays only
            meta = json.loads(str(archive["meta"]))
            arrays = {name: archive[name] for name in ARRAYS}
    except (OSError, KeyError, ValueError) as error:
        raise ConfigError(
            f"--data {path}: not a campaign's data as `tuner.search(..., workers=N)` saves "
            f"it ({error})."
        ) from None
    return Dataset(
        name=meta["name"],
        task=meta["task"],
        input_shape=tuple(meta["input_shape"]),
        output_size=int(meta["output_size"]),
        positive_targets=bool(meta["positive_targets"]),
        preprocessing=Preprocessing.from_dict(meta["preprocessing"]),
        **arrays,
    )
