"""When a trial has diverged: the one rule, for trials alone and for every tower of a pack.

A trial diverges when, at the end of an epoch, its training loss is not finite, or is more than
`FACTOR` times its starting loss: the loss of its first batch, computed with the weights it
started from. The start, not the first epoch: measured on digits, a learning rate that blows up
does so within the first epoch (SGD at 10: 2.5e14 in epoch 1, then 2.45 with every unit dead;
at 1000: 7.4e9, then ~500), so later epochs never exceed the first epoch's mean. In a grid of
35 runs (the MLP on digits, 5 optimizers, learning rates 1e-3 to 1000, 10 epochs) the 11 that
learned (validation accuracy 0.84-0.97, SGD at 1.0 included, whose loss jumps between epochs)
never exceeded 0.93x their start; the 9 past 1000x scored 0.10-0.25 (chance is 0.10). Runs
between 13x and 707x scored at chance too: the factor leaves them a wide margin, as completed
trials with poor scores.
"""

from __future__ import annotations

import math

FACTOR = 1000.0


class Divergence:
    """The rule for one trial: told its starting loss once (`start`), then each epoch's
    training loss (`check`), it says why the trial diverged, or None."""

    def __init__(self, factor: float = FACTOR) -> None:
        self.factor = factor
        self.start_loss: float | None = None

    def start(self, loss: float) -> None:
        """The loss of the trial's first batch; later calls are ignored."""
        if self.start_loss is None and math.isfinite(loss):
            self.start_loss = loss

    def check(self, loss: float, epoch: int) -> str | None:
        """Why the training loss `loss` at (1-based) `epoch` means the trial diverged, or None."""
        if not math.isfinite(loss):
            return f"loss became {loss} at epoch {epoch}"
        start = self.start_loss
        # A start of zero or below (a loss that can be negative) gives no scale to compare.
        if start is not None and start > 0 and loss > self.factor * start:
            return (
                f"loss {loss:.3g} at epoch {epoch} is more than {self.factor:g}x "
                f"its first batch's {start:.3g}"
            )
        return None
