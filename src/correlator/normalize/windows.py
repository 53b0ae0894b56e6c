"""Event-time tumbling windows shared by the span and log normalizers."""

from __future__ import annotations

import math

__all__ = ["bucket_of", "closed_buckets"]


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
