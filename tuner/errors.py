"""Error types shared by every module, and the wording they share. Imports nothing from the
package.

Three kinds of failure, as in KerasTuner: `ConfigError` is bad input (nothing ran or was
written; the CLI exits 2), `FailedTrial` ends one trial (the campaign goes on), `Fatal` stops
the campaign (the CLI exits 1; finished trials are kept). `Interrupted` is Ctrl-C during
training, saying what was lost and what is kept (the CLI exits 130).
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Iterable, Sequence
from typing import Any


class ConfigError(ValueError):
    """Bad input from the user: a campaign key, a range, a path. The CLI exits 2 with one line."""


class FailedTrial(Exception):
    """Raise from a builder or a callback to end this trial as failed; the campaign goes on."""


class Fatal(RuntimeError):
    """A failure that would repeat in every trial (a builder that cannot build, a metric that is
    never logged, too many failures in a row): the campaign stops. The CLI exits 1."""


class NothingNewRan(UserWarning):
    """A search of a campaign that had already run all its trials: nothing new ran."""


def warn(message: str, category: type[Warning] = UserWarning, stacklevel: int = 1) -> None:
    """`warnings.warn` (filters apply to `category` as usual), shown as the one line
    ``tuner: warning: <message>`` instead of Python's source path, category and source line:
    what a notebook or terminal user should read is the message."""
    original = warnings.formatwarning

    def plain(message: Any, *args: Any, **kwargs: Any) -> str:
        return f"tuner: warning: {message}\n"

    warnings.formatwarning = plain
    try:
        warnings.warn(message, category, stacklevel=stacklevel + 1)
    finally:
        warnings.formatwarning = original


class Interrupted(KeyboardInterrupt):
    """Ctrl-C while trials trained: `lost` are the trials whose training stopped unfinished
    (they train again from their first epoch on the next run), `epoch` how far they had got
    (None: not known), `kept` how many finished trials are kept (None: not known yet)."""

    def __init__(
        self,
        lost: Sequence[str],
        *,
        epoch: tuple[int, int] | None = None,
        kept: int | None = None,
    ):
        super().__init__()
        self.lost, self.epoch, self.kept = list(lost), epoch, kept

    def __str__(self) -> str:
        if not self.lost:
            head = "no training was lost"
        else:
            reached = f" at epoch {self.epoch[0]} of {self.epoch[1]}" if self.epoch else ""
            trials = (
                f"trial {self.lost[0]}"
                if len(self.lost) == 1
                else f"the {len(self.lost)} trials of the running pack ({_ids(self.lost)})"
            )
            head = f"{trials} stopped{reached} and will train again from the start"
        kept = "" if self.kept is None else f"; {self.kept} finished trial(s) are kept"
        return f"{head}{kept}; run the same command to resume"


def _ids(ids: Sequence[str], shown: int = 6) -> str:
    text = ", ".join(ids[:shown])
    return f"{text}, ..." if len(ids) > shown else text


# The name earlier releases exported for the campaign-stopping failure.
TrialError = Fatal


def did_you_mean(name: str, accepted: Iterable[str]) -> str:
    """`` (did you mean 'max_trials'?)`` for a near miss among `accepted`, else ``""``."""
    close = difflib.get_close_matches(name, list(accepted), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
