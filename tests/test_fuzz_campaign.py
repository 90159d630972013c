"""Property: any campaign document gives a valid campaign, or exactly one ``tuner: error:``
line and exit 2; never another exception, and nothing written but the results folder (nothing
at all on exit 2). The search stops right after the plan and claiming the folder: no training."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tuner import api, cli, loop
from tuner.campaign import FIELDS
from tuner.plan import Plan
from tuner.space import check_space_against_builder

MLP_NAMES = ["units", "n_layers", "dropout", "l2", "activation", "optimizer", "learning_rate"]
MLP_NAMES += ["batch_size", "epochs", "batch_norm", "kernel_initializer", "per_layer_units"]
JUNK_KEYS = ["max_trails", "", "x" * 300, "name\x00", "ünïcode"]


class Planned(Exception):
    """The plan passed and the folder was claimed: the campaign is valid."""


def _stop_after_claim(plan: Plan, **_: Any) -> Any:
    # Until make_plan calls it itself: the builder checked at the extremes of [space].
    check_space_against_builder(plan.hypermodel, plan.campaign.space, plan.campaign.model)
    loop.claim(plan.campaign)
    raise Planned


texts = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "\x00", "a\x00b", "..", ".", "/", "a/b", "x" * 300, "mlp", "iris", "relu", "auto"]
)
numbers = (
    st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.integers(min_value=-3, max_value=300)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([math.inf, -math.inf, math.nan, 0, -1, 0.5, 2**32, 10**9, 1e-300])
)
scalars = st.booleans() | numbers | texts
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
ranges = st.fixed_dictionaries(
    {"min": numbers, "max": numbers},
    optional={
        "step": numbers,
        "sampling": st.sampled_from(["linear", "log", "reverse_log", "nope"]),
        "default": numbers,
    },
)
space_values = (
    scalars
    | st.lists(scalars, max_size=4)
    | ranges
    | st.fixed_dictionaries({"values": st.lists(scalars, max_size=4)})
    | values
)
space_names = st.one_of(st.sampled_from(MLP_NAMES), st.sampled_from(MLP_NAMES), texts)
spaces = st.dictionaries(space_names, space_values, max_size=3)
field_values = st.dictionaries(
    st.sampled_from(sorted(set(FIELDS) - {"results_dir", "space"}) + JUNK_KEYS), values, max_size=4
)


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    """A campaign that is mostly sound (iris, two tiny trials), with random keys broken."""
    document: dict[str, Any] = {
        "name": "fuzz",
        "dataset": "iris",
        "objective": "val_accuracy",
        "max_trials": 2,
        "epochs": 1,
    }
    if draw(st.integers(0, 2)) == 0:  # else: most examples would stop at a broken field
        document.update(draw(field_values))
    if draw(st.integers(0, 3)) > 0:
        document["space"] = draw(spaces)
    return document


def _files(folder: Path) -> set[Path]:
    return {p.relative_to(folder) for p in folder.rglob("*") if not p.is_dir()}


@pytest.fixture(autouse=True)
def _no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api, "run_plan", _stop_after_claim)  # tuner.search's
    monkeypatch.setattr("tuner.run.run_plan", _stop_after_claim)  # tuner search's


@settings(
    max_examples=100,
    deadline=None,
    database=None,  # no .hypothesis folder in the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=documents())
def test_any_campaign_is_valid_or_one_error_line(
    document: dict[str, Any], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scratch = Path(tempfile.mkdtemp())
    try:
        monkeypatch.chdir(scratch)  # a relative path that escaped would land here
        document["results_dir"] = str(scratch / "results")
        path = scratch / "c.toml"
        path.write_text(tomli_w.dumps(document), encoding="utf-8")
        capsys.readouterr()
        try:
            rc = cli.main(["search", str(path), "--quiet"])
        except Planned:
            rc = 0
        err = capsys.readouterr().err.splitlines()
        new = _files(scratch) - {Path("c.toml")}
        if rc == 0:
            assert err == []
            assert all(p.parts[0] == "results" for p in new), new
            assert new, "a valid campaign claims its folder"
        else:
            assert rc == 2, (rc, err)
            assert len(err) == 1 and err[0].startswith("tuner: error: "), err
            assert new == set(), new
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
