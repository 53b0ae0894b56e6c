"""In-memory transport for unit tests of single stages."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from correlator.model.message import RawMessage

__all__ = ["MemorySink", "MemorySource"]


class MemorySource:
    """A source fed from lists of messages; records what was committed.

    >>> import asyncio
    >>> src = MemorySource([[RawMessage("t", b"a", offset=0)], [RawMessage("t", b"b", offset=1)]])
    >>> batch = asyncio.run(src.get_batch(0.0))
    >>> [m.value for m in batch]
    [b'a']
    """

    def __init__(self, batches: Iterable[Sequence[RawMessage]] = ()) -> None:
        self._batches: list[list[RawMessage]] = [list(b) for b in batches]
        self.committed: dict[tuple[str, int], int] = {}
        self.resumed: dict[tuple[str, int], int] = {}

    def feed(self, batch: Sequence[RawMessage]) -> None:
        """Queue one more batch."""
        self._batches.append(list(batch))

    @property
    def drained(self) -> bool:
        return not self._batches

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def get_batch(self, timeout_s: float) -> list[RawMessage]:
        batch = self._batches.pop(0) if self._batches else []
        if self.resumed:
            batch = [m for m in batch if m.offset >= self.resumed.get((m.topic, m.partition), -1)]
        return batch

    def resume_from(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Skip records below ``positions`` (as a Kafka consumer seeking there would)."""
        self.resumed.update(positions)

    async def commit(self, batch: Sequence[RawMessage]) -> None:
        for msg in batch:
            key = (msg.topic, msg.partition)
            self.committed[key] = max(self.committed.get(key, 0), msg.offset + 1)


class MemorySink:
    """A sink that keeps everything it was sent, by topic."""

    def __init__(self) -> None:
        self.topics: dict[str, list[RawMessage]] = defaultdict(list)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, messages: Sequence[RawMessage]) -> None:
        for msg in messages:
            self.topics[msg.topic].append(msg)
