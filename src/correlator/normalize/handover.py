"""Window handover: the open windows of partitions a detect member gives up, through the store.

When a rebalance takes partitions from a detect member, it writes the open event-time
windows those partitions fed (``NormalizeStage.take``) under ``handover:<topic>:<partition>``,
each with the partition's next offset: the windows hold every record of that partition
below it. That write is one store transaction made before the member commits its offsets.
The partition's next owner loads the entries of the partitions it is assigned, merges them
into its own windows and deletes them (``correlator.stages.DetectEngine``).

An entry is only valid if the new owner resumes exactly at its offset. If the old member
died between writing it and committing, the owner starts lower and replays records the
entry already counts; that owner drops the entry instead (see
:meth:`HandedWindows.covers`). Entries expire after ``ttl_s`` in any case.

>>> from correlator.normalize.stage import OpenWindows
>>> handed = HandedWindows(position=120, windows=OpenWindows(logs=({3: {"api": [1, 0]}}, {})))
>>> _decode(_encode(handed)) == handed
True
>>> handed.covers(first_offset=120), handed.covers(first_offset=100)
(True, False)
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from correlator.normalize.stage import OpenWindows
from correlator.store.base import StateStore, WriteBatch

__all__ = ["HandedWindows", "WindowHandover"]

log = logging.getLogger(__name__)
_PREFIX = "handover:"
_VERSION = 1
Partition = tuple[str, int]
_UNREADABLE = (
    pickle.UnpicklingError,
    AttributeError,
    EOFError,
    ImportError,
    IndexError,
    KeyError,
    TypeError,
    ValueError,
)


@dataclass(frozen=True)
class HandedWindows:
    """One partition's open windows and the offset they run up to (exclusive)."""

    position: int
    windows: OpenWindows

    def covers(self, first_offset: int) -> bool:
        """Whether a consumer whose first record of the partition is ``first_offset`` may
        merge these windows (it neither replays nor skips any record they hold)."""
        return first_offset == self.position


class WindowHandover:
    """Saves, loads and deletes handed-over windows under ``handover:<topic>:<partition>``."""

    def __init__(self, store: StateStore, ttl_s: float = 3600.0) -> None:
        self._store = store
        self.ttl_s = ttl_s

    def add_to(
        self,
        batch: WriteBatch,
        handed: Mapping[Partition, HandedWindows],
        released: Iterable[Partition] = (),
    ) -> None:
        """Queue ``handed`` into ``batch``, and a delete of every other ``released`` entry
        (an older one must not reach the next owner)."""
        for partition, windows in handed.items():
            batch.put(_key(partition), _encode(windows), ttl_s=self.ttl_s)
        for partition in released:
            if partition not in handed:
                batch.delete(_key(partition))

    async def save(
        self, handed: Mapping[Partition, HandedWindows], released: Iterable[Partition] = ()
    ) -> None:
        """Write ``handed`` (and the deletes of :meth:`add_to`) in one transaction."""
        batch = WriteBatch()
        self.add_to(batch, handed, released)
        await self._store.write(batch)

    async def load(self, partitions: Iterable[Partition]) -> dict[Partition, HandedWindows]:
        """The entries found for ``partitions``; an unreadable one is logged and left out."""
        wanted = sorted(partitions)
        found: dict[Partition, HandedWindows] = {}
        blobs = await self._store.get_many([_key(p) for p in wanted])
        for partition, blob in zip(wanted, blobs, strict=True):
            if blob is None:
                continue
            try:
                found[partition] = _decode(blob)
            except _UNREADABLE as exc:
                log.warning(
                    "window handover of %s[%d] is unreadable (%s): its open windows are lost",
                    *partition,
                    exc,
                )
        return found

    async def delete(self, partitions: Iterable[Partition]) -> None:
        """Delete the entries of ``partitions`` (once merged) in one transaction."""
        batch = WriteBatch()
        for partition in partitions:
            batch.delete(_key(partition))
        await self._store.write(batch)


def _key(partition: Partition) -> str:
    topic, number = partition
    return f"{_PREFIX}{topic}:{number}"


def _encode(handed: HandedWindows) -> bytes:
    """Plain data only (no class of ours), so an entry survives code changes."""
    body = {
        "version": _VERSION,
        "position": handed.position,
        "spans": handed.windows.spans,
        "logs": handed.windows.logs,
    }
    return pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL)


def _decode(blob: bytes) -> HandedWindows:
    body = pickle.loads(blob)  # our own entries, in our own store
    if body["version"] != _VERSION:
        raise ValueError(f"format {body['version']!r}, this engine reads {_VERSION}")
    return HandedWindows(int(body["position"]), OpenWindows(body["spans"], body["logs"]))
