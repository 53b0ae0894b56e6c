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

**Recurring peaks** (``ceiling_quantile``): a series with regular peaks (a Lambda's cold
starts, a periodic job) sits far above its median now and then, every time. With a ceiling,
a rise scores only when it goes above that quantile of the series' recent values *including
the peaks*. The engine does not teach a detector the values of an alert episode (its
baseline stays put while alerting), so the detector keeps those apart: a value that was
scored but never learned is held back while its episode lasts, and joins the recent values
when learning resumes. So the first peak of a kind alerts, its repeats do not, and a fault
that lasts is judged against the ceiling from before it began.

**Persistence** (``persistence``): a value scores only when it and the ones just before it
(that many in a row) would all score, like a rule's ``for:``. The first of them is held
back rather than learned, so a fault's onset does not move the baseline it is judged by.

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
    ceiling_quantile: float | None = Field(
        None,
        gt=0,
        le=1,
        description="A rise to at most this quantile of the last ``window`` values, alert "
        "episodes included, never scores (recurring peaks are normal); None: off",
    )
    persistence: int = Field(
        1,
        ge=1,
        le=100,
        description="Anomalous values in a row before any scores, like a rule's ``for:``; "
        "the ones before are held back from the baseline, not learned",
    )


#: A value scored and not (yet) learned: (ts, value, anomalous).
_Held = tuple[float, float, bool]


def _score(z: float, p: RobustParams) -> float:
    return 1.0 - math.exp(-(z - p.z_start) / p.z_scale) if z > p.z_start else 0.0


class _SortedWindow:
    """The last ``size`` values, in arrival order and sorted (for medians and quantiles)."""

    __slots__ = ("size", "sorted", "values")

    def __init__(self, size: int) -> None:
        self.size = size
        self.values: deque[float] = deque()
        self.sorted: list[float] = []

    def __len__(self) -> int:
        return len(self.values)

    def add(self, value: float) -> None:
        self.values.append(value)
        bisect.insort(self.sorted, value)
        if len(self.values) > self.size:
            old = self.values.popleft()
            del self.sorted[bisect.bisect_left(self.sorted, old)]

    def quantile(self, q: float) -> float:
        """Nearest rank at or above ``q`` (``q=1``: the maximum)."""
        n = len(self.sorted)
        return self.sorted[min(n - 1, math.ceil(q * (n - 1)))]


class RobustDetector:
    """Median/MAD over a sliding window; state is the window itself (bounded).

    With ``ceiling_quantile`` it also keeps the recent values including alert episodes
    (a second bounded window) and the values scored since the last one learned.
    """

    __slots__ = (
        "_flags",
        "_held",
        "_last_ts",
        "_recent",
        "_sorted",
        "_unconfirmed",
        "_window",
        "params",
    )

    def __init__(self, params: RobustParams | None = None) -> None:
        self.params = params or RobustParams()
        self._window: deque[float] = deque()  # learned values, in arrival order
        self._sorted: list[float] = []  # the same, sorted
        self._recent = _SortedWindow(self.params.window)
        self._held: list[_Held] = []  # scored, not (yet) learned
        self._flags: deque[bool] = deque()  # anomalous or not, the last values scored
        self._last_ts: float | None = None
        self._unconfirmed = 0.0

    def __setstate__(self, state: tuple[object, dict[str, object]]) -> None:
        """Restore a pickled detector; one checkpointed before the ceiling existed too."""
        _, slots = state
        for name, value in slots.items():
            object.__setattr__(self, name, value)
        if not hasattr(self, "_recent"):
            self._recent = _SortedWindow(self.params.window)
            self._held, self._flags, self._last_ts = [], deque(), None
        if not hasattr(self, "_unconfirmed"):
            self._unconfirmed = 0.0

    @property
    def unconfirmed(self) -> float:
        """The last value's score before ``persistence`` (what it scored on its own)."""
        return self._unconfirmed

    def _median(self) -> float:
        values, n = self._sorted, len(self._sorted)
        mid = n // 2
        return values[mid] if n % 2 else 0.5 * (values[mid - 1] + values[mid])

    def score_one(self, value: float, ts: float) -> float:
        """Score ``value``; the model is unchanged (the value is noted as held, see above)."""
        p = self.params
        z, outside = self._z(value)
        score = _score(z, p) if outside else 0.0
        self._unconfirmed = score
        if p.ceiling_quantile is None and p.persistence == 1:
            return score
        if self._hold(value, ts, score > 0.0):
            self._flags.append(score > 0.0)
            while len(self._flags) > p.persistence:
                self._flags.popleft()
        return score if all(self._flags) and len(self._flags) == p.persistence else 0.0

    def _z(self, value: float) -> tuple[float, bool]:
        """The value's z (0 before warm-up or below ``min_relative_change``) and whether
        it lies outside the recurring band (always, without a ceiling)."""
        p = self.params
        if len(self._window) < p.warmup:
            return 0.0, False
        median = self._median()
        deviations = sorted(abs(v - median) for v in self._sorted)
        mad = deviations[len(deviations) // 2]
        spread = max(1.4826 * mad, p.floor, p.relative_floor * abs(median), 1e-12)
        delta = value - median
        if abs(median) > 0 and abs(delta) < p.min_relative_change * abs(median):
            return 0.0, False
        z = abs(delta) / spread if p.two_sided else delta / spread
        return z, self._outside(value, delta)

    def _outside(self, value: float, delta: float) -> bool:
        q, recent = self.params.ceiling_quantile, self._recent
        if q is None or not len(recent):
            return True
        if delta > 0:
            return value > recent.quantile(q)
        return value < recent.quantile(1.0 - q)

    def learn_one(self, value: float, ts: float) -> None:
        p = self.params
        held = self._held
        if p.persistence > 1 and held and held[-1][0] == ts and held[-1][2]:
            return  # anomalous, not (yet) persistent: held back, not learned
        self._window.append(value)
        bisect.insort(self._sorted, value)
        if len(self._window) > p.window:
            old = self._window.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]
        if p.ceiling_quantile is None and p.persistence == 1:
            return
        if p.ceiling_quantile is not None:
            # values scored before this one and never learned: an episode that has ended
            for held_ts, held_value, _ in held:
                if held_ts < ts:
                    self._recent.add(held_value)
            self._recent.add(value)
        held.clear()

    def _hold(self, value: float, ts: float, suspect: bool) -> bool:
        """Note a scored value (once per timestamp) until it is learned or its episode ends.

        False when a value at this time was noted already.
        """
        if self._last_ts is not None and self._last_ts >= ts:
            return False
        self._last_ts = ts
        self._held.append((ts, value, suspect))
        if len(self._held) > self.params.window:
            del self._held[0]
        return True
