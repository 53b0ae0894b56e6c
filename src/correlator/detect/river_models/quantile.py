"""A constant-memory running quantile (River's P² ``stats.Quantile``)."""

from __future__ import annotations

from river import stats

__all__ = ["StreamingQuantile"]


class StreamingQuantile:
    """The ``q`` quantile of every value seen, estimated in five markers (P² algorithm).

    >>> median = StreamingQuantile(0.5)
    >>> median.get() is None
    True
    >>> for value in range(1, 102):
    ...     median.update(float(value))
    >>> round(median.get())
    51
    """

    __slots__ = ("_quantile", "count")

    def __init__(self, q: float) -> None:
        if not 0.0 < q < 1.0:
            raise ValueError("q must be between 0 and 1")
        self._quantile = stats.Quantile(q)
        self.count = 0

    def update(self, value: float) -> None:
        """Add ``value`` to the estimate."""
        self._quantile.update(value)
        self.count += 1

    def get(self) -> float | None:
        """The current estimate, or ``None`` before the first value."""
        value = self._quantile.get()
        return None if value is None else float(value)
