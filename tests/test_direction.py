"""The one conversion of a score by its objective's direction."""

from __future__ import annotations

import numpy as np
import pytest

from tuner.direction import check_direction, gain, loss
from tuner.errors import ConfigError


def test_gain_is_higher_is_better_and_loss_lower_is_better():
    assert (gain(0.9, "max"), gain(0.9, "min")) == (0.9, -0.9)
    assert (loss(0.9, "max"), loss(0.9, "min")) == (-0.9, 0.9)
    assert gain(np.array([0.2, -1.0]), "min").tolist() == [-0.2, 1.0]
    # Sorting by loss puts the best first in either direction.
    assert sorted([0.3, 0.9, 0.1], key=lambda s: loss(s, "max")) == [0.9, 0.3, 0.1]
    assert sorted([0.3, 0.9, 0.1], key=lambda s: loss(s, "min")) == [0.1, 0.3, 0.9]


def test_a_direction_other_than_max_or_min_is_refused():
    assert check_direction("min") == "min"
    for bad in ("up", None, "MAX"):
        with pytest.raises(ConfigError, match=f"direction must be 'min' or 'max', but got {bad!r}"):
            gain(1.0, bad)  # type: ignore[arg-type]
