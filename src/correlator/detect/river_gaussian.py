"""``river-gaussian``: River's ``GaussianScorer`` over a rolling window (a windowed z-score).

The raw score is the tail surprisal of the value under the Gaussian of the last
``window`` values (see :class:`~correlator.detect.river_models.GaussianModel`), calibrated
to ``[0, 1]`` by :mod:`correlator.detect.calibration`. Like NAB's ``windowedGaussian``.

>>> det = RiverGaussianDetector(RiverGaussianParams(window=50, warmup=60))
>>> for i in range(200):
...     det.learn_one(10.0 + (i % 5), float(i))
>>> det.score_one(12.0, 200.0) < 0.9 < det.score_one(30.0, 200.0)
True
"""

from __future__ import annotations

from pydantic import Field

from correlator.detect.calibration import CalibratedDetector, CalibrationParams
from correlator.detect.river_models import GaussianModel

__all__ = ["RiverGaussianDetector", "RiverGaussianParams"]

#: Values learned before the Gaussian's scores may calibrate.
_SETTLE = 10


class RiverGaussianParams(CalibrationParams):
    """Parameters of :class:`RiverGaussianDetector`."""

    window: int = Field(1000, ge=10, le=100_000, description="Values the Gaussian is fitted to")
    min_std_ratio: float = Field(
        0.001, ge=0, description="Least standard deviation, as a share of |mean|"
    )


class RiverGaussianDetector(CalibratedDetector):
    """Rolling Gaussian; the state is the window of values and a few numbers."""

    __slots__ = ("_model",)

    params: RiverGaussianParams

    def __init__(self, params: RiverGaussianParams | None = None) -> None:
        params = params or RiverGaussianParams()
        super().__init__(params)
        self._model = GaussianModel(params.window, params.min_std_ratio)

    def _raw(self, value: float, ts: float) -> float:
        return self._model.score_one(value)

    def _learn(self, value: float, ts: float) -> None:
        self._model.learn_one(value)

    def _ready(self) -> bool:
        return self._model.count >= _SETTLE
