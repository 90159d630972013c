"""A search over local worker processes: a chief in this process and N ``tuner worker``
processes on this machine. The one path behind ``tuner search --workers N`` and
``tuner.search(..., workers=N)``."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tuner.distributed.address import LOOPBACK, Address
from tuner.errors import ConfigError


def check_workers(workers: int, option: str) -> None:
    """`workers` must be a whole number >= 1; `option` is how the caller spells it."""
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(
            f"{option} must be at least 1, but got {workers!r}; leave it out to run every "
            "trial in this process."
        )


def search_with_workers(
    plan: Any,
    workers: int,
    worker_args: Callable[[], Sequence[str]],
    *,
    overwrite: bool = False,
    overwrite_hint: str = "--overwrite",
    quiet: bool = False,
    print_line: Callable[[str], None] = print,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """Run `plan`'s campaign with a chief here and `workers` worker processes, and return its
    `Results` (``ran == 0``: the campaign had finished before; no worker started).
    `worker_args` gives the arguments after ``tuner worker`` that every worker shares (the
    campaign and its overrides); it is called once the folder is claimed, so it may write into
    it. Each worker packs at most its share of the trials: one must not take them all."""
    from tuner.distributed.chief import Chief
    from tuner.distributed.pool import LocalPool
    from tuner.store.folder import ResultsFolder

    chief = Chief(plan, Address(LOOPBACK, 0), quiet=quiet, print_line=print_line)
    address = chief.bind()
    chief.start(overwrite=overwrite, overwrite_hint=overwrite_hint)
    if chief.finished_before():
        return chief.run()
    share = -(-plan.planned_trials() // workers)
    pool = LocalPool(
        workers,
        address,
        [*worker_args(), "--max-pack", str(share)],
        ResultsFolder(plan.campaign.folder).workers,
        environ=environ,
    )
    try:
        started = pool.start()
        if not quiet:
            for line in chief.header([f"workers: {workers} on this machine, chief at {address}"]):
                print_line(line)
            for line in started:
                print_line(line)
        return chief.run(pool)
    finally:
        pool.stop()


def importable_root(module_name: str) -> Path | None:
    """The folder from which `module_name` (imported in this process) is imported: the one a
    worker process needs on its path. None for a module without a file."""
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if file is None:
        return None
    root = Path(file).resolve().parent
    if Path(file).name == "__init__.py":
        root = root.parent
    for _ in range(module_name.count(".")):
        root = root.parent
    return root


def with_python_path(environ: Mapping[str, str], folders: Sequence[Path]) -> dict[str, str]:
    """`environ` with `folders` first on PYTHONPATH (a worker then imports what this process
    imported from them)."""
    env = dict(environ)
    paths = [str(f) for f in dict.fromkeys(folders)]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    return env
