"""The results store: the one owner of a campaign's results (on disk, or in memory)."""

from tuner.store.base import Store, trial_order
from tuner.store.disk import DiskStore, SharedDiskStore
from tuner.store.memory import MemoryStore

__all__ = ["Store", "DiskStore", "SharedDiskStore", "MemoryStore", "trial_order"]
