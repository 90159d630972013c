"""GPU options: ``mixed_precision`` and ``jit_compile`` (validated, saved, compared on resume,
applied to every trial's model), and the device each trial ran on (records, trials.csv,
summary.md)."""

from __future__ import annotations

import json

import keras
import pandas as pd
import pytest
import tomli_w

from tests.campaigns import write_campaign
from tuner import api, backends, cli, tf_backend
from tuner.builders.mlp import MLPHyperModel
from tuner.campaign import changed_fields, from_dict, from_saved
from tuner.errors import ConfigError, FailedTrial
from tuner.loop import claim
from tuner.plan import packing_requested
from tuner.results.render import device_line, summary_markdown
from tuner.store import ResultsFolder
from tuner.store.records import read_record
from tuner.trial import TrialRecord

BASE = {"name": "c", "dataset": "iris", "objective": "val_accuracy"}
FAKE_GPU = ("GPU", "0", "Fake GPU")


@pytest.fixture
def on_a_gpu(monkeypatch):
    """This process trains on a (pretended) GPU: `mixed_precision = true` applies."""
    monkeypatch.setattr(backends, "_accelerator", lambda: FAKE_GPU)


# --------------------------------------------------------------------------- the fields


def test_defaults_and_accepted_values():
    campaign = from_dict(BASE)
    assert (campaign.mixed_precision, campaign.jit_compile) == (False, "auto")
    for value in (True, False, "mixed_float16", "mixed_bfloat16"):
        assert from_dict(dict(BASE, mixed_precision=value)).mixed_precision == value
    for value in (True, False, "auto"):
        assert from_dict(dict(BASE, jit_compile=value)).jit_compile == value


@pytest.mark.parametrize(
    "fields, message",
    [
        (
            {"mixed_precision": "float16"},
            'mixed_precision must be true, false, "mixed_float16" or "mixed_bfloat16" (true: '
            "mixed_float16 on a GPU, mixed_bfloat16 on a TPU, off on a CPU), but got 'float16'.",
        ),
        ({"mixed_precision": "mixed_fp16"}, "(did you mean 'mixed_float16'?)"),
        ({"mixed_precision": 1}, "but got int 1."),
        ({"jit_compile": "true"}, "but got 'true'; write true without quotes."),
        ({"jit_compile": "Auto"}, "but got 'Auto' (did you mean 'auto'?)."),
        ({"jit_compile": 0}, 'jit_compile must be true, false or "auto" (XLA; '),
        ({"jit_compile": [True]}, "but got list [True]."),
    ],
)
def test_bad_values_name_the_key_the_value_and_what_is_accepted(fields, message):
    with pytest.raises(ConfigError) as error:
        from_dict(dict(BASE, **fields))
    assert message in str(error.value)


@pytest.mark.parametrize("field, value", [("mixed_precision", "yes"), ("jit_compile", 2)])
def test_a_bad_value_in_a_file_is_one_line_and_exit_2(field, value, tmp_path, capsys):
    path = write_campaign(tmp_path, **{field: value})
    assert cli.main(["search", str(path), "--quiet"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("tuner: error: "), lines
    assert f"{field} must be true, false" in lines[0] and lines[0].endswith(f"{value!r}.")
    assert not (tmp_path / "results").exists()


def test_command_line_flags_reach_the_campaign(tmp_path, capsys):
    path = write_campaign(tmp_path)
    parser = cli.build_parser()
    args = parser.parse_args(
        ["search", str(path), "--mixed-precision", "TRUE", "--jit-compile", "auto"]
    )
    campaign = cli._campaign(args)
    assert (campaign.mixed_precision, campaign.jit_compile) == (True, "auto")
    assert cli._override_flags(args)[-4:] == ["--mixed-precision", "True", "--jit-compile", "auto"]
    assert cli.main(["search", str(path), "--quiet", "--jit-compile", "yes"]) == 2
    assert "jit_compile must be true, false or " in capsys.readouterr().err


def test_saved_with_the_campaign_and_compared_on_resume():
    before = from_dict(dict(BASE, mixed_precision=True, jit_compile=False))
    text = before.to_toml()
    assert "mixed_precision = true\n" in text and "jit_compile = false\n" in text
    assert from_saved(text, "campaign.toml") == before
    # Mixed precision changes the arithmetic: a campaign may not change it and keep its trials.
    assert changed_fields(before.replace(mixed_precision=False), before) == ["mixed_precision"]
    # XLA changes how the steps run, as pack does: it may change.
    assert changed_fields(before.replace(jit_compile=True), before) == []


def test_a_campaign_saved_before_the_fields_resumes_and_its_old_records_load(tmp_path):
    """A folder written before this change: no such keys in campaign.toml, no device in the
    records. It resumes with the defaults; a change of mixed_precision is refused."""
    campaign = from_dict(dict(BASE, results_dir=str(tmp_path)))
    old = {
        k: v for k, v in campaign.to_dict().items() if k not in ("mixed_precision", "jit_compile")
    }
    folder = campaign.folder
    folder.mkdir()
    ResultsFolder(folder).write_campaign(tomli_w.dumps(old))
    record = ResultsFolder(folder).record_path("0")
    record.parent.mkdir(parents=True)
    record.write_text(
        json.dumps({"trial_id": "0", "status": "completed", "hyperparameters": {"units": 8},
                    "history": {"val_accuracy": [0.5]}, "score": 0.5, "best_epoch": 1,
                    "epochs_run": 1, "duration_s": 0.1, "n_params": 10, "error": None,
                    "initial_epoch": 0})
    )  # fmt: skip
    assert "mixed_precision" not in ResultsFolder(folder).campaign_text()
    (loaded,) = ResultsFolder(folder).read_records()
    assert loaded.device is None
    claim(campaign.replace(jit_compile=True))  # resumes
    with pytest.raises(ConfigError, match="started with different mixed_precision"):
        claim(campaign.replace(mixed_precision=True))


# --------------------------------------------------------------------------- where they apply


def test_true_means_float16_on_a_gpu_bfloat16_on_a_tpu_and_off_on_a_cpu(monkeypatch):
    monkeypatch.setattr(backends, "_accelerator", lambda: None)
    assert backends.precision_policy(True) is None
    assert backends.precision_policy("mixed_bfloat16") == "mixed_bfloat16"
    assert backends.precision_policy(False) is None
    monkeypatch.setattr(backends, "_accelerator", lambda: FAKE_GPU)
    assert backends.precision_policy(True) == "mixed_float16"
    monkeypatch.setattr(backends, "_accelerator", lambda: ("TPU", "0", "TPU v4"))
    assert backends.precision_policy(True) == "mixed_bfloat16"


def test_the_policy_is_scoped_to_the_build():
    before = keras.config.dtype_policy().name
    with backends.dtype_policy("mixed_float16"):
        assert keras.config.dtype_policy().name == "mixed_float16"
    assert keras.config.dtype_policy().name == before
    with backends.dtype_policy(None):
        assert keras.config.dtype_policy().name == before


def test_notes_for_what_does_not_apply(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    monkeypatch.setattr(backends, "_accelerator", lambda: None)
    (note,) = backends.campaign_notes(
        pack_requested=True, threads=0, tensorboard=False, mixed_precision=True
    )
    assert note.startswith("mixed_precision: off on the CPU (")
    monkeypatch.setattr(backends, "_accelerator", lambda: FAKE_GPU)
    assert backends.campaign_notes(
        pack_requested=True, threads=0, tensorboard=False, mixed_precision=True, jit_compile=True
    ) == [
        "packing: off (mixed_precision: mixed_float16, jit_compile = true; packed trials "
        "compute in float32 without XLA, so trials train one model at a time)"
    ]
    assert (
        backends.campaign_notes(
            pack_requested=False, threads=0, tensorboard=False, mixed_precision=True
        )
        == []
    )
    monkeypatch.setattr(keras.backend, "backend", lambda: "torch")
    assert (
        backends.jit_compile_setting(True) is None and backends.jit_compile_setting(False) is False
    )
    notes = backends.campaign_notes(
        pack_requested=False, threads=0, tensorboard=False, jit_compile=True
    )
    assert notes[-1].startswith("jit_compile = true: not applied on torch (XLA is TensorFlow's")


def test_packing_gives_way_only_where_precision_or_xla_applies(monkeypatch):
    mlp = MLPHyperModel("multiclass", (4,), 3)
    campaign = from_dict(BASE)
    monkeypatch.setattr(backends, "_accelerator", lambda: None)
    assert packing_requested(campaign.replace(mixed_precision=True), mlp)  # off on a CPU
    assert not packing_requested(campaign.replace(mixed_precision="mixed_bfloat16"), mlp)
    assert not packing_requested(campaign.replace(jit_compile=True), mlp)
    assert packing_requested(campaign.replace(jit_compile=False), mlp)
    monkeypatch.setattr(backends, "_accelerator", lambda: FAKE_GPU)
    assert not packing_requested(campaign.replace(mixed_precision=True), mlp)


class SeenModels(keras.callbacks.Callback):
    """Notes what each trial's model is when it starts training (a class attribute: the loop
    deep-copies callbacks); with `stop`, fails the trial there, before its step is compiled."""

    seen: list[dict] = []
    stop = False

    def on_train_begin(self, logs=None):
        model = self.model
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        SeenModels.seen.append(
            {
                "policy": model.dtype_policy.name,
                "hidden": dense[0].compute_dtype,
                "output": model.outputs[0].dtype,
                "optimizer": type(model.optimizer).__name__,
                "jit_compile": model.jit_compile,
            }
        )
        if SeenModels.stop:
            raise FailedTrial("seen")


@pytest.mark.slow
def test_a_trial_trains_in_the_policy_with_a_float32_output(on_a_gpu, tmp_path):
    SeenModels.seen, SeenModels.stop = [], False
    found = api.search(
        write_campaign(tmp_path, max_trials=1, epochs=1),
        mixed_precision=True,
        jit_compile=False,
        callbacks=[SeenModels()],
    )
    assert SeenModels.seen == [
        {
            "policy": "mixed_float16",
            "hidden": "float16",
            "output": "float32",
            "optimizer": "LossScaleOptimizer",  # Keras' compile adds loss scaling
            "jit_compile": False,
        }
    ]
    assert found.records[0].completed and found.records[0].device == "GPU:0 (Fake GPU)"
    assert keras.config.dtype_policy().name == "float32"  # nothing else sees the policy


def test_jit_compile_reaches_the_model(tmp_path):
    """The trial is stopped before its step compiles: XLA took 6-10 s to compile this tiny
    step on this machine's CPU."""
    SeenModels.seen, SeenModels.stop = [], True
    found = api.search(
        write_campaign(tmp_path, max_trials=1, epochs=1), jit_compile=True, callbacks=[SeenModels()]
    )
    assert found.records[0].error == "tuner.errors.FailedTrial: seen"
    assert SeenModels.seen == [
        {
            "policy": "float32",
            "hidden": "float32",
            "output": "float32",
            "optimizer": "Adam",
            "jit_compile": True,
        }
    ]


# --------------------------------------------------------------------------- the device


@pytest.mark.slow
def test_every_trial_records_its_device(tmp_path, capsys):
    """Packed trials here (one at a time: `test_a_trial_trains_in_the_policy...`): the device
    reaches the records, trials.csv and summary.md."""
    path = write_campaign(tmp_path, max_trials=2, epochs=1)
    assert cli.main(["search", str(path)]) == 0
    assert "packing: up to 2 trials" in capsys.readouterr().out
    folder = tmp_path / "results" / "tiny"
    assert list(pd.read_csv(folder / "trials.csv")["device"]) == ["CPU", "CPU"]
    assert [r.device for r in ResultsFolder(folder).read_records()] == ["CPU", "CPU"]
    summary = (folder / "summary.md").read_text()
    assert "\n- device: CPU\n" in summary
    assert "| device |" not in summary  # said once, not in every row


def test_a_gpu_is_named_by_the_index_cuda_visible_devices_gave_it(monkeypatch):
    monkeypatch.setattr(keras.backend, "backend", lambda: "tensorflow")
    monkeypatch.setattr(tf_backend, "first_gpu", lambda: (1, "NVIDIA H100 80GB HBM3"))
    backends._accelerator.cache_clear()
    try:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
        assert backends.device() == "GPU:6 (NVIDIA H100 80GB HBM3)"
        backends._accelerator.cache_clear()
        monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
        assert backends.device() == "GPU:1 (NVIDIA H100 80GB HBM3)"
        assert backends.device_kind() == "GPU"
    finally:
        backends._accelerator.cache_clear()


def test_the_summary_says_one_device_or_counts_each():
    def table(devices):
        return pd.DataFrame(
            {"trial_id": [str(i) for i in range(len(devices))], "status": "completed",
             "score": 0.5, "best_epoch": 1, "device": devices, "error": None}
        )  # fmt: skip

    assert device_line(table(["CPU", "CPU"])) == "- device: CPU"
    assert device_line(table(["GPU:1 (H100)", "GPU:0 (H100)", "GPU:1 (H100)", None])) == (
        "- devices: GPU:1 (H100) 2 trials, GPU:0 (H100) 1 trial, not recorded 1 trial"
    )
    assert device_line(table([None, None])) is None
    text = summary_markdown(
        table(["GPU:0 (H100)", "GPU:1 (H100)"]), objective="a", direction="max", settings={}
    )
    assert "| device |" in text  # the devices differ: each row says its own


def test_a_record_saved_without_a_device_still_loads(tmp_path):
    path = tmp_path / "0.json"
    path.write_text(json.dumps({"trial_id": "0", "status": "failed", "hyperparameters": {}}))
    assert read_record(path) == TrialRecord("0", "failed", {})
