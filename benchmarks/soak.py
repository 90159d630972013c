"""Soak test: does memory stay flat over a long campaign? A random search on iris (2 epochs a
trial) with the architecture varying (n_layers and units tuned), printing resident memory and
seconds per trial as it goes. Run by hand:

    python benchmarks/soak.py --trials 300
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
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--results-dir", default=None)
    args = parser.parse_args()

    import keras

    import tuner
    from tuner import tf_backend

    tf_backend.configure_threads(1)  # before the plan's test build starts TensorFlow

    checkpoints = {10, 100, args.trials}

    class Probe(keras.callbacks.Callback):
        # Class attributes: the executor deep-copies callbacks for every trial.
        trials: ClassVar[int] = 0
        times: ClassVar[list[float]] = []
        started: ClassVar[float] = 0.0

        def on_train_begin(self, logs: Any = None) -> None:
            Probe.started = time.perf_counter()

        def on_train_end(self, logs: Any = None) -> None:
            Probe.trials += 1
            Probe.times.append(time.perf_counter() - Probe.started)
            if Probe.trials in checkpoints:
                print(f"trial {Probe.trials:5d}: rss {rss_mb():8.1f} MB", flush=True)

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
    times = Probe.times
    head, tail = times[:20], times[-20:]
    print(
        f"{len(found.records)} trials in {total:.1f} s; seconds a trial (fit only): "
        f"first 20 {sum(head) / len(head):.3f}, last 20 {sum(tail) / len(tail):.3f}"
    )


if __name__ == "__main__":
    main()
