"""In-memory StateStore for unit tests (TTLs are not enforced)."""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from correlator.store.base import WriteBatch

__all__ = ["MemoryStateStore"]


class MemoryStateStore:
    """A dict-backed StateStore."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.indexes: dict[str, dict[str, float]] = {}
        self.logs: dict[str, list[bytes]] = {}
        self.counters: dict[str, int] = {}

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ping(self) -> bool:
        return True

    async def get(self, key: str) -> bytes | None:
        return self.data.get(key)

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        return [self.data.get(k) for k in keys]

    async def put_if_absent(self, key: str, value: bytes, ttl_s: float | None = None) -> bool:
        if key in self.data:
            return False
        self.data[key] = value
        return True

    async def write(self, batch: WriteBatch) -> None:
        self.data.update(batch.puts)
        for index, member, score in batch.index_adds:
            self.indexes.setdefault(index, {})[member] = score
        for index, member in batch.index_removes:
            self.indexes.get(index, {}).pop(member, None)
        for log, value, max_len in batch.appends:
            entries = self.logs.setdefault(log, [])
            entries.append(value)
            del entries[: max(0, len(entries) - max_len)]
        for key in batch.deletes:
            self.data.pop(key, None)
            self.indexes.pop(key, None)
            self.logs.pop(key, None)

    async def index_range(
        self,
        index: str,
        *,
        min_score: float = float("-inf"),
        max_score: float = float("inf"),
        reverse: bool = False,
        offset: int = 0,
        limit: int = 100,
    ) -> list[tuple[str, float]]:
        items = sorted(
            ((m, s) for m, s in self.indexes.get(index, {}).items()),
            key=lambda ms: (ms[1], ms[0]),
            reverse=reverse,
        )
        scores = [s for _, s in items]
        if reverse:
            chosen = [ms for ms in items if min_score <= ms[1] <= max_score]
        else:
            lo = bisect.bisect_left(scores, min_score)
            hi = bisect.bisect_right(scores, max_score)
            chosen = items[lo:hi]
        return chosen[offset : offset + limit]

    async def index_size(self, index: str) -> int:
        return len(self.indexes.get(index, {}))

    async def read_log(self, log: str, start: int = 0, stop: int = -1) -> list[bytes]:
        entries = self.logs.get(log, [])
        end = len(entries) if stop == -1 else stop + 1
        return entries[start:end]

    async def incr(self, key: str, by: int = 1, ttl_s: float | None = None) -> int:
        self.counters[key] = self.counters.get(key, 0) + by
        return self.counters[key]

    async def keys(self, prefix: str) -> list[str]:
        names = set(self.data) | set(self.indexes) | set(self.logs) | set(self.counters)
        return sorted(k for k in names if k.startswith(prefix))
