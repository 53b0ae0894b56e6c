"""Event-time tumbling windows shared by the span and log normalizers.

Open windows are kept per *origin*: the ``(topic, partition)`` whose records fed them (None
when the caller does not say). Draining merges the origins of a window, so the split
changes no observation; it lets a detect member hand the open windows of the partitions
it gives up to their next owner (``SpanWindows.take`` / ``merge``, ``LogWindows`` alike,
``correlator.normalize.handover``).

An origin taken over from behind (its old owner had closed fewer windows than this
instance) is *lagging* (:class:`Lagging`): its records are late only against the windows
its old owner closed, and its windows close by its own progress as well as the watermark,
until it has caught up; so a partition moved from a slower member loses no record to
windows the faster member had already closed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

__all__ = ["Lagging", "Origin", "bucket_of", "closed_buckets"]

Origin = tuple[str, int] | None
"""The ``(topic, partition)`` an open window's records came from (None: not tracked)."""


def bucket_of(ts: float, window_s: float) -> int:
    """Index of the tumbling window holding unix time ``ts``.

    >>> bucket_of(25.0, 10.0), bucket_of(30.0, 10.0)
    (2, 3)
    """
    return math.floor(ts / window_s)


def closed_buckets(open_buckets: list[int], watermark: float, window_s: float) -> list[int]:
    """Buckets that ended at least one window before ``watermark`` (allowed lateness).

    >>> closed_buckets([1, 2, 3], watermark=40.0, window_s=10.0)
    [1, 2]
    """
    return sorted(b for b in open_buckets if (b + 2) * window_s <= watermark)


class Lagging:
    """The lagging origins of one window table: the last window each one's old owner
    closed, and the latest event time seen from it here."""

    def __init__(self) -> None:
        self.closed: dict[Origin, int | None] = {}
        self.high: dict[Origin, float] = {}

    def start(self, origin: Origin, closed: int | None, here: int | None) -> None:
        """Take ``origin`` over with its old owner's last closed window ``closed``; it
        lags only when this instance has closed more (``here``)."""
        if here is not None and (closed is None or closed < here):
            self.closed[origin] = closed
            self.high.setdefault(origin, 0.0)

    def stop(self, origin: Origin) -> None:
        """``origin`` closes by the watermark from now on (caught up, idle, or gone)."""
        self.closed.pop(origin, None)
        self.high.pop(origin, None)

    def saw(self, origin: Origin, latest: float) -> None:
        if latest > self.high[origin]:
            self.high[origin] = latest

    def closing(
        self,
        buckets: Mapping[Origin, Iterable[int]],
        watermark: float,
        window_s: float,
        flush: bool,
    ) -> list[tuple[int, set[Origin]]]:
        """The buckets that close now, in order, each with the origins it closes in: by
        ``watermark``, for a lagging origin also by its own latest time (all if
        ``flush``); a lagging origin that has caught up stops lagging.

        >>> lag = Lagging()
        >>> lag.start(("t", 1), closed=2, here=5)
        >>> lag.saw(("t", 1), 55.0)
        >>> open_buckets = {None: [6], ("t", 1): [3, 4, 5]}
        >>> lag.closing(open_buckets, watermark=80.0, window_s=10.0, flush=False)
        [(3, {('t', 1)}), (6, {None})]
        >>> lag.closed
        {('t', 1): 3}
        """
        origins_of: dict[int, set[Origin]] = {}
        for origin, own in buckets.items():
            lagging = origin in self.closed
            horizon = min(watermark, self.high[origin]) if lagging else watermark
            done = list(own) if flush else closed_buckets(list(own), horizon, window_s)
            for bucket in done:
                origins_of.setdefault(bucket, set()).add(origin)
            if lagging and done:
                last = max(done)
                self.closed[origin] = max(last, self.closed[origin] or last)
        for origin in list(self.closed):
            if flush or self.high[origin] >= watermark:
                self.stop(origin)
        return sorted(origins_of.items())
