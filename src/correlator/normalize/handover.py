"""Window handover: the open windows of partitions a detect member gives up, through the store.

When a rebalance takes partitions from a detect member, it writes the open event-time
windows those partitions fed (``NormalizeStage.take``) under ``handover:<topic>:<partition>``,
each with the partition's next offset: the windows hold every record of that partition
below it. That write is one store transaction made before the member commits its offsets.
The partition's next owner loads the entries of the partitions it is assigned, merges them
into its own windows and deletes them (``correlator.stages.DetectEngine``). A member also
writes the entries of every partition it owns at each checkpoint, before committing, so a
member that crashes leaves its windows at the offsets it committed.

A detect member also mines log templates with one miner per partition
(``LogWindows.miner_per_origin``), so template ids and first-seen novelty belong to the
partition, not to whichever member read it. That miner is kept under
``log-templates:<topic>:<partition>`` (no expiry): written in the same transaction as the
windows when the partition is given up or the member stops, at each checkpoint while it
changed, and loaded by the partition's next owner before it merges the windows.

An entry is only valid if the new owner resumes exactly at its offset. If the old member
died between writing it and committing, the owner starts lower and replays records the
entry already counts; that owner drops the entry instead (see
:meth:`HandedWindows.covers`). Entries expire after ``ttl_s`` in any case. A miner is kept
whatever the offset: it holds which templates exist, not counts, and records replayed
through it join the templates they made the first time (same ids, nothing new).

>>> from correlator.normalize.stage import Closed, OpenWindows
>>> handed = HandedWindows(position=120, windows=OpenWindows(logs=({3: {"api": [1, 0]}}, {})))
>>> _decode(_encode(handed)) == handed
True
>>> handed.covers(first_offset=120), handed.covers(first_offset=100)
(True, False)
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from correlator.normalize.log_templates import LogTemplateMiner, LogTemplateStateError
from correlator.normalize.stage import Closed, OpenWindows
from correlator.store.base import StateStore, WriteBatch

__all__ = ["HandedWindows", "WindowHandover"]

log = logging.getLogger(__name__)
_PREFIX = "handover:"
_MINER_PREFIX = "log-templates:"
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
    """One partition's open windows, the offset they run up to (exclusive) and the last
    span and log windows its owner had closed (the new owner's partition lags behind
    its own windows while they are lower: ``NormalizeStage.lag``)."""

    position: int
    windows: OpenWindows
    closed: Closed = (None, None)

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
        miners: Mapping[Partition, LogTemplateMiner] | None = None,
    ) -> None:
        """Queue ``handed`` into ``batch``, a delete of every other ``released`` entry
        (an older one must not reach the next owner), and each partition's miner."""
        for partition, windows in handed.items():
            batch.put(_key(partition), _encode(windows), ttl_s=self.ttl_s)
        for partition in released:
            if partition not in handed:
                batch.delete(_key(partition))
        for partition, miner in (miners or {}).items():
            batch.put(_miner_key(partition), miner.to_bytes())

    async def save(
        self,
        handed: Mapping[Partition, HandedWindows],
        released: Iterable[Partition] = (),
        miners: Mapping[Partition, LogTemplateMiner] | None = None,
    ) -> None:
        """Write what :meth:`add_to` queues in one transaction."""
        batch = WriteBatch()
        self.add_to(batch, handed, released, miners)
        if batch.puts or batch.deletes:
            await self._store.write(batch)

    async def load_miners(
        self, partitions: Iterable[Partition]
    ) -> dict[Partition, LogTemplateMiner]:
        """The saved template miners of ``partitions``; an unreadable one is logged and
        left out (that partition's templates are then first seen again)."""
        found: dict[Partition, LogTemplateMiner] = {}
        for partition, blob in await self._stored(partitions, _miner_key):
            try:
                found[partition] = LogTemplateMiner.from_bytes(blob)
            except LogTemplateStateError as exc:
                log.warning("log templates of %s[%d] not restored: %s", *partition, exc)
        return found

    async def load(self, partitions: Iterable[Partition]) -> dict[Partition, HandedWindows]:
        """The entries found for ``partitions``; an unreadable one is logged and left out."""
        found: dict[Partition, HandedWindows] = {}
        for partition, blob in await self._stored(partitions, _key):
            try:
                found[partition] = _decode(blob)
            except _UNREADABLE as exc:
                log.warning(
                    "window handover of %s[%d] is unreadable (%s): its open windows are lost",
                    *partition,
                    exc,
                )
        return found

    async def _stored(
        self, partitions: Iterable[Partition], key: Callable[[Partition], str]
    ) -> list[tuple[Partition, bytes]]:
        """The blobs stored under ``key`` of each of ``partitions`` that has one."""
        wanted = sorted(partitions)
        blobs = await self._store.get_many([key(p) for p in wanted])
        return [(p, blob) for p, blob in zip(wanted, blobs, strict=True) if blob is not None]

    async def delete(self, partitions: Iterable[Partition]) -> None:
        """Delete the entries of ``partitions`` (once merged) in one transaction."""
        batch = WriteBatch()
        for partition in partitions:
            batch.delete(_key(partition))
        await self._store.write(batch)


def _key(partition: Partition) -> str:
    topic, number = partition
    return f"{_PREFIX}{topic}:{number}"


def _miner_key(partition: Partition) -> str:
    topic, number = partition
    return f"{_MINER_PREFIX}{topic}:{number}"


def _encode(handed: HandedWindows) -> bytes:
    """Plain data only (no class of ours), so an entry survives code changes."""
    body = {
        "version": _VERSION,
        "position": handed.position,
        "spans": handed.windows.spans,
        "logs": handed.windows.logs,
        "closed": handed.closed,
    }
    return pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL)


def _decode(blob: bytes) -> HandedWindows:
    body = pickle.loads(blob)  # our own entries, in our own store
    if body["version"] != _VERSION:
        raise ValueError(f"format {body['version']!r}, this engine reads {_VERSION}")
    spans, logs = body.get("closed", (None, None))  # absent from entries written before it
    windows = OpenWindows(body["spans"], body["logs"])
    return HandedWindows(int(body["position"]), windows, (spans, logs))
