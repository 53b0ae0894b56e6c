"""The default metric-series detector: how far a value breaks out of its recent envelope.

For each observation the detector looks at the low and high of the last ``window``
values. A value inside that envelope scores 0; a value outside scores by its *excess*,
the distance beyond the envelope as a fraction of the envelope's width::

    excess = (value - high) / (high - low)        (or (low - value) / (high - low))
    score  = 1 - exp(-excess / excess_scale)

so the score is in ``[0, 1)``, grows with the size of the break-out, and means the same on
every series whatever its units. Three habits make it an alerting detector rather than a
raw novelty measure:

* **Warm-up**: nothing scores before ``warmup`` observations have been learned.
* **Cool-down**: after a score of at least ``cooldown_above``, the next ``cooldown``
  observations score 0: one incident, one alert, and the first alert is the early one.
* **Protection**: an anomalous value is clipped to within ``protect`` envelope widths
  before it is learned, so one wild spike does not blind the detector for a whole window.

Prequential: ``score_one`` never changes the model; ``learn_one`` does. The state is a few
numbers and two bounded queues (:class:`~correlator.detect.envelope.RollingEnvelope`), so
``pickle.dumps(detector)`` is the checkpoint.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from correlator.detect.envelope import Envelope, RollingEnvelope
from correlator.detect.river_adapter import RollingRange

__all__ = ["MetricDetector", "MetricDetectorParams"]

_TINY_WIDTH = 1e-9


class MetricDetectorParams(BaseModel):
    """Parameters of :class:`MetricDetector` (one configuration for every series)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window: int = Field(
        1000, ge=2, le=100_000, description="Observations that make up the envelope"
    )
    warmup: int = Field(150, ge=1, description="Observations learned before any score > 0")
    excess_scale: float = Field(
        0.0037,
        gt=0,
        description="Excess (fraction of envelope width) that scores 1 - 1/e; "
        "the default puts score 0.9 at an excess of 0.85%",
    )
    cooldown: int = Field(
        100, ge=0, description="Observations held at score 0 after an alert-level score"
    )
    cooldown_above: float = Field(0.74, ge=0, le=1, description="Score that starts a cool-down")
    protect: float = Field(
        2.0,
        ge=0,
        description="Anomalous values are learned clipped to this many widths beyond the "
        "envelope (0: learned as they are)",
    )
    envelope: Literal["queue", "river"] = Field(
        "queue",
        description="queue: monotonic queues (small state); river: River's rolling "
        "quantiles at q=0 and q=1 (same scores, the whole window in the state)",
    )


class MetricDetector:
    """Scores a univariate series by break-outs from its rolling envelope.

    >>> detector = MetricDetector(MetricDetectorParams(window=50, warmup=20))
    >>> for i in range(100):
    ...     value = 10.0 + (i % 5)
    ...     _ = detector.score_one(value, float(i))
    ...     detector.learn_one(value, float(i))
    >>> detector.score_one(12.0, 100.0)
    0.0
    >>> detector.score_one(40.0, 100.0) > 0.99
    True
    """

    __slots__ = ("_cooldown_left", "_envelope", "_last", "_seen", "params")

    def __init__(self, params: MetricDetectorParams | None = None) -> None:
        self.params = params or MetricDetectorParams()
        self._envelope: Envelope = (
            RollingRange(self.params.window)
            if self.params.envelope == "river"
            else RollingEnvelope(self.params.window)
        )
        self._seen = 0
        self._cooldown_left = 0
        self._last: tuple[float, float, float] | None = None  # (value, ts, score)

    @property
    def seen(self) -> int:
        """Observations learned so far."""
        return self._seen

    def score_one(self, value: float, ts: float) -> float:
        """Score ``value`` against what was learned so far (does not learn it)."""
        score = 0.0 if self._cooldown_left else self._breakout_score(value)
        self._last = (value, ts, score)
        return score

    def learn_one(self, value: float, ts: float) -> None:
        """Learn ``value``; a value that scored high is clipped first (protection)."""
        last = self._last
        score = (
            last[2] if last is not None and last[:2] == (value, ts) else self.score_one(value, ts)
        )
        self._last = None
        if self._cooldown_left:
            self._cooldown_left -= 1
        params = self.params
        if score >= params.cooldown_above and score > 0.0:
            self._cooldown_left = params.cooldown
            value = self._clip(value)
        self._envelope.update(value)
        self._seen += 1

    def _breakout_score(self, value: float) -> float:
        if self._seen < self.params.warmup:
            return 0.0
        excess = self._excess(value)
        if excess <= 0.0:
            return 0.0
        return 1.0 - math.exp(-excess / self.params.excess_scale)

    def _excess(self, value: float) -> float:
        low, high = self._envelope.low, self._envelope.high
        if low is None or high is None:
            return 0.0
        width = max(high - low, _TINY_WIDTH * max(1.0, abs(high), abs(low)))
        if value > high:
            return (value - high) / width
        if value < low:
            return (low - value) / width
        return 0.0

    def _clip(self, value: float) -> float:
        low, high = self._envelope.low, self._envelope.high
        if low is None or high is None or high <= low or self.params.protect <= 0:
            return value  # a flat envelope has no scale to clip by
        margin = self.params.protect * (high - low)
        return min(max(value, low - margin), high + margin)
