"""Error types shared by every module. Imports nothing from the package."""


class ConfigError(ValueError):
    """Bad input from the user: a campaign key, a range, a path. The CLI exits 2 with one line."""


class TrialError(RuntimeError):
    """A trial could not be completed (diverged, failed to build); the campaign goes on."""
