"""A robust z-score detector for windowed span and log signals.

The expected value is the median of the last ``window`` values and the spread their median
absolute deviation (scaled to a standard deviation), floored so that a flat baseline (an
error ratio of exactly 0) does not make every small blip infinite::

    spread = max(1.4826 * MAD, floor, relative_floor * |median|)
    z      = (value - median) / spread                      (|z| when two_sided)
    score  = 1 - exp(-(z - z_start) / z_scale)  for z > z_start, else 0

With the defaults a value 7.6 spreads above the median scores 0.9. ``min_relative_change``
also requires the value to differ from the median by that fraction of it, so a latency
series with a tight baseline does not alert on a few milliseconds.

>>> det = RobustDetector(RobustParams(window=30, warmup=10))
>>> for i in range(40):
...     det.learn_one(100.0 + (i % 3), float(i))
>>> det.score_one(101.0, 40.0), det.score_one(400.0, 40.0) > 0.99
(0.0, True)
"""

from __future__ import annotations

import bisect
import math
from collections import deque

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["RobustDetector", "RobustParams"]


class RobustParams(BaseModel):
    """Parameters of :class:`RobustDetector`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    window: int = Field(90, ge=5, le=10_000, description="Values the median and MAD cover")
    warmup: int = Field(15, ge=1, description="Values learned before any score > 0")
    floor: float = Field(0.0, ge=0, description="Least spread, in the series' units")
    relative_floor: float = Field(0.05, ge=0, description="Least spread, as a share of |median|")
    min_relative_change: float = Field(
        0.0, ge=0, description="Least |value - median| / |median| that may score"
    )
    z_start: float = Field(3.0, ge=0)
    z_scale: float = Field(2.0, gt=0)
    two_sided: bool = Field(True, description="Score drops as well as rises")


class RobustDetector:
    """Median/MAD over a sliding window; state is the window itself (bounded)."""

    __slots__ = ("_sorted", "_window", "params")

    def __init__(self, params: RobustParams | None = None) -> None:
        self.params = params or RobustParams()
        self._window: deque[float] = deque()
        self._sorted: list[float] = []

    def _median(self) -> float:
        values, n = self._sorted, len(self._sorted)
        mid = n // 2
        return values[mid] if n % 2 else 0.5 * (values[mid - 1] + values[mid])

    def score_one(self, value: float, ts: float) -> float:
        p = self.params
        if len(self._window) < p.warmup:
            return 0.0
        median = self._median()
        deviations = sorted(abs(v - median) for v in self._sorted)
        mad = deviations[len(deviations) // 2]
        spread = max(1.4826 * mad, p.floor, p.relative_floor * abs(median), 1e-12)
        delta = value - median
        if abs(median) > 0 and abs(delta) < p.min_relative_change * abs(median):
            return 0.0
        z = abs(delta) / spread if p.two_sided else delta / spread
        if z <= p.z_start:
            return 0.0
        return 1.0 - math.exp(-(z - p.z_start) / p.z_scale)

    def learn_one(self, value: float, ts: float) -> None:
        self._window.append(value)
        bisect.insort(self._sorted, value)
        if len(self._window) > self.params.window:
            old = self._window.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
