"""The GPU benchmark of issue 26: packed trials, workers sharing one GPU and mixed precision,
each a `tuner search` process as a user runs it (`python3 -m tuner search ...`), timed as a
whole process. Run through `benchmarks/gpu.sh` (which installs the carried wheels and sets
``KERAS_BACKEND=jax``) on the GPU machine:

    bash benchmarks/gpu.sh            # everything, about 5-8 minutes on an H100; table to $OUT
    bash benchmarks/gpu.sh --quick    # one small packed campaign: a smoke test of a minute

Runs, in this order (each its own process, in turn):

1. the textbook campaign (`experiments/textbook_sgd.toml`: 400/100 MNIST, 6x100 ReLU, SGD,
   batch 100, 50 epochs, 100 trials), packed (the default), then ``--pack 1`` for the first
   ``--sequential-trials`` trials (20: the 15 minutes of GPU time would not hold 100);
2. ``mixed_precision = true`` on the textbook campaign, the same trials as the ``--pack 1`` run:
   a campaign whose mixed precision applies trains one model a trial (packs compute in
   float32), so that run is its float32 twin; on a CPU ``true`` stays float32 (and packed);
3. a campaign whose trials differ in shape (n_layers 1-4 and units 32-256 tuned, 40 trials of
   2,000 MNIST images, 5 epochs) with ``--workers 1`` and ``--workers 4`` sharing the GPU.

A run that fails or outlasts its share of ``--budget`` is a row that says so (what its results
table holds by then is still read: trials are written as they end), and the next run starts.
Prints one Markdown table, the targets and the device; writes it (gpu.md), each run's stderr
(gpu.log) and each run's trials table (trials_<run>.csv) to OUTDIR ($OUT when set, else
build/gpu). Run by hand, never by CI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TEXTBOOK = ROOT / "experiments" / "textbook_sgd.toml"
PACKED_TARGET_S = 15.0  # issue 26: 100 packed textbook trials
WORKERS_TARGET = 3.0  # issue 26: trials a minute with 4 workers against 1
SHAPES = """\
name = "shapes"
dataset = "mnist"
max_samples = 2000
validation_split = 0.2
model = "mlp"
objective = "val_accuracy"
strategy = "random"
max_trials = {trials}
epochs = {epochs}
seed = 0
pruning = "none"

[space]
n_layers = {{ min = 1, max = 4 }}
units = {{ min = 32, max = 256, step = 32 }}
learning_rate = 0.003
"""


@dataclass
class Run:
    """One `tuner search` process: what it is called, its campaign and options, its share of
    the time budget; then what it gave."""

    label: str
    campaign: Path
    options: list[str]
    cap_s: float
    wall_s: float = float("nan")
    status: str = "not run"
    table: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.campaign.stem


def kill_group(process: subprocess.Popen) -> None:
    """End the run and the worker processes it started (its own process group)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def execute(run: Run, results: Path, log: Path, deadline: float) -> None:
    """Run `run` as a user would, at most until `deadline` (and its cap); fill in its wall
    time, status, trials table and the notes of its summary."""
    left = deadline - time.perf_counter()
    if left < 10:
        run.status = "skipped: --budget spent"
        return
    command = [sys.executable, "-m", "tuner", "search", str(run.campaign), "--quiet"]
    command += ["--overwrite", "--results-dir", str(results), *run.options]
    print(f"[gpu.py] {run.label}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
    with log.open("a") as err:
        err.write(f"\n===== {run.label}: {' '.join(command)}\n")
        err.flush()
        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=err, start_new_session=True
        )
        try:
            code = process.wait(timeout=min(run.cap_s, left))
            run.status = "ok" if code == 0 else f"failed: exit {code} (gpu.log)"
        except subprocess.TimeoutExpired:
            kill_group(process)
            run.status = f"stopped at {min(run.cap_s, left):.0f} s"
        run.wall_s = time.perf_counter() - started
    folder = results / run.name
    if (folder / "trials.csv").exists():
        run.table = pd.read_csv(folder / "trials.csv", dtype={"trial_id": str})
    if (folder / "summary.md").exists():
        text = (folder / "summary.md").read_text()
        notes = text.partition("## Notes")[2].partition("\n## ")[0]
        run.notes = [line[2:] for line in notes.splitlines() if line.startswith("- ")]
    if not run.status.startswith("ok"):
        tail = log.read_text().splitlines()[-15:]
        print(f"[gpu.py] {run.label}: {run.status}\n" + "\n".join(tail), file=sys.stderr)


def in_trial_order(table: pd.DataFrame) -> pd.DataFrame:
    """The trials in the order they were proposed (ids are numbers, maybe zero-padded)."""
    return table.assign(order=pd.to_numeric(table["trial_id"])).sort_values("order")


def figures(run: Run) -> dict[str, str]:
    """The row of `run` in the table: wall time, trials a minute, where the time went, best
    score and device."""
    row = {"run": run.label, "status": run.status, "wall s": f"{run.wall_s:.1f}"}
    table = run.table
    if table is None or table.empty:
        return row
    done = table[table["status"] == "completed"]
    durations = in_trial_order(table)["duration_s"].tolist()
    later = durations[1:]
    row["trials"] = str(len(done))
    row["trials/min"] = f"{60 * len(done) / run.wall_s:.1f}"
    row["in trials s"] = f"{sum(durations):.1f}"
    if "--workers" not in run.options:  # workers' trials overlap: their sum is no wall time
        row["outside trials s"] = f"{run.wall_s - sum(durations):.1f}"
    row["first trial s"] = f"{durations[0]:.2f}"
    if later:
        median = statistics.median(later)
        row["later trials s (median)"] = f"{median:.3f}"
        if "--workers" not in run.options:  # a worker's first trial waits on the others' starts
            row["first trial's extra s"] = f"{durations[0] - median:.2f}"
    row["best"] = f"{done['score'].max():.4f}" if len(done) else "-"
    row["device"] = ", ".join(sorted(set(table["device"].astype(str))))
    return row


COLUMNS = [
    "run",
    "status",
    "trials",
    "wall s",
    "trials/min",
    "in trials s",
    "outside trials s",
    "first trial s",
    "later trials s (median)",
    "first trial's extra s",
    "best",
    "device",
]


def markdown(rows: list[dict[str, str]]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row.get(c, "-") for c in COLUMNS) + " |" for row in rows]
    return "\n".join(lines)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def targets(runs: dict[str, Run]) -> list[str]:
    """The issue's targets, each met or missed, from the runs that ended."""
    lines = []
    packed = runs.get("packed")
    if packed and packed.status == "ok" and packed.table is not None:
        n = len(packed.table)
        verdict = "met" if packed.wall_s < PACKED_TARGET_S and n == 100 else "missed"
        lines.append(
            f"- {n} packed textbook trials in {packed.wall_s:.1f} s, the whole process "
            f"(target under {PACKED_TARGET_S:.0f} s for 100): {verdict}"
        )
    alone = runs.get("pack 1")
    if packed and alone and packed.table is not None and alone.table is not None:
        per_packed = packed.wall_s / len(packed.table)
        per_alone = alone.wall_s / len(alone.table)
        lines.append(
            f"- wall time a trial: packed {per_packed:.3f} s, --pack 1 {per_alone:.3f} s "
            f"({ratio(per_alone, per_packed):.1f}x)"
        )
    one, four = runs.get("workers 1"), runs.get("workers 4")
    if one and four and one.table is not None and four.table is not None:
        speed = ratio(len(four.table) / four.wall_s, len(one.table) / one.wall_s)
        verdict = "met" if speed >= WORKERS_TARGET else "missed"
        lines.append(
            f"- trials a minute, 4 workers against 1: {speed:.2f}x "
            f"(target at least {WORKERS_TARGET:.0f}x): {verdict}"
        )
    mixed = runs.get("mixed true")
    if mixed and alone and mixed.table is not None and alone.table is not None:
        later = [in_trial_order(r.table)["duration_s"].iloc[1:].median() for r in (mixed, alone)]
        applied = not any(note.startswith("mixed_precision: off") for note in mixed.notes)
        what = "both one model a trial" if applied else "it did not apply here: float32, packed"
        lines.append(
            f"- mixed_precision = true against float32 --pack 1 ({what}): later trials "
            f"{later[0]:.3f} s against {later[1]:.3f} s ({ratio(later[0], later[1]):.2f}x), "
            f"best {mixed.table['score'].max():.4f} against {alone.table['score'].max():.4f}"
        )
    return lines


def device_lines() -> list[str]:
    """The GPU as nvidia-smi names it, and JAX's devices, each asked in its own process (this
    one keeps no GPU context while the runs share the GPU)."""
    lines = []
    if shutil.which("nvidia-smi"):
        smi = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True,
            text=True,
        )
        lines.append(f"- nvidia-smi: {(smi.stdout or smi.stderr).strip()}")
    else:
        lines.append("- nvidia-smi: not on this machine")
    probe = (
        "import jax, jaxlib, keras, numpy; print(f'jax.devices(): {jax.devices()}; jax "
        "{jax.__version__}, jaxlib {jaxlib.__version__}, keras {keras.__version__} "
        "({keras.backend.backend()}), numpy {numpy.__version__}, python "
        '{__import__("platform").python_version()}\')'
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    lines.append(f"- {(found.stdout or found.stderr.strip().splitlines()[-1]).strip()}")
    return lines


def plan(args: argparse.Namespace, scratch: Path) -> list[Run]:
    """The runs of this invocation, in order, each with its cap in seconds."""
    if args.quick:
        quick = ["--max-trials", "16", "--epochs", "10"]
        return [Run("packed (quick: 16 trials, 10 epochs)", TEXTBOOK, quick, args.budget)]
    shapes = scratch / "shapes.toml"
    shapes.write_text(SHAPES.format(trials=args.shape_trials, epochs=args.shape_epochs))
    few = ["--max-trials", str(args.sequential_trials)]
    return [
        Run("packed", TEXTBOOK, [], 90),
        Run("pack 1", TEXTBOOK, ["--pack", "1", *few], 120),
        Run("mixed true", TEXTBOOK, ["--mixed-precision", "true", *few], 120),
        Run("workers 1", shapes, ["--workers", "1"], 180),
        Run("workers 4", shapes, ["--workers", "4"], 120),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default=os.environ.get("OUT") or "build/gpu")
    parser.add_argument("--quick", action="store_true", help="one small packed campaign only")
    parser.add_argument("--budget", type=float, default=450, help="seconds for all the runs")
    parser.add_argument("--sequential-trials", type=int, default=20)
    parser.add_argument("--shape-trials", type=int, default=40)
    parser.add_argument("--shape-epochs", type=int, default=5)
    args = parser.parse_args(argv)
    outdir = Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    log = outdir / "gpu.log"
    log.write_text("")
    started = time.perf_counter()
    deadline = started + args.budget
    head = ["Device:", *device_lines()]
    print("\n".join(head), file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        runs = plan(args, scratch)
        for run in runs:
            slug = "".join(c if c.isalnum() else "_" for c in run.label.split(" (")[0])
            execute(run, scratch / slug, log, deadline)
            if run.table is not None:
                run.table.to_csv(outdir / f"trials_{slug}.csv", index=False)
    notes = sorted({note for run in runs for note in run.notes})
    command = "bash benchmarks/gpu.sh" + (" --quick" if args.quick else "")
    text = [
        f"`{command}`: each row one `python3 -m tuner search` process on KERAS_BACKEND=jax, "
        f"in turn; {time.perf_counter() - started:.0f} s in all.",
        "",
        markdown([figures(run) for run in runs]),
        "",
        "Wall s is the whole process (start, imports, data, compiles, tables); in trials s sums "
        "the trials' duration_s (a packed trial's is its pack's time over the pack's size); "
        "the first trial's extra over the later median is mostly compilation.",
        "",
        *(["Targets:", *targets({run.label: run for run in runs}), ""] if not args.quick else []),
        *head,
        "",
        "Notes from the runs' summaries:",
        *[f"- {note}" for note in notes],
    ]
    report = "\n".join(text)
    print(report)
    (outdir / "gpu.md").write_text(report + "\n")
    return 0 if all(run.status == "ok" for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
