"""The Python entry points: `search(...) -> Results` and `load_results(...) -> Results`.
Nothing inside the package imports this module; a run is assembled by `tuner.run`."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt

from tuner.campaign import Campaign, from_saved, load_campaign
from tuner.campaign_objective import campaign_objective
from tuner.errors import ConfigError
from tuner.plan import Plan, make_plan
from tuner.run import Results, run_plan, say_if_nothing_new
from tuner.space import CAMPAIGN_LABEL, PYTHON_LABEL, space_labelled
from tuner.store import DiskStore, ResultsFolder


def search(
    model: Any = None,
    x: Any = None,
    y: Any = None,
    *,
    validation_data: Any = None,
    validation_split: float | None = None,
    space: dict[str, Any] | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    overwrite: bool = False,
    quiet: bool = True,
    print_line: Callable[[str], None] = print,
    workers: int | None = None,
    **fields: Any,
) -> Results:
    """Run (or resume) a campaign, and return its `Results`.

    From a campaign file or `Campaign`, with fields overridden::

        tuner.search("experiments/quickstart.toml", max_trials=5, strategy="bayesian")

    Or on your own builder and in-memory data (NumPy arrays, pandas frames, a `tf.data`
    dataset), as KerasTuner's ``tuner.search(x, y, validation_data=...)``::

        tuner.search(build, x, y, validation_split=0.2, objective="val_accuracy",
                     space={"units": [32, 64]}, max_trials=10, name="mine")

    `build` is a function ``build(hp)`` or ``build(hp, spec)`` returning a compiled Keras
    model, a `kt.HyperModel`, or a registry name such as ``"mlp"``. `fields` are any
    `Campaign` fields (name, objective, strategy, max_trials, epochs, seed, results_dir, ...).
    `callbacks` are Keras callbacks given to every trial's `fit` (a copy each).
    `workers` runs the trials in that many worker processes on this machine, as
    ``tuner search --workers N`` does (in-memory data is saved once into the results folder
    for them; the builder must be importable by name, not defined in ``__main__``).
    """
    if workers is not None:
        _check_workers(workers, model, callbacks)
    in_memory = model is not None and not _is_campaign(model)
    with space_labelled(PYTHON_LABEL if space is not None or in_memory else CAMPAIGN_LABEL):
        plan = _plan(model, x, y, validation_data, validation_split, space, fields)
        if workers is not None:
            return _search_with_workers(
                plan, workers, overwrite=overwrite, quiet=quiet, print_line=print_line
            )
        terminal = sys.stdout if print_line is print and sys.stdout.isatty() else None
        return run_plan(
            plan,
            overwrite=overwrite,
            quiet=quiet,
            print_line=print_line,
            callbacks=callbacks,
            terminal=terminal,
        )


def _is_campaign(model: Any) -> bool:
    """Whether `search`'s first argument names a campaign (a file or a `Campaign`)."""
    return isinstance(model, (Campaign, Path)) or (
        isinstance(model, str) and model.endswith(".toml")
    )


def _plan(
    model: Any,
    x: Any,
    y: Any,
    validation_data: Any,
    validation_split: float | None,
    space: dict[str, Any] | None,
    fields: dict[str, Any],
) -> Plan:
    """The checked plan of `search`'s arguments: a campaign with fields overridden, or a
    builder on in-memory data."""
    if _is_campaign(model):
        if x is not None or y is not None or validation_data is not None:
            raise ConfigError(
                "x, y and validation_data go with a model, not a campaign file; "
                "name the data in the campaign (dataset = ...) instead."
            )
        campaign = model if isinstance(model, Campaign) else load_campaign(model)
        extra = dict(
            fields,
            **({"space": space} if space is not None else {}),
            **({"validation_split": validation_split} if validation_split is not None else {}),
        )
        if extra:
            campaign = campaign.replace(**extra)
        return make_plan(campaign)
    if model is None:
        raise ConfigError(
            "search needs a campaign file, a Campaign, or a model builder with "
            "data (search(build, x, y, ...))."
        )
    campaign, dataset = _in_memory_campaign(
        model, x, y, validation_data, validation_split, space, fields
    )
    return make_plan(campaign, model=model, dataset=dataset)


def _check_workers(workers: int, model: Any, callbacks: Sequence[Any]) -> None:
    """What `workers=` needs, checked before anything is loaded or written: a count, no
    callbacks (they live in this process), and a builder a worker process can import."""
    from tuner.distributed.local import check_workers

    check_workers(workers, "workers")
    if callbacks:
        raise ConfigError(
            "callbacks= run in this process, but with workers= every trial trains in a worker "
            "process; leave out one of the two."
        )
    if model is None or isinstance(model, (str, Path, Campaign)):
        return  # a name the worker resolves as this process did
    way_out = (
        "define it in a module (a .py file next to your script or notebook) and import it "
        "from there"
    )
    if isinstance(model, kt.HyperModel):
        raise ConfigError(
            f"workers= needs a builder that worker processes can import by name, but got a "
            f"{type(model).__name__} instance (its settings cannot reach them); pass the class "
            f"{type(model).__name__} itself if it takes no arguments, or a build(hp) function: "
            f"{way_out}."
        )
    module = getattr(model, "__module__", None)
    qualname = getattr(model, "__qualname__", None) or repr(model)
    if (
        module is None
        or module == "__main__"
        or getattr(sys.modules.get(module), qualname, None) is not model
    ):
        where = (
            "in __main__ (this script or notebook)"
            if module == "__main__"
            else "where a worker cannot import it by name"
        )
        raise ConfigError(
            f"workers= needs a builder that worker processes can import by name, but "
            f"{qualname} is defined {where}; {way_out}."
        )


def _search_with_workers(
    plan: Plan, workers: int, *, overwrite: bool, quiet: bool, print_line: Callable[[str], None]
) -> Results:
    """The campaign's trials in `workers` local worker processes (a chief in this one), as
    ``tuner search --workers N``. The workers read the campaign the folder saved and the
    data this process holds (saved once into the folder), and import the builder from where
    this process did."""
    import os

    from tuner.distributed.local import importable_root, search_with_workers, with_python_path
    from tuner.distributed.shared_data import save_dataset

    campaign = plan.campaign
    folder = campaign.folder.resolve()
    data = ResultsFolder(folder).shared_data

    def worker_args() -> list[str]:
        save_dataset(plan.dataset, data)
        return [
            str(ResultsFolder(folder).campaign),
            "--results-dir",
            str(folder.parent),
            "--data",
            str(data),
        ]

    module = campaign.model.partition(":")[0] if ":" in campaign.model else None
    roots = [importable_root(module)] if module else []
    if campaign.source_dir is not None:
        roots.append(campaign.source_dir)
    found: Results = search_with_workers(
        plan,
        workers,
        worker_args,
        overwrite=overwrite,
        overwrite_hint="overwrite=True",
        quiet=quiet,
        print_line=print_line,
        environ=with_python_path(os.environ, [Path.cwd(), *(r for r in roots if r)]),
    )
    say_if_nothing_new(found, "overwrite=True", quiet, print_line)
    return found


def _model_label(model: Any) -> str:
    if isinstance(model, str):
        return model
    target = (
        model
        if isinstance(model, type) or callable(model) and not isinstance(model, kt.HyperModel)
        else type(model)
    )
    module, name = getattr(target, "__module__", None), getattr(target, "__qualname__", None)
    return f"{module}:{name}" if module and name else type(model).__name__


def _in_memory_campaign(
    model: Any,
    x: Any,
    y: Any,
    validation_data: Any,
    validation_split: float | None,
    space: dict[str, Any] | None,
    fields: dict[str, Any],
) -> tuple[Campaign, Any]:
    from tuner.datasets import dataset_from_arrays, with_campaign_outliers

    if x is None:
        raise ConfigError("search(build, x, y, ...) needs x: the training inputs.")
    for key in ("dataset", "model"):
        if key in fields:
            raise ConfigError(
                f"{key}= cannot be given with in-memory data; pass the data as "
                "x, y and the builder as the first argument."
            )
    label = _model_label(model)
    name = fields.pop("name", None) or label.rpartition(":")[2].replace(".", "_") or "search"
    split = 0.2 if validation_split is None else validation_split
    campaign = Campaign(
        name=name,
        dataset="arrays",
        model=label,
        space=dict(space or {}),
        validation_split=split,
        **fields,
    )
    dataset = dataset_from_arrays(
        x,
        y,
        validation_data=validation_data,
        validation_split=campaign.validation_split,
        test_split=campaign.test_split,
        max_samples=campaign.max_samples,
        seed=campaign.seed,
        standardize=bool(campaign.standardize),
    )
    return campaign, with_campaign_outliers(dataset, campaign)


def load_results(name_or_folder: str | Path, results_dir: str | Path = "results") -> Results:
    """Reopen a finished (or interrupted) campaign's results without searching."""
    files = ResultsFolder.find(name_or_folder, results_dir)
    folder = files.path
    text = files.campaign_text()
    if text is None:
        raise ConfigError(f"{folder} holds no {files.campaign.name}; is it a results folder?")
    campaign = from_saved(text, str(files.campaign))
    campaign = campaign.replace(results_dir=str(folder.parent))
    objective = campaign_objective(campaign)
    store = DiskStore(
        folder,
        objective,
        keep_top=campaign.keep_top,
        hyperparameter_names=files.tuned_names(campaign.space),
    )
    store.restore_from_tables()  # a folder without its engine state (committed, copied)
    preprocessing = _read_preprocessing(files)
    return Results(
        campaign=campaign,
        records=store.records(),
        table=store.table(),
        store=store,
        preprocessing=preprocessing,
    )


def _read_preprocessing(folder: ResultsFolder) -> Any:
    data = folder.read_preprocessing()
    if data is None:
        return None
    from tuner.preprocessing import Preprocessing

    return Preprocessing.from_dict(data)
