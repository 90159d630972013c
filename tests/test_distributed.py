"""Parallel and distributed search: the chief's mended servicer in-process, the workers'
environment, addresses; then real worker processes on loopback (one campaign with two
workers that several tests read, a worker killed mid-trial, a chief left without workers)."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import redirect_stdout
from pathlib import Path

import keras_tuner as kt
import pandas as pd
import pytest
from keras_tuner.src import protos

from tests.campaigns import write_campaign
from tuner import api, cli
from tuner.campaign import load_campaign
from tuner.distributed import LOOPBACK, Address, parse_address, worker_environment
from tuner.distributed.env import SHARED_GPU, visible_gpus
from tuner.distributed.servicer_kt import chief_servicer, hand_back, running
from tuner.distributed.session import session_path
from tuner.errors import ConfigError, Fatal
from tuner.store import ResultsFolder
from tuner.store.engine_kt import set_project_dir
from tuner.strategies import create_oracle

RUNNING = kt.engine.trial.TrialStatus.RUNNING
IDLE = kt.engine.trial.TrialStatus.IDLE
STOPPED = kt.engine.trial.TrialStatus.STOPPED


# --------------------------------------------------------------------------- in-process


def servicer_for(max_trials: int, tmp_path: Path):
    hp = kt.HyperParameters()
    hp.Int("units", 1, 1000)
    oracle = create_oracle(
        "random",
        objective=kt.Objective("val_accuracy", "max"),
        hyperparameters=hp,
        max_trials=max_trials,
    )
    set_project_dir(oracle, str(tmp_path), ".engine")
    servicer = chief_servicer(clock=lambda: 0.0)
    servicer.oracle = oracle
    return servicer


def ask(servicer, tuner_id: str) -> kt.engine.trial.Trial:
    request = protos.get_service().CreateTrialRequest(tuner_id=tuner_id)
    return kt.engine.trial.Trial.from_proto(servicer.CreateTrial(request, None).trial)


def end(servicer, trial: kt.engine.trial.Trial, score: float = 0.5) -> None:
    servicer.oracle.update_trial(trial.trial_id, {"val_accuracy": score})
    trial.status = kt.engine.trial.TrialStatus.COMPLETED
    servicer.EndTrial(protos.get_service().EndTrialRequest(trial=trial.to_proto()), None)


def test_a_dead_workers_trial_goes_to_a_worker_that_was_told_to_wait(tmp_path):
    servicer = servicer_for(2, tmp_path)
    first, second = ask(servicer, "w0"), ask(servicer, "w1")
    assert (first.status, second.status) == (RUNNING, RUNNING)
    end(servicer, second)
    # No trial left to create, but w0's still runs: w1 must wait, not leave (KerasTuner
    # answers STOPPED, and w1 would be gone when w0 dies).
    assert ask(servicer, "w1").status == IDLE and not servicer.done
    assert hand_back(servicer.oracle, "w0", run_again=True, reason="") == (first.trial_id, None)
    again = ask(servicer, "w1")
    assert (again.status, again.trial_id) == (RUNNING, first.trial_id)
    assert running(servicer.oracle) == {"w1": first.trial_id}
    end(servicer, again)
    end(servicer, again)  # its first worker was only slow: the second end changes nothing
    assert servicer.oracle.end_order == [second.trial_id, first.trial_id]
    assert [servicer.ended.get(), servicer.ended.get()] == [second.trial_id, first.trial_id]
    assert servicer.ended.empty()
    assert ask(servicer, "w1").status == STOPPED and servicer.done
    assert servicer.told_to_stop == {"w1"}
    saved = json.loads((tmp_path / ".engine" / "oracle.json").read_text())
    assert saved["ongoing_trials"] == {} and saved["retry_queue"] == []


def test_an_oracle_with_nothing_to_propose_waits_only_while_a_trial_runs(tmp_path):
    servicer = servicer_for(3, tmp_path)
    running_trial = ask(servicer, "w0")
    servicer.oracle.populate_space = lambda trial_id: {"status": IDLE}
    assert ask(servicer, "w1").status == IDLE and not servicer.done
    end(servicer, running_trial)
    # Nothing runs that could change its mind: waiting would never end.
    assert ask(servicer, "w1").status == STOPPED and servicer.done


def test_a_trial_handed_back_too_often_ends_failed_with_the_reason(tmp_path):
    servicer = servicer_for(1, tmp_path)
    trial = ask(servicer, "w0/1")
    assert servicer.last_seen == {"w0": 0.0}  # a pack's slot ids beat for their worker
    assert hand_back(servicer.oracle, "w0/1", run_again=False, reason="killed twice") == (
        trial.trial_id,
        None,
    )
    ended = servicer.oracle.trials[trial.trial_id]
    assert (ended.status, ended.message) == ("FAILED", "killed twice")
    assert running(servicer.oracle) == {} and ask(servicer, "w2").status == STOPPED
    assert hand_back(servicer.oracle, "w0/1", run_again=True, reason="") == (None, None)


@pytest.mark.parametrize(
    "strategy, options, max_trials",
    [("bayesian", {"initial_points": 2}, 7), ("hyperband", {"max_epochs": 9, "factor": 3}, 40)],
)
def test_two_workers_finish_a_model_based_search_with_every_trial_once(
    strategy, options, max_trials, tmp_path
):
    """Strategies that learn from ended trials (Bayesian's surrogate, Hyperband's rounds)
    with two workers that end their trials out of order: each worker is told to wait while
    the oracle has nothing to give yet, never to leave while trials run, and every trial
    ends exactly once."""
    hp = kt.HyperParameters()
    hp.Float("x", 0.0, 1.0)
    oracle = create_oracle(
        strategy,
        objective=kt.Objective("val_accuracy", "max"),
        hyperparameters=hp,
        max_trials=max_trials,
        seed=3,
        options=options,
    )
    set_project_dir(oracle, str(tmp_path), ".engine")
    servicer = chief_servicer(clock=lambda: 0.0)
    servicer.oracle = oracle
    held: dict[str, kt.engine.trial.Trial] = {}
    left: set[str] = set()
    waits = 0
    for _ in range(500):
        for worker in ("w0", "w1"):
            if worker in held or worker in left:
                continue
            trial = ask(servicer, worker)
            if trial.status == STOPPED:
                left.add(worker)
            elif trial.status == IDLE:
                waits += 1
            else:
                held[worker] = trial
        if not held:
            break
        # The worker that asked first ends last: ends arrive out of order.
        worker = sorted(held)[-1] if len(held) == 2 else next(iter(held))
        trial = held.pop(worker)
        assert left == set(), "a worker was told to leave while a trial ran"
        end(servicer, trial, score=1.0 - abs(trial.hyperparameters.get("x") - 0.3))
    assert left == {"w0", "w1"} and servicer.done and not held
    ended = servicer.oracle.end_order
    assert len(ended) == len(set(ended)) == len(servicer.oracle.trials)
    statuses = {t.status for t in servicer.oracle.trials.values()}
    assert statuses == {"COMPLETED"}
    if strategy == "bayesian":
        assert len(ended) == max_trials
    else:
        assert waits > 0  # a round's promotions wait for the round to end
        promoted = [
            t
            for t in servicer.oracle.trials.values()
            if t.hyperparameters.values.get("tuner/trial_id")
        ]
        assert promoted, "no trial was continued from its parent"


def test_workers_share_one_gpu_or_get_their_own():
    base = {"PATH": "/bin"}

    def env(index, workers, gpus):
        return worker_environment(
            base, index=index, workers=workers, tuner_id=f"w{index}", host="h", port=5, gpus=gpus
        )

    alone = env(1, 2, [])
    assert alone == {
        "PATH": "/bin",
        "KERASTUNER_ORACLE_IP": "h",
        "KERASTUNER_ORACLE_PORT": "5",
        "KERASTUNER_TUNER_ID": "w1",
    }
    own = [env(i, 2, ["0", "1", "2", "3"]) for i in range(2)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in own] == ["0,2", "1,3"]
    assert not any(k in own[0] for k in SHARED_GPU)  # a GPU of its own: memory as usual
    shared = [env(i, 3, ["4", "7"]) for i in range(3)]
    assert [e["CUDA_VISIBLE_DEVICES"] for e in shared] == ["4", "7", "4"]
    assert shared[0]["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"
    assert shared[0]["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "2, 5"}) == ["2", "5"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []
    assert visible_gpus({}, query=False) == []


@pytest.mark.parametrize(
    "text, message",
    [
        ("localhost", "--chief must be HOST:PORT, but got 'localhost'"),
        ("localhost:x", "port must be an integer in [1, 65535], but got 'x'"),
        ("localhost:0", "port must be an integer in [1, 65535], but got '0'"),
        ("no-such-host.invalid:8470", "host 'no-such-host.invalid' does not resolve"),
    ],
)
def test_bad_addresses_are_named(text, message):
    with pytest.raises(ConfigError) as caught:
        parse_address(text, option="--chief")
    assert message in str(caught.value)


def test_addresses():
    assert parse_address("[::1]:80", option="--bind") == Address("::1", 80)
    assert str(Address("::1", 80)) == "[::1]:80" and Address("::1", 80).is_loopback
    assert parse_address("127.0.0.1:0", option="--bind", allow_any_port=True).port == 0
    assert Address("localhost", 1).is_loopback and not Address("0.0.0.0", 1).is_loopback
    assert session_path(Path("c")).parent == ResultsFolder("c").engine


def test_a_port_in_use_is_bad_input_and_writes_nothing(tmp_path, capsys):
    path = write_campaign(tmp_path)
    with socket.socket() as held:
        held.bind((LOOPBACK, 0))
        held.listen()
        port = held.getsockname()[1]
        assert cli.main(["chief", str(path), "--bind", f"{LOOPBACK}:{port}"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and f"cannot listen on {LOOPBACK}:{port}" in lines[0], lines
    assert not (tmp_path / "results").exists()


def test_bad_distributed_options_exit_2_before_anything(tmp_path, capsys):
    path = write_campaign(tmp_path)
    assert cli.main(["worker", str(path), "--chief", "localhost"]) == 2
    assert cli.main(["worker", str(path), "--chief", "localhost:1", "--id", "a/b"]) == 2
    assert cli.main(["worker", str(path), "--chief", "localhost:1"]) == 2  # no chief started
    assert cli.main(["search", str(path), "--workers", "0"]) == 2
    assert cli.main(["chief", str(path), "--bind", "localhost:70000"]) == 2
    assert cli.main(["chief", str(path), "--heartbeat-timeout", "0"]) == 2
    errors = capsys.readouterr().err.splitlines()
    assert [line.split(": ")[1] for line in errors] == ["error"] * 6, errors
    assert "--id must be a non-empty name without '/', but got 'a/b'" in errors[1]
    assert f"no chief has started campaign 'tiny' in {tmp_path / 'results' / 'tiny'}" in errors[2]
    assert "--workers must be at least 1, but got 0" in errors[3]
    assert "--bind port must be an integer in [0, 65535], but got '70000'" in errors[4]
    assert "--heartbeat-timeout must be a number of seconds > 0, but got 0.0" in errors[5]
    assert not (tmp_path / "results").exists()


# --------------------------------------------------------------------------- processes


def run_tuner(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tuner", *args], capture_output=True, text=True, timeout=120
    )


def table_of(folder: Path) -> pd.DataFrame:
    return pd.read_csv(folder / "trials.csv", dtype={"trial_id": str})


@pytest.mark.slow
def test_two_workers_run_every_trial_once_and_find_what_one_process_finds(tmp_path):
    """One 12-trial campaign run by a chief (this process) and two worker processes, against
    the same campaign run in this process alone. One test, not several reading a module
    fixture: pytest-xdist would run such a fixture once per process that gets one of them."""
    path = write_campaign(tmp_path, name="pair", max_trials=12, pack=1)
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli.main(["search", str(path), "--workers", "2"])
    assert code == 0, out.getvalue()
    folder = tmp_path / "results" / "pair"
    table = table_of(folder)
    assert sorted(table["trial_id"]) == sorted(str(i) for i in range(12))  # one numbering
    assert set(table["status"]) == {"completed"} and list(table["rank"]) == list(range(1, 13))
    history = pd.read_csv(folder / "history.csv", dtype={"trial_id": str})
    assert len(history) == 24 and not history.duplicated(["trial_id", "epoch"]).any()
    logs = folder / ".engine" / "workers"
    ran = [
        int(line.split(": ")[1].split()[0])
        for name in ("worker0", "worker1")
        for line in (logs / f"{name}.log").read_text().splitlines()
        if line.startswith(f"{name}: ")
    ]
    # Both ended when the chief said so, and no trial ran twice (how the 12 split between them
    # depends on which started first).
    assert len(ran) == 2 and sum(ran) == 12, ran
    progress = [line for line in out.getvalue().splitlines() if line.startswith("[")]
    shown = [re.search(r"\] trial (\d+) ", line).group(1) for line in progress]
    assert sorted(shown) == sorted(table["trial_id"]) and progress[-1].startswith("[12/12]")

    single = api.search(str(path), results_dir=str(tmp_path / "single"), quiet=True)
    assert table.iloc[0]["trial_id"] == single.best_trial_id
    alone, both = single.table.set_index("trial_id"), table.set_index("trial_id")
    for column in ("score", "learning_rate", "units", "best_epoch"):
        assert both[column].to_dict() == alone[column].to_dict(), column
    # One kept model (keep_top = 1), the best's: the workers only add, the chief prunes.
    assert sorted(p.stem for p in (folder / "models").glob("*.keras")) == [single.best_trial_id]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


def ongoing(folder: Path) -> dict[str, str]:
    try:
        return json.loads((folder / ".engine" / "oracle.json").read_text())["ongoing_trials"]
    except (OSError, ValueError, KeyError):
        return {}


@pytest.mark.slow
def test_a_worker_killed_mid_trial_does_not_lose_or_hang_the_campaign(tmp_path, capsys):
    path = write_campaign(tmp_path, name="kill", max_trials=6, epochs=6, pack=1)
    folder = tmp_path / "results" / "kill"
    port = free_port()
    address = f"{LOOPBACK}:{port}"
    chief: dict[str, int] = {}
    argv = ["chief", str(path), "--bind", address, "--heartbeat-timeout", "5", "--quiet"]
    thread = threading.Thread(target=lambda: chief.update(code=cli.main(argv)), daemon=True)
    started = time.perf_counter()
    thread.start()
    while not (folder / ".engine" / "chief.json").exists():
        assert thread.is_alive() and time.perf_counter() - started < 60, chief
        time.sleep(0.1)

    (tmp_path / "other").mkdir()
    other = write_campaign(tmp_path / "other", name="kill", results_dir=str(tmp_path / "results"))
    refused = run_tuner("worker", str(other), "--chief", address, "--id", "other")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.splitlines() == [
        f"tuner: error: campaign file {other} differs from the chief's campaign "
        f"({folder / 'campaign.toml'}) in epochs, max_trials; a worker must run the chief's "
        "campaign file (only results_dir, threads, pack and jit_compile may differ)."
    ]

    workers = {
        name: subprocess.Popen(
            [sys.executable, "-m", "tuner", "worker", str(path), "--chief", address, "--id", name],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name in ("A", "B")
    }
    while "A" not in ongoing(folder):
        assert time.perf_counter() - started < 90, "worker A never got a trial"
        time.sleep(0.02)
    os.kill(workers["A"].pid, signal.SIGKILL)
    killed = ongoing(folder).get("A")  # the trial it was running (read again: it may have moved on)
    thread.join(timeout=120)
    wall = time.perf_counter() - started
    assert not thread.is_alive(), "the chief hangs"
    assert workers["B"].wait(timeout=30) == 0, workers["B"].stdout.read()
    assert workers["A"].wait() == -signal.SIGKILL
    assert chief["code"] == 0
    out = capsys.readouterr().out
    assert killed is not None
    assert re.search(rf"^A silent for \d+ s: trial {killed} goes to another worker$", out, re.M), (
        out
    )
    table = table_of(folder)
    assert sorted(table["trial_id"]) == [f"{i}" for i in range(6)]
    assert set(table["status"]) == {"completed"}
    assert wall < 150


@pytest.mark.slow
def test_a_chief_with_no_workers_left_says_so(tmp_path):
    from tuner.distributed.chief import Chief
    from tuner.distributed.pool import LocalPool
    from tuner.plan import make_plan

    path = write_campaign(tmp_path, name="alone")
    lines: list[str] = []
    chief = Chief(
        make_plan(load_campaign(path)),
        Address("0.0.0.0", 0),
        quiet=True,
        print_line=lines.append,
        warn=lines.append,
    )
    address = chief.bind()
    chief.start()
    assert lines[0].startswith("tuner: warning: KerasTuner's gRPC channel is unauthenticated")
    pool = LocalPool(2, Address(LOOPBACK, address.port), [str(path)], tmp_path / "logs")
    pool.start()
    for process in pool.processes.values():
        os.kill(process.pid, signal.SIGKILL)
    try:
        with pytest.raises(Fatal) as caught:
            chief.run(pool)
    finally:
        pool.stop()
    # Each is said once, as the chief finds it gone (the last may be found by the final check).
    said = lines[1:]
    assert len(said) == len(set(said)), said
    assert set(said) <= {"worker0 killed by SIGKILL", "worker1 killed by SIGKILL"}, said
    assert str(caught.value) == (
        "no workers left (worker0 killed by SIGKILL, worker1 killed by SIGKILL); 0 of 3 "
        f"trials finished and are kept in {tmp_path / 'results' / 'alone'}; run the same "
        "command to resume"
    )
    assert (tmp_path / "results" / "alone" / "trials.csv").is_file()


def test_python_workers_need_a_count_no_callbacks_and_a_builder_workers_can_import(tmp_path):
    import keras

    from tests.campaigns import tiny_build
    from tuner.errors import ConfigError

    def local_build(hp):
        return tiny_build(hp)

    x, y = [[0.0] * 4] * 6, [0, 1, 2] * 2
    cases = [
        (dict(model=tiny_build, workers=0), "workers must be at least 1, but got 0"),
        (
            dict(model=tiny_build, workers=2, callbacks=[keras.callbacks.History()]),
            "callbacks= run in this process, but with workers=",
        ),
        (dict(model=local_build, workers=2), "local_build is defined where a worker cannot"),
        (dict(model=kt.HyperModel(), workers=2), "got a HyperModel instance"),
    ]
    for arguments, message in cases:
        with pytest.raises(ConfigError, match=re.escape(message)):
            api.search(x=x, y=y, results_dir=str(tmp_path), **arguments)
    assert not any(tmp_path.iterdir())  # refused before anything was written


@pytest.mark.slow
def test_python_search_with_two_workers_trains_in_memory_data_in_both(tmp_path):
    import numpy as np

    from tests.campaigns import tiny_build

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    y = np.array(["setosa", "versicolor", "virginica"])[np.argmax(x[:, :3], axis=1)]
    space = {"units": [4, 8], "lr": {"min": 1e-3, "max": 1e-1, "sampling": "log"}}
    # Random search: its trials do not depend on which worker's results came back first.
    settings = dict(
        name="mem", max_trials=4, epochs=2, seed=1, standardize=True, space=space, strategy="random"
    )
    found = api.search(tiny_build, x, y, results_dir=str(tmp_path / "pair"), workers=2, **settings)
    assert found.ran == 4 and sorted(found.table["status"]) == ["completed"] * 4
    assert found.class_names == ["setosa", "versicolor", "virginica"]
    logs = tmp_path / "pair" / "mem" / ".engine" / "workers"
    ran = [
        int(line.split(": ")[1].split()[0])
        for name in ("worker0", "worker1")
        for line in (logs / f"{name}.log").read_text().splitlines()
        if line.startswith(f"{name}: ")
    ]
    assert len(ran) == 2 and sum(ran) == 4, ran  # both workers asked, every trial ran once
    # The workers trained on this process's arrays, split and standardised as here.
    alone = api.search(tiny_build, x, y, results_dir=str(tmp_path / "alone"), **settings)
    both, one = found.table.set_index("trial_id"), alone.table.set_index("trial_id")
    for column in ("units", "lr", "best_epoch"):
        assert both[column].to_dict() == one[column].to_dict(), column
    assert np.allclose(both["score"].sort_index(), one["score"].sort_index(), atol=1e-6)
