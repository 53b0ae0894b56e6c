"""Injected time: the only module that reads the wall clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "FakeClock", "SystemClock"]


class Clock(Protocol):
    """Source of the current time, aware UTC."""

    def now(self) -> datetime:
        """Return the current time as an aware UTC datetime."""
        ...

    def monotonic(self) -> float:
        """Return a monotonic reading in seconds, for measuring durations."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to; for tests and replays in simulated time.

    >>> from datetime import timedelta
    >>> clock = FakeClock(datetime(2026, 1, 1, tzinfo=UTC))
    >>> clock.advance(timedelta(seconds=90))
    >>> clock.now().isoformat()
    '2026-01-01T00:01:30+00:00'
    """

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime; pass tzinfo=UTC")
        self._now = start
        self._mono = 0.0

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._mono

    def advance(self, delta: object) -> None:
        """Move the clock forward by a ``timedelta``."""
        from datetime import timedelta

        if not isinstance(delta, timedelta):
            raise TypeError("advance() takes a timedelta")
        self._now = self._now + delta
        self._mono += delta.total_seconds()

    def set(self, when: datetime) -> None:
        """Jump to ``when`` if it is later than now (time never goes back)."""
        if when > self._now:
            self._mono += (when - self._now).total_seconds()
            self._now = when
