"""Event-time tumbling windows shared by the span and log normalizers.

Open windows are kept per *origin*: the ``(topic, partition)`` whose records fed them (None
when the caller does not say). Draining merges the origins of a window, so the split
changes no observation; it lets a detect member hand the open windows of the partitions
it gives up to their next owner (``SpanWindows.take`` / ``merge``, ``LogWindows`` alike,
``correlator.normalize.handover``).
"""

from __future__ import annotations

import math

__all__ = ["Origin", "bucket_of", "closed_buckets"]

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
