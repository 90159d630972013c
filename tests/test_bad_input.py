"""Bad input that once escaped validation: each ends as one `tuner: error:` line (exit 2), or
one `tuner: failed:` line (exit 1) for a builder that cannot build, and writes nothing."""

import math
import os

import pytest
import tomli_w

from tests.campaigns import write_campaign
from tuner import cli
from tuner.builders import mlp as mlp_module
from tuner.builders import resolve_builder
from tuner.builders.mlp import MLPHyperModel
from tuner.campaign import MAX_THREADS, from_dict
from tuner.datasets import DataSpec, load_dataset
from tuner.errors import ConfigError
from tuner.space import build_space, check_space_against_builder

BASE = {"name": "x", "dataset": "iris", "objective": "val_accuracy"}


def search(path, capsys):
    """Exit code and stderr lines of `tuner search PATH --quiet`, in-process."""
    rc = cli.main(["search", str(path), "--quiet"])
    return rc, capsys.readouterr().err.splitlines()


def written(folder):
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


@pytest.mark.parametrize(
    "space, message",
    [
        (
            {"units": {"min": 8, "max": math.inf}},
            r"\[space\] units: 'max' must be a finite number, but got inf",
        ),
        ({"dropout": math.nan}, r"\[space\] dropout must be a finite number, but got nan"),
        ({"dropout": [0.1, math.nan]}, r"\[space\] dropout must be a finite number, but got nan"),
        (
            {"dropout": {"values": [0.1, -math.inf]}},
            "dropout must be a finite number, but got -inf",
        ),
        ({"l2": {"min": 0.0, "max": 0.1, "step": math.nan}}, "'step' must be a finite number"),
        ({"l2": {"min": -math.inf, "max": 0.1}}, "'min' must be a finite number, but got -inf"),
        # Found by the fuzz test: the count of steps overflowed.
        ({"units": {"min": -1.8e22, "max": 5, "step": 1e-286}}, "into more than 1e\\+12 values"),
    ],
)
def test_non_finite_space_values_are_refused(space, message):
    with pytest.raises(ConfigError, match=message):
        build_space(space)


def test_non_finite_space_value_exits_2_and_writes_nothing(tmp_path, capsys):
    path = write_campaign(tmp_path, space={"dropout": math.nan})
    rc, lines = search(path, capsys)
    assert rc == 2
    assert lines == ["tuner: error: [space] dropout must be a finite number, but got nan."]
    assert not (tmp_path / "results").exists()


def test_threads_are_bounded_by_the_machine():
    assert from_dict(dict(BASE, threads=MAX_THREADS)).threads == MAX_THREADS
    cores = os.cpu_count()
    for threads in (MAX_THREADS + 1, 1_000_000, 1_000_000_000):
        with pytest.raises(ConfigError) as raised:
            from_dict(dict(BASE, threads=threads))
        assert f"threads must be in [0, {4 * cores}]" in str(raised.value)
        assert f"this machine's {cores} cores" in str(raised.value)
        assert str(raised.value).endswith(f"but got {threads}.")


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"seed": 2**32}, "seed must be in [0, 4294967295], but got 4294967296."),
        ({"seed": -1}, "seed must be in [0, 4294967295], but got -1."),
        ({"name": "a\x00b"}, "name must not contain a NUL character"),
        ({"results_dir": "r\x00x"}, "results_dir must not contain a NUL character"),
    ],
)
def test_fields_out_of_range_exit_2(fields, message, tmp_path, capsys):
    path = tmp_path / "c.toml"
    path.write_text(tomli_w.dumps({**BASE, "results_dir": str(tmp_path / "results"), **fields}))
    rc, lines = search(path, capsys)
    assert rc == 2 and len(lines) == 1, lines
    assert lines[0].startswith("tuner: error: ") and message in lines[0]
    assert written(tmp_path) == [path.relative_to(tmp_path)]


def test_results_dir_under_a_file_exits_2(tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    path = write_campaign(tmp_path, results_dir=str(tmp_path / "a_file" / "sub"), max_trials=1)
    rc, lines = search(path, capsys)
    assert rc == 2 and len(lines) == 1, lines
    assert "cannot write to results folder" in lines[0] and "Not a directory" in lines[0]


@pytest.mark.parametrize(
    "name, module, rc, message",
    [
        (
            "broken_import",
            "raise RuntimeError('import boom')\n",
            2,
            "model 'broken_import:build': importing 'broken_import' raised RuntimeError: "
            "import boom",
        ),
        (
            "broken_defaults",
            "def build(hp):\n    raise RuntimeError('no defaults')\n",
            1,
            "model 'build' failed to build at its default hyperparameters: RuntimeError: no defaults",
        ),
    ],
)
def test_broken_builder_is_one_line(name, module, rc, message, tmp_path, capsys):
    # A module name each: a module imported by an earlier test stays in sys.modules.
    (tmp_path / f"{name}.py").write_text(module)
    path = write_campaign(tmp_path, model=f"{name}:build", space={})
    assert search(path, capsys) == (rc, [f"tuner: {'error' if rc == 2 else 'failed'}: {message}"])
    assert not (tmp_path / "results").exists()


def test_a_function_that_is_no_builder_is_one_line(tmp_path, capsys):
    path = write_campaign(tmp_path, model="math:sqrt", space={})
    rc, lines = search(path, capsys)
    assert rc == 1 and len(lines) == 1, lines
    assert "model 'sqrt' failed to build at its default hyperparameters: TypeError" in lines[0]


@pytest.fixture(scope="module")
def mlp():
    data = load_dataset(
        "iris",
        validation_split=0.2,
        test_split=0.0,
        max_samples=None,
        seed=0,
        standardize=None,
        target=None,
    )
    return resolve_builder("mlp", data.spec)


@pytest.mark.parametrize(
    "space, message",
    [
        ({"units": -1}, "[space] units = -1: model 'mlp' refused it: ValueError: "),
        ({"units": {"min": -8, "max": 64}}, "[space] units = -8: model 'mlp' refused it"),
        ({"dropout": {"min": 0.0, "max": 1.5}}, "[space] dropout = 1.5: model 'mlp' refused it"),
        ({"activation": ["relu", "nope"]}, "[space] activation = \"nope\": model 'mlp' refused it"),
        ({"batch_size": [16, 0]}, "[space] batch_size = 0: batch_size must be a positive integer."),
        (  # refused before Keras allocates 6.4 GB for one kernel (a process was OOM-killed)
            {"n_layers": 2, "units": {"min": 8, "max": 40000}},
            "[space] units = 40000: model 'mlp' refused it: ValueError: 1,600,360,003 "
            "parameters (hidden layers: 2 x 40000) take about 36 GiB to train, more than "
            "this machine's 1 GiB; use fewer or narrower layers",
        ),
        (  # refused before a list of 10**9 widths is made
            {"n_layers": {"min": 1, "max": 10**9}},
            "[space] n_layers = 1000000000: model 'mlp' refused it: ValueError: "
            "4,159,999,996,355 parameters (hidden layers: 1000000000 x 64)",
        ),
        (
            {"epochs": {"min": 0, "max": 3}},
            "[space] epochs = 0: epochs must be a positive integer.",
        ),
    ],
)
def test_values_the_builder_refuses_are_config_errors(mlp, space, message, monkeypatch):
    monkeypatch.setattr(mlp_module, "physical_memory", lambda: 2**30)
    with pytest.raises(ConfigError) as raised:
        check_space_against_builder(mlp, space, "mlp")
    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_extremes_are_built_one_name_at_a_time(mlp, monkeypatch):
    built = []
    original = mlp.build

    def spy(hp):
        model = original(hp)
        built.append(dict(hp.values))
        return model

    monkeypatch.setattr(mlp, "build", spy)
    check_space_against_builder(
        mlp,
        {
            "units": {"min": 8, "max": 30, "step": 8},  # 30 is stepped past: 24 is the last
            "learning_rate": {"min": 1e-4, "max": 1e-1, "sampling": "log"},
            "optimizer": ["adam", "sgd", "rmsprop"],
            "batch_size": [16, 64],  # a training setting: checked, never built
        },
        "mlp",
    )
    fixed = [
        {k: v for k, v in values.items() if k in ("units", "learning_rate", "optimizer")}
        for values in built
    ]
    assert [v["units"] for v in fixed] == [8, 24, 64, 64, 64, 64, 64]
    assert [v["learning_rate"] for v in fixed] == [1e-3, 1e-3, 1e-4, 0.1, 1e-3, 1e-3, 1e-3]
    assert [v["optimizer"] for v in fixed] == ["adam"] * 4 + ["adam", "sgd", "rmsprop"]


def test_a_space_that_built_is_remembered_but_a_refusal_is_found_every_time(monkeypatch):
    """A campaign planned again in the same process skips the builds; another data shape or
    another space builds again, and a value the builder refuses is refused every time."""
    iris = DataSpec("multiclass", (4,), 3)
    space = {"units": {"min": 8, "max": 40, "step": 16}, "dropout": [0.0, 0.25]}
    check_space_against_builder(resolve_builder("mlp", iris), space, "mlp")
    built = []
    original = MLPHyperModel.build

    def spy(self, hp):
        model = original(self, hp)
        built.append(dict(hp.values))
        return model

    monkeypatch.setattr(MLPHyperModel, "build", spy)
    check_space_against_builder(resolve_builder("mlp", iris), space, "mlp")  # a new instance
    assert built == []
    wider = DataSpec("multiclass", (5,), 3)
    check_space_against_builder(resolve_builder("mlp", wider), space, "mlp")
    assert [v["units"] for v in built] == [8, 40, 64, 64]
    check_space_against_builder(resolve_builder("mlp", iris), dict(space, dropout=0.5), "mlp")
    assert len(built) == 7
    for _ in range(2):
        with pytest.raises(ConfigError, match=r"units = -8: model 'mlp' refused it"):
            check_space_against_builder(resolve_builder("mlp", iris), {"units": -8}, "mlp")


def test_auto_learning_rate_is_left_to_the_range_finder(mlp):
    check_space_against_builder(mlp, {"learning_rate": "auto", "units": [16, 32]}, "mlp")


@pytest.mark.parametrize("name", ["a\nb", "a\x1eb", "", " units"])
def test_odd_space_names_are_quoted_on_one_line(name, tmp_path, capsys):
    path = write_campaign(tmp_path, space={name: 1})
    rc, lines = search(path, capsys)
    assert rc == 2 and len(lines) == 1, lines
    assert lines[0].startswith(f"tuner: error: [space] {name!r}: not a hyperparameter")
