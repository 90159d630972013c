"""KerasTuner's chief and worker over gRPC, mended for campaigns that must end: the chief's
servicer, its server, a worker's client, and the chief's look at its oracle's ongoing trials.
A ``*_kt`` module, so one of the only ones that touch KerasTuner's private attributes
(tests/test_keras_tuner_seam.py and tests/test_distributed.py pin what is relied on here).
"""

from __future__ import annotations

import copy
import os
from typing import Any

import keras_tuner as kt
from keras_tuner import synchronized


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
