"""`tuner activations`: draw the activation histograms (`tuner.plots.activations`) of a
finished campaign's trial, trained and/or at initialisation, into its results folder.

The trained model is the kept one (``keep_top`` decides which are); the model at
initialisation is rebuilt from the trial's hyperparameters with the campaign's seed, so any
trial can be drawn at initialisation. Both see the same inputs: the first `samples` validation
images (training ones when there is no validation split), standardised as the trials saw them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from tuner.builders import resolve_builder
from tuner.datasets import DataSpec, load_campaign_data
from tuner.errors import ConfigError
from tuner.plots.activations import ActivationInfo, activation_info, draw_activation_histograms
from tuner.run import Results
from tuner.store.folder import ResultsFolder
from tuner.trial import SCORED, canonical_id

DEFAULT_SAMPLES = 1000
# Rows whose value ranges differ by more than this factor get bins of their own.
COMPARABLE_SPANS = 10.0


def _trained_model(results: Results, trial_id: str) -> keras.Model:
    """The kept model, without the standardisation layer its raw inputs go through: the
    histograms are of the network the trial trained, fed what it was fed."""
    if results.store is None:
        raise ConfigError(f"campaign {results.campaign.name!r} keeps no models.")
    try:
        model = results.store.load_model(trial_id)
    except FileNotFoundError:
        raise ConfigError(
            f"trial {trial_id} of {results.campaign.name!r} has no kept model (keep_top = "
            f"{results.campaign.keep_top}); draw it with --initial-only, or raise keep_top "
            "and rerun."
        ) from None
    nested = [layer for layer in model.layers if isinstance(layer, keras.Model)]
    if len(nested) == 1 and any(layer.name == "standardize" for layer in model.layers):
        return nested[0]
    return model


def _initial_model(results: Results, trial_id: str, spec: DataSpec) -> keras.Model:
    record = next((r for r in results.records if r.trial_id == trial_id), None)
    if record is None:
        raise ConfigError(f"campaign {results.campaign.name!r} has no trial {trial_id!r}.")
    import keras_tuner as kt

    hp = kt.HyperParameters()
    for name, value in record.hyperparameters.items():
        if not name.startswith("tuner/"):
            hp.Fixed(name, value)
    keras.utils.set_random_seed(results.campaign.seed)
    return resolve_builder(results.campaign.model, spec).build(hp)


def activation_infos(
    results: Results,
    *,
    trial_ids: Sequence[str] | None = None,
    trained: bool = True,
    initial: bool = False,
    samples: int = DEFAULT_SAMPLES,
) -> list[ActivationInfo]:
    """The activation histograms of some trials (default: the best) at initialisation and/or
    trained, in that order for each trial, on the same inputs and the same bins."""
    if not (trained or initial):
        raise ConfigError("nothing to draw: ask for the trained model, the initial one or both.")
    if samples < 1:
        raise ConfigError(f"samples must be at least 1, but got {samples}.")
    if trial_ids is None:
        if results.best_trial_id is None:
            raise ConfigError(f"campaign {results.campaign.name!r} has no completed trial.")
        trial_ids = [results.best_trial_id]
    chosen = [canonical_id(str(t)) for t in trial_ids]
    scored = set(results.table[results.table["status"].isin(SCORED)]["trial_id"].astype(str))
    if trained and (unscored := [t for t in chosen if t not in scored]):
        raise ConfigError(
            f"trial {unscored[0]} of {results.campaign.name!r} did not complete; "
            "draw it at initialisation only (--initial-only)."
        )
    dataset = load_campaign_data(results.campaign)
    x = np.asarray((dataset.x_val if len(dataset.x_val) else dataset.x_train)[:samples])
    telling = _differing_values(results, chosen)
    models = []
    for trial_id in chosen:
        values = f"\n{telling[trial_id]}" if telling.get(trial_id) else ""
        if initial:
            model = _initial_model(results, trial_id, dataset.spec)
            models.append((f"trial {trial_id}, at initialisation{values}", model))
        if trained:
            title = f"trial {trial_id}, trained{values}"
            models.append((title, _trained_model(results, trial_id)))
    infos = [activation_info(m, x, title=title) for title, m in models]
    shared = shared_value_range(infos)
    if shared is not None:
        infos = [activation_info(m, x, title=t, value_range=shared) for t, m in models]
    return infos


def _differing_values(results: Results, trial_ids: Sequence[str]) -> dict[str, str]:
    """For each of `trial_ids`, the values of the hyperparameters that differ between them
    ("sigmoid, normal_large"), so that a row of the plot says what sets it apart; none for a
    single trial."""
    values = {r.trial_id: r.hyperparameters for r in results.records if r.trial_id in trial_ids}
    if len(values) < 2:
        return {}
    names = list(dict.fromkeys(n for v in values.values() for n in v))
    differing = [n for n in names if len({repr(v.get(n)) for v in values.values()}) > 1]
    return {t: ", ".join(f"{v.get(n)}" for n in differing) for t, v in values.items()}


def shared_value_range(infos: Sequence[ActivationInfo]) -> tuple[float, float] | None:
    """The range every row's bins share, so that the rows compare: from the lowest to the
    highest value of any. None (each row keeps its own) for a single row, or when one row's
    values span more than `COMPARABLE_SPANS` times another's (an exploding network's 0..1e5
    against a sigmoid's 0..1): shared bins would draw every other row as one bar."""
    if len(infos) < 2:
        return None
    ranges = [(float(i.layers[0].edges[0]), float(i.layers[0].edges[-1])) for i in infos]
    spans = [high - low for low, high in ranges]
    if max(spans) > COMPARABLE_SPANS * min(spans):
        return None
    return min(low for low, _ in ranges), max(high for _, high in ranges)


def write_activations(
    results: Results,
    *,
    trial_ids: Sequence[str] | None = None,
    trained: bool = True,
    initial: bool = False,
    samples: int = DEFAULT_SAMPLES,
) -> Path:
    """Draw `activation_infos` into the campaign's folder and return the path:
    ``activations.png`` for the best trial, ``activations_trial_<id>.png`` for one other,
    ``activations_trials.png`` for several."""
    infos = activation_infos(
        results, trial_ids=trial_ids, trained=trained, initial=initial, samples=samples
    )
    files = ResultsFolder(results.folder)
    if trial_ids is None:
        path = files.activations_plot()
    elif len(trial_ids) == 1:
        path = files.activations_plot(str(trial_ids[0]))
    else:
        path = files.activations_plot(several=True)
    draw_activation_histograms(infos).savefig(path, dpi=110, bbox_inches="tight")
    return path


__all__ = ["activation_infos", "shared_value_range", "write_activations", "DEFAULT_SAMPLES"]
