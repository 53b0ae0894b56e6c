"""Level shift: the mean of the last few values against the long-run spread of such means.

A shift that stays inside the recent range (a queue that fills to a new plateau, tweets that
double and stay there) breaks no envelope and may follow known bin transitions. What does
change is the short mean. The detector keeps the mean of the last ``short`` values and an
exponentially weighted mean and variance of that short mean (weight ``alpha``, so it
remembers about ``1 / alpha`` observations)::

    z     = |short mean including value - EWMA mean| / EWMA standard deviation
    score = 1 - exp(-(z - z_start) / z_scale)     for z > z_start, else 0

The state is ``short`` values and three numbers; ``score_one`` does not change it.

>>> shift = LevelShift(short=4, alpha=0.01, z_start=8.0, z_scale=2.0, warmup=50)
>>> for i in range(400):
...     shift.learn_one(10.0 + (i % 3))
>>> shift.score_one(11.0)
0.0
>>> shift.score_one(30.0) > 0.9  # one value lifts the four-value mean by five
True
"""

from __future__ import annotations

import math
from array import array

__all__ = ["LevelShift"]

_RELATIVE_FLOOR = 1e-3  # least spread, as a share of |mean|: a flat series is not infinitely sure


class LevelShift:
    """Short-window mean against the EWMA distribution of short-window means."""

    __slots__ = (
        "_mean",
        "_recent",
        "_sum",
        "_var",
        "alpha",
        "seen",
        "short",
        "warmup",
        "z_scale",
        "z_start",
    )

    def __init__(
        self, short: int, alpha: float, z_start: float, z_scale: float, warmup: int
    ) -> None:
        self.short, self.alpha, self.warmup = short, alpha, warmup
        self.z_start, self.z_scale = z_start, z_scale
        self._recent = array("d")  # the last ``short`` values, oldest first
        self._sum = 0.0  # of ``_recent``, summed afresh at each learn (no drift)
        self._mean: float | None = None
        self._var = 0.0
        self.seen = 0

    def __setstate__(self, state: tuple[None, dict[str, object]]) -> None:
        """Restore a checkpoint, also one written before the running sum existed."""
        for name, value in state[1].items():
            setattr(self, name, value)
        self._sum = sum(self._recent)

    def score_one(self, value: float) -> float:
        """The level-shift score of ``value`` (0 until warm); does not learn it."""
        mean, recent = self._mean, self._recent
        if self.seen < self.warmup or mean is None or len(recent) < self.short:
            return 0.0
        short_mean = (self._sum - recent[0] + value) / self.short
        spread = max(math.sqrt(self._var), _RELATIVE_FLOOR * abs(mean), 1e-12)
        z = abs(short_mean - mean) / spread
        if z <= self.z_start:
            return 0.0
        return 1.0 - math.exp(-(z - self.z_start) / self.z_scale)

    def learn_one(self, value: float) -> None:
        """Add ``value`` to the short window and the window's mean to the EWMA."""
        recent = self._recent
        if len(recent) == self.short:
            del recent[0]
        recent.append(value)
        self._sum = sum(recent)
        self.seen += 1
        if len(recent) < self.short:
            return
        short_mean = self._sum / self.short
        if self._mean is None:
            self._mean = short_mean
            return
        delta = short_mean - self._mean
        self._mean += self.alpha * delta
        self._var = (1.0 - self.alpha) * (self._var + self.alpha * delta * delta)
