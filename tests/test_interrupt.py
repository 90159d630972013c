"""Ctrl-C during a pack, for real: a fresh process gets SIGINT in the middle of its second pack,
exits 130 saying what was lost and what is kept, and the first pack's trials are on disk."""

import subprocess
import sys
from pathlib import Path

import pytest
from campaigns import write_campaign
from processes import user_environment

from tuner import cli
from tuner.store import ResultsFolder

pytestmark = pytest.mark.slow

# Runs the CLI with SIGINT sent to itself at the end of the second epoch of its second pack.
INTERRUPTING = """
import os, signal, sys
from tuner import cli, progress

packs = []
epoch = progress.Progress.epoch

def epoch_then_interrupt(self, report):
    epoch(self, report)
    if report.trial_ids not in packs:
        packs.append(report.trial_ids)
    if len(packs) == 2 and report.epoch == 2:
        os.kill(os.getpid(), signal.SIGINT)

progress.Progress.epoch = epoch_then_interrupt
sys.exit(cli.main(sys.argv[1:]))
"""


def test_ctrl_c_in_a_pack_says_what_is_lost_and_keeps_the_finished_pack(tmp_path):
    # A grid of 2 architectures (units) x 2 learning rates: one batch of 4, two packs of 2.
    campaign = write_campaign(
        tmp_path,
        strategy="grid",
        max_trials=4,
        epochs=3,
        pack=4,
        space={"units": [8, 16], "learning_rate": [0.01, 0.1]},
    )
    folder = tmp_path / "results" / "tiny"
    done = subprocess.run(
        [sys.executable, "-c", INTERRUPTING, "search", str(campaign)],
        env=user_environment(PYTHONPATH=str(Path(__file__).parents[1])),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 130, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    first = sorted(line.split()[2] for line in done.stdout.splitlines() if " trial " in line)
    second = sorted({"0", "1", "2", "3"} - set(first))
    assert len(first) == 2, done.stdout
    message = done.stderr.strip().splitlines()[-1]
    assert message == (
        f"tuner: interrupted: the 2 trials of the running pack ({', '.join(second)}) stopped at "
        "epoch 2 of 3 and will train again from the start; 2 finished trial(s) are kept; run "
        "the same command to resume"
    )
    assert sorted(r.trial_id for r in ResultsFolder(folder).read_records()) == first
    assert ResultsFolder(folder).table_trial_ids() == set(first)
    # The next run trains the lost pack and keeps the first one as it was.
    kept = {r.trial_id: r.history for r in ResultsFolder(folder).read_records()}
    assert cli.main(["search", str(campaign), "--quiet"]) == 0
    after = {r.trial_id: r.history for r in ResultsFolder(folder).read_records()}
    assert sorted(after) == ["0", "1", "2", "3"]
    assert {t: after[t] for t in first} == kept
