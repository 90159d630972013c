"""Population Based Training as one stacked model: the tower-to-tower copy, the packed campaign
against the round-by-round executor (same lineage, same histories to float rounding), the
perturbed values in the towers' variables, and a replay in the campaign's stack shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import numpy as np
import pytest

import tuner
from tuner.builders.mlp import MLPHyperModel
from tuner.datasets import DataSpec
from tuner.execution import pbt_packed
from tuner.execution.pbt import stitched_history
from tuner.execution.pbt_packed import PackedPBTExecutor, population_packing
from tuner.execution.stacking import stacked_towers
from tuner.execution.tower import TowerTemplate, tower_settings
from tuner.strategies.pbt import PBTSettings

SPEC = DataSpec("multiclass", (8,), 3)
BASE = dict(n_layers=2, units=16, optimizer="adam", batch_size=16, epochs=2, l2=1e-3, dropout=0.2)


def _hp(values: dict[str, Any]) -> kt.HyperParameters:
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    return hp


@pytest.mark.slow
def test_copy_tower_copies_every_weight_and_optimizer_slot_exactly_and_no_other_tower():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(48, 8)).astype("float32"), rng.integers(0, 3, 48)
    values = [dict(BASE, learning_rate=r) for r in (0.01, 0.02, 0.03)]
    template = TowerTemplate(MLPHyperModel.for_data(SPEC), _hp(values[0]), 1)
    stack = stacked_towers(template.model, 3, x, y, x[:16], y[:16], batch_size=16)
    stack.load(
        [template.initial_weights(s) for s in (1, 2, 3)],
        *tower_settings(template, [_hp(v) for v in values]),
    )
    stack.train_epoch(np.arange(48))  # Adam's slots are no longer zero
    weights, optimizer = stack.all_weights(), stack.all_optimizer_values()
    assert optimizer is not None and len(optimizer[0]) > 2  # iterations, rate, the slots
    assert any(np.any(slot != 0) for slot in optimizer[0][2:])
    assert any(not np.array_equal(a, b) for a, b in zip(weights[0], weights[2]))

    stack.copy_tower(0, 2)

    after, after_optimizer = stack.all_weights(), stack.all_optimizer_values()
    assert after_optimizer is not None
    for k, source in ((0, 0), (1, 1), (2, 0)):
        for mine, expected in zip(after[k], weights[source], strict=True):
            np.testing.assert_array_equal(mine, expected)
        for n, (mine, expected) in enumerate(
            zip(after_optimizer[k], optimizer[source], strict=True)
        ):
            if n == 1:  # the tower's learning rate stays its own
                np.testing.assert_array_equal(mine, optimizer[k][1])
            else:
                np.testing.assert_array_equal(mine, expected)

    stack.freeze(2)
    stack.set_tower(2, 0.5, 0.25, 0.125)
    assert keras.ops.convert_to_numpy(stack.optimizer.tower_rates).tolist() == pytest.approx(
        [0.01, 0.02, 0.5]
    )
    assert stack.regularized == [True, True, False]  # the output layer has no L2
    assert keras.ops.convert_to_numpy(stack.l2)[:, 2].tolist() == [0.25, 0.25, 0.0]
    assert keras.ops.convert_to_numpy(stack.dropout).tolist() == pytest.approx([0.2, 0.2, 0.125])
    assert keras.ops.convert_to_numpy(stack.active).tolist() == [1.0, 1.0, 1.0]  # trains again
    stack.release()


def test_only_a_population_of_one_architecture_with_per_tower_values_packs():
    hypermodel = MLPHyperModel.for_data(SPEC)
    settings = PBTSettings(population=4, ready=2, epochs=4, explore=("learning_rate", "l2"))
    hp = kt.HyperParameters()
    hp.Float("learning_rate", 1e-3, 1e-1, sampling="log")
    hp.Float("l2", 1e-6, 1e-3, sampling="log")
    hp.Fixed("units", 16)
    assert population_packing(hypermodel, hp, settings) is None
    with_zero = hp.copy()
    with_zero.Float("dropout", 0.0, 0.5)
    assert "dropout may be zero" in population_packing(hypermodel, with_zero, settings)
    searched = hp.copy()
    searched.Int("units_searched", 8, 32)
    assert "units_searched is searched" in population_packing(hypermodel, searched, settings)
    units = PBTSettings(population=4, ready=2, epochs=4, explore=("units",))
    assert "explores units" in population_packing(hypermodel, hp, units)
    assert "does not pack" in population_packing(kt.HyperModel(), hp, settings)


CAMPAIGN = """
name = "pbt_packed"
dataset = "digits"
max_samples = 120
model = "mlp"
objective = "val_accuracy"
strategy = "pbt"
max_trials = 4
epochs = 4
seed = 0
[strategy_options]
population = 4
ready = 2
quantile = 0.5
[space]
units = 16
n_layers = 1
optimizer = "adam"
batch_size = 32
learning_rate = { min = 1e-3, max = 1e-1, sampling = "log" }
l2 = { min = 1e-6, max = 1e-3, sampling = "log" }
"""


@pytest.mark.slow
def test_a_packed_campaign_decides_as_the_round_by_round_one_and_a_replay_is_exact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "pbt.toml"
    path.write_text(CAMPAIGN + "dropout = 0.0\n")
    seen: list[bool] = []
    run = PackedPBTExecutor.run

    def spy(self: PackedPBTExecutor, trials: Any, context: Any) -> Any:
        outcomes = run(self, trials, context)
        seen.append(self.packed)
        return outcomes

    monkeypatch.setattr(PackedPBTExecutor, "run", spy)
    packed = tuner.search(str(path), results_dir=str(tmp_path / "packed"))
    monkeypatch.setattr(pbt_packed, "population_packing", lambda *args: "forced")
    rounds = tuner.search(str(path), results_dir=str(tmp_path / "rounds"))
    assert seen == [True, False]

    by_id = {r.trial_id: r for r in rounds.records}
    assert sum(bool(r.lineage) for r in packed.records) == 2  # population 4, quantile 0.5
    for record in packed.records:
        other = by_id[record.trial_id]
        assert record.lineage == other.lineage
        assert record.schedule == other.schedule
        assert record.hyperparameters == other.hyperparameters
        assert record.epochs_run == other.epochs_run == 4
        # The towers' first layer is one wide product: float rounding apart, the same training.
        for name, values in record.history.items():
            np.testing.assert_allclose(values, other.history[name], rtol=1e-4, atol=1e-5)

    monkeypatch.undo()
    member = next(r for r in packed.records if r.lineage)
    replayed = tuner.replay_pbt(packed.folder, member.trial_id)
    assert replayed.history == stitched_history(packed.records, member.schedule)  # bit for bit


@pytest.mark.slow
def test_an_exploit_step_copies_the_donors_tower_and_sets_the_perturbed_values(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    path = tmp_path / "pbt.toml"
    path.write_text(CAMPAIGN + "dropout = { min = 0.1, max = 0.5, step = 0.1 }\n")
    checked: list[dict[str, str]] = []
    exploit = PackedPBTExecutor.exploit

    def spy(self: PackedPBTExecutor, stack: Any, members: Any, next_round: int, epoch: int):
        weights, optimizer = stack.all_weights(), stack.all_optimizer_values()
        pairs = exploit(self, stack, members, next_round, epoch)
        place = {m.trial_id: k for k, m in enumerate(members)}
        after, after_optimizer = stack.all_weights(), stack.all_optimizer_values()
        rates = keras.ops.convert_to_numpy(stack.optimizer.tower_rates)
        l2 = keras.ops.convert_to_numpy(stack.l2)
        dropout = keras.ops.convert_to_numpy(stack.dropout)
        for member in members:
            k = place[member.trial_id]
            source = place.get(pairs.get(member.trial_id, ""), k)
            for mine, expected in zip(after[k], weights[source], strict=True):
                np.testing.assert_array_equal(mine, expected)
            for n, (mine, expected) in enumerate(zip(after_optimizer[k], optimizer[source])):
                if n != 1:  # 1: the learning rate, the tower's own
                    np.testing.assert_array_equal(mine, expected)
            assert rates[k] == np.float32(member.values["learning_rate"])
            assert l2[0, k] == np.float32(member.values["l2"])  # the hidden layer's
            assert dropout[k] == np.float32(member.values["dropout"])
            assert 0.1 <= member.values["dropout"] <= 0.5
        checked.append(pairs)
        return pairs

    monkeypatch.setattr(PackedPBTExecutor, "exploit", spy)
    found = tuner.search(str(path), results_dir=str(tmp_path))
    assert len(checked) == 1 and len(checked[0]) == 2
    records = {r.trial_id: r for r in found.records}
    for recipient, donor in checked[0].items():
        assert records[recipient].lineage == [{"epoch": 2, "from": donor}]
        assert records[recipient].hyperparameters != records[donor].schedule[-1]["values"]
    monkeypatch.undo()
    member = records[next(iter(checked[0]))]
    replayed = tuner.replay_pbt(found.folder, member.trial_id)  # dropout masks too
    assert replayed.history == stitched_history(found.records, member.schedule)
