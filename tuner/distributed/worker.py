"""A worker: asks the chief for trials, trains them with the campaign's executor (packs
included) and saves each trial's record into the shared results folder."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from tuner.distributed.address import Address
from tuner.errors import ConfigError, Fatal
from tuner.execution import TrialContext, TrialOutcome, trials_per_run
from tuner.loop import run_trials
from tuner.plan import Plan

# A chief that does not answer within this long is gone (KerasTuner waits an hour).
CALL_TIMEOUT_S = 120.0
HEARTBEAT_S = 2.0


class HeartbeatExecutor:
    """An executor that tells the chief every `every_s` seconds that its worker is alive,
    from a thread: a ``get_trial`` call for each trial of the batch it last ran, which the
    chief counts as a heartbeat for the worker running it. The beats go on while the batch's
    records and models are saved and its trials ended, until the next batch (or `close`); a
    trial that has ended counts for no one. The chief hands a silent worker's trials to
    another."""

    def __init__(self, executor: Any, client: Any, every_s: float = HEARTBEAT_S) -> None:
        self.executor, self.client, self.every_s = executor, client, every_s
        self.current: list[str] = []
        self._stop = threading.Event()
        # Not joined: a call to a chief that has gone blocks until its timeout, and the loop's
        # own next call reports the lost chief.
        threading.Thread(target=self._beat, daemon=True).start()

    @property
    def max_pack(self) -> int:
        return trials_per_run(self.executor)

    def run(self, trials: Sequence[Any], context: TrialContext) -> list[TrialOutcome]:
        self.current = [t.trial_id for t in trials]
        return list(self.executor.run(trials, context))

    def close(self) -> None:
        self._stop.set()

    def _beat(self) -> None:
        while not self._stop.wait(self.every_s):
            for trial_id in list(self.current):
                try:
                    self.client.get_trial(trial_id)
                except Exception:  # the chief is gone or busy: the loop finds out on its own
                    break


def run_worker(
    plan: Plan,
    chief: Address,
    tuner_id: str,
    *,
    max_pack: int | None = None,
    wait_s: float = 60.0,
    heartbeat_s: float = HEARTBEAT_S,
) -> int:
    """Run trials for the chief at `chief` until it says the campaign is done; return how
    many this worker ran. The caller checked that the campaign is the chief's
    (`session.check_worker_campaign`). `max_pack` caps the trials trained as one model."""
    import grpc

    from tuner.distributed.servicer_kt import connect
    from tuner.run import WORKER, open_run

    try:
        client = connect(chief, tuner_id, wait_s=wait_s, timeout_s=CALL_TIMEOUT_S)
    except TimeoutError:
        raise ConfigError(
            f"no chief answers at {chief} (waited {wait_s:.0f} s); start `tuner chief` there "
            "first, or give --chief the address it printed."
        ) from None
    run = open_run(plan, role=WORKER, max_pack=max_pack)
    beating = HeartbeatExecutor(run.executor, client, heartbeat_s)
    try:
        return run_trials(client, beating, run.store, tuner_id=tuner_id, budget=run.budget)
    except grpc.RpcError as error:
        code = error.code() if hasattr(error, "code") else None
        raise Fatal(
            f"lost the chief at {chief} ({getattr(code, 'name', code)}); this worker's "
            "finished trials are saved in the results folder"
        ) from None
    finally:
        beating.close()
