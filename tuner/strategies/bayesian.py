"""Bayesian optimisation: scikit-optimize's ask/tell `Optimizer` as a KerasTuner `Oracle`.

The only module that imports skopt. The optimiser is not part of the saved state: each
proposal rebuilds it, seeded from the campaign's seed and the number of trials so far, and
tells it every trial that has ended (one refit, as an incremental tell costs), so a resumed
campaign proposes exactly what an uninterrupted one does.

Batches: when the loop asks for K trials before any of them finishes, it says so first
(`SkoptOracle.plan_batch`), and the K proposals come from one ``Optimizer.ask(n_points=K,
strategy="cl_min")`` (the constant liar: each point is told to a copy of the optimiser with
the best loss seen so far, so the next one goes elsewhere). Every real result is told
afterwards, as for single proposals; the lies are never told to the optimiser itself.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import keras_tuner as kt
import numpy as np
import scipy.optimize
from keras_tuner.engine import hyperparameters as hp_module
from keras_tuner.engine import trial as trial_module
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import RegressorTags
from skopt import Optimizer
from skopt.learning import GradientBoostingQuantileRegressor
from skopt.space import Categorical, Integer, Real, Space
from skopt.utils import cook_estimator
from threadpoolctl import threadpool_limits

from tuner.builder_space import active_values
from tuner.direction import loss
from tuner.errors import ConfigError
from tuner.strategies.oracles_kt import fix_seed
from tuner.strategies.proposals import (
    answer,
    grid_index,
    grid_value,
    is_stepped,
    keep_auto_choice,
    note_auto_choice,
    proposal_seed,
)
from tuner.strategies.registry import OracleSettings, check_bayesian

# L-BFGS iterations of the GP's kernel fit (its marginal likelihood): the fit is most of a
# proposal's cost, and scikit-learn's default runs to convergence (70+ evaluations of the
# likelihood and its gradient at 100 trials, each O(n^2 d)). Measured at 100 finished trials
# on the strategy suite's spaces (same oracle state, alternating): 1.1-1.65x cheaper
# proposals with the dimensions cached too; regret on 3 seeds x 50 trials within the seeds'
# spread of the uncapped fit (a full before/after suite run was not made).
GP_FIT_ITERATIONS = 20

# BLAS threads for a proposal's linear algebra (the kernel fit's Cholesky solves, the
# acquisition's predictions): its matrices are at most a few hundred rows, which one thread
# solves faster than several that wait on each other. Measured at 95-99 finished trials on
# branin, the 2-core machine shared with other work: 0.75 s a proposal with OpenBLAS's
# default threads, 0.31 s with one.
BLAS_THREADS = 1

# Penalty added to the worst finished score when telling skopt about a failed trial, in units
# of the spread of the scores seen so far: a failure is worse than anything that finished.
FAILURE_MARGIN = 0.5


def dimension(h: hp_module.HyperParameter) -> Any:
    """The skopt dimension for one KerasTuner hyperparameter (None for Fixed)."""
    if isinstance(h, hp_module.Fixed):
        return None
    if isinstance(h, hp_module.Boolean):
        return Categorical([False, True], name=h.name)
    if isinstance(h, hp_module.Choice):
        return Categorical(list(h.values), name=h.name)
    prior = "log-uniform" if h.sampling == "log" else "uniform"
    if is_stepped(h):
        # Search the index of the grid of values, which keeps their order.
        return Integer(0, len(list(h.values)) - 1, name=h.name)
    if isinstance(h, hp_module.Int):
        return Integer(h.min_value, h.max_value, prior=prior, name=h.name)
    return Real(h.min_value, h.max_value, prior=prior, name=h.name)


def fit_kernel(objective: Any, theta: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, float]:
    """The GP's kernel-hyperparameter optimiser: scikit-learn's L-BFGS-B, cut at
    `GP_FIT_ITERATIONS` iterations (deterministic: no random restarts)."""
    result = scipy.optimize.minimize(
        objective,
        theta,
        method="L-BFGS-B",
        jac=True,
        bounds=bounds,
        options={"maxiter": GP_FIT_ITERATIONS},
    )
    return result.x, float(result.fun)


def _native(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class _GBRT(GradientBoostingQuantileRegressor):
    """skopt 0.10's GBRT surrogate, mended for today's libraries: it lists BaseEstimator before
    RegressorMixin, so scikit-learn >= 1.6 sees no regressor and skopt refuses it; and its
    ``predict(return_std=True)`` calls ``np.in1d``, which NumPy 2.4 removed."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.estimator_type = "regressor"
        tags.regressor_tags = RegressorTags()
        return tags

    def predict(self, X, return_std=False, return_quantiles=False):
        if not return_std or return_quantiles:
            return super().predict(X, return_std=return_std, return_quantiles=return_quantiles)
        low, mean, high = (
            self.regressors_[self.quantiles.index(q)].predict(X) for q in (0.16, 0.5, 0.84)
        )
        return mean, (high - low) / 2.0


class SkoptOracle(kt.Oracle):
    """A KerasTuner oracle whose proposals come from ``skopt.Optimizer`` (ask/tell).

    Failed trials are told with a penalty so the surrogate learns to avoid them, and a
    proposal that was already tried is replaced by an untried random point.
    """

    def __init__(
        self,
        objective: kt.Objective,
        max_trials: int,
        hyperparameters: kt.HyperParameters,
        seed: int = 0,
        surrogate: str = "GP",
        acquisition: str = "EI",
        initial_points: int = 5,
        xi: float = 0.01,
        kappa: float = 1.96,
        candidates: int = 2000,
        **kwargs: Any,
    ):
        check_bayesian(
            dict(
                surrogate=surrogate,
                acquisition=acquisition,
                initial_points=initial_points,
                candidates=candidates,
            )
        )
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            seed=seed,
            **kwargs,
        )
        fix_seed(self, seed)
        self.surrogate, self.acquisition = surrogate, acquisition
        self.initial_points, self.xi, self.kappa = initial_points, xi, kappa
        self.candidates = candidates
        self._optimizer: Optimizer | None = None
        self._dims: tuple[tuple[str, ...], list[Any]] | None = None
        self._batch = 1
        self._pending: list[list[Any]] = []

    # -- the search space -------------------------------------------------------------------
    def _tuned(self) -> list[hp_module.HyperParameter]:
        # Not `dimension(h) is not None`: building skopt dimensions is slow, and every
        # proposal encodes every ended trial.
        return [h for h in self.hyperparameters.space if not isinstance(h, hp_module.Fixed)]

    def _encode(self, values: dict[str, Any]) -> list[Any]:
        point = []
        for h in self._tuned():
            value = values.get(h.name, h.default)
            point.append(grid_index(h, value) if is_stepped(h) else value)
        return point

    def _decode(self, point: list[Any]) -> dict[str, Any]:
        values = {
            h.name: h.value for h in self.hyperparameters.space if isinstance(h, hp_module.Fixed)
        }
        for h, raw in zip(self._tuned(), point):
            raw = _native(raw)
            values[h.name] = grid_value(h, raw) if is_stepped(h) else raw
        return values

    def _dimensions(self) -> list[Any]:
        """The skopt dimensions of the tuned entries, built once for each set of entries
        (building them is a tenth of a proposal: each makes a SciPy distribution)."""
        tuned = self._tuned()
        key = tuple(repr(h.get_config()) for h in tuned)
        if self._dims is None or self._dims[0] != key:
            self._dims = (key, [dimension(h) for h in tuned])
        return self._dims[1]

    def _new_optimizer(self) -> Optimizer:
        dims = self._dimensions()
        if not dims:
            raise ConfigError("bayesian search needs at least one tuned hyperparameter in [space].")
        space = Space(dims)
        estimator: Any = self.surrogate
        if self.surrogate == "GP":
            # No optimiser restarts: the kernel fit is the whole cost of a proposal, and restarts
            # triple it for no measurable gain at these sizes.
            estimator = cook_estimator(
                "GP",
                space=space,
                random_state=self.seed,
                noise="gaussian",
                n_restarts_optimizer=0,
                optimizer=fit_kernel if GP_FIT_ITERATIONS else "fmin_l_bfgs_b",
            )
        elif self.surrogate == "GBRT":
            cooked = cook_estimator("GBRT", space=space, random_state=self.seed)
            estimator = _GBRT(**cooked.get_params(deep=False))
        return Optimizer(
            space,
            base_estimator=estimator,
            acq_func=self.acquisition,
            acq_optimizer="sampling",
            n_initial_points=self.initial_points,
            random_state=self._proposal_seed(),
            acq_func_kwargs={"xi": self.xi, "kappa": self.kappa},
            acq_optimizer_kwargs={"n_points": self.candidates},
        )

    # -- ask and tell -----------------------------------------------------------------------
    def _loss(self, score: float) -> float:
        return loss(score, self.objective.direction)

    def _proposal_seed(self) -> int:
        """The optimiser's random state for the next proposal: from the campaign's seed and
        the trials so far, so that a resumed campaign draws what an uninterrupted one does."""
        return proposal_seed(self.seed, len(self.trials))

    def _tell_finished(self) -> None:
        """A new optimizer, told every trial that has ended, in one refit: what it proposes
        depends on the saved state alone (a resume changes nothing), and a space that grew (a
        trial declared a new hyperparameter) is searched whole."""
        self._optimizer = self._new_optimizer()
        ended = [self.trials[t] for t in self.end_order if t in self.trials]
        if not ended:
            return
        finished = [
            t
            for t in self.trials.values()
            if t.status == trial_module.TrialStatus.COMPLETED
            and t.score is not None
            and math.isfinite(t.score)
        ]
        losses = [self._loss(t.score) for t in finished]
        penalty = (max(losses) + FAILURE_MARGIN * (np.ptp(losses) or 1.0)) if losses else None
        xs, ys = [], []
        for trial in ended:
            ok = trial in finished
            if not ok and penalty is None:
                continue  # nothing to compare a failure with yet: tell it later
            xs.append(self._encode(trial.hyperparameters.values))
            ys.append(self._loss(trial.score) if ok else penalty)
        if xs:
            with warnings.catch_warnings():
                # The GP's kernel fit often stops early on few, noisy points; that is expected.
                warnings.simplefilter("ignore", ConvergenceWarning)
                self._optimizer.tell(xs, ys)

    def plan_batch(self, n: int) -> None:
        """Called by the loop before it asks for up to `n` trials in a row, none of which ends
        before the last is asked: the next proposal asks skopt for `n` distinct points at once
        (constant liar), and the rest of the batch takes the others. Points left over from
        the last batch are dropped: they were chosen without its results."""
        self._batch = max(1, int(n))
        self._pending = []

    def _next_point(self) -> list[Any]:
        if self._pending:
            return self._pending.pop(0)
        with threadpool_limits(limits=BLAS_THREADS, user_api="blas"):
            return self._fresh_point()

    def _fresh_point(self) -> list[Any]:
        """A new proposal (or batch of them): a refit on every ended trial, then skopt's ask."""
        self._tell_finished()
        assert self._optimizer is not None
        with warnings.catch_warnings():
            # skopt warns when it re-proposes a point; the duplicate check handles it.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", ConvergenceWarning)  # the lies' refits
            if self._batch == 1:
                point: list[Any] = self._optimizer.ask()
                return point
            points: list[list[Any]] = self._optimizer.ask(n_points=self._batch, strategy="cl_min")
        self._pending = list(points[1:])
        return points[0]

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        point = self._next_point()
        return answer(self, active_values(self.hyperparameters, self._decode(point)))

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state.update(
            surrogate=self.surrogate,
            acquisition=self.acquisition,
            initial_points=self.initial_points,
        )
        note_auto_choice(self, state)
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        keep_auto_choice(self, state)
        super().set_state(state)
        self._optimizer = None  # rebuilt and told every finished trial on the next proposal
        self._pending = []


def bayesian_oracle(settings: OracleSettings) -> kt.Oracle:
    """The registry's factory for ``bayesian``: called by `create_oracle`."""
    return SkoptOracle(
        max_trials=settings.max_trials, **settings.oracle_arguments(), **settings.options
    )
