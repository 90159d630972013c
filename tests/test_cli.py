"""The command line: exit codes, one-line errors, the search command in-process."""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pandas as pd
import pytest

from tests.campaigns import write_campaign
from tests.processes import user_environment
from tuner import cli


def run_tuner(*args, log_level="3"):
    """`python -m tuner ARGS`; with ``log_level=None`` as a user's shell runs it, with no
    TF_CPP_MIN_LOG_LEVEL of its own."""
    env = (
        user_environment()
        if log_level is None
        else user_environment(TF_CPP_MIN_LOG_LEVEL=log_level)
    )
    return subprocess.run(
        [sys.executable, "-m", "tuner", *args], capture_output=True, text=True, timeout=120, env=env
    )


BAD_CAMPAIGNS = [
    (
        'name = "x"\ndataset = "iris"\nmax_trails = 3\n',
        "unknown key 'max_trails' (did you mean 'max_trials'?)",
    ),
    ('name = "x"\ndataset = "iris"\n[space]\nunits = { min = 10, max = 5 }\n', "min < max"),
    ('name = "x"\ndataset = "no_such_data"\n', "unknown dataset 'no_such_data'"),
]


def _bad_campaign(content, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text(
        content + f'results_dir = "{tmp_path}"\n'
        if "[space]" not in content
        else f'results_dir = "{tmp_path}"\n' + content
    )
    return path


@pytest.mark.parametrize("content, message", BAD_CAMPAIGNS)
def test_bad_campaign_exits_2_with_one_line(content, message, tmp_path, capsys):
    assert cli.main(["search", str(_bad_campaign(content, tmp_path))]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tuner: error:"), lines
    assert message in lines[0]


def test_bad_campaign_in_a_fresh_process_prints_one_line_before_keras_starts(tmp_path):
    # The check that reaches furthest (the dataset registry), in a process of its own: one
    # line on stderr, and Keras (8-10 s to start) never loaded for a mistake in the file.
    content, message = BAD_CAMPAIGNS[-1]
    code = (
        "import sys; from tuner import cli; "
        f"code = cli.main(['search', {str(_bad_campaign(content, tmp_path))!r}]); "
        "print('keras loaded:', 'keras' in sys.modules); sys.exit(code)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tuner: error:"), result.stderr
    assert message in lines[0]
    assert result.stdout == "keras loaded: False\n"


def test_missing_campaign_file_exits_2(tmp_path, capsys):
    assert cli.main(["search", str(tmp_path / "missing.toml")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_unknown_option_exits_2():
    assert run_tuner("search", "x.toml", "--max-trails", "3").returncode == 2


@pytest.mark.slow
def test_search_prints_progress_and_the_ranked_table(tmp_path, capsys):
    path = write_campaign(tmp_path, max_trials=2)
    assert cli.main(["search", str(path), "--max-trials", "2", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "[1/2] trial 0" in out and "[2/2] trial 1" in out and "eta" in out
    table = pd.read_csv(tmp_path / "results" / "tiny" / "trials.csv")
    assert list(table["rank"]) == [1, 2]
    assert any(
        line.split()[:3] == ["rank", "trial_id", "val_accuracy"]
        for line in out.splitlines()
        if line.strip()
    )
    assert "seed = 3" in (tmp_path / "results" / "tiny" / "campaign.toml").read_text()


@pytest.mark.slow
def test_search_in_a_fresh_process_writes_nothing_to_stderr(tmp_path):
    # threads = 1 as well: thread pools must be set before the plan builds its first model.
    path = write_campaign(tmp_path, max_trials=1, epochs=1, threads=1)
    result = run_tuner("search", str(path), "--quiet", log_level=None)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # no TensorFlow start-up lines, no Keras warnings
    assert (tmp_path / "results" / "tiny" / "trials.csv").read_text().count("\n") == 2
    # A user's script: reading the tables does not start Keras (1 s, not TensorFlow's 8-10 s
    # on 2 cores); then the Python API and Keras import, and seeding (where Keras imports
    # TensorFlow on the other backends), print nothing either.
    code = (
        "import sys, tuner; from tuner import cli; "
        f"code = cli.main(['results', 'tiny', '--results-dir', {str(tmp_path / 'results')!r}]); "
        "print('keras loaded:', 'keras' in sys.modules); "
        "tuner.search; import keras; keras.utils.set_random_seed(0); sys.exit(code)"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=user_environment(),
    )
    assert shown.returncode == 0 and shown.stderr == "", shown.stderr
    assert shown.stdout.splitlines()[0].split()[:2] == ["rank", "trial_id"]
    assert shown.stdout.splitlines()[-1] == "keras loaded: False"


def test_version_prints_the_distribution_name_and_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--version"])
    assert exit_info.value.code == 0
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert capsys.readouterr().out == f"keras-hp-tuner {pyproject['project']['version']}\n"


@pytest.mark.slow
@pytest.mark.parametrize("backend, package", [("torch", "torch")])
def test_the_python_api_imports_keras_without_start_up_lines(backend, package):
    # On TensorFlow: the fresh-process test above; on JAX: the first step of test_backends.py's
    # JAX process.
    pytest.importorskip(package)
    # As a user's script would: no TF_CPP_MIN_LOG_LEVEL of its own. Seeding is where Keras
    # imports TensorFlow on the JAX and PyTorch backends.
    env = user_environment(
        KERAS_BACKEND=backend,
        PYTHONPATH=os.pathsep.join(
            [str(Path(__file__).parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    )
    code = "import tuner; tuner.search; import keras; keras.utils.set_random_seed(0); print('ok')"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
    assert result.stderr == ""


@pytest.mark.slow
def test_search_ends_with_a_table_that_fits_80_columns(tmp_path, capsys, monkeypatch):
    path = write_campaign(tmp_path, max_trials=2)
    monkeypatch.setenv("COLUMNS", "80")
    assert cli.main(["search", str(path), "--seed", "3"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:2] == ["rank", "trial_id"])
    table = lines[start : lines.index("", start)]
    assert table[0].split()[:3] == ["rank", "trial_id", "val_accuracy"]
    assert "status" not in table[0] and "error" not in table[0]  # all completed, no errors
    assert len(table) >= 3 and all(len(line) <= 80 for line in table), table


@pytest.mark.parametrize(
    "argv, expected",
    [
        (
            ["search", "c.toml", "--max-trials", "abc"],
            "--max-trials: expected an integer, but got 'abc'",
        ),
        (["search", "c.toml", "--epochs", "2.5"], "--epochs: expected an integer, but got '2.5'"),
        (["search", "c.toml", "--workers", "two"], "--workers: expected an integer, but got 'two'"),
        (
            ["chief", "c.toml", "--heartbeat-timeout", "soon"],
            "--heartbeat-timeout: expected a number, but got 'soon'",
        ),
        (["lr-find", "c.toml", "--start-lr", "x"], "--start-lr: expected a number, but got 'x'"),
        (["results", "name", "--top", "ten"], "--top: expected an integer, but got 'ten'"),
        (["activations", "n", "--samples", "all"], "--samples: expected an integer, but got 'all'"),
    ],
)
def test_a_non_numeric_value_of_a_numeric_flag_is_one_line_and_exit_2(argv, expected, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.err == f"tuner: error: {expected}\n" and captured.out == ""


def test_an_unknown_option_is_one_line_naming_where_the_options_are(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["search", "c.toml", "--max-trails", "3"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [
        "tuner: error: unrecognized arguments: --max-trails 3 "
        "(`tuner search --help` lists the options)"
    ]


def test_results_of_a_folder_with_someone_elses_trials_csv_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "theirs").mkdir()
    (tmp_path / "theirs" / "trials.csv").write_text("id,accuracy\n1,0.5\n")
    assert cli.main(["results", "theirs", "--results-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [
        f"tuner: error: {tmp_path / 'theirs' / 'trials.csv'} is not a table of tuner trials "
        "(it has no rank, trial_id, status, score columns); give `tuner results` a campaign's "
        "results folder, or the name of one under --results-dir."
    ]


TWO_OUTPUTS = """
import keras


def build(hp):
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(hp.Choice("units", [4, 8])), keras.layers.Dense(2)]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model
"""


@pytest.mark.slow
def test_a_builder_whose_output_does_not_fit_the_classes_stops_with_one_line(tmp_path, capsys):
    # It stopped with TensorFlow's 19-21 lines (a loss kernel, a label value, a stack).
    (tmp_path / "twoout.py").write_text(TWO_OUTPUTS)
    path = write_campaign(
        tmp_path, model="twoout:build", objective="val_loss", space={"units": [4, 8]}
    )
    assert cli.main(["search", str(path), "--quiet"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "tuner: failed: trial 0: model 'twoout:build' outputs 2 value(s) per sample, but the "
        "data has 3 classes: its last layer needs 3 units (e.g. keras.layers.Dense(3, "
        'activation="softmax")); every trial would fail the same way.'
    ]


def test_output_mismatch_explains_only_too_few_class_outputs():
    import keras

    from tuner.datasets import DataSpec
    from tuner.execution.output_fit import output_mismatch

    def model(units):
        return keras.Sequential([keras.Input((4,)), keras.layers.Dense(units)])

    three = DataSpec("multiclass", (4,), 3)
    assert "outputs 2 value(s) per sample, but the data has 3 classes" in output_mismatch(
        model(2), three, object()
    )
    assert output_mismatch(model(3), three, object()) is None
    assert output_mismatch(model(1), DataSpec("binary", (4,), 1), object()) is None
    assert output_mismatch(model(2), DataSpec("regression", (4,), 1), object()) is None
