"""Budgets (max_time, max_epochs_total): no trial starts once spent, a running trial stops at
an epoch's end as `stopped` with its history, a resumed campaign counts what was spent, and the
stop line says so. The loop's tests run on a fake clock and scripted training."""

from __future__ import annotations

import pytest

from tests.fakes import OBJECTIVE, Clock, EpochsExecutor, KeptNames, oracle
from tuner.campaign import Campaign, parse_duration
from tuner.errors import ConfigError
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
    assert budget.spent() == "max_time = 2m spent (2m trained)"
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
