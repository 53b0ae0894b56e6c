"""Engine snapshots: the engine's state, the offsets it has consumed, and its outbox.

One snapshot is a consistent cut: the state after the records below ``positions`` and
nothing else. It is written in the same store transaction as the incident changes of the
batch that ends at the cut (queued in the *outbox* before they are sent), and only then
are those changes sent and the Kafka offsets committed. A restarted engine restores the
snapshot, re-sends its outbox (same ids, versions and contents) and resumes consuming at
``positions``, so it replays exactly the records whose effects the snapshot lacks.

A full snapshot (every detector series, span and log windows...) costs hundreds of
milliseconds under load, too much to pay before every incident change is sent. So between
full snapshots, a batch with incident changes writes a *cut* instead: only what
correlation holds (open incidents, queued ticks, topology) and the offsets it covers, in
one transaction with the changes and the outbox. A restarted engine restores the full
snapshot and the cut written after it, and replays the records between the two with
correlation muted (the cut already holds what they fed it), so what follows is exactly
what the first engine would have done. A full snapshot deletes the cut it supersedes.

Keys (under the store's prefix)::

    engine:<scope>:state    pickled state (``dumps``), offsets included
    engine:<scope>:cut      pickled correlation state and its offsets (since the state)
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


def _external(name: str) -> object:
    """Stands for an external object in a pickle (see ``_Unpickler.find_class``)."""
    raise pickle.UnpicklingError(f"no object given for reference {name!r}")


class _Pickler(pickle.Pickler):
    """Writes objects of ``external`` as references by name.

    ``reducer_override`` rather than ``persistent_id``: the latter is a Python call for
    every object pickled (strings and numbers included), which made a snapshot's hundreds
    of thousands of span ids several times slower to pickle; this one is called only for
    instances of classes (builtins are pickled in C without asking).
    """

    def __init__(self, buf: io.BytesIO, external: Mapping[str, object]) -> None:
        super().__init__(buf, protocol=pickle.HIGHEST_PROTOCOL)
        self._ids = {id(obj): name for name, obj in external.items()}

    def reducer_override(self, obj: object) -> Any:
        name = self._ids.get(id(obj))
        return NotImplemented if name is None else (_external, (name,))


class _Unpickler(pickle.Unpickler):
    def __init__(self, buf: io.BytesIO, external: Mapping[str, object]) -> None:
        super().__init__(buf)
        self._external = external

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == _external.__name__:
            return self._resolve
        return super().find_class(module, name)

    def _resolve(self, name: str) -> object:
        try:
            return self._external[name]
        except KeyError:
            raise pickle.UnpicklingError(f"no object given for reference {name!r}") from None

    def persistent_load(self, pid: Any) -> object:  # snapshots written with persistent_id
        return self._resolve(str(pid))


def dumps(state: object, external: Mapping[str, object] | None = None) -> bytes:
    """Pickle ``state``; objects in ``external`` are stored by name (saved elsewhere).

    External objects must be instances of classes (a builtin list, dict or string is
    always pickled by value).

    >>> from types import SimpleNamespace
    >>> shared = SimpleNamespace(templates=["big"])
    >>> blob = dumps({"a": 1, "s": shared}, {"shared": shared})
    >>> loads(blob, {"shared": "given"})
    {'a': 1, 's': 'given'}
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
        self.cut_key = f"engine:{scope}:cut"
        self.outbox_key = f"engine:{scope}:outbox"

    def add_to(self, batch: WriteBatch, blob: bytes, outbox: Sequence[IncidentChange] = ()) -> None:
        """Queue the full snapshot (and the changes about to be sent) into ``batch``.

        The cut written since the last full snapshot is deleted: this one covers it.
        """
        batch.put(self.state_key, blob)
        batch.delete(self.cut_key)
        self._add_outbox(batch, outbox)

    def add_cut_to(
        self, batch: WriteBatch, blob: bytes, outbox: Sequence[IncidentChange] = ()
    ) -> None:
        """Queue a cut (correlation state since the full snapshot) and its changes."""
        batch.put(self.cut_key, blob)
        self._add_outbox(batch, outbox)

    def _add_outbox(self, batch: WriteBatch, outbox: Sequence[IncidentChange]) -> None:
        if outbox:
            body = json.dumps([c.model_dump(mode="json") for c in outbox])
            batch.put(self.outbox_key, body.encode())

    async def load(self) -> bytes | None:
        return await self._store.get(self.state_key)

    async def load_cut(self) -> bytes | None:
        """The cut written after the full snapshot, if any."""
        return await self._store.get(self.cut_key)

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
