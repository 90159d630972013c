"""Budgets (max_time, max_epochs_total): no trial starts once spent, a running trial stops at
an epoch's end as `stopped` with its history, a resumed campaign counts what was spent, and the
stop line says so. The loop's tests run on a fake clock and scripted training."""

from __future__ import annotations

import pytest

from tests.fakes import OBJECTIVE, Clock, EpochsExecutor, KeptNames, oracle
from tuner.campaign import Campaign, parse_duration
from tuner.errors import ConfigError, NothingNewRan
from tuner.execution.budget import Budget, spell_duration
from tuner.loop import run_trials
from tuner.trial import COMPLETED, STOPPED


def _budget(store, clock, max_time_s=None, max_epochs=None) -> Budget:
    return Budget.from_records(store.records(), max_time_s, max_epochs, clock=clock)


def test_max_time_stops_starting_trials_and_cuts_the_running_one_at_an_epoch(tmp_path):
    clock, store = Clock(), KeptNames(OBJECTIVE)
    executor = EpochsExecutor(clock, epochs=5, epoch_s=10.0)
    budget = _budget(store, clock, max_time_s=120.0)  # 2 trials of 50 s, then 2 epochs of one
    ran = run_trials(oracle(10, tmp_path), executor, store, budget=budget)
    records = store.records()
    assert ran == 3 and executor.seen == ["0", "1", "2"]
    assert [r.status for r in records] == [COMPLETED, COMPLETED, STOPPED]
    cut = records[2]
    assert cut.epochs_run == 2 and len(cut.history["val_accuracy"]) == 2
    assert cut.score == pytest.approx(0.51) and cut.best_epoch == 2
    assert budget.spent() == "max_time = 2m spent (2m elapsed)"
    # The strategy is told the stopped trial's score as a completed one's.
    assert [r.trial_id for r in store.ranked()] == ["0", "1", "2"]


def test_a_resumed_campaign_counts_the_time_already_spent(tmp_path):
    clock, store = Clock(), KeptNames(OBJECTIVE)
    first = oracle(10, tmp_path)
    run_trials(first, EpochsExecutor(clock), store, budget=_budget(store, clock, 100.0))
    assert [r.status for r in store.records()] == [COMPLETED, COMPLETED]
    # The next run may spend 150 s in all: 100 s already went into the saved records.
    again = oracle(10, tmp_path)
    again.reload()
    executor = EpochsExecutor(clock)
    budget = _budget(store, clock, 150.0)
    assert budget.time_spent() == pytest.approx(100.0)
    assert run_trials(again, executor, store, budget=budget) == 1
    assert executor.seen == ["2"] and store.records()[2].status == COMPLETED
    # Spent: a third run starts nothing.
    third = oracle(10, tmp_path)
    third.reload()
    idle = EpochsExecutor(clock)
    assert run_trials(third, idle, store, budget=_budget(store, clock, 150.0)) == 0
    assert idle.seen == []


def test_max_epochs_total_cuts_at_the_epoch_and_resumes_with_the_epochs_spent(tmp_path):
    clock, store = Clock(), KeptNames(OBJECTIVE)
    executor = EpochsExecutor(clock, epochs=5)
    budget = _budget(store, clock, max_epochs=8)
    assert run_trials(oracle(10, tmp_path), executor, store, budget=budget) == 2
    assert [(r.status, r.epochs_run) for r in store.records()] == [(COMPLETED, 5), (STOPPED, 3)]
    assert budget.spent() == "max_epochs_total = 8 reached (8 epochs trained)"
    again = oracle(10, tmp_path)
    again.reload()
    more = EpochsExecutor(clock, epochs=5)
    assert run_trials(again, more, store, budget=_budget(store, clock, max_epochs=10)) == 1
    assert [(r.status, r.epochs_run) for r in store.records()][2] == (STOPPED, 2)


class PackOfFour(EpochsExecutor):
    """Takes four trials a run, as a packed executor with max_pack = 4; remembers how many."""

    max_pack = 4

    def __init__(self, clock):
        super().__init__(clock, epochs=5)
        self.batches: list[int] = []

    def run(self, trials, context):
        self.batches.append(len(trials))
        return super().run(trials, context)


def test_the_loop_asks_only_for_the_trials_the_epochs_left_can_train(tmp_path):
    clock, store = Clock(), KeptNames(OBJECTIVE)
    executor = PackOfFour(clock)
    budget = Budget.from_records([], None, 17, epochs_per_trial=5, clock=clock)
    assert budget.trials_affordable() == 3
    assert run_trials(oracle(10, tmp_path), executor, store, budget=budget) == 4
    # 17 epochs: three whole trials, then one more for the 2 left (stopped there), not a pack
    # of four each cut after 4 or 5 epochs.
    assert executor.batches == [3, 1]
    statuses = [(r.status, r.epochs_run) for r in store.records()]
    assert statuses == [(COMPLETED, 5)] * 3 + [(STOPPED, 2)]
    assert Budget(None, None, epochs_per_trial=5).trials_affordable() is None
    assert Budget(None, 10).trials_affordable() is None  # a trial's epochs unknown


def test_a_budget_spent_on_a_trials_last_epoch_leaves_it_completed(tmp_path):
    clock, store = Clock(), KeptNames(OBJECTIVE)
    budget = _budget(store, clock, max_epochs=5)
    run_trials(oracle(10, tmp_path), EpochsExecutor(clock, epochs=5), store, budget=budget)
    assert [(r.status, r.epochs_run) for r in store.records()] == [(COMPLETED, 5)]


@pytest.mark.parametrize(
    "text, seconds", [("90s", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), (45, 45)]
)
def test_max_time_takes_durations(text, seconds):
    assert Campaign(name="x", dataset="iris", max_time=text).max_time_s == seconds
    assert parse_duration("max_time", spell_duration(seconds)) == seconds


@pytest.mark.parametrize("value", ["30 minutes", -1, "0s", True])
def test_a_bad_max_time_is_one_line_naming_the_key_the_value_and_what_is_accepted(value):
    with pytest.raises(ConfigError) as error:
        Campaign(name="x", dataset="iris", max_time=value)
    text = str(error.value)
    assert "\n" not in text and text.startswith("max_time must be a duration above zero")
    assert repr(value) in text and '"1h30m"' in text


def test_max_epochs_total_must_be_at_least_one():
    with pytest.raises(ConfigError, match="max_epochs_total must be at least 1, but got 0"):
        Campaign(name="x", dataset="iris", max_epochs_total=0)


def test_a_campaign_may_resume_with_another_budget():
    from tuner.campaign import changed_fields

    before = Campaign(name="x", dataset="iris", max_time="30m")
    assert changed_fields(before.replace(max_time="1h", max_epochs_total=50), before) == []


def test_the_stop_line_names_the_budget_and_max_trials_when_both_were_reached():
    from tuner.plan import Plan

    plan = Plan(Campaign(name="x", dataset="iris", max_trials=10), *[None] * 5)  # type: ignore[arg-type]
    spent = "max_time = 30m spent (30m4s elapsed)"
    assert plan.stop_reason(4, spent) == f"stopped after 4 trials: {spent}"
    # The last trials were handed out, then the budget cut them short: both are said.
    assert plan.stop_reason(10, spent) == (
        f"stopped after 10 trials: max_trials = 10 reached, and {spent}"
    )
    assert plan.stop_reason(10) == "stopped after 10 trials: max_trials = 10 reached"
    assert "budget" not in plan.stop_reason(4) and "max_time" not in plan.stop_reason(4)


def test_a_stopped_trial_is_ranked_and_shown_as_stopped_in_the_table_and_summary():
    from tests.fakes import scored_record
    from tuner.results import ranked_table, summary_markdown

    cut = scored_record("1", 0.9, epochs=2)
    cut.status = STOPPED
    records = [scored_record("0", 0.8), cut]
    table = ranked_table(records, objective="val_accuracy", direction="max")
    assert list(table["trial_id"]) == ["1", "0"] and list(table["status"]) == [STOPPED, COMPLETED]
    assert list(table["epochs_run"]) == [2, 15] and table["score"].iloc[0] == 0.9
    text = summary_markdown(table, objective="val_accuracy", direction="max", settings={})
    assert "- trials: 2 (1 completed, 1 stopped by the budget, 0 failed)" in text


def _real_campaign(tmp_path, **fields) -> Campaign:
    values = dict(
        name="budget",
        dataset="iris",
        results_dir=str(tmp_path / "results"),
        objective="val_accuracy",
        max_trials=4,
        seed=0,
        space={"learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log"}},
    )
    values.update(fields)
    return Campaign(**values)


@pytest.mark.slow
def test_max_time_cuts_a_training_trial_at_an_epoch_and_keeps_its_history(tmp_path):
    from tuner import api

    lines: list[str] = []
    found = api.search(
        _real_campaign(tmp_path, epochs=100_000, max_time="2s", pack=1),
        quiet=False,
        print_line=lines.append,
    )
    (record,) = found.records  # no trial starts once the budget is spent
    assert record.status == STOPPED and 1 <= record.epochs_run < 100_000
    assert all(len(v) == record.epochs_run for v in record.history.values())
    assert record.score == max(record.history["val_accuracy"]) and found.best_trial_id == "0"
    assert found.stop_reason is not None
    assert found.stop_reason.startswith("stopped after 1 trials: max_time = 2s spent")
    assert lines[-1] == found.stop_reason
    assert list(found.table["status"]) == [STOPPED]
    # Read back from the folder, it is the same.
    again = api.load_results(found.folder)
    assert [(r.status, r.epochs_run) for r in again.records] == [(STOPPED, record.epochs_run)]


@pytest.mark.slow
def test_max_epochs_total_packs_only_the_trials_it_can_train(tmp_path):
    from tuner import api

    campaign = _real_campaign(tmp_path, epochs=5, max_epochs_total=12, pack=4, max_trials=8)
    found = api.search(campaign)
    # Two trials fit in 12 epochs (one pack of two), then one for the 2 epochs left.
    statuses = [(r.status, r.epochs_run) for r in found.records]
    assert statuses == [(COMPLETED, 5), (COMPLETED, 5), (STOPPED, 2)]
    assert found.stop_reason == (
        "stopped after 3 trials: max_epochs_total = 12 reached (12 epochs trained)"
    )
    # Resumed with the same budget nothing trains; with a larger one the spent epochs count.
    with pytest.warns(NothingNewRan, match=r"raise max_epochs_total to run more"):
        again = api.search(campaign)
    assert again.ran == 0 and again.stop_reason == found.stop_reason
    more = api.search(campaign.replace(max_epochs_total=30))
    statuses = [(r.status, r.epochs_run) for r in more.records[3:]]
    assert statuses == [(COMPLETED, 5)] * 3 + [(STOPPED, 3)]
    assert more.stop_reason == (
        "stopped after 7 trials: max_epochs_total = 30 reached (30 epochs trained)"
    )


@pytest.mark.parametrize(
    "flag, value",
    [(["--max-time", "30 minutes"], "'30 minutes'"), (["--max-time", "-1"], "-1.0")],
)
def test_a_bad_max_time_on_the_command_line_is_one_line_and_exit_2(flag, value, tmp_path, capsys):
    from tests.campaigns import write_campaign
    from tuner import cli

    path = write_campaign(tmp_path)
    assert cli.main(["search", str(path), "--quiet", *flag]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and "max_time must be a duration above zero" in lines[0]
    assert f"but got {value}" in lines[0] and not (tmp_path / "results").exists()


def test_max_time_on_the_command_line_overrides_the_campaign_file(tmp_path):
    from tests.campaigns import write_campaign
    from tuner import cli

    path = write_campaign(tmp_path, max_time="2h")
    args = cli.build_parser().parse_args(["search", str(path), "--max-time", "1h30m"])
    assert cli._campaign(args).max_time_s == 5400
    args = cli.build_parser().parse_args(["search", str(path), "--max-time", "90"])
    assert cli._campaign(args).max_time_s == 90
    assert cli._override_flags(args) == ["--max-time", "90.0"]


def test_the_progress_line_says_a_trial_was_stopped_by_the_budget():
    from tuner.console import ProgressEvent, progress_line
    from tuner.trial import TrialRecord

    record = TrialRecord("3", STOPPED, {"learning_rate": 0.01}, score=0.9, epochs_run=1)
    event = ProgressEvent(record, 4, 20, None, "val_accuracy", 1.0, 3.0, ["learning_rate"], 1)
    line = progress_line(event, width=120)
    assert "val_accuracy=0.9000 (stopped by the budget after 1 epoch)" in line
    assert "FAILED" not in line


class PacksOfTwo(PackOfFour):
    """Trains its four trials as two packs of two, handing the first over when it ends, and
    leaves the second unstarted when the budget is spent by then (as the packed executor
    does)."""

    def run(self, trials, context):
        from tuner.execution import Unstarted

        self.batches.append(len(trials))
        first = EpochsExecutor.run(self, trials[:2], context)
        context.save_outcomes(first)
        if context.may_leave_unstarted and context.budget.spent() is not None:
            raise Unstarted([t.trial_id for t in trials[2:]])
        return first + EpochsExecutor.run(self, trials[2:], context)


def test_packs_of_a_batch_left_unstarted_by_a_spent_budget_train_on_resume(tmp_path):
    clock, store = Clock(), KeptNames(OBJECTIVE)
    executor = PacksOfTwo(clock)
    # 100 s: the first pack (two trials of 50 s one after another) spends it.
    budget = _budget(store, clock, max_time_s=100.0)
    assert run_trials(oracle(4, tmp_path), executor, store, budget=budget) == 2
    assert executor.seen == ["0", "1"] and len(store.records()) == 2
    assert [r.status for r in store.records()] == [COMPLETED, COMPLETED]
    # Resumed with more time, the two trials never started train under their own ids.
    again = oracle(4, tmp_path)
    again.reload()
    more = PacksOfTwo(clock)
    assert run_trials(again, more, store, budget=_budget(store, clock, max_time_s=300.0)) == 2
    assert sorted(more.seen) == ["2", "3"]
    assert [r.trial_id for r in store.records()] == ["0", "1", "2", "3"]


@pytest.mark.slow
def test_the_packed_executor_starts_no_pack_once_the_budget_is_spent():
    import keras_tuner as kt

    from tuner.builders.mlp import MLPHyperModel
    from tuner.datasets import load_dataset
    from tuner.execution import PackedExecutor, TrialContext, Unstarted
    from tuner.execution.pipeline import InputPipeline

    dataset = load_dataset("digits", max_samples=100)
    trials = []
    for i, layers in enumerate([1, 1, 2, 2]):  # two architectures: two packs
        hp = kt.HyperParameters()
        values = dict(n_layers=layers, units=8, batch_size=32, epochs=2, learning_rate=0.01)
        for name, value in values.items():
            hp.Fixed(name, value)
        trials.append(kt.engine.trial.Trial(hp, trial_id=str(i)))
    handed: list[str] = []

    def run(may_leave_unstarted: bool) -> list:
        executor = PackedExecutor(
            MLPHyperModel.for_data(dataset.spec),
            InputPipeline(dataset),
            objective=kt.Objective("val_accuracy", "max"),
            seed=0,
        )
        context = TrialContext(
            budget=Budget(None, 4),  # the first pack's 2 x 2 epochs spend it
            save_outcomes=lambda outcomes: handed.extend(o.record.trial_id for o in outcomes),
            may_leave_unstarted=may_leave_unstarted,
        )
        return executor.run(trials, context)

    with pytest.raises(Unstarted) as left:
        run(True)
    assert left.value.trial_ids == ["2", "3"] and handed == ["0", "1"]
    # A caller that cannot leave trials (the cross-validation wrapper, a worker) gets every
    # trial: the second pack starts and the spent budget stops it after its first epoch.
    outcomes = run(False)
    assert [(o.record.status, o.record.epochs_run) for o in outcomes] == [
        (COMPLETED, 2),
        (COMPLETED, 2),
        (STOPPED, 1),
        (STOPPED, 1),
    ]
