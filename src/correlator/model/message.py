"""A message as it comes off (or goes onto) a topic, before decoding."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["RawMessage"]


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One record of a topic: where it came from and its bytes."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    partition: int = 0
    offset: int = -1
    timestamp_ms: int = 0
    headers: tuple[tuple[str, bytes], ...] = field(default_factory=tuple)

    def header(self, name: str) -> bytes | None:
        """Return the first header called ``name``, or None."""
        for key, value in self.headers:
            if key == name:
                return value
        return None
