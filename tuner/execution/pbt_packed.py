"""Population Based Training as one stacked model: where the members share an architecture, the
whole population trains as the towers of one `StackedTowers` (the packed executor's), epoch by
epoch, and the exploit step is a tower-to-tower copy inside the stack (`copy_tower`: weights and
optimizer slots) followed by the recipient's perturbed learning rate, L2 factor and dropout rate
in its tower's variables (`set_tower`).

`population_packing` decides, for a whole population, in this one place: the builder packs
(`packing_key`, no `fit` of its own, a backend that stacks), PBT explores only the values a
tower holds as variables (learning_rate, l2, dropout), every other hyperparameter is fixed, and
l2 and dropout are either fixed or searched over a range above zero (zero leaves the layer out
of a model, which a tower cannot). Otherwise `PBTExecutor` trains the population round by round.

Records are made as `PBTExecutor` makes them, and decisions by the same rules: the same
exploit rng, the same batches (each round starts the batch order over, as a round's `fit`
does), the same initial weights (`TowerTemplate`). The towers' arithmetic is not a lone
model's (the first layer is one wide product; dropout masks are the stack's own), so a
member's history agrees with the round-by-round executor's to float rounding, not bit for bit,
and only without dropout; lineage agrees until that rounding changes a ranking (on the textbook
campaign, after the fifth exploit step of seed 0). `replay_packed` trains a packed member's
schedule again in a stack of the same shape, which reproduces it bit for bit.
"""

from __future__ import annotations

import copy
import functools
import time
from collections.abc import Sequence
from typing import Any

import keras_tuner as kt
import numpy as np

from tuner import backends
from tuner.builders import has_own_fit
from tuner.errors import ConfigError
from tuner.execution.base import TrialContext, TrialOutcome
from tuner.execution.packed import _EpochWeights, _Tower, _TowerView, stack_on
from tuner.execution.pbt import Member, PBTExecutor, round_seed
from tuner.execution.pipeline import InputPipeline
from tuner.execution.records import new_record
from tuner.execution.sequential import trial_seed
from tuner.execution.stacked import NotStackable, StackedTowers
from tuner.execution.tower import NotPackable, TowerTemplate
from tuner.space import values_as_written
from tuner.strategies.pbt import NOT_EXPLORED, PBTSettings, choose_exploits, perturb
from tuner.trial import TrialRecord, canonical_id

hps = kt.engine.hyperparameters
PER_TOWER = ("learning_rate", "l2", "dropout")  # the values a tower holds as variables
MAYBE_ZERO = ("l2", "dropout")  # zero leaves the layer out of the model


def population_packing(
    hypermodel: kt.HyperModel, space: kt.HyperParameters, settings: PBTSettings
) -> str | None:
    """Why this campaign's population cannot train as one stack (None: it can)."""
    if getattr(hypermodel, "packing_key", None) is None:
        return "the builder does not pack"
    if has_own_fit(hypermodel):
        return "the builder has its own fit"
    if not backends.packs_trials():
        return f"the {backends.active()} backend cannot stack"
    for name in settings.explore:
        if name not in PER_TOWER:
            return f"PBT explores {name}, which is not a per-tower value"
    for h in space.space:
        if h.name in NOT_EXPLORED or h.name.startswith("tuner/") or isinstance(h, hps.Fixed):
            continue
        if h.name in MAYBE_ZERO:
            if isinstance(h, hps.Float) and h.min_value > 0:
                continue
            return f"{h.name} may be zero for some members (its range starts at 0)"
        if h.name not in PER_TOWER:
            return f"{h.name} is searched (the members' architectures differ)"
    return None


def _key(hypermodel: kt.HyperModel, values: Sequence[dict[str, Any]]) -> str | None:
    """The members' shared packing key; None when they do not share one."""
    keys = {hypermodel.packing_key(dict(v)) for v in values}
    key = keys.pop() if len(keys) == 1 else None
    return key


def packed_population(
    hypermodel: kt.HyperModel,
    space: kt.HyperParameters,
    settings: PBTSettings,
    records: Sequence[TrialRecord],
    precision: str | None = None,
) -> bool:
    """Whether a finished population (its records) trained as one stack: what
    `PackedPBTExecutor.run` decided for it, from what the records keep. The members' final
    values differ from their first ones only in the per-tower values, which the key leaves out."""
    if population_packing(hypermodel, space, settings) is not None:
        return False
    if precision not in (None, "float32"):
        return False
    return _key(hypermodel, [r.hyperparameters for r in records]) is not None


def _hp(space: kt.HyperParameters, values: dict[str, Any]) -> kt.HyperParameters:
    hp = space.copy()
    hp.values.update(values)
    return hp


def _order(orders: np.ndarray, epoch: int, start: int) -> np.ndarray:
    # A round is one `fit` in the round-by-round executor: its batches start over.
    return orders[epoch - start]


def _setup(
    hypermodel: kt.HyperModel,
    pipeline: InputPipeline,
    hp: kt.HyperParameters,
    seed: int,
    size: int,
) -> tuple[TowerTemplate, StackedTowers]:
    template = TowerTemplate(hypermodel, hp.copy(), seed)
    return template, stack_on(pipeline.dataset, template.model, size, hp)


def _settings(template: TowerTemplate, values: dict[str, Any]) -> tuple[float, float, float]:
    s = template.settings(template.values(_hp(kt.HyperParameters(), values)))
    return s["learning_rate"], s["l2"], s["dropout"]


class PackedPBTExecutor:
    """Trains the population handed over in one `run` as towers of one stacked model, where
    `population_packing` allows and the members share a packing key; otherwise (or when the
    stack cannot be made) through `PBTExecutor`, round by round. `packed` says which the last
    `run` used."""

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
        space: kt.HyperParameters | None = None,
    ):
        self.hypermodel, self.pipeline = hypermodel, pipeline
        self.settings, self.objective, self.seed = settings, objective, seed
        self.max_pack = settings.population
        self.rounds = PBTExecutor(
            hypermodel,
            pipeline,
            settings,
            objective=objective,
            seed=seed,
            precision=precision,
            jit_compile=jit_compile,
        )
        # Packs run in float32 only, as the packed executor's do.
        self.why_not = (
            population_packing(hypermodel, space, settings) if space is not None else "no space"
        )
        if self.why_not is None and precision not in (None, "float32"):
            self.why_not = f"precision {precision} (stacks train in float32)"
        self.packed = False

    def run(
        self, trials: Sequence[kt.engine.trial.Trial], context: TrialContext
    ) -> list[TrialOutcome]:
        self.packed = False
        values = [values_as_written(t.hyperparameters) for t in trials]
        if self.why_not is not None or _key(self.hypermodel, values) is None:
            return self.rounds.run(trials, context)
        try:
            template, stack = _setup(
                self.hypermodel,
                self.pipeline,
                trials[0].hyperparameters,
                trial_seed(self.seed, trials[0].trial_id),
                len(trials),
            )
        except (NotPackable, NotStackable):
            return self.rounds.run(trials, context)
        self.packed = True
        try:
            return self._run(trials, values, template, stack, context)
        finally:
            stack.release()

    def _run(
        self,
        trials: Sequence[kt.engine.trial.Trial],
        values: list[dict[str, Any]],
        template: TowerTemplate,
        stack: StackedTowers,
        context: TrialContext,
    ) -> list[TrialOutcome]:
        started = time.perf_counter()
        epochs = self.settings.epochs
        ids = [canonical_id(t.trial_id) for t in trials]
        seeds = [trial_seed(self.seed, t.trial_id) for t in trials]
        settings = [_settings(template, v) for v in values]
        stack.load(
            [template.initial_weights(s) for s in seeds],
            [s[0] for s in settings],
            [s[1] for s in settings],
            [s[2] for s in settings],
            self.seed,
        )
        weights = _EpochWeights(stack)
        members = []
        for k, (trial, trial_values) in enumerate(zip(trials, values)):
            view = _TowerView(weights, k)
            watch = _Tower(self.objective, None, context, view, epochs)
            members.append(
                Member(
                    trial_id=ids[k],
                    space=trial.hyperparameters.copy(),
                    values=trial_values,
                    record=new_record(trial.trial_id, trial_values),
                    watch=watch,
                    model=view,
                )
            )
        orders = self.pipeline.epoch_orders(self.seed, self.settings.ready)
        setup = time.perf_counter() - started
        for member in members:
            member.seconds += setup / len(members)
        rounds = self.settings.rounds()
        for index, (start, end) in enumerate(rounds):
            if context.budget.spent() is not None:
                for member in members:
                    if member.watch.budget is not None and member.training:
                        member.watch.budget.cut = True
                break
            started = time.perf_counter()
            training = [m for m in members if m.training]
            for epoch in range(start, end):
                self._epoch(stack, weights, members, epoch, _order(orders, epoch, start), context)
            for member in training:
                trained = member.watch.history.epochs
                if trained > start:
                    member.trained(start, trained)
                member.seconds += (time.perf_counter() - started) / len(training)
            self.rounds._report(members, end, context)
            if index + 1 < len(rounds):
                self.exploit(stack, members, index + 1, end)
        return [self._outcome(m, template) for m in members]

    def _epoch(
        self,
        stack: StackedTowers,
        weights: _EpochWeights,
        members: list[Member],
        epoch: int,
        order: np.ndarray,
        context: TrialContext,
    ) -> None:
        logs = stack.train_epoch(order)
        logs.update(stack.evaluate())
        weights.new_epoch()
        live = [m for m in members if m.training]
        context.budget.add_epochs(len(live))
        for member in live:
            tower: _Tower = member.watch  # type: ignore[assignment]
            k = tower.view.place
            if epoch == 0:
                tower.start(float(stack.first_batch_loss[k]))
            tower.end_epoch(epoch, {name: float(value[k]) for name, value in logs.items()})
            if not member.training:
                stack.freeze(k)

    def exploit(
        self, stack: StackedTowers, members: Sequence[Member], next_round: int, epoch: int
    ) -> dict[str, str]:
        """`PBTExecutor.exploit` inside the stack: the same draws decide the same pairs and
        values; each recipient's tower takes its donor's weights and optimizer slots and its
        own perturbed values. Returns {recipient: donor}."""
        by_id = {m.trial_id: m for m in members}
        place = {m.trial_id: k for k, m in enumerate(members)}
        training = [m for m in members if m.training]
        rng = np.random.default_rng(round_seed(self.seed, "population", next_round, "exploit"))
        pairs = choose_exploits(
            {m.trial_id: m.last_score(self.objective.name) for m in training},
            [m.trial_id for m in training],  # each trained the round just ended: its state
            self.settings.quantile,
            self.objective.direction,
            rng,
        )
        template_settings = TowerTemplate.settings
        for recipient_id, donor_id in pairs.items():
            recipient, donor = by_id[recipient_id], by_id[donor_id]
            values = perturb(donor.values, donor.space, self.settings, rng)
            stack.copy_tower(place[donor_id], place[recipient_id])
            s = template_settings(values)
            stack.set_tower(place[recipient_id], s["learning_rate"], s["l2"], s["dropout"])
            recipient.values = values
            recipient.space = donor.space.copy()
            recipient.lineage.append({"epoch": epoch, "from": donor_id})
            recipient.schedule = copy.deepcopy(donor.schedule)
        return pairs

    def _outcome(self, member: Member, template: TowerTemplate) -> TrialOutcome:
        record = member.record
        record.hyperparameters = dict(member.values)
        record.lineage, record.schedule = member.lineage, member.schedule
        record.duration_s = member.seconds
        record.n_params = int(template.model.count_params())
        tower: _Tower = member.watch  # type: ignore[assignment]
        if not tower.finish(record) or tower.best.weights is None:
            return TrialOutcome(record, pack_size=self.max_pack)
        return TrialOutcome(
            record,
            best_weights=tower.best.weights,
            best_optimizer=tower.best.optimizer_values,
            pack_size=self.max_pack,
            make_model=functools.partial(template.build, _hp(member.space, member.values)),
        )


def replay_packed(
    hypermodel: kt.HyperModel,
    pipeline: InputPipeline,
    space: kt.HyperParameters,
    records: Sequence[TrialRecord],
    record: TrialRecord,
    settings: PBTSettings,
    objective: kt.Objective,
    seed: int,
) -> TrialRecord:
    """Train a packed member's `schedule` again in a stack of the campaign's shape: the
    population's size, each epoch range in the tower (place) of the member that trained it,
    a `copy_tower` where the lineage passes to another member. Bit for bit the campaign's
    arithmetic, so its history is the member's along its lineage (`stitched_history`).
    `records` are the population's, in the order the campaign trained them (trial ids)."""
    if not record.schedule:
        raise ConfigError(f"trial {record.trial_id} has no PBT schedule to replay.")
    population = sorted(records, key=lambda r: _id_order(r.trial_id))[: settings.population]
    place = {r.trial_id: k for k, r in enumerate(population)}
    root = canonical_id(record.schedule[0]["member"])
    first = population[place[root]]
    root_values = record.schedule[0]["values"]
    template, stack = _setup(
        hypermodel,
        pipeline,
        _hp(space, dict(first.hyperparameters, **root_values)),
        trial_seed(seed, root),
        len(population),
    )
    try:
        lr, l2, dropout = _settings(template, root_values)
        # Every tower starts as the lineage's root; only the followed tower's arithmetic counts
        # (no value of one tower enters another's).
        stack.load(
            [template.initial_weights(trial_seed(seed, root))] * len(population),
            [lr] * len(population),
            [l2] * len(population),
            [dropout] * len(population),
            seed,
        )
        weights = _EpochWeights(stack)
        view = _TowerView(weights, place[root])
        watch = _Tower(objective, None, TrialContext(), view, settings.epochs)
        orders = pipeline.epoch_orders(seed, settings.ready)
        for start, end in settings.rounds():
            segment = next(
                (s for s in record.schedule if s["start_epoch"] <= start < s["end_epoch"]), None
            )
            if segment is None or view.stop_training:
                break
            k = place[canonical_id(segment["member"])]
            if k != view.place:
                stack.copy_tower(view.place, k)
                view.place = k
            stack.set_tower(k, *_settings(template, segment["values"]))
            for epoch in range(start, end):
                logs = stack.train_epoch(_order(orders, epoch, start))
                logs.update(stack.evaluate())
                weights.new_epoch()
                if epoch == 0:
                    watch.start(float(stack.first_batch_loss[k]))
                watch.end_epoch(epoch, {name: float(v[k]) for name, v in logs.items()})
                if view.stop_training:
                    break
    finally:
        stack.release()
    result = new_record(f"replay-{record.trial_id}", record.schedule[-1]["values"])
    result.n_params = int(template.model.count_params())
    result.schedule = record.schedule
    watch.finish(result)
    return result


def _id_order(trial_id: str) -> tuple[int, int | str]:
    return (0, int(trial_id)) if trial_id.isdigit() else (1, trial_id)
