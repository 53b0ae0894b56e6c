"""River's ``anomaly.GaussianScorer`` over a rolling window, scored as a tail surprisal."""

from __future__ import annotations

import math
from typing import Any

from river import anomaly

# River 0.26.1 leaves GaussianScorer untyped; the wrapper types its own surface instead.
_anomaly: Any = anomaly

__all__ = ["GaussianModel"]

#: Surprisal of a tail probability too small for a double (about 38 standard deviations).
MAX_SURPRISAL = 700.0
_TINY_STD = 1e-12


class GaussianModel:
    """A Gaussian fitted to the last ``window`` values; a value scores ``-ln(tail)``.

    River's ``GaussianScorer`` learns the rolling mean and standard deviation; its score
    ``2 |CDF(y) - 0.5|`` is ``1 - tail`` with ``tail`` the two-sided tail probability, but
    it rounds to 1.0 beyond about eight standard deviations and is 1.0 for every value when
    the window is flat (zero deviation). So the score here is computed from the same
    Gaussian as ``-ln(erfc(|z| / sqrt 2))`` (the same order, no saturation), with the
    deviation floored at ``min_std_ratio * |mean|`` (and 1e-12).

    >>> model = GaussianModel(window=50)
    >>> for i in range(50):
    ...     model.learn_one(10.0 + (i % 5))
    >>> model.score_one(12.0) < 1.0 < model.score_one(20.0) < model.score_one(40.0)
    True
    """

    __slots__ = ("_scorer", "count", "min_std_ratio")

    def __init__(self, window: int, min_std_ratio: float = 0.0) -> None:
        self._scorer: Any = _anomaly.GaussianScorer(window_size=window, grace_period=0)
        self.min_std_ratio = min_std_ratio
        self.count = 0

    def score_one(self, value: float) -> float:
        """Surprisal of ``value`` under the fitted Gaussian (0 at the mean)."""
        gaussian = self._scorer.gaussian
        mean, std = float(gaussian.mu), float(gaussian.sigma)
        std = max(std, self.min_std_ratio * abs(mean), _TINY_STD)
        tail = math.erfc(abs(value - mean) / (std * math.sqrt(2.0)))
        return MAX_SURPRISAL if tail <= 0.0 else min(MAX_SURPRISAL, -math.log(tail))

    def learn_one(self, value: float) -> None:
        """Add ``value`` to the window."""
        self._scorer.learn_one(None, value)
        self.count += 1
