"""Shared error and warning types: how a warning of ours reads where a user sees it."""

import subprocess
import sys

from tests.processes import user_environment

SCRIPT = """
from tuner import errors
def search():
    errors.warn("campaign 'c' already has 2 finished trial(s); nothing new ran",
                errors.NothingNewRan, stacklevel=2)
search()
"""


def test_nothing_new_ran_shows_as_one_plain_line_in_a_users_process():
    # Python's default display, as a script or notebook shows it (pytest records warnings
    # instead of showing them, hence a process of its own: it imports no Keras, ~0.1 s).
    shown = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=user_environment()
    )
    assert shown.returncode == 0
    assert shown.stderr == (
        "tuner: warning: campaign 'c' already has 2 finished trial(s); nothing new ran\n"
    )


def test_our_warning_category_can_be_silenced_like_any_other():
    import warnings

    from tuner import errors

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("ignore", errors.NothingNewRan)
        errors.warn("nothing new ran", errors.NothingNewRan)
    assert caught == []
    assert issubclass(errors.NothingNewRan, UserWarning)
