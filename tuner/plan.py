"""The plan: a campaign checked against its data and its builder, with nothing written yet
(`make_plan`), and the policies that follow from it (the space searched, packing, threads)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import keras_tuner as kt

from tuner import backends
from tuner.builder_space import FitProbe, explore, fit_probe
from tuner.builders import has_own_fit, resolve_builder
from tuner.campaign import Campaign
from tuner.campaign_objective import campaign_objective
from tuner.datasets import Dataset, load_campaign_data
from tuner.errors import ConfigError
from tuner.folds import check_folds
from tuner.lr_range import resolve_auto_learning_rate
from tuner.space import (
    AUTO_LEARNING_RATE,
    TRAINING_SETTINGS,
    check_names,
    check_space_against_builder,
    compose_space,
    declared_hyperparameters,
    distinct_configurations,
    space_label,
    without_auto_learning_rate,
)
from tuner.strategies import create_oracle
from tuner.strategies.registry import Strategy, get_strategy

if TYPE_CHECKING:
    from tuner.strategies.pbt import PBTSettings

AUTO_THREADS = 0  # TensorFlow's default: every core


@dataclass
class Plan:
    """A campaign checked against its data and builder; nothing written yet."""

    campaign: Campaign
    dataset: Dataset
    hypermodel: kt.HyperModel
    declared: kt.HyperParameters
    strategy: Strategy
    objective: kt.Objective
    tuned: list[str] = field(default_factory=list)
    configurations: int | None = None
    entries: dict[str, Any] = field(default_factory=dict)
    tune_declared: bool = True

    @property
    def auto_learning_rate(self) -> bool:
        return self.entries.get("learning_rate") in AUTO_LEARNING_RATE

    def space(self, entries: Mapping[str, Any]) -> kt.HyperParameters:
        """The oracle's space for `entries` (the plan's, with learning_rate = "auto" resolved):
        the builder's declared space, overridden by the entries (`compose_space`)."""
        return compose_space(
            entries, self.declared, tune_declared=self.tune_declared, epochs=self.campaign.epochs
        )

    def create_oracle(self, space: kt.HyperParameters, auto_choice: str | None = None) -> kt.Oracle:
        """The campaign's oracle over `space` (not yet attached to a folder); `auto_choice`:
        what ``strategy = "auto"`` chose when the resumed search started."""
        campaign = self.campaign
        return create_oracle(
            campaign.strategy,
            objective=self.objective,
            hyperparameters=space,
            max_trials=campaign.max_trials,
            seed=campaign.seed,
            epochs=campaign.epochs,
            options=campaign.strategy_options,
            max_consecutive_failures=campaign.max_consecutive_failures,
            tune_new_entries=self.tune_declared,
            objectives=campaign.objectives,
            auto_choice=auto_choice,
        )

    def resolved_entries(self) -> tuple[dict[str, Any], dict[str, Any] | None]:
        """The plan's entries with ``learning_rate = "auto"`` resolved by the range finder (once
        the folder is claimed), and what the finder found (None: no automatic rate)."""
        if not self.auto_learning_rate:
            return dict(self.entries), None
        return resolve_auto_learning_rate(self.campaign, self.dataset, self.hypermodel)

    def planned_trials(self) -> int:
        """How many trials the campaign will run: ``max_trials``, or fewer when the space holds
        fewer distinct configurations (Hyperband trains a configuration again for longer)."""
        if self.strategy.name == "pbt":  # one trial a member
            from tuner.strategies.pbt import population

            return population(self.campaign.strategy_options, self.campaign.max_trials)
        if self.configurations is not None and self.campaign.strategy != "hyperband":
            return min(self.configurations, self.campaign.max_trials)
        return self.campaign.max_trials

    def pbt_settings(self, entries: Mapping[str, Any]) -> PBTSettings:
        """A PBT campaign's resolved options over the space of `entries`."""
        from tuner.strategies.pbt import resolve

        campaign = self.campaign
        return resolve(
            campaign.strategy_options, campaign.max_trials, campaign.epochs, self.space(entries)
        )

    def stop_reason(self, finished: int, budget_spent: str | None = None) -> str:
        """Why a campaign with `finished` trials in all stopped, in words; `budget_spent`
        says how its budget is spent (`Budget.spent`), when it is."""
        asked = self.campaign.max_trials
        if finished >= asked:
            # Both at once: the last trials were handed out, then the budget cut them short.
            also = f", and {budget_spent}" if budget_spent is not None else ""
            return f"stopped after {finished} trials: max_trials = {asked} reached{also}"
        if budget_spent is not None:
            return f"stopped after {finished} trials: {budget_spent}"
        if self.campaign.strategy == "pbt":
            return (
                f"stopped after {finished} trials: the population trained for "
                f"{self.campaign.epochs} epochs (max_trials = {asked})"
            )
        if self.campaign.strategy == "hyperband":
            return (
                f"stopped after {finished} trials: Hyperband's brackets are complete "
                f"(max_trials = {asked})"
            )
        if self.configurations is not None and finished >= self.configurations:
            return (
                f"stopped after {finished} trials: the space holds {self.configurations} "
                f"distinct configuration{'s' * (self.configurations != 1)}, every one tried "
                f"(max_trials = {asked} asked for more)"
            )
        return (
            f"stopped after {finished} trials: the strategy found no untried configuration "
            f"(max_trials = {asked})"
        )


def make_plan(campaign: Campaign, *, model: Any = None, dataset: Dataset | None = None) -> Plan:
    """Check everything that can be checked without training, and write nothing: the data, the
    builder (built once at its defaults), the names and ranges in ``[space]``, the strategy and
    its options. `model` and `dataset` replace the campaign's ``model`` and ``dataset`` keys
    (the Python API's own builder and in-memory data; the command line's data, loaded before
    Keras starts)."""
    dataset = dataset if dataset is not None else load_campaign_data(campaign)
    if campaign.cross_validation is not None:
        check_folds(dataset, campaign.cross_validation)
    search_paths = [campaign.source_dir] if campaign.source_dir is not None else []
    hypermodel = resolve_builder(
        model if model is not None else campaign.model, dataset.spec, search_paths=search_paths
    )
    # Before the first build runs a TensorFlow op: thread pools are fixed at the first one.
    backends.configure_threads(
        threads_for(campaign, hypermodel), required=campaign.threads != AUTO_THREADS
    )
    declared = declared_hyperparameters(hypermodel)
    tune_declared = tunes_declared(campaign, hypermodel)
    given = campaign.space
    if not given and not tune_declared:  # the bundled builders' curated default space
        given = dict(getattr(hypermodel, "default_space", {}))
    known = {h.name for h in declared.space} | set(TRAINING_SETTINGS)
    if tune_declared or not set(given) <= known:
        declared = explore(hypermodel, probe_fit=_fit_probe(hypermodel, dataset))
    check_names(given, declared, campaign.model)
    check_space_against_builder(hypermodel, given, campaign.model, declared)
    strategy = get_strategy(campaign.strategy)
    objective = campaign_objective(campaign)
    if strategy.name == "pbt" and campaign.early_stopping:
        raise ConfigError(
            "early_stopping does not apply to strategy 'pbt' (its members are exploited, not "
            "stopped); remove early_stopping."
        )
    if given.get("learning_rate") in AUTO_LEARNING_RATE and "learning_rate" not in declared:
        raise ConfigError(
            f"learning_rate = {given['learning_rate']!r}: model "
            f"{campaign.model!r} has no learning_rate hyperparameter."
        )
    plan = Plan(
        campaign,
        dataset,
        hypermodel,
        declared,
        strategy,
        objective,
        entries=dict(given),
        tune_declared=tune_declared,
    )
    # Built now to check every range and option; built again once the folder is claimed
    # (learning_rate = "auto" is resolved in between).
    entries = without_auto_learning_rate(given)
    space = plan.space(entries)
    plan.create_oracle(space)
    plan.tuned = [h.name for h in space.space if not isinstance(h, kt.engine.hyperparameters.Fixed)]
    if "learning_rate" in given and "learning_rate" not in entries:
        plan.tuned.append("learning_rate")
    else:
        plan.configurations = distinct_configurations(space)
    if not plan.tuned and strategy.name == "bayesian":
        raise ConfigError(
            f"bayesian search needs at least one tuned hyperparameter, but model "
            f"{campaign.model!r} declares none to search and {space_label()} tunes none."
        )
    return plan


def tunes_declared(campaign: Campaign, hypermodel: Any) -> bool:
    """Whether every hyperparameter the builder declares is searched (KerasTuner's
    ``tune_new_entries``): the campaign's choice, else the builder's (a user's builder: yes;
    the bundled MLP, whose every knob has a wide range: its curated default space)."""
    if campaign.tune_new_entries is not None:
        return campaign.tune_new_entries
    return bool(getattr(hypermodel, "tune_new_entries", True))


def _fit_probe(hypermodel: Any, dataset: Dataset) -> FitProbe | None:
    """A probe of the builder's own ``fit`` (None when it has none), to find what it declares."""
    if not has_own_fit(hypermodel):
        return None
    return fit_probe(hypermodel, dataset.x_train, dataset.y_train, dataset.x_val, dataset.y_val)


def threads_for(campaign: Campaign, hypermodel: Any) -> int:
    """The campaign's TensorFlow threads; for ``threads = 0`` the fast choice for the model
    at hand: every core for packed trials (their steps are large matrix products: a pack of 64
    textbook trials ran 0.70 s a trial on 2 threads against 0.80-0.92 on 1), one thread for the
    MLP builder's models trained one at a time (small ops lose more to thread hand-offs than
    they gain: 0.68 against 0.83 s a trial), and TensorFlow's default (every core) for a
    builder of the user's, whose size is unknown before it builds."""
    if campaign.threads != AUTO_THREADS:
        return campaign.threads
    if not packing_requested(campaign, hypermodel) and getattr(
        hypermodel, "trains_fastest_on_one_thread", False
    ):
        return 1
    return AUTO_THREADS


def packing_requested(campaign: Campaign, hypermodel: Any) -> bool:
    """Whether the campaign's trials are to train packed: it asks for packed trials and its
    builder can pack them (`packing_asked`), this backend can (`backends.packs_trials`), and
    they may compute as packs do (`backends.computes_unlike_packs`: in float32, and on
    TensorFlow without XLA). A campaign whose mixed precision applies on this device, or that
    asks TensorFlow for ``jit_compile = true``, trains one model a trial instead: every trial
    then computes as the campaign says, and trials that differ only in being packed are not
    compared across precisions (`backends.campaign_notes` says so)."""
    return (
        packing_asked(campaign, hypermodel)
        and backends.packs_trials()
        and not backends.computes_unlike_packs(campaign.mixed_precision, campaign.jit_compile)
    )


def packing_asked(campaign: Campaign, hypermodel: Any) -> bool:
    """Whether the campaign asks for packed trials (``pack`` is not 1) and its builder can
    pack them (it has a ``packing_key``)."""
    return campaign.pack != 1 and getattr(hypermodel, "packing_key", None) is not None


__all__ = [
    "Plan",
    "make_plan",
    "tunes_declared",
    "threads_for",
    "packing_requested",
    "packing_asked",
    "AUTO_THREADS",
]
