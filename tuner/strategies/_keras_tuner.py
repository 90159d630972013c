"""The one module that touches KerasTuner's private attributes and behaviours.

Each function works around one thing KerasTuner 1.4.8 does that we cannot change from outside;
tests/test_keras_tuner_seam.py pins every one of them, so a KerasTuner upgrade that changes any
fails there, saying what changed, instead of somewhere in a campaign.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras_tuner as kt
from keras_tuner import synchronized

from tuner.files import atomic_write_text
from tuner.trial import FAILED, TrialRecord, canonical_id


def set_project_dir(oracle: Any, directory: str | os.PathLike[str], project_name: str) -> None:
    """Make the oracle keep its state (``oracle.json``, ``trial_*/``) in
    ``directory/project_name``. Called once, after `create_oracle` and before ``reload()``.

    KerasTuner only does this from inside a ``Tuner``. A worker-side client keeps no state (the
    chief does), so for one this does nothing.
    """
    if is_client(oracle):
        return
    oracle._set_project_dir(str(directory), project_name)


def fix_seed(oracle: kt.Oracle, seed: int) -> kt.Oracle:
    """Give the oracle exactly `seed`. Called by `create_oracle` on every oracle it builds.

    KerasTuner replaces ``seed=0`` with a random one (``seed or randint``), and draws its random
    values from ``_seed_state``, which starts at the seed.
    """
    oracle.seed = seed
    oracle._seed_state = seed
    return oracle


def silence(oracle: kt.Oracle) -> kt.Oracle:
    """Stop KerasTuner printing a table per trial (the caller prints one line instead). Called
    by `create_oracle` on every oracle it builds."""
    oracle._display.verbose = 0
    return oracle


def was_tried(oracle: kt.Oracle, values: dict[str, Any]) -> bool:
    """Whether a trial with these values was already created. Called by an oracle's
    ``populate_space`` to refuse a repeated proposal."""
    return oracle._duplicate(values)


def untried_random_values(oracle: kt.Oracle) -> dict[str, Any] | None:
    """Random values (drawn from the oracle's seed) that no trial has had, or None when the
    space looks exhausted (KerasTuner gives up after 20 repeats in a row). Called by an oracle's
    ``populate_space`` in place of a repeated proposal."""
    return oracle._random_values()


def next_grid_values(
    oracle: kt.oracles.GridSearchOracle, after: dict[str, Any] | None
) -> dict[str, Any] | None:
    """The grid combination that KerasTuner's grid search runs after `after` (the first one,
    every value at its default, when None); None after the last. Called by our grid oracle's
    ``populate_space``, which walks the grid in KerasTuner's order without its linked list of
    trials (that list is not saved, so KerasTuner's grid search cannot resume, and it hands
    out at most two trials before one ends)."""
    if after is None:
        space = oracle.get_space()
        return {h.name: h.default for h in space.space if space.is_active(h)}
    values: dict[str, Any] | None = oracle._get_next_combination(after)
    return values


def hyperband_first_round_trial(
    oracle: kt.oracles.HyperbandOracle, trial_id: str
) -> dict[str, Any] | None:
    """KerasTuner's Hyperband proposal for `trial_id` when it is a random trial of an open
    bracket's first round; else None, and the oracle as it was. Called by our Hyperband
    oracle's ``populate_space`` while trials are running.

    KerasTuner promotes a round's best as soon as enough of it has finished, and opens the
    next bracket whenever the open ones have nothing to hand out, so trials asked for while
    others run (a packed batch) would be promotions and brackets that one-at-a-time search
    makes later, from more results: the proposals would depend on the batch size. Its bracket
    state (``_brackets``, ``_current_bracket``, ``_current_iteration``) and random draws
    (``_seed_state``) are restored in that case."""
    saved = (
        copy.deepcopy(oracle._brackets),
        oracle._current_bracket,
        oracle._current_iteration,
        oracle._seed_state,
    )
    response: dict[str, Any] = kt.oracles.HyperbandOracle.populate_space(oracle, trial_id)
    values = response.get("values") or {}
    first_round = values.get("tuner/round") == 0
    if first_round and (oracle._current_bracket, oracle._current_iteration) == saved[1:3]:
        return response
    (
        oracle._brackets,
        oracle._current_bracket,
        oracle._current_iteration,
        oracle._seed_state,
    ) = saved
    return None


def reload(oracle: Any) -> None:
    """Reload a local oracle's state, without queueing ended trials to run again.

    ``end_trial`` saves with the trial already in ``end_order`` but still ongoing (see
    `end_trial`); a process stopped before the save that follows leaves it so on disk, and
    KerasTuner's ``reload`` queues every ongoing trial to run again: it would end twice."""
    oracle.reload()
    ended = set(oracle.end_order)
    oracle._retry_queue = [t for t in oracle._retry_queue if t not in ended]


def queued_to_run_again(oracle: Any) -> int:
    """How many trials a local oracle will hand out again before any new one (the ones that
    were running when the last process stopped; ``reload`` queues them). Called by the loop
    to size a batch: they do not count against ``max_trials``."""
    return len(getattr(oracle, "_retry_queue", ()))


def is_client(oracle: Any) -> bool:
    """Whether `oracle` is KerasTuner's worker-side proxy of the chief's oracle (gRPC), which
    has no ``save()``, ``reload()`` or project folder of its own."""
    if isinstance(oracle, kt.Oracle):
        return False  # without importing gRPC and KerasTuner's protos into a local run
    from keras_tuner.src.distribute.oracle_client import OracleClient

    return isinstance(oracle, OracleClient)


def end_trial(oracle: Any, trial: kt.engine.trial.Trial) -> None:
    """End a trial (its status and metrics already set). Called once per trial by the loop.

    KerasTuner's ``end_trial`` saves the state *before* it removes the trial from the ongoing
    ones, so after a restart the last finished trial would be run (and counted) again: a local
    oracle saves once more. A worker's client has no ``save()``: the chief saves its own.
    """
    oracle.end_trial(trial)
    if not is_client(oracle):
        oracle.save()


# --------------------------------------------------------------------------- state on disk

ORACLE_FILE = "oracle.json"
TRIAL_FILE = "trial.json"
_ORACLE_KEYS = {"ongoing_trials", "hyperparameters", "start_order", "end_order", "run_times"}
LOST = "lost: its record and the engine's state were both damaged"
PARENT = "tuner/trial_id"  # KerasTuner's Hyperband: the id of the trial a promoted one continues
_TRIAL_KEYS = {"trial_id", "hyperparameters", "metrics", "score", "best_step", "status"}


def make_durable(oracle: Any) -> Any:
    """Make a local oracle write ``oracle.json`` and every ``trial_*/trial.json`` atomically.
    Called once, after `set_project_dir`.

    KerasTuner writes them in place (``utils.save_json``), so a kill or Ctrl-C in the middle
    leaves an empty file that no later run can reload. Every state write goes through
    ``Oracle.save`` and ``Oracle._save_trial``; both are replaced on this instance.
    """
    if is_client(oracle):
        return oracle

    def save() -> None:
        atomic_write_text(oracle._get_oracle_fname(), json.dumps(oracle.get_state()))

    def save_trial(trial: kt.engine.trial.Trial) -> None:
        folder = oracle._get_trial_dir(trial.trial_id)
        atomic_write_text(os.path.join(folder, TRIAL_FILE), json.dumps(trial.get_state()))

    oracle.save = save
    oracle._save_trial = save_trial
    return oracle


def _read_json(path: Path, keys: set[str]) -> tuple[dict[str, Any] | None, str | None]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "is missing"
    except (OSError, ValueError) as error:  # ValueError: bad JSON or not UTF-8
        reason = "is empty" if path.stat().st_size == 0 else f"is damaged ({error})"
        return None, reason
    if not isinstance(state, dict) or not keys <= state.keys():
        return None, "is damaged (not KerasTuner's state)"
    return state, None


def engine_damage(project_dir: Path) -> list[str]:
    """What stops KerasTuner reloading its state from `project_dir` (``oracle.json`` and the
    ``trial_*/trial.json`` it names): one line per damaged or missing file, empty when none."""
    problems = []
    state, reason = _read_json(project_dir / ORACLE_FILE, _ORACLE_KEYS)
    if reason is not None:
        problems.append(f"{project_dir / ORACLE_FILE} {reason}")
    readable = set()
    for folder in sorted(project_dir.glob("trial_*")):
        trial, reason = _read_json(folder / TRIAL_FILE, _TRIAL_KEYS)
        if reason is not None:
            problems.append(f"{folder / TRIAL_FILE} {reason}")
        elif trial is not None:
            readable.add(str(trial["trial_id"]))
    if state is not None:
        named = set(state["start_order"]) | set(state["ongoing_trials"].values())
        for trial_id in sorted(named - readable):
            path = project_dir / f"trial_{trial_id}" / TRIAL_FILE
            if f"{path} " not in " ".join(p + " " for p in problems):
                problems.append(f"{path} is missing")
    return problems


def has_state(project_dir: Path) -> bool:
    """Whether KerasTuner left any state in `project_dir`."""
    return (project_dir / ORACLE_FILE).exists() or any(project_dir.glob("trial_*"))


def clear_state(project_dir: Path) -> None:
    """Delete KerasTuner's state in `project_dir` (``oracle.json``, ``trial_*/``), before it is
    rebuilt; anything else there (our records, parents' weights) stays."""
    (project_dir / ORACLE_FILE).unlink(missing_ok=True)
    for folder in project_dir.glob("trial_*"):
        shutil.rmtree(folder, ignore_errors=True)


def finished_trials(oracle: kt.Oracle) -> dict[str, dict[str, Any]]:
    """The values of every trial a reloaded oracle counts as ended (it will not run again),
    by trial id."""
    return {t: dict(oracle.trials[t].hyperparameters.values) for t in oracle.end_order}


def run_again(oracle: kt.Oracle, trial_ids: Sequence[str]) -> None:
    """Make ended trials run again, with the same id and values (their results were lost).
    Called after ``reload()``; saves the state."""
    for trial_id in trial_ids:
        oracle.end_order.remove(trial_id)
        oracle._run_times[trial_id] = 0
        oracle.trials[trial_id].status = kt.engine.trial.TrialStatus.RUNNING
        oracle._retry_queue.append(trial_id)
    if trial_ids:
        oracle.save()


def replay(oracle: kt.Oracle, records: Sequence[TrialRecord]) -> list[TrialRecord]:
    """Give a fresh oracle (project folder set, nothing reloaded) `records`' trials as if it had
    run them, and save its state. Called when KerasTuner's state is damaged: the records are
    the truth. Ids missing between records become failed trials, so that no new trial can
    take a finished trial's id (KerasTuner numbers a new trial ``len(oracle.trials)``).

    Returns those placeholders (the caller keeps them as records). Strategy-specific state
    outside the trials (Hyperband's brackets) starts afresh."""
    by_id = {r.trial_id: r for r in records}  # `canonical_id`s: the replayed trials' ids
    lost = []
    numbers = [int(t) for t in by_id if t.isdigit()]
    for number in range(max(numbers) + 1 if numbers else 0):
        if str(number) not in by_id:
            lost.append(TrialRecord(str(number), FAILED, {}, error=LOST))
            by_id[str(number)] = lost[-1]
    status = kt.engine.trial.TrialStatus
    for trial_id in sorted(by_id, key=lambda t: (int(t), t) if t.isdigit() else (10**9, t)):
        record = by_id[trial_id]
        hp = oracle.hyperparameters.copy()
        hp.values = dict(record.hyperparameters)
        if hp.values.get(PARENT) is not None:  # the parent's engine id, perhaps padded
            hp.values[PARENT] = canonical_id(str(hp.values[PARENT]))
        trial = kt.engine.trial.Trial(hyperparameters=hp, trial_id=trial_id, status=status.RUNNING)
        oracle.trials[trial_id] = trial
        oracle.start_order.append(trial_id)
        oracle._record_values(trial)
        if record.hyperparameters:  # move the random draws past this trial's (RandomSearch)
            oracle._seed_state += len(oracle.hyperparameters.space)
        if record.completed and record.score is not None:
            oracle.update_trial(trial_id, {oracle.objective.name: record.score})
            trial.status = status.COMPLETED
            oracle.score_trial(trial)
        else:
            trial.status = status.FAILED
            trial.message = record.error
        oracle._run_times[trial_id] += 1
        oracle.end_order.append(trial_id)
        oracle._save_trial(trial)
    oracle.save()
    return lost


# --------------------------------------------------------------------------- chief and workers


def worker_of(tuner_id: str) -> str:
    """The worker behind a tuner id: a worker asks for the trials of one pack under
    ``worker0``, ``worker0/1``, ... (`tuner.loop.slot_id`)."""
    return tuner_id.split("/", 1)[0]


def chief_servicer(clock: Any = None) -> Any:
    """KerasTuner's gRPC ``OracleServicer``, mended for campaigns that must end; no oracle yet
    (the chief binds its port before it claims the folder, so a port in use writes nothing):
    set ``.oracle`` before the server starts.

    Over KerasTuner's it adds: a heartbeat per worker (``last_seen``: every call a worker
    makes counts, and so do the ``GetTrial`` calls its heartbeat makes while it trains); IDLE
    instead of STOPPED while a trial still runs or waits to run again (a worker told STOPPED
    leaves, and a trial handed back after its worker died would have no one left to run it);
    an ``EndTrial`` that saves the state once the trial left the ongoing ones and ignores a
    second end of one trial (its first worker was only slow); ``ended``, the queue of ended
    trial ids the chief's progress display reads; ``fatal``, set when KerasTuner's
    consecutive-failure limit is reached (every later ask is answered STOPPED)."""
    import queue
    import threading
    import time

    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    status = kt.engine.trial.TrialStatus
    now = clock or time.monotonic

    class _Servicer(OracleServicer):
        def __init__(self) -> None:
            super().__init__(None)
            self.lock = threading.Lock()
            self.last_seen: dict[str, float] = {}
            self.told_to_stop: set[str] = set()
            self.ended: queue.SimpleQueue[str] = queue.SimpleQueue()
            self.done = False
            self.fatal: str | None = None

        def seen(self, tuner_id: str) -> None:
            with self.lock:
                self.last_seen[worker_of(tuner_id)] = now()

        def seen_trial(self, trial_id: str) -> None:
            for tuner_id in holders(self.oracle, trial_id):
                self.seen(tuner_id)

        def CreateTrial(self, request: Any, context: Any) -> Any:
            self.seen(request.tuner_id)
            trial = _ask(self.oracle, request.tuner_id, stop=self.fatal is not None)
            if trial.status == status.STOPPED:
                self.done = True
                with self.lock:
                    self.told_to_stop.add(worker_of(request.tuner_id))
            return protos.get_service().CreateTrialResponse(trial=trial.to_proto())

        def UpdateTrial(self, request: Any, context: Any) -> Any:
            self.seen_trial(request.trial_id)
            return super().UpdateTrial(request, context)

        def GetTrial(self, request: Any, context: Any) -> Any:
            self.seen_trial(request.trial_id)
            return super().GetTrial(request, context)

        def EndTrial(self, request: Any, context: Any) -> Any:
            trial = kt.engine.trial.Trial.from_proto(request.trial)
            self.seen_trial(trial.trial_id)
            ended, error = _end_once(self.oracle, trial)
            if error is not None:
                self.fatal = error
            if ended:
                self.ended.put(trial.trial_id)
            return protos.get_service().EndTrialResponse()

    return _Servicer()


@synchronized
def _ask(oracle: Any, tuner_id: str, *, stop: bool) -> kt.engine.trial.Trial:
    """The chief's answer to a worker's ask: KerasTuner's, except IDLE where it says STOPPED
    while the campaign is not over, STOPPED where it says IDLE with no trial running, and
    STOPPED for all when `stop`. Under the oracle's lock:
    between KerasTuner taking a trial off the queue to run again and making it ongoing, the
    campaign would look over."""
    status = kt.engine.trial.TrialStatus
    if stop:
        return kt.engine.trial.Trial(oracle.get_space(), status=status.STOPPED)
    trial: kt.engine.trial.Trial = oracle.create_trial(tuner_id)
    if trial.status == status.STOPPED and busy(oracle):
        return kt.engine.trial.Trial(oracle.get_space(), status=status.IDLE)
    if trial.status == status.IDLE and not busy(oracle):
        # Nothing runs that could give it something to propose: waiting would never end
        # (the one-process loop ends here too).
        return kt.engine.trial.Trial(oracle.get_space(), status=status.STOPPED)
    return trial


@synchronized
def campaign_over(oracle: Any) -> bool:
    """Whether a chief's oracle has handed out every trial and none runs or waits to run
    again (under its lock, for `_ask`'s reason)."""
    remaining = oracle.remaining_trials()
    return remaining is not None and remaining <= 0 and not busy(oracle)


def holders(oracle: Any, trial_id: str) -> list[str]:
    """The tuner ids running `trial_id` now (none once it ended or was handed back)."""
    return [t for t, trial in list(oracle.ongoing_trials.items()) if trial.trial_id == trial_id]


def busy(oracle: Any) -> bool:
    """Whether trials are running, or queued to run again: the campaign is not over."""
    return bool(oracle.ongoing_trials) or bool(oracle._retry_queue)


def running(oracle: Any) -> dict[str, str]:
    """The ongoing trials of a chief's oracle: tuner id -> trial id."""
    return {t: trial.trial_id for t, trial in list(oracle.ongoing_trials.items())}


@synchronized
def _end_once(oracle: Any, trial: kt.engine.trial.Trial) -> tuple[bool, str | None]:
    """End a trial a worker reports. Returns whether it ended now (not when it had ended
    already), and KerasTuner's consecutive-failure error, if that limit was reached.

    Under the oracle's lock, which KerasTuner's ``synchronized`` never releases when the call
    raises: nothing may raise out of here."""
    if trial.trial_id in oracle.end_order:
        return False, None
    if trial.trial_id in oracle._retry_queue:  # handed back, but its first worker finished it
        oracle._retry_queue.remove(trial.trial_id)
    error = None
    try:
        oracle.end_trial(trial)
    except RuntimeError as failure:  # raised after the trial was recorded as ended
        error = str(failure).splitlines()[0]
        for tuner_id in holders(oracle, trial.trial_id):
            oracle.ongoing_trials.pop(tuner_id)
    oracle.save()  # KerasTuner saved before the trial left the ongoing ones
    return True, error


@synchronized
def hand_back(
    oracle: Any, tuner_id: str, *, run_again: bool, reason: str
) -> tuple[str | None, str | None]:
    """Take the trial of a tuner id whose worker went silent: queue it for another worker
    (`run_again`), or end it as failed with `reason`. Returns its trial id (None: it had
    none) and KerasTuner's consecutive-failure error, if ending it reached that limit."""
    trial = oracle.ongoing_trials.get(tuner_id)
    if trial is None:
        return None, None
    if run_again:
        del oracle.ongoing_trials[tuner_id]
        oracle._retry_queue.append(trial.trial_id)
        oracle.save()
        return str(trial.trial_id), None
    failed = copy.copy(trial)
    failed.status = kt.engine.trial.TrialStatus.FAILED
    failed.message = reason
    _, error = _end_once(oracle, failed)
    return str(trial.trial_id), error


def serve(servicer: Any, address: Any, threads: int = 4) -> tuple[Any, int]:
    """A gRPC server for `servicer`, bound (not started) at `address` (``.host``, ``.port``,
    and ``str()`` the gRPC target, as `tuner.distributed.address.Address`); returns it and the
    port bound (a free one when the port is 0). Raises OSError when it cannot bind."""
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos

    # Without SO_REUSEPORT (gRPC's default) a second chief on a port in use would share it.
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads), options=[("grpc.so_reuseport", 0)]
    )
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(str(address))
    except RuntimeError as error:  # grpc raises where older versions returned 0
        raise OSError(str(error)) from None
    if not bound:
        raise OSError(f"cannot bind {address}")
    return server, bound


def connect(address: Any, tuner_id: str, *, wait_s: float, timeout_s: float) -> Any:
    """A worker's oracle client for the chief at `address` (as `serve` takes it), once the
    chief answers (within `wait_s`; else TimeoutError). Every later call fails after
    `timeout_s` (KerasTuner waits an hour for a chief that is gone)."""
    import grpc
    from keras_tuner.src.distribute import oracle_client

    target = str(address)
    channel = grpc.insecure_channel(target)
    try:
        grpc.channel_ready_future(channel).result(timeout=wait_s)
    except grpc.FutureTimeoutError:
        raise TimeoutError(target) from None
    finally:
        channel.close()
    oracle_client.TIMEOUT = timeout_s
    os.environ["KERASTUNER_ORACLE_IP"] = address.host
    os.environ["KERASTUNER_ORACLE_PORT"] = str(address.port)
    os.environ["KERASTUNER_TUNER_ID"] = tuner_id
    return oracle_client.OracleClient(oracle=None)
