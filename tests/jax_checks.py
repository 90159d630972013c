"""Every check that needs the JAX backend, in one process (the backend is fixed when Keras is
imported, and importing it and warming JAX up are the slow part). Run by `test_backends.py` as
``KERAS_BACKEND=jax python tests/jax_checks.py CAMPAIGN.toml RESULTS_DIR``, with no
TF_CPP_MIN_LOG_LEVEL: first the imports a user's script makes, after which it writes
`IMPORTED` to stderr (nothing may come before it); then packed trials' exactness and the smoke
campaign of `backend_smoke.py`; asserts, then prints one JSON line of what it checked."""

from __future__ import annotations

import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# As a user's script would; seeding is where Keras imports TensorFlow on the JAX backend.
import tuner  # noqa: E402
from tests.processes import IMPORTED  # noqa: E402

tuner.search  # noqa: B018
import keras  # noqa: E402

keras.utils.set_random_seed(0)
print(IMPORTED, file=sys.stderr, flush=True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tests.backend_smoke import run_campaigns  # noqa: E402
from tests.test_packed import (  # noqa: E402
    BASE,
    SPEC,
    _assert_tower_is_its_trial,
    _data,
    _fresh,
    _hp,
    _stack,
)
from tuner.builders.mlp import OPTIMIZERS, MLPHyperModel  # noqa: E402
from tuner.datasets import Dataset  # noqa: E402
from tuner.execution.pipeline import InputPipeline  # noqa: E402
from tuner.execution.stacked_jax import JaxStackedTowers  # noqa: E402
from tuner.execution.stacking import stacked_towers  # noqa: E402
from tuner.execution.tower import TowerTemplate, tower_settings  # noqa: E402


def _eager(model: keras.Model) -> keras.Model:
    """The model, fitting and evaluating without `jax.jit`: the same arithmetic, and the
    compiled operations are shared by every model (a jitted step each would take 1-3 s to
    compile, most of these checks' time)."""
    model.jit_compile = False
    return model


def every_optimizer() -> dict[str, int]:
    """One packed epoch gives each tower its trial's weights and logs, for every optimizer
    (BatchNorm for two); 28 samples in batches of 16: the last batch is a padded one. One
    hidden layer: the products after the first are all alike. Each optimizer's stack is
    checked against one of its trials, the first and the second in turn (an eager fit takes
    ~1 s on JAX): the per-tower rates reach the optimizers by one path, the same for all;
    `test_packed.py` checks both towers of every optimizer on TensorFlow."""
    x, y = _data(28)
    traces = {}
    for index, name in enumerate(OPTIMIZERS):
        values = [
            dict(BASE, n_layers=1, optimizer=name, learning_rate=0.01 * (1 + i), l2=1e-3 * (1 + i))
            for i in range(2)
        ]
        values[1]["batch_norm"] = values[0]["batch_norm"] = name in ("adam", "sgd")
        seeds = [10, 11]
        stack = _stack(values, seeds, x, y)
        assert isinstance(stack, JaxStackedTowers)
        logs = stack.train_epoch(np.arange(len(x)))
        logs.update(stack.evaluate())
        k = index % 2
        _assert_tower_is_its_trial(stack, logs, k, _eager(_fresh(values[k], seeds[k])), x, y, name)
        traces[name] = stack.traces
    return traces


def two_loads() -> dict[str, Any]:
    """One stack, two loads: the same towers, then the same but tower 1 diverges. The others
    stay bit-identical, its weights stop, and one traced step serves both loads. Validation in
    padded chunks (8 of 20 samples) gives what Keras' `evaluate` does for each tower."""
    x, y = _data()
    calm = [
        dict(BASE, optimizer="momentum", learning_rate=lr, l2=1e-3, dropout=0.1)
        for lr in (0.05, 0.01, 0.1)
    ]
    wild = [calm[0], dict(calm[1], learning_rate=1e6), calm[2]]
    template = TowerTemplate(MLPHyperModel.for_data(SPEC), _hp(calm[0]), 1)
    stack = stacked_towers(
        template.model, 3, x, y, x[:20], y[:20], batch_size=16, validation_batch=8
    )
    seeds = [1, 3, 2]
    runs = []
    alone = _eager(_fresh(calm[0], seeds[0]))  # the towers differ in their weights only here
    for values in (calm, wild):
        hps = [_hp(v) for v in values]
        stack.load([template.initial_weights(s) for s in seeds], *tower_settings(template, hps))
        losses = [stack.train_epoch(np.arange(len(x)))["loss"] for _ in range(3)]
        runs.append((np.array(losses), stack.all_weights(), stack.evaluate()))
        if values is calm:
            for k in range(3):
                alone.set_weights(runs[0][1][k])
                expected = alone.evaluate(x[:20], y[:20], verbose=0, return_dict=True)
                for metric, value in expected.items():
                    got = runs[0][2][f"val_{metric}"][k]
                    assert got == pytest.approx(value, abs=1e-5), (k, metric)
    (quiet_losses, quiet_weights, _), (losses, weights, _) = runs
    assert not np.isfinite(losses[-1][1])
    assert list(keras.ops.convert_to_numpy(stack.active)) == [1.0, 0.0, 1.0]
    for k in (0, 2):
        np.testing.assert_array_equal(losses[:, k], quiet_losses[:, k])
        for expected, got in zip(quiet_weights[k], weights[k], strict=True):
            np.testing.assert_array_equal(got, expected)
    return {"traces": stack.traces}


def epoch_orders() -> dict[str, Any]:
    """The packed executor trains on `InputPipeline.epoch_orders`: on JAX the batches `fit`
    gives a sequential trial (NumPy's generator, seeded by `SeedShuffle`). The executor's
    logic is the same on every backend: `test_packed.py` checks it against the sequential one
    on TensorFlow, and the smoke campaign (`run_campaigns`) runs it on JAX."""
    x, y = _data(60)
    dataset = Dataset("tiny", "multiclass", x, y, x[:20], y[:20], x[:0], y[:0], (8,), 3)
    pipeline = InputPipeline(dataset)
    values = dict(BASE, n_layers=1, optimizer="adam", learning_rate=0.01)
    shuffled = _eager(_fresh(values, 5))
    shuffled.fit(
        **pipeline.fit_arguments(16, 7), callbacks=pipeline.fit_callbacks(7), epochs=3, verbose=0
    )
    orders = pipeline.epoch_orders(7, 3)
    assert not np.array_equal(orders[0], orders[1])
    ordered = _eager(_fresh(values, 5))
    for order in orders:
        ordered.fit(x[order], y[order], batch_size=16, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(shuffled.get_weights(), ordered.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    return {"epochs": len(orders)}


def main(campaign: str, results_dir: str) -> None:
    assert keras.backend.backend() == "jax"
    seconds = {}
    result: dict[str, Any] = {}
    checks = (
        every_optimizer,
        two_loads,
        epoch_orders,
        partial(run_campaigns, campaign, results_dir),
    )
    for check in checks:
        name = getattr(check, "__name__", "campaigns")
        started = time.perf_counter()
        result[name] = check()
        seconds[name] = round(time.perf_counter() - started, 1)
    print(json.dumps(dict(result, seconds=seconds)))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
