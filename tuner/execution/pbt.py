"""The Population Based Training executor for populations that cannot train as one stacked
model (`tuner.execution.pbt_packed` decides, and trains those that can): the whole population,
one model per member, trained round by round (`ready` epochs each); between rounds the bottom
members copy a top member's weights and optimizer state and perturb its values
(`tuner.strategies.pbt`).

Works for any builder, a user's included: a member whose values change is rebuilt with them
(L2 and dropout are baked into its layers when it is built) and given the copied weights and
optimizer state, which fit because a member that exploits another takes its whole
configuration, architecture included; only the explored values change, and those must not
change any weight's shape. The rebuilt model keeps its own learning rate and L2 factors (Keras
keeps the learning rate among the optimizer's variables).

Every random step is seeded by the campaign's seed, the member and the round, so a member's
schedule trains again to the same weights (`replay`).
"""

from __future__ import annotations

import copy
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import keras_tuner as kt
import numpy as np

from tuner import backends
from tuner.builders import has_own_fit
from tuner.builders.regularizers import variable_l2s
from tuner.errors import ConfigError, Fatal
from tuner.execution.base import PackEpoch, TrialContext, TrialOutcome
from tuner.execution.model_reuse import copy_state, graph_key
from tuner.execution.optimizer_state import build_optimizer, optimizer_values
from tuner.execution.pipeline import InputPipeline
from tuner.execution.records import TrialCallbacks, new_record
from tuner.execution.sequential import (
    error_text,
    fit_trial,
    parameter_count,
    trial_seed,
)
from tuner.space import values_as_written
from tuner.strategies.pbt import PBTSettings, choose_exploits, perturb
from tuner.trial import TrialRecord, canonical_id

State = tuple[list[np.ndarray], list[np.ndarray] | None]


def round_seed(seed: int, member: str, round_index: int, step: str) -> int:
    """The seed of one step (``"build"``, ``"fit"``) of a member's round: from the campaign's
    seed, the member's number and the round only, so a replay draws the same."""
    text = f"{seed}:{canonical_id(member)}:{round_index}:{step}"
    return zlib.crc32(text.encode()) % (2**31)


def snapshot(model: keras.Model) -> State:
    """Copies of the model's weights and its optimizer's state."""
    return model.get_weights(), optimizer_values(model)


def load_state(model: keras.Model, state: State) -> None:
    """Give `model` another member's weights and optimizer state (`snapshot`), keeping its own
    learning rate and L2 factors: those are its hyperparameters, not state."""
    weights, optimizer_state = state
    own_l2 = [(r.variable, r.l2) for _, _, r in variable_l2s(model)]
    try:
        model.set_weights(weights)
    except ValueError as error:
        raise Fatal(
            f"a PBT member cannot take another's weights ({error}); every explored "
            f"hyperparameter must keep the model's architecture: leave the ones that change "
            f"it out of [strategy_options] explore."
        ) from error
    for variable, value in own_l2:
        variable.assign(value)
    if optimizer_state is None:
        return
    build_optimizer(model)
    variables = model.optimizer.variables
    if [tuple(v.shape) for v in variables] != [tuple(np.shape(s)) for s in optimizer_state]:
        raise Fatal(
            "a PBT member cannot take another's optimizer state: its optimizer differs; "
            "leave the optimizer out of [strategy_options] explore."
        )
    for variable, saved in zip(variables, optimizer_state):
        if variable.name != "learning_rate":
            variable.assign(np.asarray(saved, dtype=variable.dtype))


@dataclass
class Member:
    """One member of the population while it trains: its trial, the values its model was
    built with, its model and record callbacks, its lineage and schedule, and its state at
    the end of the last round (None until it has one: it cannot be copied before)."""

    trial_id: str
    space: kt.HyperParameters
    values: dict[str, Any]
    record: TrialRecord
    watch: TrialCallbacks
    model: Any = None
    state: State | None = None
    lineage: list[dict[str, Any]] = field(default_factory=list)
    schedule: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0  # its own building and training (the population trains in turn)

    @property
    def training(self) -> bool:
        return self.model is not None and self.record.error is None and not self.watch.stop.reason

    def last_score(self, objective: str) -> float | None:
        values = self.watch.history.values.get(objective)
        return values[-1] if values else None

    def trained(self, start: int, end: int) -> None:
        """Add epochs `start`..`end` to the schedule, at its current values."""
        last = self.schedule[-1] if self.schedule else None
        if (
            last is not None
            and last["member"] == self.trial_id
            and last["end_epoch"] == start
            and last["values"] == self.values
        ):
            last["end_epoch"] = end
            return
        self.schedule.append(
            {
                "start_epoch": start,
                "end_epoch": end,
                "member": self.trial_id,
                "values": dict(self.values),
            }
        )


class Trainer:
    """Builds and fits one member's model, the same way in a campaign and in a replay."""

    def __init__(
        self,
        hypermodel: kt.HyperModel,
        pipeline: InputPipeline,
        *,
        seed: int = 0,
        precision: str | None = None,
        jit_compile: bool | None = None,
    ):
        self.hypermodel, self.pipeline, self.seed = hypermodel, pipeline, seed
        self.precision, self.jit_compile = precision, jit_compile
        # One compiled model per graph (`model_reuse`), for builders that opt in: members'
        # own models only hold their state, copied in and out, so a member's model and a
        # rebuilt one are never traced (tracing was most of a textbook PBT run's time).
        # TensorFlow only: a jitted JAX step would bake each runner's first L2 factor in.
        self.reuse = bool(getattr(hypermodel, "reuse_compiled_models", False)) and (
            keras.backend.backend() == "tensorflow"
        )
        self.runners: dict[str, keras.Model] = {}

    def hp(self, space: kt.HyperParameters, values: dict[str, Any]) -> kt.HyperParameters:
        hp = space.copy()
        hp.values.update(values)
        return hp

    def build(self, space: kt.HyperParameters, values: dict[str, Any], seed: int) -> keras.Model:
        """The model for `values`, built under `seed`, its variables (the optimizer's too)
        created, so that weights can be loaded into it."""
        keras.utils.set_random_seed(seed)
        with backends.dtype_policy(self.precision):
            model = self.hypermodel.build(self.hp(space, values))
        if self.jit_compile is not None:
            model.jit_compile = self.jit_compile
        if not model.built:  # a Sequential without an Input: its first batch builds it
            model(np.asarray(self.pipeline.dataset.x_train[:1]))
        build_optimizer(model)
        return model

    def fit(
        self,
        space: kt.HyperParameters,
        values: dict[str, Any],
        model: keras.Model,
        epochs: tuple[int, int],
        seed: int,
        callbacks: list[keras.callbacks.Callback],
    ) -> None:
        """Train `model` from epoch ``epochs[0]`` to ``epochs[1]`` (a round): itself, or the
        compiled model of its graph holding its state, which is copied back after."""
        runner = self._runner(space, values, model, seed)
        try:
            self._fit(self.hp(space, values), runner, epochs, seed, callbacks)
        finally:
            if runner is not model:
                copy_state(runner, model)

    def _runner(
        self, space: kt.HyperParameters, values: dict[str, Any], model: keras.Model, seed: int
    ) -> keras.Model:
        key = graph_key(model) if self.reuse and not has_own_fit(self.hypermodel) else None
        if key is None:
            return model
        runner = self.runners.get(key)
        if runner is None:
            runner = self.runners[key] = self.build(space, values, seed)
        if not copy_state(model, runner):
            return model
        return runner

    def _fit(
        self,
        hp: kt.HyperParameters,
        model: keras.Model,
        epochs: tuple[int, int],
        seed: int,
        callbacks: list[keras.callbacks.Callback],
    ) -> None:
        keras.utils.set_random_seed(seed)
        fit_trial(
            self.hypermodel,
            self.pipeline,
            hp,
            model,
            epochs=epochs[1],
            initial_epoch=epochs[0],
            trial_seed=seed,
            batches_seed=self.seed,
            callbacks=callbacks,
        )


class PBTExecutor:
    """Trains the whole population handed over in one `run` (``max_pack`` is its size): one
    model a member, round by round, with an exploit-and-explore step between rounds. Each
    member ends as one trial record with its history, lineage and schedule."""

    def __init__(
        self,
        hypermodel: kt.HyperModel,
        pipeline: InputPipeline,
        settings: PBTSettings,
        *,
        objective: kt.Objective,
        seed: int = 0,
        precision: str | None = None,
        jit_compile: bool | None = None,
    ):
        self.settings, self.objective, self.seed = settings, objective, seed
        self.max_pack = settings.population
        self.trainer = Trainer(
            hypermodel, pipeline, seed=seed, precision=precision, jit_compile=jit_compile
        )

    def run(
        self, trials: Sequence[kt.engine.trial.Trial], context: TrialContext
    ) -> list[TrialOutcome]:
        members = [self._start(trial, context) for trial in trials]
        rounds = self.settings.rounds()
        for index, (start, end) in enumerate(rounds):
            if context.budget.spent() is not None:
                for member in members:
                    if member.watch.budget is not None and member.training:
                        member.watch.budget.cut = True  # stopped at this round's start
                break
            for member in members:
                if member.training:
                    self._train(member, index, (start, end), context)
            self._report(members, end, context)
            if index + 1 < len(rounds):
                self.exploit(members, index + 1, end)
        return [self._outcome(member) for member in members]

    def _start(self, trial: kt.engine.trial.Trial, context: TrialContext) -> Member:
        started = time.perf_counter()
        values = values_as_written(trial.hyperparameters)
        member = Member(
            trial_id=canonical_id(trial.trial_id),
            space=trial.hyperparameters.copy(),
            values=values,
            record=new_record(trial.trial_id, values),
            watch=TrialCallbacks(self.objective, context),
        )
        try:
            member.model = self.trainer.build(
                member.space, values, trial_seed(self.seed, trial.trial_id)
            )
        except (ConfigError, Fatal):
            raise
        except Exception as error:
            raise Fatal(
                f"trial {member.trial_id}: the model failed to build; every member would fail "
                f"the same way. {error_text(error)}"
            ) from error
        member.record.n_params = parameter_count(member.model)
        member.seconds += time.perf_counter() - started
        return member

    def _train(
        self, member: Member, index: int, epochs: tuple[int, int], context: TrialContext
    ) -> None:
        started = time.perf_counter()
        try:
            self.trainer.fit(
                member.space,
                member.values,
                member.model,
                epochs,
                round_seed(self.seed, member.trial_id, index, "fit"),
                member.watch.callbacks,
            )
        except (ConfigError, Fatal):
            raise
        except Exception as error:
            member.record.error = error_text(error)
            if member.watch.history.epochs == 0 and not context.any_completed:
                raise Fatal(
                    f"trial {member.trial_id} failed before its first epoch ended; every "
                    f"member would fail the same way. {member.record.error}"
                ) from error
            return
        finally:
            member.seconds += time.perf_counter() - started
        trained = member.watch.history.epochs
        if trained > epochs[0]:
            member.trained(epochs[0], trained)
        if member.training:
            member.state = snapshot(member.model)

    def exploit(self, members: Sequence[Member], next_round: int, epoch: int) -> dict[str, str]:
        """The exploit-and-explore step after `epoch`: each member of the bottom quantile takes
        the weights, optimizer state and values of one of the top quantile that has saved
        state, perturbed, in a model rebuilt for them. Returns {recipient: donor}."""
        by_id = {m.trial_id: m for m in members}
        training = [m for m in members if m.training]
        rng = np.random.default_rng(round_seed(self.seed, "population", next_round, "exploit"))
        pairs = choose_exploits(
            {m.trial_id: m.last_score(self.objective.name) for m in training},
            [m.trial_id for m in training if m.state is not None],
            self.settings.quantile,
            self.objective.direction,
            rng,
        )
        for recipient_id, donor_id in pairs.items():
            recipient, donor = by_id[recipient_id], by_id[donor_id]
            started = time.perf_counter()
            assert donor.state is not None  # choose_exploits picks donors with state only
            values = perturb(donor.values, donor.space, self.settings, rng)
            model = self.trainer.build(
                donor.space, values, round_seed(self.seed, recipient_id, next_round, "build")
            )
            load_state(model, donor.state)
            recipient.model, recipient.values = model, values
            recipient.space = donor.space.copy()
            recipient.state = None  # its own, saved at the end of its next round
            recipient.lineage.append({"epoch": epoch, "from": donor_id})
            recipient.schedule = copy.deepcopy(donor.schedule)
            recipient.seconds += time.perf_counter() - started
        return pairs

    def _report(self, members: Sequence[Member], epoch: int, context: TrialContext) -> None:
        scores = [m.watch.best.score for m in members if m.watch.best.score is not None]
        best = None
        for score in scores:
            if best is None or self.objective.better_than(score, best):
                best = score
        context.on_epoch(
            PackEpoch(
                trial_ids=tuple(m.trial_id for m in members),
                epoch=epoch,
                epochs=self.settings.epochs,
                epochs_run=tuple(m.watch.history.epochs for m in members),
                epochs_left=tuple(
                    self.settings.epochs - m.watch.history.epochs if m.training else 0
                    for m in members
                ),
                best=best,
            )
        )

    def _outcome(self, member: Member) -> TrialOutcome:
        record = member.record
        record.hyperparameters = dict(member.values)
        record.lineage, record.schedule = member.lineage, member.schedule
        record.duration_s = member.seconds
        if member.watch.finish(record):
            return TrialOutcome(
                record,
                model=member.model,
                best_weights=member.watch.best.weights,
                best_optimizer=member.watch.best.optimizer_values,
            )
        return TrialOutcome(record)


def replay(
    trainer: Trainer,
    space: kt.HyperParameters,
    record: TrialRecord,
    settings: PBTSettings,
    objective: kt.Objective,
) -> TrialRecord:
    """Train a member's `schedule` again, alone, as the campaign trained it: the first
    segment's member's model and seeds, its values per epoch range, a rebuild with the next
    values where the lineage passed to another member, and the rounds of `settings`. Returns
    the new record: its history is the member's along its lineage (each epoch range's
    history is that of the member that trained it)."""
    if not record.schedule:
        raise ConfigError(f"trial {record.trial_id} has no PBT schedule to replay.")
    watch = TrialCallbacks(objective, TrialContext())
    model, member = None, None
    for index, (start, end) in enumerate(settings.rounds()):
        segment = next(
            (s for s in record.schedule if s["start_epoch"] <= start < s["end_epoch"]), None
        )
        if segment is None:
            break
        values = segment["values"]
        if model is None:
            model = trainer.build(space, values, trial_seed(trainer.seed, segment["member"]))
        elif segment["member"] != member:
            state = snapshot(model)
            model = trainer.build(
                space, values, round_seed(trainer.seed, segment["member"], index, "build")
            )
            load_state(model, state)
        member = segment["member"]
        fit_seed = round_seed(trainer.seed, member, index, "fit")
        trainer.fit(space, values, model, (start, end), fit_seed, watch.callbacks)
    result = new_record(f"replay-{record.trial_id}", record.schedule[-1]["values"])
    result.n_params = parameter_count(model) if model is not None else 0
    result.schedule = record.schedule
    watch.finish(result)
    return result


def stitched_history(
    records: Sequence[TrialRecord], schedule: Sequence[dict[str, Any]]
) -> dict[str, list[float]]:
    """The history along a schedule's lineage: each epoch range's metrics from the record of
    the member that trained it (what `replay` reproduces)."""
    by_id = {r.trial_id: r for r in records}
    history: dict[str, list[float]] = {}
    for segment in schedule:
        trained = by_id[canonical_id(segment["member"])].history
        for name, values in trained.items():
            part = values[segment["start_epoch"] : segment["end_epoch"]]
            history.setdefault(name, []).extend(part)
    return history
