"""Assemble a run: the one place that turns a checked `Plan` into the oracle, store and
executor that a role needs (`open_run`: this process alone, a chief, a worker), and gives
the campaign's `Results`. `run_plan` runs one in this process."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import keras
import keras_tuner as kt
import numpy as np
import pandas as pd

from tuner import backends, errors
from tuner.campaign import Campaign
from tuner.datasets import Dataset
from tuner.errors import ConfigError
from tuner.execution import Executor, PackedExecutor, SequentialExecutor
from tuner.execution.budget import Budget
from tuner.execution.cross_validation import CrossValidatedExecutor, Refit
from tuner.execution.pack_size import auto_pack_size
from tuner.execution.pipeline import InputPipeline
from tuner.folds import folds
from tuner.loop import attach_oracle, claim, run_trials
from tuner.objectives import logged
from tuner.plan import Plan, packing_asked, packing_requested
from tuner.results.pareto import pareto_front
from tuner.space import most_epochs, without_auto_learning_rate
from tuner.store import DiskStore, ResultsFolder, SharedDiskStore, Store
from tuner.strategies import get_strategy, is_client
from tuner.strategies.proposals import AutoChoiceChanged
from tuner.trial import SCORED, TrialRecord

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
        completed = self.table[self.table["status"].isin(SCORED)]
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

    def pareto_front(self) -> pd.DataFrame:
        """The Pareto-optimal trials, rows of `table` in its order: those no other trial beats
        in every objective of ``objective = [...]`` (never a failed one); for one objective,
        the best trial (with any that tie it)."""
        return pareto_front(self.table)

    @property
    def class_names(self) -> list[Any] | None:
        """The original labels, in the order of the model's outputs (None: not classification)."""
        return getattr(self.preprocessing, "class_names", None)

    def best_models(self, n: int = 1) -> list[keras.Model]:
        """The `n` best kept models at their best epoch, best first (``keep_top`` decides how
        many were kept)."""
        ranked = [str(t) for t in self.table[self.table["status"].isin(SCORED)]["trial_id"]]
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

    metrics = list(dict.fromkeys([*logged(campaign.objectives), "loss", "val_loss"]))

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
        settings=dict(campaign.to_dict(), searched=_searched(plan), **(lr_info or {})),
        prepare_for_saving=getattr(preprocessing, "with_raw_inputs", None),
        notes=backends.campaign_notes(
            pack_requested=packing_asked(campaign, plan.hypermodel),
            threads=campaign.threads,
            tensorboard=campaign.tensorboard,
            mixed_precision=campaign.mixed_precision,
            jit_compile=campaign.jit_compile,
        )
        + _cross_validation_notes(plan),
    )


def _cross_validation_notes(plan: Plan) -> list[str]:
    """What ``cross_validation = K`` changes, for the header and the summary."""
    k = plan.campaign.cross_validation
    if k is None:
        return []
    how = "stratified " if plan.dataset.task in ("binary", "multiclass") else ""
    return [
        f"cross-validation: each trial's score is its mean over {k} {how}folds of the training "
        f"and validation data (cv_std and cv_fold_1..{k} in trials.csv; history.csv holds the "
        "mean over the folds); the kept models are refit on all of that data for each trial's "
        "best epoch count"
    ]


def _searched(plan: Plan) -> str:
    """What the search varies, for the summary's settings: the names, and where they come
    from (an empty ``space`` would otherwise read as "nothing searched")."""
    names = ", ".join(plan.tuned) or "nothing (one configuration)"
    source = "the builder's declared space" if plan.tune_declared else "the space's entries"
    return f"{names} ({source}; search_space.json)"


def build_executor(
    plan: Plan,
    entries: dict[str, Any],
    callbacks: Sequence[keras.callbacks.Callback] = (),
    *,
    max_pack: int | None = None,
) -> tuple[Executor, str | None]:
    """The executor that trains the campaign's trials, and the header's line about packing
    (None: nothing to say). `max_pack` caps the pack size (a worker's share of the trials).
    With ``cross_validation = K``: one such executor per fold, wrapped
    (`CrossValidatedExecutor`)."""
    campaign = plan.campaign
    if plan.strategy.name == "pbt":  # the whole population at once
        from tuner.execution.pbt_packed import PackedPBTExecutor

        settings = plan.pbt_settings(entries)
        ignored = bool(callbacks) or campaign.tensorboard
        executor = PackedPBTExecutor(
            plan.hypermodel,
            InputPipeline(plan.dataset),
            settings,
            objective=plan.objective,
            seed=campaign.seed,
            precision=backends.precision_policy(campaign.mixed_precision),
            jit_compile=backends.jit_compile_setting(campaign.jit_compile),
            space=plan.space(entries),
        )
        how = (
            "members as towers of one stacked model"
            if executor.why_not is None
            else f"one model a member, round by round ({executor.why_not})"
        )
        return executor, (
            f"pbt: population {settings.population}, exploit every {settings.ready} epochs; "
            + how
            + ("; Keras callbacks and TensorBoard are not used" if ignored else "")
        )
    pack, pack_note = _pack_size(plan, entries, callbacks)
    if max_pack is not None:
        pack = max(1, min(pack, max_pack))
    tensorboard = campaign.tensorboard and backends.writes_tensorboard()
    common: dict[str, Any] = dict(
        objective=plan.objective,
        seed=campaign.seed,
        early_stopping=campaign.early_stopping,
        pruning=campaign.pruning_rule,
        precision=backends.precision_policy(campaign.mixed_precision),
        jit_compile=backends.jit_compile_setting(campaign.jit_compile),
    )

    def on(dataset: Dataset) -> SequentialExecutor | PackedExecutor:
        pipeline = InputPipeline(dataset)
        if pack > 1:
            return PackedExecutor(plan.hypermodel, pipeline, max_pack=pack, **common)
        return SequentialExecutor(
            plan.hypermodel,
            pipeline,
            callbacks=callbacks,
            callback_factory=_tensorboard_callbacks(campaign, plan.tuned) if tensorboard else None,
            **common,
        )

    if campaign.cross_validation is None:
        return on(plan.dataset), pack_note
    refit = Refit(plan.hypermodel, plan.dataset, seed=campaign.seed, precision=common["precision"])
    executors = [on(fold) for fold in folds(plan.dataset, campaign.cross_validation, campaign.seed)]
    return CrossValidatedExecutor(executors, plan.objective, refit), pack_note


LOCAL, CHIEF, WORKER = "local", "chief", "worker"


@dataclass
class Run:
    """A campaign's run, assembled for one role by `open_run`: the oracle (local and chief; a
    worker is handed its chief's client), the store, the executor (local and worker), what
    the range finder found, the header's notes, and the campaign's budget (counting what its
    saved records spent)."""

    plan: Plan
    role: str
    store: DiskStore
    oracle: Any = None
    executor: Executor | None = None
    lr_info: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)
    budget: Budget = field(default_factory=Budget)

    def header(self, notes: Sequence[str] = ()) -> list[str]:
        """The lines printed before the first trial: the campaign, how many trials, the notes
        (the run's, then `notes`), where the results go, and whether it resumes."""
        from tuner import console

        plan, campaign = self.plan, self.plan.campaign
        lines = console.campaign_header(
            name=campaign.name,
            strategy=campaign.strategy,
            trials=plan.planned_trials(),
            configurations=plan.configurations,
            max_trials=campaign.max_trials,
            dataset=campaign.dataset,
            objective=", ".join(name for name, _ in campaign.objectives),
            direction=", ".join(direction for _, direction in campaign.objectives),
            folder=str(campaign.folder),
            auto_lr=_auto_lr(self.lr_info),
            notes=[*self.notes, *notes],
        )
        if self.store.records():
            lines.append(
                f"resuming {campaign.name!r}: {len(self.store.records())} trial(s) already "
                f"finished in {campaign.folder}"
            )
        return lines

    def finish(self, ran: int) -> Results:
        """After the last trial: keep the space as it grew, say why the search stopped (in
        the summary too), write the tables, and return what the campaign found."""
        if self.oracle is not None and not is_client(self.oracle):
            self.store.write_search_space(self.oracle.hyperparameters.get_config())
        records = self.store.records()
        self.budget.settle(records)
        stop_reason = self.plan.stop_reason(len(records), self.budget.spent())
        self.store.notes.append(f"search {stop_reason}")
        self.store.flush()
        return Results(
            campaign=self.plan.campaign,
            records=self.store.records(),
            table=self.store.table(),
            store=self.store,
            preprocessing=getattr(self.plan.dataset, "preprocessing", None),
            ran=ran,
            info=self.lr_info or {},
            stop_reason=stop_reason,
        )


def open_run(
    plan: Plan,
    *,
    role: str = LOCAL,
    overwrite: bool = False,
    overwrite_hint: str = "overwrite=True",
    callbacks: Sequence[keras.callbacks.Callback] = (),
    max_pack: int | None = None,
) -> Run:
    """Assemble the run of a checked plan for `role`: the one place that does it.

    Local and chief: claim the folder (start over, resume or reconfigure), resolve
    learning_rate = "auto", build the oracle over the plan's space and attach it to the
    folder's engine state, open the store, and keep the space and the preprocessing. Local
    and worker: build the executor (`max_pack` caps a worker's packs). A worker's store is
    the shared folder's, which writes no table."""
    campaign = plan.campaign
    if role == WORKER:
        entries = without_auto_learning_rate(plan.entries)
        store = build_store(plan, None, shared=True)
        trains, _ = build_executor(plan, entries, callbacks, max_pack=max_pack)
        budget = _budget(campaign, store, plan.space(entries))
        return Run(plan, role, store, executor=trains, budget=budget)
    claim(campaign, overwrite=overwrite, overwrite_hint=overwrite_hint, dataset=plan.dataset)
    entries, lr_info = plan.resolved_entries()
    space = plan.space(entries)
    try:
        oracle = attach_oracle(plan.create_oracle(space), campaign.folder)
    except AutoChoiceChanged as changed:  # the strategy auto started the search with goes on
        oracle = attach_oracle(plan.create_oracle(space, changed.saved), campaign.folder)
    store = build_store(plan, lr_info)
    chosen = getattr(oracle, "chosen_strategy", None)
    if chosen is not None:  # strategy = "auto": the summary says what it ran
        store.notes.append(f"strategy auto chose {chosen}: {oracle.chosen_because}")
    store.write_search_space(oracle.hyperparameters.get_config())
    preprocessing = getattr(plan.dataset, "preprocessing", None)
    if preprocessing is not None and hasattr(preprocessing, "to_dict"):
        store.write_preprocessing(preprocessing.to_dict())
    executor: Executor | None = None
    pack_note = None
    if role != CHIEF:
        executor, pack_note = build_executor(plan, entries, callbacks)
    notes = ([pack_note] if pack_note else []) + store.notes
    budget = _budget(campaign, store, oracle.hyperparameters)
    return Run(plan, role, store, oracle, executor, lr_info, notes, budget)


def _budget(campaign: Campaign, store: Store, space: kt.HyperParameters) -> Budget:
    """The campaign's budget, counting what its saved records spent. It knows the most epochs
    a trial trains (every fold's, with cross-validation) unless the strategy trains its trials
    itself (PBT's population trains as one, round by round)."""
    per_trial = None
    epochs = most_epochs(space)
    if epochs is not None and not get_strategy(campaign.strategy).trains_itself:
        per_trial = epochs * (campaign.cross_validation or 1)
    return Budget.from_records(
        store.records(), campaign.max_time_s, campaign.max_epochs_total, per_trial
    )


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
    """Run a checked plan in this process: open its run, print the header, run the trials
    (with progress lines unless `quiet`), and say why the search stopped."""
    run = open_run(plan, overwrite=overwrite, overwrite_hint=overwrite_hint, callbacks=callbacks)
    if not quiet:
        for line in run.header():
            print_line(line)
    progress = (
        None
        if quiet
        else progress_printer(plan, run.store, print_line, terminal, run.oracle.hyperparameters)
    )
    assert run.executor is not None
    try:
        ran = run_trials(
            run.oracle,
            run.executor,
            run.store,
            on_trial_end=progress,
            on_epoch=None if progress is None else progress.epoch,
            budget=run.budget,
        )
    finally:
        if progress is not None:
            progress.close()
    found = run.finish(ran)
    if not quiet and found.stop_reason:
        print_line(found.stop_reason)
    say_if_nothing_new(found, overwrite_hint, quiet, print_line)
    return found


def limit_reached(found: Results) -> str:
    """The setting that ended the search: a budget (``max_time``, ``max_epochs_total``) when
    the stop line names it, else ``max_trials``."""
    reason = found.stop_reason or ""
    for key in ("max_time", "max_epochs_total"):
        if f": {key} = " in reason:
            return key
    return "max_trials"


def say_if_nothing_new(
    found: Results, overwrite_hint: str, quiet: bool, print_line: Callable[[str], None]
) -> None:
    """A search that found its campaign finished says so: a line, or (quiet) a warning."""
    if found.ran or not found.records:
        return
    campaign = found.campaign
    message = (
        f"campaign {campaign.name!r} already has {len(found.records)} finished "
        f"trial(s) in {campaign.folder}; nothing new ran (raise {limit_reached(found)} to run "
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
        pack = auto_pack_size(
            _n_params(plan, entries), learns_from_results=plan.strategy.learns_from_results
        )
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


def rebuild(files: ResultsFolder, say: Callable[[str], None] = print) -> None:
    """Rebuild a results folder's engine state and tables from its records (``tuner results
    NAME --rebuild``), telling `say` what was damaged and what was done, a line each. Its oracle
    is built over the space the campaign saved (``search_space.json``), without its builder or
    data; a campaign whose learning_rate is "auto" has its engine state cleared instead (its
    space is known once the next search resolves it)."""
    import warnings

    from tuner.campaign import from_saved
    from tuner.campaign_objective import campaign_objective
    from tuner.space import compose_space
    from tuner.store import engine_kt
    from tuner.store.repair import Repaired
    from tuner.strategies import create_oracle

    folder = files.path
    text = files.campaign_text()
    if text is None:
        raise ConfigError(f"{folder} holds no {files.campaign.name}; is it a results folder?")
    campaign = from_saved(text, str(files.campaign))
    for path, reason in files.set_aside_damaged_records():
        say(f"{path} {reason}: moved aside to {path.name}.damaged")
    objective = campaign_objective(campaign)
    entries = without_auto_learning_rate(campaign.space)
    engine = files.engine
    if len(entries) < len(campaign.space):
        # learning_rate = "auto": the oracle's space is known once the search resolves it.
        for problem in engine_kt.engine_damage(engine) if engine_kt.has_state(engine) else []:
            say(problem)
        engine_kt.clear_state(engine)
        say("engine state cleared: the next `tuner search` rebuilds it from the records")
    else:
        saved_space = files.saved_search_space()
        oracle = create_oracle(
            campaign.strategy,
            objective=objective,
            hyperparameters=(
                kt.HyperParameters.from_config(saved_space)
                if saved_space is not None
                else compose_space(
                    entries, kt.HyperParameters(), tune_declared=False, epochs=campaign.epochs
                )
            ),
            max_trials=campaign.max_trials,
            seed=campaign.seed,
            epochs=campaign.epochs,
            options=campaign.strategy_options,
            max_consecutive_failures=campaign.max_consecutive_failures,
            objectives=campaign.objectives,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", Repaired)
            attach_oracle(oracle, folder, rebuild=True)
        for warning in caught:
            say(str(warning.message))
    store = DiskStore(
        folder,
        objective,
        keep_top=campaign.keep_top,
        hyperparameter_names=files.tuned_names(campaign.space),
        settings=campaign.to_dict(),
    )
    store.flush()
    say(
        f"{len(store.records())} finished trial(s) in {files.records}; "
        f"{files.trials.name}, {files.history.name} and {files.summary.name} rewritten from them"
    )
