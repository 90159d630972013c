"""The scripts in examples/ run as a user would run them."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.mark.slow
def test_own_model_example_runs_end_to_end(tmp_path):
    env = dict(
        os.environ,
        TF_CPP_MIN_LOG_LEVEL="3",
        PYTHONPATH=os.pathsep.join(
            filter(None, [str(EXAMPLES.parent), os.environ.get("PYTHONPATH")])
        ),
    )
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "own_model.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "class names: ['setosa', 'versicolor', 'virginica']" in result.stdout
    assert (tmp_path / "results" / "iris_python" / "preprocessing.json").is_file()
    assert (tmp_path / "results" / "iris_cli" / "trials.csv").is_file()
