"""Processes the tests start as a user would: `user_environment` is this environment without
the suite's TF_CPP_MIN_LOG_LEVEL; checks that need the JAX backend run in a process of their
own (Keras fixes its backend at import): `run_on_jax` starts one and returns the JSON object its
last stdout line holds, and its stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# What `jax_checks.py` writes to stderr once its imports are done: nothing may come before it.
IMPORTED = "jax_checks: imported"


def user_environment(**overrides: str) -> dict[str, str]:
    """This process's environment as a user's shell has it (no TF_CPP_MIN_LOG_LEVEL: the
    suite's conftest sets one), with `overrides`."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(overrides)
    return env


def run_on_jax(script: str, *args: str) -> tuple[dict[str, Any], str]:
    """Run tests/`script` with `args` on KERAS_BACKEND=jax, as a user's script runs (no
    TF_CPP_MIN_LOG_LEVEL); its result and stderr, after asserting that it exited 0 without a
    traceback. TensorFlow cannot be imported there, as on the GPU machine's image
    (`benchmarks/gpu.sh`): a `tensorflow` package first on the path fails to import, as a
    missing one does. XLA's optimisation passes are most of the compile time and not what
    these checks are about (both sides of each comparison compile alike): off."""
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_backend_optimization_level=0".strip()
    with tempfile.TemporaryDirectory(prefix="no-tensorflow-") as hidden:
        package = Path(hidden) / "tensorflow"
        package.mkdir()
        (package / "__init__.py").write_text("raise ImportError('no tensorflow on this machine')\n")
        path = os.pathsep.join([hidden, str(ROOT)])
        env = user_environment(KERAS_BACKEND="jax", PYTHONPATH=path, XLA_FLAGS=flags)
        done = subprocess.run(
            [sys.executable, str(ROOT / "tests" / script), *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result, done.stderr
