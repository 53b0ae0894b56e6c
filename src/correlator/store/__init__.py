"""State kept outside the process: incidents, model checkpoints, idempotency keys, audit."""

from correlator.store.base import StateStore, WriteBatch
from correlator.store.memory import MemoryStateStore

__all__ = ["MemoryStateStore", "StateStore", "WriteBatch"]
