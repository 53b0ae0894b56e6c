"""A contextual metric detector: the envelope break-out fused with three pattern detectors.

The envelope detector (:mod:`correlator.detect.metric_detector`) only sees values outside
the recent range. Many incidents stay inside it and break a *pattern* instead: a daily
peak that does not come, traffic that moves in an order never seen. Two cheap online
detectors watch for that, and the three scores are fused by ``max``:

* **Transition novelty** (:class:`TransitionNovelty`): each value is put in one of
  ``bins`` equal bins of the range of the last ``range_window`` values (plus one bin below
  and one above). For every order ``j = 1..order`` the detector asks whether the last ``j``
  bins were ever followed by the current bin; the score is the share of orders for which
  this is new. A value in range that arrives by a path never taken scores high.
* **Seasonal residual** (:class:`SeasonalResidual`): the absolute difference between the
  value and the value one day earlier (the lag is ``86400 s / interval``, taken from the
  first two timestamps; no seasonal score when the day holds more than ``max_period``
  points), scored by its break-out from the envelope of past residuals as the envelope
  detector does for values, once ``warmup`` residuals have been learned.

* **Level shift** (:class:`~correlator.detect.level_shift.LevelShift`): the mean of the
  last ``level_short`` values against the EWMA mean and spread of such means; scored apart
  and fused by ``max`` after the blend below.

A break-out of the long envelope (``record_window`` values, a "record") gets
``record_weight`` of the fused score, so a new record outranks a break-out of the recent
range only and a corpus-wide threshold can tell them apart.

The fused score goes through one **cool-down**: after a score of at least
``cooldown_above`` (an *alert*) the next ``cooldown`` observations score 0, so one incident
gives one early detection (what NAB rewards, and what an on-call engineer wants). Two
habits calibrate the alerts of one series against its own history, as HTM's anomaly
likelihood does with a long-run distribution of raw scores, but with one counter:

* **Break-through**: a value more than ``breakthrough`` widths beyond the long (record)
  envelope is scored even inside a cool-down (and starts a new one): a failure that
  deepens after a first alert is not hidden by it.
* **Alert damping**: the score is divided by ``1 + alert_damping * alerts``, where
  ``alerts`` counts the cool-downs started, each fading with a half-life of
  ``alert_half_life`` observations. A series that alerts often (a noisy one) needs a
  stronger break-out for the same score, so one corpus-wide threshold cuts its routine
  alerts before the rare ones of a quiet series; once it calms down, the damping wears
  off. The cool-down itself starts on the undamped score.

Prequential like every detector here: ``score_one`` does not change the model. The state
is the envelopes' queues, one day of values as 32-bit floats, a table of seen bin
transitions (at most ``(bins + 2) ** (order + 1)`` keys, 36 with the defaults), the
level shift's few numbers and the alert count; ``pickle.dumps`` is the checkpoint.

>>> det = ContextualDetector()
>>> for i in range(400):
...     value = 10.0 + (i % 7)
...     _ = det.score_one(value, 300.0 * i)
...     det.learn_one(value, 300.0 * i)
>>> det.score_one(11.0, 300.0 * 400)  # 10 -> 11, the usual step
0.0
>>> det.score_one(13.0, 300.0 * 400)  # in range, but 10 -> 13 never happened (0.95 * 0.95)
0.9025
>>> det.score_one(40.0, 300.0 * 400) > 0.99  # out of range
True
"""

from __future__ import annotations

import math
from array import array

from pydantic import BaseModel, ConfigDict, Field

from correlator.detect.envelope import RollingEnvelope, RollingMax
from correlator.detect.level_shift import LevelShift
from correlator.detect.metric_detector import MetricDetector, MetricDetectorParams

__all__ = [
    "ContextualDetector",
    "ContextualParams",
    "SeasonalResidual",
    "TransitionNovelty",
]

_DAY_S = 86400.0


class ContextualParams(BaseModel):
    """Parameters of :class:`ContextualDetector` (one configuration for every series)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    envelope: MetricDetectorParams = Field(
        default_factory=lambda: MetricDetectorParams(cooldown=0),
        description="The break-out detector (its own cool-down is off: the fused one rules)",
    )
    bins: int = Field(4, ge=2, le=64, description="Equal bins across the recent range")
    order: int = Field(
        1,
        ge=1,
        le=8,
        description="Longest bin history a transition looks at (a longer one only adds "
        "partial scores below the alert level: a new first-order step is new at every order)",
    )
    range_window: int = Field(5000, ge=10, description="Values whose range the bins split")
    novelty_weight: float = Field(0.95, ge=0, le=1, description="Weight of transition novelty")
    seasonal_window: int = Field(2000, ge=10, description="Residuals in the residual envelope")
    seasonal_scale: float = Field(0.2, gt=0, description="Relative excess scoring 1 - 1/e")
    seasonal_weight: float = Field(1.0, ge=0, le=1, description="Weight of the seasonal score")
    max_period: int = Field(2000, ge=2, description="Most points per day kept for the lag")
    record_window: int = Field(5000, ge=2, description="Values in the long (record) envelope")
    record_weight: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Share of the fused score given to a break-out of the "
        "long envelope, so records outrank break-outs of the recent range",
    )
    level_short: int = Field(4, ge=1, description="Values in the level-shift short mean")
    level_alpha: float = Field(0.01, gt=0, le=1, description="EWMA weight of the short means")
    level_z_start: float = Field(8.0, ge=0, description="Level-shift z that starts to score")
    level_z_scale: float = Field(2.0, gt=0, description="Level-shift z above start scoring 1 - 1/e")
    level_warmup: int = Field(300, ge=1, description="Observations before a level shift scores")
    level_weight: float = Field(1.0, ge=0, le=1, description="Weight of the level-shift score")
    warmup: int = Field(150, ge=1, description="Observations learned before any score > 0")
    cooldown: int = Field(100, ge=0, description="Observations at score 0 after an alert")
    cooldown_above: float = Field(0.6, ge=0, le=1, description="Fused score that starts it")
    breakthrough: float = Field(
        0.05,
        ge=0,
        description="Excess beyond the long (record) envelope, as a share of its width, "
        "that is scored inside a cool-down",
    )
    alert_damping: float = Field(
        0.01, ge=0, description="The score is divided by 1 + this * recent alerts"
    )
    alert_half_life: float = Field(
        60480.0,
        gt=0,
        description="Observations after which an alert counts half in the damping (60,480: "
        "one week of 10 s windows), so a series that was noisy once is not damped forever",
    )


class TransitionNovelty:
    """Share of bin-history orders for which the current bin is a never-seen successor.

    >>> novelty = TransitionNovelty(bins=4, order=2, range_window=100, warmup=4)
    >>> for value in [0.0, 1.0, 2.0, 3.0] * 5:
    ...     novelty.learn_one(value)
    >>> novelty.score_one(0.0)  # 3 -> 0 is the usual step
    0.0
    >>> novelty.score_one(2.0)  # 3 -> 2 never happened
    1.0
    """

    __slots__ = (
        "_cached",
        "_counts",
        "_history",
        "_owns_range",
        "_range",
        "bins",
        "order",
        "seen",
        "warmup",
    )

    def __init__(
        self,
        bins: int,
        order: int,
        range_window: int,
        warmup: int,
        shared_range: RollingEnvelope | None = None,
    ) -> None:
        self.bins, self.order, self.warmup = bins, order, warmup
        # A shared envelope of the same values is updated by its owner, after learn_one.
        self._owns_range = shared_range is None
        self._range = RollingEnvelope(range_window) if shared_range is None else shared_range
        self._history: tuple[int, ...] = ()  # the last ``order`` bins, oldest first
        self._counts: dict[tuple[tuple[int, ...], int], int] = {}
        self._cached: tuple[float, int, list[tuple[tuple[int, ...], int]]] | None = None
        self.seen = 0

    def __setstate__(self, state: tuple[None, dict[str, object]]) -> None:
        """Restore a checkpoint, also one written before the range could be shared."""
        self._owns_range = True
        for name, value in state[1].items():
            setattr(self, name, value)

    def _bin(self, value: float) -> int:
        low, high = self._range.low, self._range.high
        if low is None or high is None:
            return 0
        if value > high:
            return self.bins
        if value < low:
            return -1
        if high <= low:
            return 0
        return min(int(self.bins * (value - low) / (high - low)), self.bins - 1)

    def score_one(self, value: float) -> float:
        if self.seen < self.warmup or not self._history:
            return 0.0
        keys = self._keys(value)
        counts = self._counts
        return len([key for key in keys if key not in counts]) / len(keys)

    def learn_one(self, value: float) -> None:
        counts = self._counts
        for key in self._keys(value):
            counts[key] = counts.get(key, 0) + 1
        current = self._cached[1] if self._cached is not None else self._bin(value)
        self._history = (*self._history, current)[-self.order :]
        if self._owns_range:
            self._range.update(value)
        self._cached = None
        self.seen += 1

    def _keys(self, value: float) -> list[tuple[tuple[int, ...], int]]:
        cached = self._cached
        if cached is not None and cached[0] == value:
            return cached[2]
        current = self._bin(value)
        history = self._history
        keys = [(history[-j:], current) for j in range(1, len(history) + 1)]
        self._cached = (value, current, keys)
        return keys


class _DayBuffer:
    """The last ``size`` values as 32-bit floats in a ring (4 bytes a value, live and pickled).

    >>> day = _DayBuffer(3)
    >>> for value in [1.0, 2.0, 3.0, 4.0]:
    ...     day.append(value)
    >>> day.full, day.oldest
    (True, 2.0)
    """

    __slots__ = ("_next", "_values", "full")

    def __init__(self, size: int) -> None:
        self._values = array("f", bytes(4 * size))
        self._next = 0
        self.full = False

    @property
    def oldest(self) -> float:
        """The value appended ``size`` appends ago (once ``full``)."""
        return self._values[self._next]

    def append(self, value: float) -> None:
        values = self._values
        values[self._next] = value
        self._next += 1
        if self._next == len(values):
            self._next, self.full = 0, True


class SeasonalResidual:
    """Break-out of ``|value - value one day ago|`` from the envelope of past residuals.

    >>> seasonal = SeasonalResidual(window=100, scale=0.05, max_period=100, warmup=10)
    >>> day = [1.0, 5.0, 9.0, 5.0]  # four points a day
    >>> for i in range(40):  # the first day has no lag yet; then 10 residuals warm it up
    ...     seasonal.learn_one(day[i % 4] + 0.01 * (i % 3), 21600.0 * i)
    >>> seasonal.score_one(1.0, 21600.0 * 40)
    0.0
    >>> seasonal.score_one(9.0, 21600.0 * 40) > 0.99  # the peak came six hours early
    True
    """

    __slots__ = (
        "_day",
        "_last_ts",
        "_residuals",
        "max_period",
        "residuals_seen",
        "scale",
        "warmup",
    )

    def __init__(self, window: int, scale: float, max_period: int, warmup: int) -> None:
        self.scale, self.max_period, self.warmup = scale, max_period, warmup
        self._residuals: RollingMax | RollingEnvelope = RollingMax(window)
        self._day: _DayBuffer | None = None
        self._last_ts: float | None = None
        self.residuals_seen = 0

    def _residual(self, value: float) -> float | None:
        day = self._day
        if day is None or not day.full:
            return None
        return abs(value - day.oldest)

    def score_one(self, value: float, ts: float) -> float:
        residual = self._residual(value)
        high = self._residuals.high
        if self.residuals_seen < self.warmup or residual is None or high is None:
            return 0.0
        if residual <= high:
            return 0.0
        excess = (residual - high) / max(high, 1e-9)
        return 1.0 - math.exp(-excess / self.scale)

    def learn_one(self, value: float, ts: float) -> None:
        if self._day is None and self._last_ts is not None:
            interval = ts - self._last_ts
            period = round(_DAY_S / interval) if interval > 0 else 0
            if 2 <= period <= self.max_period:
                self._day = _DayBuffer(period)
        self._last_ts = ts
        residual = self._residual(value)
        if residual is not None:
            self._residuals.update(residual)
            self.residuals_seen += 1
        if self._day is not None:
            self._day.append(value)


class ContextualDetector:
    """Envelope break-out, transition novelty, seasonal residual and level shift, fused."""

    __slots__ = (
        "_alerts",
        "_cooldown_left",
        "_envelope",
        "_last",
        "_level",
        "_novelty",
        "_recent_alerts",
        "_record",
        "_seasonal",
        "params",
    )

    def __init__(self, params: ContextualParams | None = None) -> None:
        self.params = p = params or ContextualParams()
        self._envelope = MetricDetector(p.envelope)
        self._record = RollingEnvelope(p.record_window)
        # Same values, same window: the bins split the record envelope, kept once.
        shared = self._record if p.range_window == p.record_window else None
        self._novelty = TransitionNovelty(p.bins, p.order, p.range_window, p.warmup, shared)
        self._seasonal = SeasonalResidual(
            p.seasonal_window, p.seasonal_scale, p.max_period, p.warmup
        )
        self._level = LevelShift(
            p.level_short, p.level_alpha, p.level_z_start, p.level_z_scale, p.level_warmup
        )
        self._cooldown_left = 0
        self._alerts = 0  # cool-downs started so far
        self._recent_alerts = 0.0  # the same, each fading with the alert half-life
        self._last: tuple[float, float, bool] | None = None  # (value, ts, alerts?)

    def __setstate__(self, state: tuple[None, dict[str, object]]) -> None:
        """Restore a checkpoint, also one written before the alert counts existed."""
        self._alerts = 0
        for name, value in state[1].items():
            setattr(self, name, value)
        if "_recent_alerts" not in state[1]:
            self._recent_alerts = float(self._alerts)

    @property
    def seen(self) -> int:
        """Observations learned so far."""
        return self._novelty.seen

    @property
    def alerts(self) -> int:
        """Cool-downs started so far."""
        return self._alerts

    @property
    def recent_alerts(self) -> float:
        """Cool-downs started, each faded by its age (what the alert damping divides by)."""
        return self._recent_alerts

    def score_one(self, value: float, ts: float) -> float:
        """The damped fused score of ``value`` (0 in a cool-down); does not learn it."""
        p = self.params
        score = max(
            self._envelope.score_one(value, ts),
            p.novelty_weight * self._novelty.score_one(value),
            p.seasonal_weight * self._seasonal.score_one(value, ts),
        )
        record_excess = self._record_excess(value)
        if p.record_weight:
            score = (1.0 - p.record_weight) * score + p.record_weight * self._record_score(
                record_excess
            )
        score = max(score, p.level_weight * self._level.score_one(value))
        quiet = self._cooldown_left > 0 and record_excess <= p.breakthrough
        alerts = score >= p.cooldown_above and score > 0.0 and not quiet
        self._last = (value, ts, alerts)
        if quiet:
            return 0.0
        recent = self._recent_alerts
        return score / (1.0 + p.alert_damping * recent) if recent else score

    def learn_one(self, value: float, ts: float) -> None:
        """Learn ``value`` in every part; an alert starts (or restarts) the cool-down."""
        last = self._last
        if last is None or last[:2] != (value, ts):
            self.score_one(value, ts)
            last = self._last
        self._last = None
        if self._cooldown_left:
            self._cooldown_left -= 1
        if self._recent_alerts:
            self._recent_alerts *= 0.5 ** (1.0 / self.params.alert_half_life)
        if last is not None and last[2]:
            self._cooldown_left = self.params.cooldown
            self._alerts += 1
            self._recent_alerts += 1.0
        self._envelope.learn_one(value, ts)
        self._novelty.learn_one(value)  # bins by the record envelope before it moves
        self._record.update(value)
        self._seasonal.learn_one(value, ts)
        self._level.learn_one(value)

    def _record_excess(self, value: float) -> float:
        """How far ``value`` lies beyond the long envelope, in envelope widths (0 inside)."""
        low, high = self._record.low, self._record.high
        if low is None or high is None or low <= value <= high:
            return 0.0
        if self._novelty.seen < self.params.warmup:
            return 0.0
        width = max(high - low, 1e-9 * max(1.0, abs(high), abs(low)))
        return (value - high if value > high else low - value) / width

    def _record_score(self, excess: float) -> float:
        """Break-out of the long envelope, scaled like the recent one's."""
        if excess <= 0.0:
            return 0.0
        return 1.0 - math.exp(-excess / self.params.envelope.excess_scale)
