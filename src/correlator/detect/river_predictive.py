"""``river-predictive``: a River forecaster's residual, scored by ``PredictiveAnomalyDetection``.

A linear model over the last ``lags`` values forecasts each value; the raw score is the
squared miss over River's dynamic threshold (see
:class:`~correlator.detect.river_models.PredictiveModel`), calibrated to ``[0, 1]`` by
:mod:`correlator.detect.calibration`. It catches a value that breaks the series' recent
dynamics (a step, a missing beat of a rhythm) even inside the usual range.

>>> det = RiverPredictiveDetector(RiverPredictiveParams(warmup=100))
>>> for i in range(400):
...     det.learn_one(10.0 + (i % 2), float(i))
>>> det.score_one(10.0, 400.0) < 0.9 < det.score_one(30.0, 400.0)
True
"""

from __future__ import annotations

from pydantic import Field

from correlator.detect.calibration import CalibratedDetector, CalibrationParams
from correlator.detect.river_models import PredictiveModel

__all__ = ["RiverPredictiveDetector", "RiverPredictiveParams"]


class RiverPredictiveParams(CalibrationParams):
    """Parameters of :class:`RiverPredictiveDetector`."""

    lags: int = Field(6, ge=1, le=100, description="Past values the forecast is made from")
    n_std: float = Field(
        3.0, gt=0, description="PAD's threshold: mean + n_std * std of the squared errors"
    )
    learning_rate: float = Field(0.01, gt=0, le=1, description="SGD step of the regression")
    settle: int = Field(
        30, ge=0, description="Values learned before misses count in the error statistics"
    )


class RiverPredictiveDetector(CalibratedDetector):
    """Forecast-residual detector; the state is the regression, the lags and a few numbers."""

    __slots__ = ("_model",)

    params: RiverPredictiveParams

    def __init__(self, params: RiverPredictiveParams | None = None) -> None:
        params = params or RiverPredictiveParams()
        super().__init__(params)
        self._model = PredictiveModel(
            params.lags, params.n_std, params.learning_rate, params.settle
        )

    def _raw(self, value: float, ts: float) -> float:
        return self._model.score_one(value)

    def _learn(self, value: float, ts: float) -> None:
        self._model.learn_one(value)

    def _ready(self) -> bool:
        return self._model.count > self.params.settle
