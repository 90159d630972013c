"""Tests for the LR range finder: schedule, per-batch loss, exact restore, divergence, rules."""

import math

import keras
import numpy as np
import pytest

from tuner.errors import ConfigError
from tuner.lr_finder import (
    LRFindResult,
    LRRangeTest,
    find_learning_rate,
    lr_find,
    lr_schedule,
    minimum_tenth,
    shuffled_batches,
    smooth,
    steep,
    suggest,
    valley,
)

# tests/conftest.py clears the Keras session before every test (autouse fixture).


def linear_model(w: np.ndarray, *, l2: float = 0.0, optimizer=None) -> keras.Model:
    """y = x @ w with fixed weights; MSE; optionally an L2 penalty on w."""
    reg = keras.regularizers.L2(l2) if l2 else None
    model = keras.Sequential(
        [
            keras.Input((len(w),)),
            keras.layers.Dense(
                1,
                use_bias=False,
                kernel_regularizer=reg,
                kernel_initializer=keras.initializers.Constant(w.reshape(-1, 1)),
            ),
        ]
    )
    model.compile(optimizer or keras.optimizers.SGD(0.01), loss="mse")
    return model


def mlp(seed: int = 0, optimizer=None) -> keras.Model:
    keras.utils.set_random_seed(seed)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer or keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return model


def toy_data(n: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x[:, 0] > 0).astype("int32") + (x[:, 1] > 1).astype("int32")
    return x, y


# ------------------------------------------------------------------ schedule and smoothing


def test_exponential_schedule_is_geomspace_and_reaches_the_optimizer():
    x, y = toy_data(40)
    model = linear_model(np.ones(4, "float32"))
    seen = []

    class Spy(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            seen.append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))

    test = LRRangeTest(1e-6, 1e-2, num_iter=7, restore=False, diverge_factor=1e9)
    model.fit(x, y, batch_size=10, epochs=2, shuffle=False, verbose=0, callbacks=[test, Spy()])
    expected = np.geomspace(1e-6, 1e-2, 7)
    np.testing.assert_array_equal(test.learning_rates, expected)
    # The variable is float32: it holds the rounded rate, batch by batch, across two epochs.
    np.testing.assert_array_equal(seen, expected.astype("float32"))


def test_linear_schedule_is_linspace():
    np.testing.assert_array_equal(lr_schedule(0.001, 1.0, 11, "linear"), np.linspace(0.001, 1, 11))
    assert lr_schedule(1e-7, 10, 100)[0] == 1e-7 and lr_schedule(1e-7, 10, 100)[-1] == 10


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        (dict(start_lr=1.0, end_lr=0.1), "start_lr < end_lr"),
        (dict(start_lr=0.0, end_lr=0.1), "start_lr must be a positive"),
        (dict(num_iter=1), "num_iter must be an integer >= 2"),
        (dict(schedule="cosine"), "schedule must be one of"),
        (dict(beta=1.0), "beta must be in [0, 1)"),
        (dict(diverge_factor=1.0), "diverge_factor must be > 1"),
    ],
)
def test_bad_arguments_are_config_errors(kwargs, fragment):
    with pytest.raises(
        ConfigError, match=fragment.replace("[", r"\[").replace("(", r"\(").replace(")", r"\)")
    ):
        LRRangeTest(**kwargs)


def test_lr_find_rejects_uncompiled_model_and_bad_batch_size():
    x, y = toy_data(8)
    raw = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    with pytest.raises(ConfigError, match="compiled"):
        lr_find(raw, x, y)
    with pytest.raises(ConfigError, match="batch_size must be a positive integer, but got 0"):
        lr_find(linear_model(np.ones(4, "float32")), x, y, batch_size=0)


def test_lr_find_rejects_a_learning_rate_schedule():
    x, y = toy_data(8)
    sched = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    model = linear_model(np.ones(4, "float32"), optimizer=keras.optimizers.SGD(sched))
    with pytest.raises(ConfigError, match="float learning rate"):
        lr_find(model, x, y, num_iter=3)


def test_smoothing_is_bias_corrected_ema():
    losses = np.array([2.0, 4.0, 1.0])
    b = 0.9
    a1 = 0.1 * 2.0
    a2 = b * a1 + 0.1 * 4.0
    a3 = b * a2 + 0.1 * 1.0
    expected = [a1 / (1 - b), a2 / (1 - b**2), a3 / (1 - b**3)]
    np.testing.assert_allclose(smooth(losses, b), expected, rtol=1e-12)
    assert smooth(losses, b)[0] == 2.0  # bias correction: the first point is the loss itself


# ------------------------------------------------------------------ per-batch loss


def _batch_mse(x, y, w, l2=0.0):
    pred = x.astype(np.float64) @ w.astype(np.float64)
    return np.mean((pred - y) ** 2) + l2 * np.sum(w.astype(np.float64) ** 2)


@pytest.mark.parametrize("l2", [0.0, 0.5])
def test_recorded_loss_is_the_batch_loss_not_the_running_mean(l2):
    # Batches get steadily larger targets, so the running mean lags far behind each batch.
    n, bs = 24, 4
    x = np.tile(np.eye(4, dtype="float32"), (n // 4, 1))
    y = np.repeat(np.arange(n // bs, dtype="float32"), bs) * 3.0
    w = np.array([1.0, -2.0, 0.5, 3.0], dtype="float32")
    model = linear_model(w, l2=l2)
    # The rate stays below 1e-10, so the weights do not move in float32.
    test = LRRangeTest(1e-12, 1e-10, num_iter=9, restore=False, diverge_factor=1e12)
    model.fit(x, y, batch_size=bs, epochs=2, shuffle=False, verbose=0, callbacks=[test])

    per_epoch = [_batch_mse(x[i : i + bs], y[i : i + bs], w, l2) for i in range(0, n, bs)]
    expected = (per_epoch * 2)[:9]  # 6 batches in epoch 1, the running mean resets, 3 more
    np.testing.assert_allclose(test.losses, expected, rtol=1e-5)
    running_mean = np.cumsum(per_epoch) / np.arange(1, 7)
    assert not np.allclose(test.losses[:6], running_mean, rtol=1e-2)
    assert len(test.losses) == 9  # fit stopped itself after num_iter batches


def test_lr_find_records_the_loss_of_each_shuffled_batch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 3)).astype("float32")
    y = rng.normal(size=30).astype("float32") * 5
    w = np.array([0.3, -1.0, 2.0], dtype="float32")
    model = linear_model(w)
    result = lr_find(model, x, y, batch_size=8, start_lr=1e-12, end_lr=1e-10, num_iter=10, seed=3)
    batches = shuffled_batches(30, 8, 10, seed=3)
    expected = [_batch_mse(x[b], y[b], w) for b in batches]
    np.testing.assert_allclose(result.losses, expected, rtol=1e-5)
    np.testing.assert_allclose(result.smoothed_losses, smooth(np.array(expected)), rtol=1e-5)


def test_shuffled_batches_span_epochs_drop_ragged_batch_and_are_seeded():
    batches = shuffled_batches(10, 4, 5, seed=0)
    assert [len(b) for b in batches] == [4] * 5
    for epoch in (batches[0:2], batches[2:4]):  # two full batches per epoch, no repeats inside
        assert len(set(np.concatenate(epoch))) == 8
    assert all(np.array_equal(a, b) for a, b in zip(batches, shuffled_batches(10, 4, 5, 0)))
    assert not all(np.array_equal(a, b) for a, b in zip(batches, shuffled_batches(10, 4, 5, 1)))
    assert [len(b) for b in shuffled_batches(3, 32, 2)] == [3, 3]  # fewer samples than a batch


# ------------------------------------------------------------------ exact restore


def _state(model):
    return (
        [w.copy() for w in model.get_weights()],
        [np.array(keras.ops.convert_to_numpy(v)) for v in model.optimizer.variables],
        [np.array(keras.ops.convert_to_numpy(v)) for v in model.variables],
    )


def _assert_same(before, after):
    for group_before, group_after in zip(before, after):
        assert len(group_before) == len(group_after)
        for a, b in zip(group_before, group_after):
            assert a.dtype == b.dtype and np.array_equal(a, b)


def test_weights_and_optimizer_state_restored_bit_for_bit_after_training():
    x, y = toy_data(64)
    model = mlp()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)  # Adam slots and iterations are non-zero
    before = _state(model)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 8
    result = lr_find(model, x, y, batch_size=16, num_iter=12, end_lr=1.0)
    assert len(result.losses) == 12
    _assert_same(before, _state(model))
    assert math.isclose(
        float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)), 1e-3, rel_tol=1e-6
    )


def test_restore_works_when_the_optimizer_was_never_built():
    x, y = toy_data(32)
    model = mlp()
    weights = [w.copy() for w in model.get_weights()]
    lr_find(model, x, y, batch_size=8, num_iter=6)
    after = model.get_weights()
    assert all(np.array_equal(a, b) for a, b in zip(weights, after))
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 0
    slots = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables[2:]]
    assert slots and all(not np.any(s) for s in slots)  # Adam moments back to zero


def test_restore_happens_even_when_training_fails():
    x, y = toy_data(32)
    model = mlp()
    model.fit(x, y, batch_size=8, verbose=0)
    before = _state(model)

    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise RuntimeError("boom")

    test = LRRangeTest(num_iter=10)
    with pytest.raises(RuntimeError, match="boom"):
        try:
            model.fit(x, y, batch_size=4, verbose=0, callbacks=[test, Boom()])
        finally:
            test.restore_model()
    _assert_same(before, _state(model))


@pytest.mark.slow
def test_training_after_lr_find_matches_training_without_it():
    x, y = toy_data(64)
    a = mlp(seed=5, optimizer=keras.optimizers.Adam(1e-2))
    b = mlp(seed=5, optimizer=keras.optimizers.Adam(1e-2))
    b.set_weights(a.get_weights())
    a.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    b.fit(x, y, batch_size=16, epochs=1, verbose=0, shuffle=False)
    lr_find(a, x, y, batch_size=16, num_iter=20)
    keras.utils.set_random_seed(7)
    a.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    keras.utils.set_random_seed(7)
    b.fit(x, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


# ------------------------------------------------------------------ divergence


def _first_exceeding(values, factor: float = 4.0, running: int = 1) -> int | None:
    """Reference rule: the first point that is non-finite, or that starts `running` points in a
    row above `factor` x the lowest value before them."""
    values = np.asarray(values, dtype=float)
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], values[:-1]]))
    above = values > factor * best_before
    for i, value in enumerate(values):
        if not np.isfinite(value) or above[i : i + running].sum() == running:
            return i
    return None


def _assert_curve_ends_where_it_diverged(
    losses, smoothed, diverged_at: int, factor: float = 4.0
) -> None:
    """No earlier point diverged (2 raw in a row, or 1 smoothed, above the bound), and the last
    point, `diverged_at`, is above the bound (its raw successor was cut off)."""
    losses, smoothed, d = np.asarray(losses), np.asarray(smoothed), diverged_at
    assert len(losses) == len(smoothed) == d + 1
    assert _first_exceeding(losses[:d], factor, running=2) is None
    assert _first_exceeding(smoothed[:d], factor) is None
    assert (
        not np.isfinite(losses[d])
        or losses[d] > factor * losses[:d].min()
        or smoothed[d] > factor * smoothed[:d].min()
    )


def test_divergence_stops_early_and_records_where():
    x, y = toy_data(64)
    model = linear_model(np.ones(4, "float32"), optimizer=keras.optimizers.SGD(0.01))
    result = lr_find(
        model, x, y.astype("float32"), batch_size=8, start_lr=1e-4, end_lr=1e6, num_iter=200
    )
    assert result.diverged_at is not None and result.diverged_at < 199
    _assert_curve_ends_where_it_diverged(result.losses, result.smoothed_losses, result.diverged_at)
    assert (
        result.learning_rates[result.diverged_at]
        == np.geomspace(1e-4, 1e6, 200)[result.diverged_at]
    )


def _blow_up_curve() -> np.ndarray:
    """100 raw losses over the default range: flat at 3, a steady fall to 0.3 (index 71), then
    1.2x more every batch. 0.3 * 1.2**8 = 1.29 is the first above 4 x 0.3: index 79, and
    the test stops at 80, the second batch running above it."""
    raw = np.full(100, 3.0)
    raw[37:72] = np.linspace(3.0, 0.3, 35)
    raw[72:] = 0.3 * 1.2 ** np.arange(1, 29)
    return raw


def test_raw_blow_up_stops_the_test_while_the_smoothed_loss_still_falls():
    test = LRRangeTest(1e-7, 10.0, num_iter=100)
    for lr, loss in zip(test.schedule, _blow_up_curve()):
        if test.finished:
            break
        test._record(float(lr), float(loss))
    assert test.diverged_at == 79 and len(test.losses) == 80
    # The smoothed loss lags about 50 batches: at the blow-up it is still below its best.
    assert test.smoothed_losses[79] < min(test.smoothed_losses[:79])
    out = suggest(test.learning_rates, test.smoothed_losses, test.diverged_at)
    assert set(out) == {"valley", "steep", "minimum_tenth"}
    for name, s in out.items():
        assert s.lr is not None and s.index is not None, (name, s)
        assert s.index < 79 and s.lr < test.learning_rates[79], (name, s)


def test_raw_loss_diverges_after_two_batches_running_above_the_factor():
    test = LRRangeTest(num_iter=10, diverge_factor=4.0)
    # 4 x 0.5 = 2.0 is the bound: a lone batch over it (index 2) and one on it (4) do not count.
    for loss in (1.0, 0.5, 2.01, 1.0, 2.0, 2.01, 2.5):
        test._record(1e-3, loss)
    assert test.diverged_at == 5 and test.finished
    assert test.losses == [1.0, 0.5, 2.01, 1.0, 2.0, 2.01]  # the curve ends where it diverged
    assert len(test.learning_rates) == len(test.smoothed_losses) == 6


@pytest.mark.slow
def test_real_adam_run_suggests_nothing_past_the_raw_blow_up():
    # Tiny data and a small net blow up at about 40 of 60 batches; before the fix the smoothed
    # loss caught it at 57 and minimum_tenth came from index 46, past the blow-up.
    x, y = toy_data(128)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    result = lr_find(model, x, y, batch_size=16, start_lr=1e-4, end_lr=10.0, num_iter=60)
    d = result.diverged_at
    assert d is not None and d < 50
    _assert_curve_ends_where_it_diverged(result.losses, result.smoothed_losses, d)
    # The raw loss blew up there, before the smoothed one noticed.
    assert result.losses[d] > 4 * result.losses[:d].min()
    assert result.smoothed_losses[d] <= 4 * result.smoothed_losses[:d].min()
    for name, s in result.suggestions.items():
        assert s.lr is not None and s.index is not None, (name, s)
        assert s.index < d and s.lr < result.learning_rates[d], (name, s)


def test_nan_loss_counts_as_divergence():
    test = LRRangeTest(num_iter=10)
    for loss in (1.0, 0.9, float("nan")):
        test._record(1e-3, loss)
    assert test.diverged_at == 2 and test.finished


# ------------------------------------------------------------------ suggestion rules

LRS = np.geomspace(1e-6, 1.0, 61)  # 10 points per decade


def _valley_curve():
    """Flat at 2 up to 1e-4, falls linearly in log lr to 0.5 at 1e-2, then rises steeply."""
    t = np.log10(LRS)
    return np.where(t <= -4, 2.0, np.where(t <= -2, 2.0 - 0.75 * (t + 4), 0.5 + 3 * (t + 2)))


def test_valley_is_the_middle_of_the_descent():
    s = valley(LRS, _valley_curve())
    # Descent runs from index 20 (1e-4) to 40 (1e-2); fastai's start = end - length = 19.
    # sections = 7, so 19 + 7 + 3 = 29: 10**-3.1.
    assert s.index == 29 and math.isclose(s.lr, LRS[29]) and "descent" in s.reason


def test_valley_bridges_noise_on_the_descent():
    curve = _valley_curve()
    curve[25] += 0.01  # a bump that breaks a contiguous run, not the subsequence
    assert valley(LRS, curve).index == 29


def test_steep_is_the_steepest_point():
    t = np.log10(LRS)
    curve = 2.0 - np.tanh(2 * (t + 3))  # steepest at 1e-3
    s = steep(LRS, curve)
    assert s.index == 30 and math.isclose(s.lr, 1e-3, rel_tol=1e-9)


def test_minimum_tenth():
    s = minimum_tenth(LRS, _valley_curve())
    assert s.index == 40 and math.isclose(s.lr, 1e-3, rel_tol=1e-9)


@pytest.mark.parametrize("rule", [valley, steep, minimum_tenth])
@pytest.mark.parametrize(
    "curve, word",
    [
        (np.array([2.0, 1.0, 0.5, 0.2]), "too short"),
        (np.full(61, 2.3) + 1e-4 * np.sin(np.arange(61)), "flat"),
        (np.linspace(1.0, 50.0, 61), "diverged at once"),
    ],
)
def test_degenerate_curves_give_no_suggestion(rule, curve, word):
    s = rule(LRS[: len(curve)], curve)
    assert s.lr is None and s.index is None and s.reason.startswith(word)


def test_rules_ignore_non_finite_points():
    curve = _valley_curve()
    curve[45:] = np.nan
    assert minimum_tenth(LRS, curve).index == 40


def test_suggest_trims_start_end_and_divergence_and_maps_indices_back():
    curve = _valley_curve()
    out = suggest(LRS, curve, diverged_at=None)
    assert out["minimum_tenth"].index == 40
    # Divergence at 43 leaves 0..37 after dropping 5: the minimum is then the last point kept.
    out = suggest(LRS, curve, diverged_at=43)
    assert out["minimum_tenth"].index == 37
    assert suggest(LRS[:8], curve[:8])["valley"].reason.startswith("too short")


# ------------------------------------------------------------------ result


def test_result_frame_and_suggestion_lookup():
    x, y = toy_data(64)
    result = find_learning_rate(mlp, x, y, batch_size=8, num_iter=30, end_lr=1.0)
    assert isinstance(result, LRFindResult)
    frame = result.to_frame()
    assert list(frame.columns) == ["learning_rate", "loss", "smoothed_loss"]
    assert len(frame) == len(result.losses) == len(result.learning_rates)
    np.testing.assert_array_equal(frame["smoothed_loss"], result.smoothed_losses)
    assert set(result.suggestions) == {"valley", "steep", "minimum_tenth"}
    assert result.suggestion() is result.suggestions["valley"]
    with pytest.raises(ConfigError, match="suggestion must be one of"):
        result.suggestion("best")


@pytest.mark.slow
def test_lr_find_on_a_learnable_problem_suggests_a_rate_that_trains():
    x, y = toy_data(256)
    result = lr_find(mlp(), x, y, batch_size=16, num_iter=100)
    s = result.suggestion("valley")
    assert s.lr is not None and 1e-5 < s.lr < 1.0, s
    assert result.smoothed_losses.min() < 0.9 * result.smoothed_losses[0]


# ------------------------------------------------------------------ plot


def test_plot_lr_find_draws_curves_marks_suggestions_and_clips_divergence():
    from tuner.plots.lr import plot_lr_find

    curve = _valley_curve()
    curve[55:] = 1e6  # a divergence must not squash the curve
    result = LRFindResult(LRS, curve + 0.05, curve, 56, suggest(LRS, curve, 56))
    ax = plot_lr_find(result)
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel() == "learning rate (log scale)" and ax.get_ylabel() == "loss"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    valley_lr = result.suggestion("valley").lr
    assert f"valley: {valley_lr:.2e}" in labels
    assert any(label.startswith("minimum_tenth: ") for label in labels)
    lo, hi = ax.get_ylim()
    assert lo < 0.5 and 2.0 < hi < 3.0
