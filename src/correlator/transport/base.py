"""Source and Sink protocols shared by the memory and Kafka transports."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from correlator.model.message import RawMessage

__all__ = ["Resumable", "Sink", "Source"]


class Source(Protocol):
    """Yields batches of records and commits what has been made durable."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def get_batch(self, timeout_s: float) -> list[RawMessage]:
        """Return the next records (possibly none after ``timeout_s``)."""
        ...

    async def commit(self, batch: Sequence[RawMessage]) -> None:
        """Mark every record of ``batch`` as processed (offset + 1 per partition)."""
        ...


class Sink(Protocol):
    """Writes records to topics; ``send`` returns once they are acknowledged."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, messages: Sequence[RawMessage]) -> None:
        """Write ``messages`` (each names its topic) and wait for acknowledgement."""
        ...


@runtime_checkable
class Resumable(Protocol):
    """A source that can start partitions at given offsets (those of a restored snapshot)."""

    def resume_from(self, positions: Mapping[tuple[str, int], int]) -> None:
        """Consume each ``(topic, partition)`` from its offset, whenever it is assigned."""
        ...
