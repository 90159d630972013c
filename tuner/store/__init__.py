"""The results store: the one owner of a campaign's results (on disk, or in memory), and the
results folder (`ResultsFolder`), the one owner of its files."""

from tuner.store.base import Store, trial_order
from tuner.store.disk import DiskStore, SharedDiskStore
from tuner.store.folder import ResultsFolder
from tuner.store.memory import MemoryStore

__all__ = ["Store", "DiskStore", "SharedDiskStore", "MemoryStore", "ResultsFolder", "trial_order"]
