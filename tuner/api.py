"""The Python entry points: `search(...) -> Results` and `load_results(...) -> Results`. The one
place that composes the plan, the folder, the oracle, the executor and the store."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from tuner import backends, errors
from tuner.campaign import Campaign, from_saved, load_campaign
from tuner.errors import ConfigError
from tuner.execution import PackedExecutor, SequentialExecutor
from tuner.execution.pack_size import auto_pack_size
from tuner.loop import (
    Plan,
    attach_oracle,
    claim,
    make_plan,
    packing_asked,
    packing_requested,
    run_trials,
)
from tuner.pipeline import InputPipeline
from tuner.space import CAMPAIGN_LABEL, PYTHON_LABEL, space_labelled
from tuner.store import DiskStore, ResultsFolder, SharedDiskStore, Store
from tuner.strategies import is_client
from tuner.trial import TrialRecord

if TYPE_CHECKING:
    from tuner.progress import Progress


@dataclass
class Results:
    """What a campaign found: every record, the ranked table, and the kept models."""

    campaign: Campaign
    records: list[TrialRecord]
    table: pd.DataFrame
    store: Store | None = None
    preprocessing: Any = None
    ran: int = 0
    info: dict[str, Any] = field(default_factory=dict)
    stop_reason: str | None = None  # why the search stopped (None: results reopened, not run)

    @property
    def folder(self) -> Path:
        return self.campaign.folder

    @property
    def best_trial_id(self) -> str | None:
        completed = self.table[self.table["status"] == "completed"]
        return None if completed.empty else str(completed.iloc[0]["trial_id"])

    @property
    def best_record(self) -> TrialRecord | None:
        return next((r for r in self.records if r.trial_id == self.best_trial_id), None)

    @property
    def best_hyperparameters(self) -> dict[str, Any]:
        """Every value the best model was built with, the builder's defaults included
        (KerasTuner's internal ``tuner/`` values left out)."""
        record = self.best_record
        if record is None:
            return {}
        return {k: v for k, v in record.hyperparameters.items() if not k.startswith("tuner/")}

    @property
    def best_hp(self) -> kt.HyperParameters:
        """The best values as a `kt.HyperParameters`: ``build(results.best_hp)`` rebuilds the
        best model untrained."""
        hp = kt.HyperParameters()
        for name, value in self.best_hyperparameters.items():
            hp.Fixed(name, value)
        return hp

    @property
    def class_names(self) -> list[Any] | None:
        """The original labels, in the order of the model's outputs (None: not classification)."""
        return getattr(self.preprocessing, "class_names", None)

    def best_models(self, n: int = 1) -> list[keras.Model]:
        """The `n` best kept models at their best epoch, best first (``keep_top`` decides how
        many were kept)."""
        ranked = [str(t) for t in self.table[self.table["status"] == "completed"]["trial_id"]]
        kept = min(len(ranked), self.campaign.keep_top)
        if not 1 <= n <= kept:
            raise ConfigError(
                f"n must be in [1, {kept}]: the campaign kept the models of its "
                f"best {kept} trial(s) (keep_top={self.campaign.keep_top}), but "
                f"got {n}."
            )
        if self.store is None:
            raise FileNotFoundError(f"no models kept for campaign {self.campaign.name!r}")
        return [self.store.load_model(trial_id) for trial_id in ranked[:n]]

    def best_model(self) -> keras.Model:
        """The best trial's model at its best epoch. It takes raw inputs: any standardisation
        of the data is a layer inside it."""
        if self.best_trial_id is None:
            raise FileNotFoundError(f"campaign {self.campaign.name!r} has no completed trial")
        return self.best_models(1)[0]

    def predict_labels(self, x: Any) -> np.ndarray:
        """The best model's predictions on raw inputs, as the original labels."""
        predictions = self.best_model().predict(np.asarray(x, dtype="float32"), verbose=0)
        if self.preprocessing is None:
            return predictions
        return self.preprocessing.labels(predictions)


# --------------------------------------------------------------------------- composition


def _tensorboard_callbacks(campaign: Campaign, tuned: Sequence[str]) -> Callable[..., list]:
    """Per-trial TensorBoard + HParams callbacks under ``<folder>/tensorboard``."""
    from tuner.tensorboard_hparams import hparams_callbacks

    metrics = list(dict.fromkeys([campaign.objective, "loss", "val_loss"]))

    def factory(trial_id: str, values: dict[str, Any]) -> list[keras.callbacks.Callback]:
        shown = {k: v for k, v in values.items() if k in tuned}
        return hparams_callbacks(
            ResultsFolder(campaign.folder).tensorboard, trial_id, shown, metrics
        )

    return factory


def progress_printer(
    plan: Plan,
    store: Store,
    print_line: Callable[[str], None],
    terminal: TextIO | None = None,
    hyperparameters: kt.HyperParameters | None = None,
) -> Progress:
    """Called with each trial's outcome once it is saved: prints its progress line (the
    trials done, the best so far, the time left); its `epoch` draws the live line of trials
    training together, in place on `terminal` (None: an occasional plain line).
    `hyperparameters`: the oracle's space, read at every line (it may grow), so a
    hyperparameter is written alike in every line."""
    from tuner.progress import Progress

    return Progress(plan, store, print_line, terminal=terminal, hyperparameters=hyperparameters)


def build_oracle(plan: Plan, entries: dict[str, Any]) -> kt.Oracle:
    """The campaign's oracle over the space `entries` (learning_rate = "auto" resolved),
    attached to its claimed folder's engine state."""
    return attach_oracle(plan.create_oracle(plan.space(entries)), plan.campaign.folder)


def build_store(plan: Plan, lr_info: dict[str, Any] | None, *, shared: bool = False) -> DiskStore:
    """The campaign's results folder as a store; `shared`: a distributed worker's view of it
    (`SharedDiskStore`), which writes no table."""
    campaign = plan.campaign
    preprocessing = getattr(plan.dataset, "preprocessing", None)
    kind = SharedDiskStore if shared else DiskStore
    return kind(
        campaign.folder,
        plan.objective,
        keep_top=campaign.keep_top,
        keeps_parents=plan.strategy.trains_from_parent,
        hyperparameter_names=plan.tuned,
        settings=dict(campaign.to_dict(), **(lr_info or {})),
        prepare_for_saving=getattr(preprocessing, "with_raw_inputs", None),
        notes=backends.campaign_notes(
            pack_requested=packing_asked(campaign, plan.hypermodel),
            threads=campaign.threads,
            tensorboard=campaign.tensorboard,
            mixed_precision=campaign.mixed_precision,
            jit_compile=campaign.jit_compile,
        ),
    )


def build_executor(
    plan: Plan,
    entries: dict[str, Any],
    callbacks: Sequence[keras.callbacks.Callback] = (),
    *,
    max_pack: int | None = None,
) -> tuple[SequentialExecutor | PackedExecutor, str | None]:
    """The executor that trains the campaign's trials, and the header's line about packing
    (None: nothing to say). `max_pack` caps the pack size (a worker's share of the trials)."""
    campaign = plan.campaign
    pipeline = InputPipeline(plan.dataset)
    pack, pack_note = _pack_size(plan, entries, callbacks)
    if max_pack is not None:
        pack = max(1, min(pack, max_pack))
    tensorboard = campaign.tensorboard and backends.writes_tensorboard()
    common: dict[str, Any] = dict(
        objective=plan.objective,
        seed=campaign.seed,
        early_stopping=campaign.early_stopping,
        precision=backends.precision_policy(campaign.mixed_precision),
        jit_compile=backends.jit_compile_setting(campaign.jit_compile),
    )
    if pack > 1:
        return PackedExecutor(plan.hypermodel, pipeline, max_pack=pack, **common), pack_note
    return SequentialExecutor(
        plan.hypermodel,
        pipeline,
        callbacks=callbacks,
        callback_factory=_tensorboard_callbacks(campaign, plan.tuned) if tensorboard else None,
        **common,
    ), pack_note


def run_plan(
    plan: Plan,
    *,
    overwrite: bool = False,
    overwrite_hint: str = "overwrite=True",
    quiet: bool = True,
    print_line: Callable[[str], None] = print,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    terminal: TextIO | None = None,
) -> Results:
    """Claim the folder, resolve learning_rate = "auto", and run the campaign's trials.
    `terminal`: where the live line of a training pack is redrawn in place (None: it comes
    as an occasional plain line through `print_line`)."""
    campaign = plan.campaign
    claim(campaign, overwrite=overwrite, overwrite_hint=overwrite_hint, dataset=plan.dataset)
    entries, lr_info = plan.resolved_entries()
    oracle = build_oracle(plan, entries)
    preprocessing = getattr(plan.dataset, "preprocessing", None)
    store = build_store(plan, lr_info)
    store.write_search_space(oracle.hyperparameters.get_config())
    if preprocessing is not None and hasattr(preprocessing, "to_dict"):
        store.write_preprocessing(preprocessing.to_dict())
    executor, pack_note = build_executor(plan, entries, callbacks)
    if not quiet:
        from tuner import console

        for line in console.campaign_header(
            name=campaign.name,
            strategy=campaign.strategy,
            trials=plan.planned_trials(),
            configurations=plan.configurations,
            max_trials=campaign.max_trials,
            dataset=campaign.dataset,
            objective=campaign.objective,
            direction=str(campaign.direction),
            folder=str(campaign.folder),
            auto_lr=_auto_lr(lr_info),
            notes=([pack_note] if pack_note else []) + store.notes,
        ):
            print_line(line)
        if store.records():
            print_line(
                f"resuming {campaign.name!r}: {len(store.records())} trial(s) already "
                f"finished in {campaign.folder}"
            )
    progress = (
        None
        if quiet
        else progress_printer(plan, store, print_line, terminal, oracle.hyperparameters)
    )
    try:
        ran = run_trials(
            oracle,
            executor,
            store,
            on_trial_end=progress,
            on_epoch=None if progress is None else progress.epoch,
        )
    finally:
        if progress is not None:
            progress.close()
    if not is_client(oracle):  # with what trials declared along the way
        store.write_search_space(oracle.hyperparameters.get_config())
    stop_reason = plan.stop_reason(len(store.records()))
    store.notes.append(f"search {stop_reason}")
    store.flush()
    if not quiet:
        print_line(stop_reason)
    found = Results(
        campaign=campaign,
        records=store.records(),
        table=store.table(),
        store=store,
        preprocessing=preprocessing,
        ran=ran,
        info=lr_info or {},
        stop_reason=stop_reason,
    )
    _say_if_nothing_new(found, overwrite_hint, quiet, print_line)
    return found


def _say_if_nothing_new(
    found: Results, overwrite_hint: str, quiet: bool, print_line: Callable[[str], None]
) -> None:
    """A search that found its campaign finished says so: a line, or (quiet) a warning."""
    if found.ran or not found.records:
        return
    campaign = found.campaign
    message = (
        f"campaign {campaign.name!r} already has {len(found.records)} finished "
        f"trial(s) in {campaign.folder}; nothing new ran (raise max_trials to run "
        f"more, or start over with {overwrite_hint})"
    )
    if quiet:
        errors.warn(message, errors.NothingNewRan, stacklevel=4)
    else:
        print_line(message)


def _pack_size(
    plan: Plan, entries: dict[str, Any], callbacks: Sequence[keras.callbacks.Callback]
) -> tuple[int, str | None]:
    """How many trials train together in one model (1: one model a trial), and the header's
    line about it (None: nothing to say). Packing needs a builder with a ``packing_key``;
    Keras callbacks (the caller's, TensorBoard's) need one model a trial."""
    campaign = plan.campaign
    # Where packing gives way (backend, precision) the campaign's notes say why (`campaign_notes`).
    if not packing_requested(campaign, plan.hypermodel):
        return 1, None
    if callbacks or campaign.tensorboard:
        given = "callbacks" if callbacks else "tensorboard = true"
        return 1, f"packing: off ({given}: Keras callbacks run on one model a trial)"
    if isinstance(campaign.pack, int):
        pack = campaign.pack
    else:
        pack = auto_pack_size(_n_params(plan, entries), strategy=campaign.strategy)
    pack = min(pack, plan.planned_trials())
    if pack <= 1:
        return 1, None
    from tuner import console

    return pack, console.packing_note(pack, "auto" if campaign.pack == "auto" else "pack")


def _n_params(plan: Plan, entries: dict[str, Any]) -> int:
    """Parameters of the model the builder makes at the space's defaults."""
    hp = plan.space(entries)
    model = plan.hypermodel.build(hp)
    n_params = int(model.count_params())
    del model
    keras.backend.clear_session()
    return n_params


def _auto_lr(info: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if not info else {"learning_rate": info["learning_rate"]}


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
    in_memory = not (
        model is None
        or isinstance(model, (Campaign, Path))
        or (isinstance(model, str) and model.endswith(".toml"))
    )
    label = PYTHON_LABEL if space is not None or in_memory else CAMPAIGN_LABEL
    with space_labelled(label):  # errors name the space as the caller wrote it
        return _search(
            model,
            x,
            y,
            validation_data=validation_data,
            validation_split=validation_split,
            space=space,
            callbacks=callbacks,
            overwrite=overwrite,
            quiet=quiet,
            print_line=print_line,
            workers=workers,
            fields=fields,
        )


def _search(
    model: Any,
    x: Any,
    y: Any,
    *,
    validation_data: Any,
    validation_split: float | None,
    space: dict[str, Any] | None,
    callbacks: Sequence[keras.callbacks.Callback],
    overwrite: bool,
    quiet: bool,
    print_line: Callable[[str], None],
    workers: int | None,
    fields: dict[str, Any],
) -> Results:
    if workers is not None:
        _check_workers(workers, model, callbacks)
    if isinstance(model, (Campaign, Path)) or (isinstance(model, str) and model.endswith(".toml")):
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
        plan = make_plan(campaign)
    elif model is None:
        raise ConfigError(
            "search needs a campaign file, a Campaign, or a model builder with "
            "data (search(build, x, y, ...))."
        )
    else:
        campaign, dataset = _in_memory_campaign(
            model, x, y, validation_data, validation_split, space, fields
        )
        plan = make_plan(campaign, model=model, dataset=dataset)
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
    _say_if_nothing_new(found, "overwrite=True", quiet, print_line)
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
    from tuner.datasets import dataset_from_arrays

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
    return campaign, dataset


def load_results(name_or_folder: str | Path, results_dir: str | Path = "results") -> Results:
    """Reopen a finished (or interrupted) campaign's results without searching."""
    files = ResultsFolder.find(name_or_folder, results_dir)
    folder = files.path
    text = files.campaign_text()
    if text is None:
        raise ConfigError(f"{folder} holds no {files.campaign.name}; is it a results folder?")
    campaign = from_saved(text, str(files.campaign))
    campaign = campaign.replace(results_dir=str(folder.parent))
    objective = kt.Objective(campaign.objective, campaign.direction)
    store = DiskStore(
        folder,
        objective,
        keep_top=campaign.keep_top,
        hyperparameter_names=files.tuned_names(campaign.space),
    )
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
