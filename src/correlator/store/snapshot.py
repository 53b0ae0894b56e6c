"""Engine snapshots: the engine's state, the offsets it has consumed, and its outbox.

One snapshot is a consistent cut: the state after the records below ``positions`` and
nothing else. It is written in the same store transaction as the incident changes of the
batch that ends at the cut (queued in the *outbox* before they are sent), and only then
are those changes sent and the Kafka offsets committed. A restarted engine restores the
snapshot, re-sends its outbox (same ids, versions and contents) and resumes consuming at
``positions``, so it replays exactly the records whose effects the snapshot lacks.

Keys (under the store's prefix)::

    engine:<scope>:state    pickled state (``dumps``), offsets included
    engine:<scope>:outbox   JSON list of the incident changes being sent
"""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

from correlator.errors import StoreError
from correlator.model.incident import IncidentChange
from correlator.store.base import StateStore, WriteBatch

__all__ = ["SnapshotError", "SnapshotRepository", "dumps", "loads"]


class SnapshotError(StoreError):
    """A stored snapshot cannot be read back (not retriable: delete it to start afresh)."""

    retriable = False


class _Pickler(pickle.Pickler):
    def __init__(self, buf: io.BytesIO, external: Mapping[str, object]) -> None:
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)
        self._ids = {id(obj): name for name, obj in external.items()}

    def persistent_id(self, obj: object) -> str | None:
        return self._ids.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, buf: io.BytesIO, external: Mapping[str, object]) -> None:
        super().__init__(buf)
        self._external = external

    def persistent_load(self, pid: Any) -> object:
        try:
            return self._external[str(pid)]
        except KeyError:
            raise pickle.UnpicklingError(f"no object given for reference {pid!r}") from None


def dumps(state: object, external: Mapping[str, object] | None = None) -> bytes:
    """Pickle ``state``; objects in ``external`` are stored by name (saved elsewhere).

    >>> shared = ["big"]
    >>> blob = dumps({"a": 1, "s": shared}, {"shared": shared})
    >>> loads(blob, {"shared": ["given"]})
    {'a': 1, 's': ['given']}
    """
    buf = io.BytesIO()
    _Pickler(buf, external or {}).dump(state)
    return buf.getvalue()


def loads(blob: bytes, external: Mapping[str, object] | None = None) -> Any:
    """The state ``dumps`` wrote, with ``external`` objects put back by name."""
    return _Unpickler(io.BytesIO(blob), external or {}).load()


class SnapshotRepository:
    """Reads and writes one engine's snapshot and outbox (``scope`` names the engine role)."""

    def __init__(self, store: StateStore, scope: str = "all") -> None:
        self._store = store
        self.state_key = f"engine:{scope}:state"
        self.outbox_key = f"engine:{scope}:outbox"

    def add_to(self, batch: WriteBatch, blob: bytes, outbox: Sequence[IncidentChange] = ()) -> None:
        """Queue the snapshot (and the changes about to be sent) into ``batch``."""
        batch.put(self.state_key, blob)
        if outbox:
            body = json.dumps([c.model_dump(mode="json") for c in outbox])
            batch.put(self.outbox_key, body.encode())

    async def load(self) -> bytes | None:
        return await self._store.get(self.state_key)

    async def outbox(self) -> list[IncidentChange]:
        """Changes queued by the last snapshot that may not have reached the topic."""
        blob = await self._store.get(self.outbox_key)
        if blob is None:
            return []
        try:
            return [IncidentChange.model_validate(c) for c in json.loads(blob)]
        except ValueError as exc:
            raise SnapshotError(
                f"outbox {self.outbox_key!r} is not readable ({exc}); delete the key "
                "(its changes may then be missing from the incidents topic)"
            ) from exc

    async def clear_outbox(self) -> None:
        batch = WriteBatch()
        batch.delete(self.outbox_key)
        await self._store.write(batch)
