"""Parallel and distributed search on KerasTuner's chief/worker gRPC engine.

A chief (`chief.Chief`) holds the campaign's one oracle and serves it; workers
(`worker.run_worker`) ask it for trials, train them with the campaign's executor (packs
included) and save one record per trial into the shared results folder; the chief alone
rewrites the tables from those records. `pool.LocalPool` starts workers on this machine
(`tuner search --workers N`). Light to import: nothing here imports Keras or gRPC until a chief
or worker starts.
"""

from tuner.distributed.address import LOOPBACK, Address, parse_address
from tuner.distributed.env import worker_environment

__all__ = ["Address", "LOOPBACK", "parse_address", "worker_environment"]
