"""Soak test: does memory stay flat over a long campaign? A random search on iris (2 epochs a
trial) with the architecture varying (n_layers and units tuned: 32 graphs), printing resident
memory at trials 10, 100, 250, 500, 1,000 and the last, then the growth from trial 10 to the last
and seconds per trial over the first and the last 50 trials. Run by hand:

    python benchmarks/soak.py --trials 1000

Targets (issue 13): growth under 100 MB from trial 10 to trial 1,000; no slowdown from start to
end. "trial" seconds run from one trial's end to the next (build, fit, oracle, tables written);
"fit" seconds are `model.fit` alone. The first 50 trials include the tracing of each graph's
first model, so they are expected to be the slower ones.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any, ClassVar

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def rss_mb() -> float:
    """The process's resident memory now, in MB (VmRSS; ru_maxrss where /proc is missing)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--results-dir", default=None)
    args = parser.parse_args()

    import keras

    import tuner
    from tuner import tf_backend

    tf_backend.configure_threads(1)  # before the plan's test build starts TensorFlow

    checkpoints = {n for n in (10, 100, 250, 500, 1000) if n < args.trials} | {args.trials}
    memory: dict[int, float] = {}

    class Probe(keras.callbacks.Callback):
        # Class attributes: the executor deep-copies callbacks for every trial.
        trials: ClassVar[int] = 0
        fit_times: ClassVar[list[float]] = []
        trial_times: ClassVar[list[float]] = []
        started: ClassVar[float] = 0.0
        ended: ClassVar[float | None] = None

        def on_train_begin(self, logs: Any = None) -> None:
            Probe.started = time.perf_counter()

        def on_train_end(self, logs: Any = None) -> None:
            now = time.perf_counter()
            Probe.trials += 1
            Probe.fit_times.append(now - Probe.started)
            if Probe.ended is not None:
                Probe.trial_times.append(now - Probe.ended)
            Probe.ended = now
            if Probe.trials in checkpoints:
                memory[Probe.trials] = rss_mb()
                print(f"trial {Probe.trials:5d}: rss {memory[Probe.trials]:8.1f} MB", flush=True)

    with tempfile.TemporaryDirectory() as scratch:
        results_dir = args.results_dir or scratch
        started = time.perf_counter()
        campaign = tuner.Campaign(
            name="soak",
            dataset="iris",
            objective="val_accuracy",
            results_dir=results_dir,
            strategy="random",
            max_trials=args.trials,
            epochs=args.epochs,
            seed=0,
            threads=1,
            space={
                "n_layers": {"min": 1, "max": 4},
                "units": {"min": 8, "max": 64, "step": 8},
                "learning_rate": {"min": 1e-3, "max": 1e-1, "sampling": "log"},
            },
        )
        found = tuner.search(campaign, overwrite=True, callbacks=[Probe()])
        total = time.perf_counter() - started
    print(f"{len(found.records)} trials in {total:.1f} s")
    first, last = min(memory), max(memory)
    print(f"rss growth from trial {first} to trial {last}: {memory[last] - memory[first]:.1f} MB")
    window = min(50, len(Probe.trial_times) // 2) or 1
    for label, times in (("trial", Probe.trial_times), ("fit", Probe.fit_times)):
        head, tail = times[:window], times[-window:]
        print(
            f"seconds a trial ({label}): first {window} {mean(head):.3f}, "
            f"last {window} {mean(tail):.3f}"
        )


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


if __name__ == "__main__":
    main()
