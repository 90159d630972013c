"""The chief: serves the campaign's one oracle to its workers over gRPC, hands a silent
worker's trials to another, prints one progress line per finished trial, and alone rewrites
the results folder's tables from the records the workers save."""

from __future__ import annotations

import collections
import sys
import time
from collections.abc import Callable
from typing import Any

from tuner.distributed.address import INSECURE, Address
from tuner.distributed.pool import LocalPool, exit_text
from tuner.distributed.session import write_session
from tuner.errors import ConfigError, Fatal
from tuner.execution import TrialOutcome
from tuner.plan import Plan
from tuner.run import CHIEF, Results, Run, open_run, progress_printer
from tuner.store import DiskStore, ResultsFolder
from tuner.trial import FAILED, TrialRecord, canonical_id

POLL_S = 0.2


class Chief:
    """One campaign's chief. `bind` (before anything is written: a port in use is bad input),
    then `start` (claim the folder, serve), then `run` until the campaign is done.

    A worker is silent when it has not called for `heartbeat_timeout_s` (its heartbeat calls
    every 2 s while it trains); its trials then go to another worker, up to `handoffs` times
    each, and after that are recorded as failed. With no local `pool`, the chief gives up when
    no worker has called for `worker_timeout_s`."""

    def __init__(
        self,
        plan: Plan,
        bind: Address,
        *,
        heartbeat_timeout_s: float = 60.0,
        worker_timeout_s: float = 600.0,
        handoffs: int = 1,
        quiet: bool = False,
        print_line: Callable[[str], None] = print,
        warn: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if plan.strategy.name == "pbt":  # its exploit steps need the whole population at hand
            raise ConfigError(
                "strategy 'pbt' trains its whole population in one process; run it without "
                "workers or a chief."
            )
        self.plan, self.requested = plan, bind
        self.heartbeat_timeout_s, self.worker_timeout_s = heartbeat_timeout_s, worker_timeout_s
        self.handoffs = handoffs
        self.quiet, self.print_line, self.warn, self.clock = quiet, print_line, warn, clock
        self.address = bind
        self.server: Any = None
        self.servicer: Any = None
        self.oracle: Any = None
        self.store: DiskStore | None = None
        self.assembled: Run | None = None
        self.handed: collections.Counter[str] = collections.Counter()

    # ------------------------------------------------------------------------------ start
    def bind(self) -> Address:
        """Bind the chief's port (a free one for port 0); nothing is served or written yet."""
        from tuner.distributed.servicer_kt import chief_servicer, serve

        self.servicer = chief_servicer(self.clock)
        try:
            self.server, bound = serve(self.servicer, self.requested)
        except OSError:
            raise ConfigError(
                f"the chief cannot listen on {self.requested} (the port is in use, or the "
                "address is not this machine's); choose another port, or 0 for any free one."
            ) from None
        self.address = Address(self.requested.host, bound)
        return self.address

    def start(self, *, overwrite: bool = False, overwrite_hint: str = "--overwrite") -> None:
        """Claim the results folder, resolve learning_rate = "auto", and serve the oracle."""
        try:
            self._start(overwrite, overwrite_hint)
        except BaseException:
            self.server.stop(grace=None)  # free the port: nothing was served
            raise

    def _start(self, overwrite: bool, overwrite_hint: str) -> None:
        self.assembled = open_run(
            self.plan, role=CHIEF, overwrite=overwrite, overwrite_hint=overwrite_hint
        )
        self.oracle, self.store = self.assembled.oracle, self.assembled.store
        write_session(self.plan.campaign, str(self.address))
        self.servicer.oracle = self.oracle
        self.server.start()
        if not self.address.is_loopback:
            self.warn(f"tuner: warning: {INSECURE.format(address=self.address)}")

    def header(self, notes: list[str]) -> list[str]:
        """The campaign's header lines, as a single-process search prints them, with `notes`
        (where the chief listens, its workers) added."""
        assert self.assembled is not None, "start the chief first"
        return self.assembled.header(notes)

    # ------------------------------------------------------------------------------ run
    def run(self, pool: LocalPool | None = None) -> Results:
        """Serve until every trial has ended and the workers have been told so; then rewrite
        the tables. `Fatal` when no worker is left (the pool's have all exited, or none has
        called for `worker_timeout_s`) or KerasTuner's consecutive-failure limit is reached;
        the tables hold every trial finished until then."""
        assert self.store is not None
        report = (
            None
            if self.quiet
            else progress_printer(
                self.plan, self.store, self.print_line, self.oracle.hyperparameters
            )
        )
        ran = 0
        last_call = self.clock()
        said: set[str] = set()
        try:
            while True:
                ran += self._report_ended(report)
                gone = pool.failures() if pool is not None else {}
                for worker in sorted(gone.keys() - said):  # one that died with no trial, too
                    self.print_line(f"{worker} {gone[worker]}")
                said |= gone.keys()
                self._hand_back_silent(gone)
                if self._done():
                    break
                live = self._live_workers() - gone.keys()
                if live:
                    last_call = self.clock()
                if pool is not None and not pool.alive():
                    ran += self._report_ended(report)
                    if self._done():
                        break
                    raise Fatal(
                        self._no_workers(
                            ", ".join(
                                f"{t} {exit_text(p.returncode)}" for t, p in pool.processes.items()
                            )
                        )
                    )
                if pool is None and self.clock() - last_call > self.worker_timeout_s:
                    raise Fatal(
                        self._no_workers(f"no worker has called for {self.worker_timeout_s:.0f} s")
                    )
                time.sleep(POLL_S)
            self._let_workers_leave(pool)
            ran += self._report_ended(report)
        finally:
            self._close()
        if self.servicer.fatal is not None:
            failed = [r for r in self.store.records() if not r.completed and r.error]
            last = f"; last: {failed[-1].error}" if failed else ""
            raise Fatal(f"stopped: {self.servicer.fatal}{last}")
        assert self.assembled is not None
        found = self.assembled.finish(ran)
        if not self.quiet and found.stop_reason:  # as a search in one process says it
            self.print_line(found.stop_reason)
        return found

    def _no_workers(self, why: str) -> str:
        assert self.store is not None
        self.store.reload()
        done, total = len(self.store.records()), self.plan.planned_trials()
        return (
            f"no workers left ({why}); {done} of {total} trials finished and are kept in "
            f"{self.plan.campaign.folder}; run the same command to resume"
        )

    def _report_ended(self, report: Callable[[TrialOutcome], None] | None) -> int:
        """Print the progress line of every trial that ended since; return how many."""
        assert self.store is not None
        ended = []
        while not self.servicer.ended.empty():
            ended.append(self.servicer.ended.get())
        if not ended:
            return 0
        self.store.reload()
        self.store.drop_models_outside_top()
        self.store.flush()
        records = {r.trial_id: r for r in self.store.records()}
        for trial_id in map(canonical_id, ended):  # the engine's ids may be padded ("07")
            if report is not None and trial_id in records:
                report(TrialOutcome(records[trial_id]))
        return len(ended)

    def _live_workers(self) -> set[str]:
        now = self.clock()
        seen = dict(self.servicer.last_seen)
        return {w for w, t in seen.items() if now - t <= self.heartbeat_timeout_s}

    def _hand_back_silent(self, gone: dict[str, str]) -> None:
        """Take the trials of workers that ended (`gone`: how, by worker) or went silent, and
        queue them for another worker; a trial handed back `handoffs` times already is recorded
        as failed."""
        from tuner.distributed.servicer_kt import hand_back, running, worker_of

        now = self.clock()
        for tuner_id, trial_id in running(self.oracle).items():
            worker = worker_of(tuner_id)
            silent_s = now - self.servicer.last_seen.get(worker, now)
            if worker not in gone and silent_s <= self.heartbeat_timeout_s:
                continue
            why = gone[worker] if worker in gone else f"silent for {silent_s:.0f} s"
            self.handed[trial_id] += 1
            # A trial whose record is saved goes back too: the next worker ends it with that
            # record (a slow worker's result is never overwritten by a failure).
            saved = ResultsFolder(self.plan.campaign.folder).record_path(trial_id).exists()
            again = self.handed[trial_id] <= self.handoffs or saved
            reason = (
                f"its worker stopped {self.handed[trial_id]} times while running it "
                f"(last: {worker}, {why}); it may be what stops them (out of memory?)"
            )
            if not again:
                values = dict(self.oracle.trials[trial_id].hyperparameters.values)
                ResultsFolder(self.plan.campaign.folder).save_record(
                    TrialRecord(trial_id, FAILED, values, error=reason)
                )
            _, error = hand_back(self.oracle, tuner_id, run_again=again, reason=reason)
            if error is not None:
                self.servicer.fatal = error
            if again:
                shown = canonical_id(trial_id)
                self.print_line(f"{worker} {why}: trial {shown} goes to another worker")
            else:
                self.print_line(f"trial {canonical_id(trial_id)} failed: {reason}")
                self.servicer.ended.put(trial_id)

    def _done(self) -> bool:
        from tuner.distributed.servicer_kt import busy, campaign_over

        if self.servicer.fatal is not None or self.servicer.done:
            return True
        if self._budget_spent() and not busy(self.oracle):
            return True  # the workers start no trial once the budget is spent
        return bool(campaign_over(self.oracle))

    def _budget_spent(self) -> bool:
        if self.assembled is None or not self.assembled.budget.limited:
            return False
        assert self.store is not None
        self.assembled.budget.settle(self.store.records())
        return self.assembled.budget.spent() is not None

    def finished_before(self) -> bool:
        """Whether the campaign had nothing left to run when it started (no worker needed)."""
        return self._done()

    def _let_workers_leave(self, pool: LocalPool | None) -> None:
        """Keep serving until every live worker has been told the campaign is done (it asks
        again within 2 s of its last trial), at most one heartbeat timeout."""
        if pool is not None:
            pool.wait(self.heartbeat_timeout_s)
            return
        deadline = self.clock() + self.heartbeat_timeout_s
        while self.clock() < deadline and self._live_workers() - self.servicer.told_to_stop:
            time.sleep(POLL_S)

    def _close(self) -> None:
        if self.server is not None:
            self.server.stop(grace=1.0)
        if self.store is not None:
            self.store.reload()
            self.store.drop_models_outside_top()
            self.store.flush()
