"""The package's namespace: the public API, lazily imported, and nothing else."""

import tuner


def test_dir_lists_the_public_api_and_no_private_helpers():
    names = dir(tuner)
    assert {"search", "load_results", "Campaign", "ConfigError"} <= set(names)
    assert names == sorted(tuner.__all__)
    for helper in ("Any", "importlib", "TYPE_CHECKING"):
        assert helper not in names
        assert not hasattr(tuner, helper), helper
