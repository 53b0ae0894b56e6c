"""The StateStore protocol: a few primitives that every aggregate store builds on.

Aggregates (``store/incidents.py``, ``store/checkpoints.py``...) are written once against
this protocol; ``MemoryStateStore`` and ``RedisStateStore`` implement it and pass the same
conformance suite (``tests/store/test_conformance.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["StateStore", "WriteBatch"]


@dataclass
class WriteBatch:
    """Writes applied atomically by ``StateStore.write`` (one MULTI/EXEC in Redis)."""

    puts: dict[str, bytes] = field(default_factory=dict)
    ttls: dict[str, float] = field(default_factory=dict)
    index_adds: list[tuple[str, str, float]] = field(default_factory=list)
    index_removes: list[tuple[str, str]] = field(default_factory=list)
    appends: list[tuple[str, bytes, int]] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)

    def put(self, key: str, value: bytes, ttl_s: float | None = None) -> None:
        self.puts[key] = value
        if ttl_s is not None:
            self.ttls[key] = ttl_s

    def index_add(self, index: str, member: str, score: float) -> None:
        self.index_adds.append((index, member, score))

    def index_remove(self, index: str, member: str) -> None:
        self.index_removes.append((index, member))

    def append(self, log: str, value: bytes, max_len: int = 10_000) -> None:
        self.appends.append((log, value, max_len))

    def delete(self, key: str) -> None:
        self.deletes.append(key)

    def __bool__(self) -> bool:
        return bool(
            self.puts or self.index_adds or self.index_removes or self.appends or self.deletes
        )


class StateStore(Protocol):
    """Key/value, sorted index and capped log primitives."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> bool:
        """True when the store answers."""
        ...

    async def get(self, key: str) -> bytes | None: ...

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]: ...

    async def put_if_absent(self, key: str, value: bytes, ttl_s: float | None = None) -> bool:
        """Set ``key`` only if it does not exist; True if this call set it."""
        ...

    async def write(self, batch: WriteBatch) -> None:
        """Apply every write of ``batch`` atomically."""
        ...

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
        """Members of a sorted index with their scores, by score."""
        ...

    async def index_size(self, index: str) -> int: ...

    async def read_log(self, log: str, start: int = 0, stop: int = -1) -> list[bytes]:
        """Entries of a capped log, oldest first (``stop`` inclusive, -1 = last)."""
        ...

    async def incr(self, key: str, by: int = 1, ttl_s: float | None = None) -> int:
        """Add ``by`` to a counter and return its new value."""
        ...

    async def keys(self, prefix: str) -> list[str]:
        """Every key starting with ``prefix`` (for small, bounded key spaces only)."""
        ...
