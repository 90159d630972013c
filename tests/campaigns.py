"""Tiny campaign files for end-to-end tests."""

from pathlib import Path

import tomli_w


def write_campaign(folder: Path, **fields) -> Path:
    """A campaign file in `folder` whose results also go under `folder`."""
    data = {
        "name": "tiny",
        "dataset": "iris",
        "results_dir": str(folder / "results"),
        "objective": "val_accuracy",
        "strategy": "random",
        "max_trials": 3,
        "epochs": 2,
        "seed": 0,
        "space": {
            "learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log"},
            "units": {"min": 8, "max": 32, "step": 8},
        },
    }
    data.update(fields)
    path = folder / f"{data['name']}.toml"
    path.write_text(tomli_w.dumps(data))
    return path
