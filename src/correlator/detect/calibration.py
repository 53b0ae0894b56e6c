"""Raw model scores of any scale mapped to ``[0, 1]`` against the series' own history.

River's detectors score on their own scales (HST mass in ``[0, 1]``, a Gaussian tail
surprisal, a squared forecast error over a threshold). The engine alerts at one global
``detect.threshold`` (0.9) with hysteresis, so each series' raw scores are calibrated by
two running quantiles of the raw scores of the values it *learned* (constant memory, P²):
the median ``m`` and the reference quantile ``r`` (``reference_quantile``, 0.99)::

    excess = (raw - m) / (margin * (r - m))
    score  = 1 - 0.1 ** excess        for excess > 0, else 0

So a raw score at the median or below scores 0, one ``margin`` (default 2) times as far
above the median as the reference quantile scores exactly 0.9 (the threshold), twice as
far 0.99; the order of raw scores is kept. With ``margin = 1`` the threshold would be
River's ``anomaly.QuantileFilter(q=reference_quantile)`` decision, which lets the top 1%
of a series' ordinary values alert; the margin asks for a clear break beyond them.
Values the engine does not learn (alert episodes) do not move the quantiles; every value
learned does. (Leaving out learned high scores and the cool-down after them was tried:
more false alarms on noisy series, NAB standard 50.75 -> 46.03 for ``river-gaussian``.)

:class:`CalibratedDetector` is the shared base of the River-backed kinds: warm-up,
score-before-learn (the raw score of a value scored and then learned is computed once),
calibration, a cool-down and pickling (the state is the River model plus a few numbers).
**Cool-down**: once a value scoring at least ``cooldown_above`` has been *learned*, the
next ``cooldown`` values score 0, so a fault the detector is taught (as ``bench nab``
does, learning every row) is one detection, not one per row. In the engine a high score
starts an alert episode whose values are not learned, so it rarely applies there; the
engine's own hysteresis does that job.

>>> calibration = ScoreCalibration(CalibrationParams())
>>> for i in range(200):
...     calibration.learn(float(i % 10))
>>> calibration.score(4.0), round(calibration.score(9.0), 2), calibration.score(30.0) > 0.99
(0.0, 0.68, True)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from correlator.detect.river_models import StreamingQuantile

__all__ = ["CalibratedDetector", "CalibrationParams", "ScoreCalibration"]

_TINY = 1e-12


class CalibrationParams(BaseModel):
    """Warm-up and calibration, shared by the River-backed kinds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warmup: int = Field(150, ge=10, description="Values learned before any score > 0")
    reference_quantile: float = Field(
        0.99,
        gt=0.5,
        lt=1,
        description="Quantile of the learned raw scores that, times "
        "margin above the median, scores 0.9",
    )
    cooldown: int = Field(
        100, ge=0, description="Values held at score 0 after a high-scoring value is learned"
    )
    cooldown_above: float = Field(0.9, gt=0, le=1, description="Score that starts a cool-down")
    margin: float = Field(
        2.0, gt=0, description="How many times the reference's distance from the median scores 0.9"
    )


class ScoreCalibration:
    """Running median and reference quantile of raw scores; maps a raw score to [0, 1]."""

    __slots__ = ("_median", "_reference", "margin")

    def __init__(self, params: CalibrationParams) -> None:
        self._median = StreamingQuantile(0.5)
        self._reference = StreamingQuantile(params.reference_quantile)
        self.margin = params.margin

    @property
    def count(self) -> int:
        """Raw scores learned so far."""
        return self._median.count

    def learn(self, raw: float) -> None:
        """Add the raw score of a learned value."""
        self._median.update(raw)
        self._reference.update(raw)

    def score(self, raw: float) -> float:
        """``raw`` calibrated to ``[0, 1]`` (0 before any raw score was learned)."""
        median, reference = self._median.get(), self._reference.get()
        if median is None or reference is None or raw <= median:
            return 0.0
        spread = self.margin * (reference - median)
        if spread <= _TINY:
            return 1.0
        return 1.0 - float(0.1 ** ((raw - median) / spread))


class CalibratedDetector:
    """A :class:`~correlator.detect.base.Detector` over a raw River score, calibrated.

    Subclasses give ``_raw`` (pure), ``_learn`` and ``_ready`` (the model's own warm-up
    is over, so its raw scores may calibrate).
    """

    __slots__ = ("_calibration", "_cooldown_left", "_last", "learned", "params")

    def __init__(self, params: CalibrationParams) -> None:
        self.params = params
        self._calibration = ScoreCalibration(params)
        self._last: tuple[float, float, float] | None = None  # value, ts, raw: scored, unlearned
        self._cooldown_left = 0
        self.learned = 0

    def _raw(self, value: float, ts: float) -> float:
        raise NotImplementedError

    def _learn(self, value: float, ts: float) -> None:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def raw_one(self, value: float, ts: float) -> float:
        """The model's raw score of ``value`` (cached until the model learns)."""
        last = self._last
        if last is not None and last[0] == value and last[1] == ts:
            return last[2]
        raw = self._raw(value, ts)
        self._last = (value, ts, raw)
        return raw

    def score_one(self, value: float, ts: float) -> float:
        """The calibrated score of ``value``; 0 during warm-up. The model is unchanged."""
        if self._cooldown_left:
            return 0.0
        return self._uncooled(value, ts)

    def _uncooled(self, value: float, ts: float) -> float:
        if self.learned < self.params.warmup or self._calibration.count < 2:
            return 0.0
        return self._calibration.score(self.raw_one(value, ts))

    def learn_one(self, value: float, ts: float) -> None:
        """Calibrate with this value's raw score (once the model is ready), then learn it."""
        params = self.params
        if self._cooldown_left:
            self._cooldown_left -= 1
        elif self._uncooled(value, ts) >= params.cooldown_above:
            self._cooldown_left = params.cooldown
        if self._ready():
            self._calibration.learn(self.raw_one(value, ts))
        self._learn(value, ts)
        self._last = None
        self.learned += 1
