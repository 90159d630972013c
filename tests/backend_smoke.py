"""A tiny campaign through the CLI on the backend in KERAS_BACKEND, three times: packed (the
default), then one model a trial (``--pack 1``) with compiled-model reuse (the default) and
without. Run as ``python tests/backend_smoke.py CAMPAIGN.toml RESULTS_DIR`` (on JAX, `jax_checks.py`
runs it): prints one JSON line: the exit codes, how many trials trained packed, and how many
on a reused model."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def run_campaigns(campaign: str, results_dir: str) -> dict[str, object]:
    """The three runs' exit codes, packed trials and trials on a reused compiled model."""
    from tuner import cli
    from tuner.builders.mlp import MLPHyperModel
    from tuner.execution import PackedExecutor
    from tuner.execution.model_reuse import CompiledModels

    reused = []
    adopt = CompiledModels.adopt

    def counting(self: CompiledModels, fresh):  # type: ignore[no-untyped-def]
        model = adopt(self, fresh)
        reused.append(model is not fresh)
        return model

    packed = []
    run_pack = PackedExecutor.run_pack

    def packing(self: PackedExecutor, trials, context):  # type: ignore[no-untyped-def]
        outcomes = run_pack(self, trials, context)
        packed.extend(o.pack_size for o in outcomes if o.pack_size > 1)
        return outcomes

    CompiledModels.adopt = counting  # type: ignore[method-assign]
    PackedExecutor.run_pack = packing  # type: ignore[method-assign]
    codes = {}
    for run, pack, reuse in (
        ("packed", [], True),
        ("reused", ["--pack", "1"], True),
        ("fresh", ["--pack", "1"], False),
    ):
        MLPHyperModel.reuse_compiled_models = reuse
        folder = str(Path(results_dir) / run)
        codes[run] = cli.main(["search", campaign, "--results-dir", folder, "--quiet", *pack])
        if run == "packed":
            reused.clear()
        if run == "reused":
            reused_trials = sum(reused)
    return {"codes": codes, "packed_trials": len(packed), "reused_trials": reused_trials}


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    print(json.dumps(run_campaigns(sys.argv[1], sys.argv[2])))
