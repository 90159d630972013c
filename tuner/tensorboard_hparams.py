"""TensorBoard logging for a trial, with the HParams dashboard, on any Keras backend.

The HParams summaries are written with `tf.summary`, from `tuner.tf_backend`, as Keras'
TensorBoard callback writes its own: TensorFlow must be installed, whichever backend trains.
Layout under `log_dir`: one run folder per trial (``<log_dir>/<trial_id>/train``,
``.../validation`` from Keras' TensorBoard callback, the trial's hyperparameters in
``<log_dir>/<trial_id>``), and the experiment's configuration (hyperparameter names and
metrics) once in `log_dir` itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import keras

from tuner import tf_backend

INTERNAL_PREFIX = "tuner/"


def _hparam_value(value: Any) -> bool | int | float | str:
    """HParams accepts bool, int, float and str only; numpy scalars and None are converted."""
    if isinstance(value, bool):
        return value
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, Real):
        return float(value)
    return str(value)


def _metric_tag(name: str) -> tuple[str, str]:
    """(tag, run group) of a logged metric as Keras' TensorBoard callback writes it."""
    if name.startswith("val_"):
        return f"epoch_{name[len('val_') :]}", "validation"
    return f"epoch_{name}", "train"


class HParamsCallback(keras.callbacks.Callback):
    """Writes one trial's hyperparameters when training starts and marks the session ended.

    One instance per `fit`, like Keras' own TensorBoard callback.
    """

    def __init__(self, run_dir: str | Path, hyperparameters: dict[str, Any], trial_id: str) -> None:
        super().__init__()
        from tensorboard.plugins.hparams import summary_v2

        self.run_dir = Path(run_dir)
        self.hyperparameters = {
            k: _hparam_value(v)
            for k, v in hyperparameters.items()
            if not k.startswith(INTERNAL_PREFIX)
        }
        self.trial_id = str(trial_id)
        summary_v2.hparams_pb(
            self.hyperparameters, trial_id=self.trial_id
        )  # fail fast on bad values
        self._writer = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        tf = tf_backend.tensorflow()
        from tensorboard.plugins.hparams import summary_v2

        writer = self._writer = tf.summary.create_file_writer(str(self.run_dir))
        with writer.as_default():
            summary_v2.hparams(self.hyperparameters, trial_id=self.trial_id)
        writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        tf = tf_backend.tensorflow()
        from tensorboard.plugins.hparams import api_pb2, summary

        if self._writer is None:
            return
        with self._writer.as_default():
            raw = summary.session_end_pb(api_pb2.STATUS_SUCCESS).SerializeToString()
            tf.summary.experimental.write_raw_pb(raw, step=0)
        self._writer.close()
        self._writer = None


def write_experiment_config(
    log_dir: Path, hyperparameter_names: Sequence[str], metrics: Sequence[str]
) -> None:
    """Declare the experiment's hyperparameters and metric columns once, in `log_dir` itself."""
    tf = tf_backend.tensorflow()
    from tensorboard.plugins.hparams import api as hp

    if any(log_dir.glob("events.out.tfevents.*")):
        return
    log_dir.mkdir(parents=True, exist_ok=True)
    columns = []
    for name in metrics:
        tag, group = _metric_tag(name)
        columns.append(hp.Metric(tag, group=group, display_name=name))
    writer = tf.summary.create_file_writer(str(log_dir))
    with writer.as_default():
        hp.hparams_config(
            hparams=[
                hp.HParam(n) for n in hyperparameter_names if not n.startswith(INTERNAL_PREFIX)
            ],
            metrics=columns,
        )
    writer.close()


def hparams_callbacks(
    log_dir: str | Path, trial_id: str, hyperparameters: dict[str, Any], metrics: Sequence[str]
) -> list[keras.callbacks.Callback]:
    """Keras' TensorBoard callback for one trial plus its HParams dashboard entry.

    `metrics` are the logged names (``loss``, ``val_accuracy``, ...) to show as dashboard
    columns. Raises `ConfigError` when TensorFlow cannot be imported.
    """
    tf_backend.tensorflow()
    log_dir = Path(log_dir)
    run_dir = log_dir / str(trial_id)
    write_experiment_config(log_dir, list(hyperparameters), metrics)
    board = keras.callbacks.TensorBoard(
        log_dir=str(run_dir),
        histogram_freq=0,
        write_graph=False,
        update_freq="epoch",
        profile_batch=0,
    )
    return [board, HParamsCallback(run_dir, hyperparameters, str(trial_id))]


__all__ = ["hparams_callbacks", "HParamsCallback", "write_experiment_config"]
