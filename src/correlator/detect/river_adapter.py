"""Small typed wrappers around the River parts the built-in detectors use.

With the :mod:`correlator.detect.river_models` package (the River-backed detector kinds),
this is the only place that imports River: its return types and internals change between
releases (we pin 0.26.1), so everything else talks to these wrappers, never to River.
"""

from __future__ import annotations

from river import stats

__all__ = ["RollingRange"]


class RollingRange:
    """Minimum and maximum of the last ``window`` values, in O(log window) per update.

    Built on River's Rust-backed ``stats.RollingQuantile`` at ``q = 0`` and ``q = 1``;
    it pickles, and its memory is bounded by ``window``.

    >>> envelope = RollingRange(window=3)
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

    def __init__(self, window: int) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.window = window
        self._low = stats.RollingQuantile(0.0, window)
        self._high = stats.RollingQuantile(1.0, window)
        self._count = 0

    @property
    def low(self) -> float | None:
        """The smallest value in the window, or ``None`` before the first update."""
        return _as_float(self._low.get())

    @property
    def high(self) -> float | None:
        """The largest value in the window, or ``None`` before the first update."""
        return _as_float(self._high.get())

    def update(self, value: float) -> None:
        """Add ``value``; the oldest value leaves once the window is full."""
        self._low.update(value)
        self._high.update(value)
        self._count += 1


def _as_float(value: float | None) -> float | None:
    return None if value is None else float(value)
