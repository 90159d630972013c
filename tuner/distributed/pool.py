"""Local worker processes for ``tuner search --workers N``: started, watched, stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from tuner.distributed.address import Address
from tuner.distributed.env import visible_gpus, worker_environment


def worker_id(index: int) -> str:
    return f"worker{index}"


def exit_text(code: int) -> str:
    """How a process ended, in words."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class LocalPool:
    """`workers` processes of ``python -m tuner worker`` on this machine, each with its own
    tuner id (``worker0``, ...), environment (`worker_environment`) and log file in
    `log_dir`. `worker_args` are the arguments after ``tuner worker`` that every worker shares
    (the campaign file and the chief's overrides)."""

    def __init__(
        self,
        workers: int,
        chief: Address,
        worker_args: Sequence[str],
        log_dir: Path,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.workers, self.chief = workers, chief
        self.worker_args = list(worker_args)
        self.log_dir = log_dir
        self.environ = dict(os.environ if environ is None else environ)
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    def log_path(self, tuner_id: str) -> Path:
        return self.log_dir / f"{tuner_id}.log"

    def start(self) -> list[str]:
        """Start every worker; return one line per worker (its id, pid and log)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        gpus = visible_gpus(self.environ)
        lines = []
        for index in range(self.workers):
            tuner_id = worker_id(index)
            env = worker_environment(
                self.environ,
                index=index,
                workers=self.workers,
                tuner_id=tuner_id,
                host=self.chief.host,
                port=self.chief.port,
                gpus=gpus,
            )
            log = self.log_path(tuner_id).open("wb")
            self._logs.append(log)
            command = [sys.executable, "-m", "tuner", "worker", *self.worker_args]
            command += ["--chief", str(self.chief), "--id", tuner_id]
            process = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
            self.processes[tuner_id] = process
            device = f", GPU {env['CUDA_VISIBLE_DEVICES']}" if gpus else ""
            lines.append(
                f"{tuner_id} started (pid {process.pid}{device}); log: {self.log_path(tuner_id)}"
            )
        return lines

    def alive(self) -> list[str]:
        """The ids of the workers still running."""
        return [t for t, p in self.processes.items() if p.poll() is None]

    def failures(self) -> dict[str, str]:
        """The workers that ended other than with exit 0, and how (an error exit with its log's
        last line: the worker's one-line error)."""
        ended = {}
        for tuner_id, process in self.processes.items():
            code = process.poll()
            if code is None or code == 0:
                continue
            last = self._last_line(tuner_id) if code > 0 else ""
            ended[tuner_id] = exit_text(code) + (f" ({last})" if last else "")
        return ended

    def _last_line(self, tuner_id: str) -> str:
        try:
            text = self.log_path(tuner_id).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def wait(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for the workers to end by themselves, then stop the rest."""
        deadline = time.monotonic() + timeout_s
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                break
        self.stop()

    def stop(self) -> None:
        """Stop the workers still running (SIGTERM, then SIGKILL after 5 s) and close logs."""
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs:
            log.close()
        self._logs.clear()
