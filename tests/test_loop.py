"""The trial loop with scripted executors and oracle doubles: no training, milliseconds each."""

from __future__ import annotations

import keras_tuner as kt
import pytest
from keras_tuner.engine import trial as trial_module

from tests.fakes import (
    OBJECTIVE,
    BatchExecutor,
    ClientDouble,
    FakeModel,
    KeptNames,
    ScriptedExecutor,
    ScriptedOracle,
    oracle,
)
from tuner.errors import Fatal
from tuner.execution import TrialOutcome
from tuner.loop import Backoff, run_trials
from tuner.strategies import create_oracle
from tuner.trial import COMPLETED, TrialRecord


def test_every_trial_runs_once_and_the_store_ranks_them(tmp_path):
    executor = ScriptedExecutor({"0": 0.2, "1": 0.9, "2": 0.5})
    store = KeptNames(OBJECTIVE, keep_top=2)
    ran = run_trials(oracle(3, tmp_path), executor, store)
    assert ran == 3 and executor.seen == ["0", "1", "2"]
    assert [r.trial_id for r in store.ranked()] == ["1", "2", "0"]
    assert sorted(store._models) == ["1", "2"]  # the top 2, trial 0 dropped when displaced
    # The score to beat for the top k reaches the executor before each trial.
    assert [c.keep_weights_beyond for c in executor.contexts] == [None, None, 0.2]
    assert [c.any_completed for c in executor.contexts] == [False, True, True]


def test_resume_runs_only_what_is_left(tmp_path):
    first = oracle(2, tmp_path)
    store = KeptNames(OBJECTIVE)
    run_trials(first, ScriptedExecutor({}), store)
    again = oracle(4, tmp_path)
    again.reload()
    executor = ScriptedExecutor({})
    assert run_trials(again, executor, store) == 2
    assert executor.seen == ["2", "3"]
    assert [r.trial_id for r in store.records()] == ["0", "1", "2", "3"]


def test_consecutive_failures_stop_the_campaign_with_the_last_error(tmp_path):
    made = oracle(10, tmp_path, max_consecutive_failures=3)
    store = KeptNames(OBJECTIVE)
    with pytest.raises(Fatal, match="3 consecutive failed trials; last: scripted failure"):
        run_trials(made, ScriptedExecutor({}, default=None), store)
    assert len(store.records()) == 3  # every failed trial is kept


def test_idle_waits_with_backoff_and_stopped_ends():
    R, Idle, S = (
        trial_module.TrialStatus.RUNNING,
        trial_module.TrialStatus.IDLE,
        trial_module.TrialStatus.STOPPED,
    )
    waits: list[float] = []
    scripted = ScriptedOracle([Idle, Idle, Idle, R, Idle, R, S])
    ran = run_trials(
        scripted,
        ScriptedExecutor({}),
        KeptNames(OBJECTIVE),
        backoff=Backoff(first=0.1, longest=0.3, sleep=waits.append),
    )
    assert ran == 2 and scripted.ended == ["0", "1"]
    assert waits == [0.1, 0.2, 0.3, 0.1]  # doubles up to the cap, starts again after a trial
    assert scripted.updates == {"0": {"val_accuracy": 0.5}, "1": {"val_accuracy": 0.5}}


def test_local_oracle_idle_with_nothing_running_ends_instead_of_spinning():
    scripted = ScriptedOracle([trial_module.TrialStatus.IDLE])
    scripted.ongoing_trials = {}
    assert (
        run_trials(
            scripted, ScriptedExecutor({}), KeptNames(OBJECTIVE), backoff=Backoff(sleep=pytest.fail)
        )
        == 0
    )


def test_worker_side_oracle_client_runs_the_loop(tmp_path):
    chief = oracle(3, tmp_path)
    client = ClientDouble(chief)
    assert not hasattr(client, "save")
    store = KeptNames(OBJECTIVE)
    assert run_trials(client, ScriptedExecutor({}), store, tuner_id="worker0") == 3
    assert len(store.records()) == 3 and not chief.ongoing_trials


def test_parents_are_kept_for_strategies_that_train_from_them():
    store = KeptNames(OBJECTIVE, keeps_parents=True)
    record = TrialRecord("0", COMPLETED, {}, score=0.5, best_epoch=1, epochs_run=1)
    store.save_outcome(TrialOutcome(record, model=FakeModel("m0")))
    assert store._parents == {"0": "m0"}


# --------------------------------------------------------------------------- batches


def values_of(made):
    return {t: made.trials[t].hyperparameters.values["units"] for t in made.trials}


def test_a_batch_of_k_trials_goes_to_the_executor_at_once_and_each_ends_in_order(tmp_path):
    made = oracle(7, tmp_path)
    executor = BatchExecutor(3, {"4": 0.9})
    store = KeptNames(OBJECTIVE)
    ended = []
    ran = run_trials(made, executor, store, on_trial_end=ended.append)
    assert ran == 7
    # 7 trials at up to 3 a batch: 3, then the 4 left as 2 + 2 (even sizes).
    assert executor.batches == [["0", "1", "2"], ["3", "4"], ["5", "6"]]
    assert made.end_order == [str(i) for i in range(7)] and not made.ongoing_trials
    assert [o.record.trial_id for o in ended] == [str(i) for i in range(7)]
    assert [o.pack_size for o in ended] == [3, 3, 3, 2, 2, 2, 2]
    assert store.best().trial_id == "4"
    # One context a batch, from the store as the batch begins.
    assert [c.any_completed for c in executor.contexts] == [False, True, True]


def test_packed_and_one_at_a_time_runs_propose_the_same_trials(tmp_path):
    one = oracle(9, tmp_path / "one", seed=3)
    run_trials(one, ScriptedExecutor({}), KeptNames(OBJECTIVE))
    packed = oracle(9, tmp_path / "packed", seed=3)
    run_trials(packed, BatchExecutor(4), KeptNames(OBJECTIVE))
    assert values_of(packed) == values_of(one)


def test_k_of_one_asks_under_the_loops_own_tuner_id_as_before():
    R, S = trial_module.TrialStatus.RUNNING, trial_module.TrialStatus.STOPPED
    scripted = ScriptedOracle([R, R, S])
    asked = []
    create = scripted.create_trial
    scripted.create_trial = lambda tuner_id: asked.append(tuner_id) or create(tuner_id)
    executor = BatchExecutor(1)
    assert run_trials(scripted, executor, KeptNames(OBJECTIVE)) == 2
    assert asked == ["chief"] * 3 and executor.batches == [["0"], ["1"]]


def test_a_batch_stops_asking_at_idle_or_stopped_and_runs_what_it_has():
    R, Idle, S = (
        trial_module.TrialStatus.RUNNING,
        trial_module.TrialStatus.IDLE,
        trial_module.TrialStatus.STOPPED,
    )
    scripted = ScriptedOracle([R, R, Idle, Idle, R, S, S])
    asked = []
    create = scripted.create_trial
    scripted.create_trial = lambda tuner_id: asked.append(tuner_id) or create(tuner_id)
    waits: list[float] = []
    executor = BatchExecutor(3)
    ran = run_trials(
        scripted, executor, KeptNames(OBJECTIVE), backoff=Backoff(first=0.1, sleep=waits.append)
    )
    assert ran == 3 and executor.batches == [["0", "1"], ["2"]]
    assert waits == [0.1]  # only the round that got nothing waits
    # One tuner id a slot: KerasTuner keeps one ongoing trial per id.
    assert asked == ["chief", "chief/1", "chief/2", "chief", "chief", "chief/1", "chief"]


def test_the_bayesian_oracle_is_told_each_batch_size_before_it_is_asked(tmp_path):
    from tuner.store.engine_kt import set_project_dir

    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    made = create_oracle(
        "bayesian",
        objective=OBJECTIVE,
        hyperparameters=hp,
        max_trials=10,
        options={"initial_points": 2},
    )
    set_project_dir(made, str(tmp_path), ".engine")
    planned = []
    plan = made.plan_batch
    made.plan_batch = lambda n: planned.append(n) or plan(n)
    executor = BatchExecutor(4)
    assert run_trials(made, executor, KeptNames(OBJECTIVE)) == 10
    assert planned == [4, 3, 3, 1]  # even sizes for the trials left; the last ask: STOPPED
    for batch in executor.batches:
        xs = [made.trials[t].hyperparameters.values["x"] for t in batch]
        assert len(set(xs)) == len(xs)


def test_an_interrupted_batch_runs_again_on_resume_and_no_trial_counts_twice(tmp_path):
    from tuner.store.engine_kt import make_durable

    first = make_durable(oracle(8, tmp_path))
    store = KeptNames(OBJECTIVE)
    with pytest.raises(KeyboardInterrupt):
        run_trials(first, BatchExecutor(3, interrupt_at=1), store)
    handed_out = values_of(first)
    assert sorted(handed_out) == ["0", "1", "2", "3", "4", "5"]
    assert [r.trial_id for r in store.records()] == ["0", "1", "2"]
    again = make_durable(oracle(8, tmp_path))
    again.reload()
    executor = BatchExecutor(3)
    assert run_trials(again, executor, store) == 5
    # The 3 trials handed out again come first, in one batch; then the 2 new ones.
    assert [sorted(b) for b in executor.batches] == [["3", "4", "5"], ["6", "7"]]
    assert sorted(r.trial_id for r in store.records()) == [str(i) for i in range(8)]
    assert {t: v for t, v in values_of(again).items() if t in handed_out} == handed_out
    assert sorted(again.end_order) == [str(i) for i in range(8)] and not again.ongoing_trials


def test_a_kill_between_the_outcomes_of_a_batch_ends_the_saved_ones_without_training(tmp_path):
    from tuner.store.engine_kt import make_durable

    first = make_durable(oracle(4, tmp_path))
    store = KeptNames(OBJECTIVE)
    end = first.end_trial

    def end_then_die(trial):
        if trial.trial_id == "1":
            raise KeyboardInterrupt  # killed after trial 0 ended, trial 1's record saved
        end(trial)

    first.end_trial = end_then_die
    with pytest.raises(KeyboardInterrupt):
        run_trials(first, BatchExecutor(4), store)
    assert sorted(r.trial_id for r in store.records()) == ["0", "1", "2", "3"]
    again = make_durable(oracle(4, tmp_path))
    again.reload()
    executor = BatchExecutor(4)
    assert run_trials(again, executor, store) == 0  # every record was saved: none retrains
    assert executor.batches == []
    assert sorted(r.trial_id for r in store.records()) == ["0", "1", "2", "3"]
    assert sorted(again.end_order) == ["0", "1", "2", "3"]


def test_consecutive_failures_in_a_batch_stop_at_the_limit(tmp_path):
    made = oracle(10, tmp_path, max_consecutive_failures=3)
    store = KeptNames(OBJECTIVE)
    ended = []
    executor = BatchExecutor(4, {"03": 0.7}, default=None)
    with pytest.raises(Fatal, match="3 consecutive failed trials; last: scripted failure"):
        run_trials(made, executor, store, on_trial_end=ended.append)
    assert executor.batches == [["00", "01", "02", "03"]]
    assert [o.record.trial_id for o in ended] == ["0", "1", "2"]  # records: one numbering


def test_an_oracle_client_asks_for_a_pack_under_slot_ids(tmp_path):
    chief = oracle(3, tmp_path)
    executor = BatchExecutor(4)
    assert run_trials(ClientDouble(chief), executor, KeptNames(OBJECTIVE), tuner_id="w") == 3
    # The fourth ask (w/3) is answered STOPPED: the pack runs with the three it got.
    assert executor.batches == [["0", "1", "2"]]
    assert not chief.ongoing_trials and {"w", "w/1", "w/2"} >= chief.tuner_ids


def test_batches_are_of_even_size() -> None:
    from tuner.loop import batch_limit
    from tuner.space import build_space
    from tuner.strategies import create_oracle

    def limit(max_trials: int, wanted: int) -> int:
        oracle = create_oracle(
            "random",
            objective=kt.Objective("val_accuracy", "max"),
            hyperparameters=build_space({"units": {"min": 16, "max": 256}}),
            max_trials=max_trials,
        )
        return batch_limit(oracle, wanted)

    assert limit(100, 64) == 50  # 50 + 50: one pack size, compiled once
    assert limit(10, 64) == 10
    assert limit(65, 64) == 33
    assert limit(7, 1) == 1


def test_threads_zero_chooses_by_how_the_trials_train() -> None:
    from tuner.builders.mlp import MLPHyperModel
    from tuner.campaign import Campaign
    from tuner.plan import threads_for

    mlp = MLPHyperModel("multiclass", (8,), 3)
    campaign = Campaign(name="t", dataset="iris", objective="val_accuracy")
    assert threads_for(campaign, mlp) == 0  # packed: every core
    assert threads_for(campaign.replace(pack=1), mlp) == 1  # small models one at a time
    assert threads_for(campaign.replace(pack=1), kt.HyperModel()) == 0  # a user's: unknown size
    assert threads_for(campaign.replace(threads=2, pack=1), mlp) == 2  # as written
