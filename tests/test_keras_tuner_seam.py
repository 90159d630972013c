"""Pins every private KerasTuner behaviour that the ``*_kt`` modules rely on
(tuner/strategies/oracles_kt.py, tuner/store/engine_kt.py, tuner/distributed/servicer_kt.py,
tuner/space_kt.py), and the rule that only those modules touch KerasTuner's privates.

Written for KerasTuner 1.4.8. A failure here after an upgrade says which behaviour changed and
what to do about the seam; fix the seam, not these messages.
"""

import ast
import json
import re
from pathlib import Path

import keras_tuner as kt
import pytest
from keras_tuner.engine import trial as trial_module

from tuner.space_kt import conditions_hold
from tuner.store.engine_kt import engine_damage, make_durable, replay, set_project_dir
from tuner.strategies.oracles_kt import (
    end_trial,
    fix_seed,
    is_client,
    silence,
    untried_random_values,
    was_tried,
)

UPGRADE = f"(KerasTuner {kt.__version__}; the seam was written for 1.4.8) "


def space():
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    hp.Int("units", 8, 512)
    hp.Choice("optimizer", ["adam", "sgd", "rmsprop"])
    return hp


def random_oracle(seed=1, max_trials=5):
    return kt.oracles.RandomSearchOracle(
        objective=kt.Objective("score", "max"),
        max_trials=max_trials,
        hyperparameters=space(),
        seed=seed,
    )


def finish(oracle, trial, score=1.0):
    oracle.update_trial(trial.trial_id, {"score": score})
    trial.status = trial_module.TrialStatus.COMPLETED


def saved_state(folder):
    return json.loads((folder / "engine" / "oracle.json").read_text())


def test_set_project_dir_sets_the_folder_where_oracle_json_is_written(tmp_path):
    assert hasattr(kt.Oracle, "_set_project_dir"), (
        UPGRADE + "kt.Oracle._set_project_dir is gone: set_project_dir needs the new way."
    )
    oracle = silence(random_oracle())
    set_project_dir(oracle, tmp_path, "engine")
    oracle.save()
    assert (tmp_path / "engine" / "oracle.json").is_file(), (
        UPGRADE + "_set_project_dir(directory, name) no longer makes save() write "
        "directory/name/oracle.json."
    )
    again = random_oracle()
    set_project_dir(again, tmp_path, "engine")
    again.reload()
    assert again.max_trials == 5


def test_keras_tuner_still_replaces_seed_zero():
    oracle = random_oracle(seed=0)
    assert oracle.seed != 0, (
        UPGRADE + "seed=0 is no longer replaced by a random seed: fix_seed may be unneeded."
    )
    assert oracle._seed_state == oracle.seed, (
        UPGRADE + "_seed_state no longer starts at the seed: fix_seed sets the wrong attribute."
    )


def test_random_values_come_from_seed_state_so_fix_seed_makes_them_repeatable(tmp_path):
    folders = iter(range(10))

    def first_values(oracle):
        set_project_dir(oracle, tmp_path / str(next(folders)), "engine")
        return silence(oracle).create_trial("chief").hyperparameters.values

    first = fix_seed(random_oracle(seed=0), 0)
    assert (first.seed, first._seed_state) == (0, 0)
    before = first._seed_state
    values = first_values(first)
    assert first._seed_state > before, (
        UPGRADE + "create_trial no longer draws from _seed_state: fix_seed has no effect."
    )
    assert values == first_values(fix_seed(random_oracle(seed=0), 0)), (
        UPGRADE + "two oracles with _seed_state 0 propose different values."
    )
    assert values != first_values(fix_seed(random_oracle(seed=0), 7)), (
        UPGRADE + "the proposed values no longer depend on _seed_state."
    )


def test_display_verbose_is_what_prints_the_trial_tables(tmp_path, capsys):
    loud = random_oracle()
    set_project_dir(loud, tmp_path / "loud", "engine")
    assert hasattr(loud, "_display") and hasattr(loud._display, "verbose"), (
        UPGRADE + "Oracle._display.verbose is gone: silence() needs the new switch."
    )
    finish(loud, trial := loud.create_trial("chief"))
    loud.end_trial(trial)
    assert "Trial" in capsys.readouterr().out, (
        UPGRADE + "an oracle no longer prints trial tables by default: silence() may be unneeded."
    )
    quiet = silence(random_oracle())
    set_project_dir(quiet, tmp_path / "quiet", "engine")
    finish(quiet, trial := quiet.create_trial("chief"))
    end_trial(quiet, trial)
    assert capsys.readouterr().out == "", (
        UPGRADE + "_display.verbose = 0 no longer silences create_trial and end_trial."
    )


def test_keras_tuner_end_trial_saves_before_removing_the_ongoing_trial(tmp_path):
    oracle = silence(random_oracle())
    set_project_dir(oracle, tmp_path, "engine")
    finish(oracle, trial := oracle.create_trial("chief"))
    oracle.end_trial(trial)  # KerasTuner's own, without our second save
    assert oracle.ongoing_trials == {}
    assert saved_state(tmp_path)["ongoing_trials"] == {"chief": trial.trial_id}, (
        UPGRADE + "end_trial now saves after removing the ongoing trial: the second save in "
        "oracles_kt.end_trial can go."
    )
    resumed = silence(random_oracle())
    set_project_dir(resumed, tmp_path, "engine")
    resumed.reload()
    assert resumed.create_trial("chief").trial_id == trial.trial_id, (
        UPGRADE + "a reloaded oracle no longer re-runs a trial saved as ongoing."
    )


def test_our_end_trial_leaves_a_reloaded_oracle_with_no_ongoing_trial(tmp_path):
    oracle = silence(random_oracle())
    set_project_dir(oracle, tmp_path, "engine")
    finish(oracle, trial := oracle.create_trial("chief"))
    end_trial(oracle, trial)
    assert saved_state(tmp_path)["ongoing_trials"] == {}
    resumed = silence(random_oracle())
    set_project_dir(resumed, tmp_path, "engine")
    resumed.reload()
    assert resumed.ongoing_trials == {}
    assert resumed.create_trial("chief").trial_id != trial.trial_id


@pytest.fixture
def client(monkeypatch):
    from keras_tuner.src.distribute.oracle_client import OracleClient

    # Creating the gRPC channel does not connect; nothing here calls the chief.
    monkeypatch.setenv("KERASTUNER_ORACLE_IP", "127.0.0.1")
    monkeypatch.setenv("KERASTUNER_ORACLE_PORT", "1")
    monkeypatch.setenv("KERASTUNER_TUNER_ID", "worker0")
    return OracleClient(random_oracle())


def test_the_worker_side_oracle_client_has_no_save(client):
    assert not hasattr(client, "save"), (
        UPGRADE + "OracleClient now has save(): decide whether end_trial should call it."
    )
    assert not isinstance(client, kt.Oracle), (
        UPGRADE + "OracleClient is now a kt.Oracle: is_client's shortcut returns False for it."
    )
    assert is_client(client)
    assert not is_client(random_oracle())


def test_end_trial_and_set_project_dir_on_a_client_leave_the_state_to_the_chief(client, tmp_path):
    ended = []
    client.end_trial = ended.append  # stands in for the gRPC call to the chief
    trial = trial_module.Trial(space(), trial_id="1", status=trial_module.TrialStatus.COMPLETED)
    end_trial(client, trial)
    assert ended == [trial]
    set_project_dir(client, tmp_path, "engine")
    assert not any(tmp_path.iterdir())


def test_duplicate_and_random_values_are_how_an_oracle_avoids_repeats(tmp_path):
    hp = kt.HyperParameters()
    hp.Choice("optimizer", ["adam", "sgd"])
    oracle = silence(
        kt.oracles.RandomSearchOracle(
            objective=kt.Objective("score", "max"), max_trials=5, hyperparameters=hp, seed=1
        )
    )
    set_project_dir(oracle, tmp_path, "engine")
    assert hasattr(oracle, "_duplicate") and hasattr(oracle, "_random_values"), (
        UPGRADE + "Oracle._duplicate or _random_values is gone: was_tried and "
        "untried_random_values need the new way."
    )
    finish(oracle, trial := oracle.create_trial("chief"))
    end_trial(oracle, trial)
    first = trial.hyperparameters.values
    assert was_tried(oracle, first), (
        UPGRADE + "_duplicate no longer recognises the values of a created trial."
    )
    other = {"optimizer": "sgd" if first["optimizer"] == "adam" else "adam"}
    assert not was_tried(oracle, other)
    assert untried_random_values(oracle) == other, (
        UPGRADE + "_random_values no longer returns the values no trial has had."
    )
    finish(oracle, trial := oracle.create_trial("chief"))
    end_trial(oracle, trial)
    assert untried_random_values(oracle) is None, (
        UPGRADE + "_random_values no longer returns None for an exhausted space."
    )


def test_make_durable_routes_every_state_write_around_keras_tuners_writer(tmp_path, monkeypatch):
    def in_place(path, obj):
        raise AssertionError(UPGRADE + "KerasTuner wrote state outside save()/_save_trial()")

    oracle = silence(random_oracle())
    set_project_dir(oracle, tmp_path, "engine")
    make_durable(oracle)
    monkeypatch.setattr("keras_tuner.src.utils.save_json", in_place)
    trial = oracle.create_trial("chief")
    finish(oracle, trial)
    end_trial(oracle, trial)
    assert saved_state(tmp_path)["end_order"] == [trial.trial_id]
    assert json.loads((tmp_path / "engine" / "trial_0" / "trial.json").read_text())["score"] == 1.0
    assert engine_damage(tmp_path / "engine") == []


def test_replay_gives_a_fresh_oracle_the_finished_trials_and_it_goes_on(tmp_path):
    from tuner.trial import TrialRecord

    values = {"learning_rate": 0.01, "units": 32, "optimizer": "sgd"}
    oracle = silence(random_oracle(max_trials=5))
    set_project_dir(oracle, tmp_path, "engine")
    lost = replay(
        oracle,
        [TrialRecord("0", "completed", values, score=0.5), TrialRecord("2", "failed", {})],
    )
    assert [r.trial_id for r in lost] == ["1"]
    reloaded = silence(random_oracle(max_trials=5))
    set_project_dir(reloaded, tmp_path, "engine")
    reloaded.reload()
    assert reloaded.end_order == ["0", "1", "2"]
    assert reloaded.trials["0"].score == 0.5
    assert was_tried(reloaded, values)
    assert reloaded.create_trial("chief").trial_id == "3", (
        UPGRADE + "new trial ids are no longer len(oracle.trials): replay's placeholders are moot"
    )


def test_engine_damage_names_empty_and_missing_files(tmp_path):
    oracle = silence(random_oracle())
    set_project_dir(oracle, tmp_path, "engine")
    make_durable(oracle)
    trial = oracle.create_trial("chief")
    finish(oracle, trial)
    end_trial(oracle, trial)
    (tmp_path / "engine" / "trial_0" / "trial.json").unlink()
    (tmp_path / "engine" / "oracle.json").write_text("")
    assert engine_damage(tmp_path / "engine") == [
        f"{tmp_path / 'engine' / 'oracle.json'} is empty",
        f"{tmp_path / 'engine' / 'trial_0' / 'trial.json'} is missing",
    ]
    oracle.save()
    assert engine_damage(tmp_path / "engine") == [
        f"{tmp_path / 'engine' / 'trial_0' / 'trial.json'} is missing"
    ]


def test_conditions_hold_is_keras_tuners_check_of_a_parents_value():
    hp = kt.HyperParameters()
    hp.Boolean("dropout")
    with hp.conditional_scope("dropout", [True]):
        hp.Float("rate", 0.1, 0.5)
    (condition,) = [h for h in hp.space if h.name == "rate"][0].conditions
    hp.values["dropout"] = True
    assert conditions_hold(hp, [condition]), (
        UPGRADE + "HyperParameters._conditions_are_active is gone or changed: conditions_hold "
        "needs the new way."
    )
    hp.values["dropout"] = False
    assert not conditions_hold(hp, [condition])


# --------------------------------------------------------------------------- the rule

TUNER = Path(__file__).resolve().parent.parent / "tuner"
CHECKS = ("getattr", "setattr", "hasattr", "delattr")


def keras_tuner_private_names() -> set[str]:
    """The private names KerasTuner's own code defines: ``self._x`` attributes and ``def _x``
    methods and functions (dunders left out)."""
    names = set()
    for path in Path(kt.__file__).parent.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        names |= set(re.findall(r"\bself\.(_[A-Za-z]\w*)", text))
        names |= set(re.findall(r"^\s*def (_[A-Za-z]\w*)", text, re.MULTILINE))
    return {n for n in names if not n.endswith("__")}


PRIVATE = keras_tuner_private_names()


class _Touches(ast.NodeVisitor):
    """Where a module's source reaches into KerasTuner: its private modules
    (``keras_tuner.src``), or a private name of KerasTuner's on anything but an instance of a
    class of our own (``self._x`` in a class that does not derive from KerasTuner's)."""

    def __init__(self) -> None:
        self.found: list[str] = []
        self.from_keras_tuner: set[str] = set()
        self.own_class: list[bool] = []

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.name.startswith("keras_tuner.src"):
                self.found.append(f"line {node.lineno}: import {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.startswith("keras_tuner"):
            self.from_keras_tuner |= {a.asname or a.name for a in node.names}
            if module.startswith("keras_tuner.src") or any(a.name == "src" for a in node.names):
                self.found.append(f"line {node.lineno}: from {module} import ...")

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and "keras_tuner.src" in node.value:
            self.found.append(f"line {node.lineno}: {node.value!r}")

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        bases = [ast.unparse(b) for b in node.bases]
        derived = any(
            b.startswith(("kt.", "keras_tuner.")) or b.split(".")[0] in self.from_keras_tuner
            for b in bases
        )
        self.own_class.append(not derived)
        self.generic_visit(node)
        self.own_class.pop()

    def visit_Attribute(self, node: ast.Attribute) -> None:
        receiver = ast.unparse(node.value)
        ours = receiver in ("self", "cls") and bool(self.own_class) and self.own_class[-1]
        if node.attr in PRIVATE and not ours:
            self.found.append(f"line {node.lineno}: {receiver}.{node.attr}")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = ast.unparse(node.func)
        if name in CHECKS and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
            if node.args[1].value in PRIVATE:
                self.found.append(f"line {node.lineno}: {name}(..., {node.args[1].value!r})")
        self.generic_visit(node)


def keras_tuner_privates_touched(source: str) -> list[str]:
    touches = _Touches()
    touches.visit(ast.parse(source))
    return touches.found


@pytest.mark.parametrize(
    "source",
    [
        "oracle._retry_queue.append('0')",
        "from keras_tuner.src import protos",
        "import keras_tuner.src.distribute.oracle_client",
        "from keras_tuner import src",
        "monkeypatch.setattr('keras_tuner.src.utils.save_json', f)",
        "n = len(getattr(oracle, '_retry_queue', ()))",
        "class Grid(kt.oracles.GridSearchOracle):\n    def f(self):\n        self._seed_state = 1",
        "from keras_tuner import Oracle\nclass O(Oracle):\n    def f(self):\n        self._display",
    ],
)
def test_the_rule_sees_every_kind_of_touch(source):
    assert keras_tuner_privates_touched(source)


def test_the_rule_leaves_our_own_privates_alone():
    source = "class Store:\n    def f(self):\n        self._save_model(1)\n        other.trials"
    assert "_save_model" in PRIVATE  # the same name as KerasTuner's, on a class of ours
    assert keras_tuner_privates_touched(source) == []


def test_only_modules_named_kt_touch_keras_tuner_privates():
    """The rule: a module whose name ends in ``_kt`` is the only kind that may touch KerasTuner's
    private attributes and modules, and each one does (or it needs no suffix). Every behaviour
    they rely on is pinned in this file."""
    touched, seams = {}, []
    for path in sorted(TUNER.rglob("*.py")):
        found = keras_tuner_privates_touched(path.read_text(encoding="utf-8"))
        name = str(path.relative_to(TUNER.parent))
        if path.stem.endswith("_kt"):
            seams.append(name)
            assert found, f"{name} touches no KerasTuner private: drop its _kt suffix"
        elif found:
            touched[name] = found
    assert not touched, (
        f"only *_kt modules may touch KerasTuner's privates; move these into one: {touched}"
    )
    assert seams == [
        "tuner/distributed/servicer_kt.py",
        "tuner/space_kt.py",
        "tuner/store/engine_kt.py",
        "tuner/strategies/oracles_kt.py",
    ]
