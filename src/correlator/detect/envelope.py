"""Rolling minimum and maximum of the last ``window`` observations, in amortised O(1).

Two monotonic queues keep only the values that can still become the window's extreme, so
a series that wanders keeps a handful of entries and the pickled state stays small; the
worst case (a monotonic series) is bounded by ``window`` entries per side.
"""

from __future__ import annotations

from collections import deque
from typing import Protocol

__all__ = ["Envelope", "RollingEnvelope", "RollingMax"]


class Envelope(Protocol):
    """Low and high of a rolling window (also met by ``river_adapter.RollingRange``)."""

    @property
    def low(self) -> float | None: ...

    @property
    def high(self) -> float | None: ...

    def update(self, value: float) -> None: ...


class RollingEnvelope:
    """The low and high of the last ``window`` values.

    >>> envelope = RollingEnvelope(window=3)
    >>> envelope.low, envelope.high
    (None, None)
    >>> for value in [5.0, 1.0, 9.0, 4.0]:
    ...     envelope.update(value)
    >>> envelope.low, envelope.high
    (1.0, 9.0)
    >>> envelope.update(6.0)
    >>> envelope.low, envelope.high
    (4.0, 9.0)
    """

    __slots__ = ("_count", "_highs", "_lows", "window")

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self._count = 0
        self._highs: deque[tuple[int, float]] = deque()  # values strictly decreasing
        self._lows: deque[tuple[int, float]] = deque()  # values strictly increasing

    @property
    def low(self) -> float | None:
        """The smallest value in the window, or ``None`` before the first update."""
        return self._lows[0][1] if self._lows else None

    @property
    def high(self) -> float | None:
        """The largest value in the window, or ``None`` before the first update."""
        return self._highs[0][1] if self._highs else None

    def __len__(self) -> int:
        """Entries held (at most ``2 * window``)."""
        return len(self._highs) + len(self._lows)

    def update(self, value: float) -> None:
        """Add ``value``; values older than ``window`` updates leave."""
        index = self._count
        self._count += 1
        highs, lows = self._highs, self._lows
        while highs and highs[-1][1] <= value:
            highs.pop()
        highs.append((index, value))
        while lows and lows[-1][1] >= value:
            lows.pop()
        lows.append((index, value))
        oldest = index - self.window
        if highs[0][0] <= oldest:
            highs.popleft()
        if lows[0][0] <= oldest:
            lows.popleft()


class RollingMax:
    """The largest of the last ``window`` values: one queue, for when the low is not needed.

    >>> rolling = RollingMax(window=2)
    >>> rolling.high is None
    True
    >>> for value in [3.0, 1.0, 2.0]:
    ...     rolling.update(value)
    >>> rolling.high
    2.0
    """

    __slots__ = ("_count", "_highs", "window")

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self._count = 0
        self._highs: deque[tuple[int, float]] = deque()  # values strictly decreasing

    @property
    def high(self) -> float | None:
        """The largest value in the window, or ``None`` before the first update."""
        return self._highs[0][1] if self._highs else None

    def update(self, value: float) -> None:
        """Add ``value``; values older than ``window`` updates leave."""
        index = self._count
        self._count = index + 1
        highs = self._highs
        while highs and highs[-1][1] <= value:
            highs.pop()
        highs.append((index, value))
        if highs[0][0] <= index - self.window:
            highs.popleft()
