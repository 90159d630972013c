"""A tiny campaign through the CLI on the backend in KERAS_BACKEND, twice: with compiled-model
reuse (the default) and without. Run by `test_backends.py` in a fresh process, as
``python tests/backend_smoke.py CAMPAIGN.toml RESULTS_DIR``; prints one JSON line: the exit
codes and how many trials trained on a reused model."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(campaign: str, results_dir: str) -> None:
    from tuner import cli
    from tuner.builders.mlp import MLPHyperModel
    from tuner.model_reuse import CompiledModels

    reused = []
    adopt = CompiledModels.adopt

    def counting(self: CompiledModels, fresh):  # type: ignore[no-untyped-def]
        model = adopt(self, fresh)
        reused.append(model is not fresh)
        return model

    CompiledModels.adopt = counting  # type: ignore[method-assign]
    codes = {}
    for run, reuse in (("reused", True), ("fresh", False)):
        MLPHyperModel.reuse_compiled_models = reuse
        codes[run] = cli.main(
            ["search", campaign, "--results-dir", str(Path(results_dir) / run), "--quiet"]
        )
        if run == "reused":
            reused_trials = sum(reused)
    print(json.dumps({"codes": codes, "reused_trials": reused_trials}))


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main(sys.argv[1], sys.argv[2])
