"""The environment each local worker process starts with: where the chief is, its tuner id,
and its share of the GPUs."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence

# TensorFlow and JAX take (nearly) all of a GPU's memory when they start: workers that share
# one must each take only what they use.
SHARED_GPU = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}


def visible_gpus(environ: Mapping[str, str], query: bool = True) -> list[str]:
    """The GPUs a worker may be given: those ``CUDA_VISIBLE_DEVICES`` names when it is set
    (empty or -1: none), else the ones ``nvidia-smi`` lists (when `query`), else none."""
    named = environ.get("CUDA_VISIBLE_DEVICES")
    if named is not None:
        ids = [d.strip() for d in named.split(",") if d.strip()]
        return [] if ids in ([], ["-1"]) else ids
    if not query or shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listing.splitlines() if line.strip()]


def worker_environment(
    base: Mapping[str, str],
    *,
    index: int,
    workers: int,
    tuner_id: str,
    host: str,
    port: int,
    gpus: Sequence[str],
) -> dict[str, str]:
    """The environment of local worker `index` of `workers`: `base` plus KerasTuner's
    ``KERASTUNER_ORACLE_IP/PORT`` and ``KERASTUNER_TUNER_ID``, and its GPUs. With at least as
    many GPUs as workers, each worker gets its own (several when there are more); with fewer,
    workers are spread over them round-robin and those that share one grow their memory as
    they need it (TensorFlow's memory growth, JAX without preallocation)."""
    env = dict(base)
    env.update(
        KERASTUNER_ORACLE_IP=host, KERASTUNER_ORACLE_PORT=str(port), KERASTUNER_TUNER_ID=tuner_id
    )
    if not gpus:
        return env
    if len(gpus) >= workers:
        mine = [g for i, g in enumerate(gpus) if i % workers == index]
        env["CUDA_VISIBLE_DEVICES"] = ",".join(mine)
    else:
        env["CUDA_VISIBLE_DEVICES"] = gpus[index % len(gpus)]
        env.update(SHARED_GPU)
    return env
