"""Model checkpoints: series states pickled into the state store, restored on demand."""

from __future__ import annotations

import logging
import pickle
from collections.abc import Mapping, Sequence

from correlator.detect.series import SeriesState
from correlator.errors import DetectorError
from correlator.store.base import StateStore, WriteBatch

__all__ = ["ModelCheckpoints"]

log = logging.getLogger(__name__)
_PREFIX = "model:"


class ModelCheckpoints:
    """Saves and loads ``SeriesState`` objects under ``model:<series>``."""

    def __init__(self, store: StateStore) -> None:
        self._store = store

    def add_to(self, batch: WriteBatch, states: Mapping[str, SeriesState]) -> None:
        """Queue ``states`` into ``batch`` (written with the rest of the batch's effects)."""
        for key, state in states.items():
            batch.put(_PREFIX + key, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))

    async def save(self, states: Mapping[str, SeriesState]) -> None:
        batch = WriteBatch()
        self.add_to(batch, states)
        await self._store.write(batch)

    async def load(self, keys: Sequence[str]) -> dict[str, SeriesState]:
        """States found for ``keys``; series never checkpointed are left out."""
        out: dict[str, SeriesState] = {}
        blobs = await self._store.get_many([_PREFIX + k for k in keys])
        for key, blob in zip(keys, blobs, strict=True):
            if blob is None:
                continue
            try:
                state = pickle.loads(blob)  # our own checkpoints, in our own store
            except (pickle.UnpicklingError, AttributeError, EOFError, ImportError) as exc:
                raise DetectorError(
                    f"checkpoint of series {key!r} cannot be restored ({exc}); "
                    "delete the key to start that series afresh"
                ) from exc
            if isinstance(state, SeriesState):
                out[key] = state
        return out
