"""Error types shared by every module, and the wording they share. Imports nothing from the
package."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class ConfigError(ValueError):
    """Bad input from the user: a campaign key, a range, a path. The CLI exits 2 with one line."""


class TrialError(RuntimeError):
    """A trial could not be completed (diverged, failed to build); the campaign goes on."""


def did_you_mean(name: str, accepted: Iterable[str]) -> str:
    """`` (did you mean 'max_trials'?)`` for a near miss among `accepted`, else ``""``."""
    close = difflib.get_close_matches(name, list(accepted), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""
