"""River's ``anomaly.PredictiveAnomalyDetection`` with a linear forecaster over lags."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from river import anomaly, linear_model, optim, preprocessing

# River 0.26.1's typing of pipelines is loose; the wrapper types its own surface instead.
_preprocessing: Any = preprocessing

__all__ = ["PredictiveModel"]

_MAX_RATIO = 1e6


class PredictiveModel:
    """Forecast the next value from the last ``lags`` ones; score the squared residual.

    The forecaster is ``TargetStandardScaler(StandardScaler() | LinearRegression(SGD))``
    over ``{"lag_1": x[t-1], ..., "lag_k": x[t-k]}`` (standardised inputs and target, so
    one learning rate suits series of any unit), held by River's
    ``PredictiveAnomalyDetection``, whose running mean and variance of the squared errors
    give its dynamic threshold ``mean + n_std * std``. The raw score is River's
    ``squared_error / threshold`` *before* its cap at 1 (so larger misses stay larger).

    The misses of the first ``settle`` values learned (a forecaster that knows nothing
    yet) are left out of the error statistics, as River's ``warmup_period`` does.

    One change from River 0.26.1: River updates the error statistics inside ``score_one``;
    here they are updated in ``learn_one`` with the error of the value learned, so scoring
    is pure (scoring twice gives the same answer, and values the engine does not learn,
    such as an alert episode, do not raise the threshold).

    >>> model = PredictiveModel(lags=2)
    >>> for i in range(300):
    ...     model.learn_one(10.0 + (i % 2))
    >>> model.score_one(10.0) < 1.0 < model.score_one(30.0)
    True
    """

    __slots__ = ("_forecast", "_pad", "_recent", "count", "settle")

    def __init__(
        self, lags: int, n_std: float = 3.0, learning_rate: float = 0.01, settle: int = 30
    ) -> None:
        regressor = preprocessing.StandardScaler() | linear_model.LinearRegression(
            optimizer=optim.SGD(learning_rate)
        )
        forecaster = _preprocessing.TargetStandardScaler(regressor=regressor)
        self._pad: Any = anomaly.PredictiveAnomalyDetection(
            forecaster, horizon=1, n_std=n_std, warmup_period=0
        )
        self._recent: deque[float] = deque(maxlen=lags)
        self._forecast: float | None = None  # of the next value, until it is learned
        self.settle = settle
        self.count = 0

    def _features(self) -> dict[str, float]:
        recent = self._recent
        last = recent[-1] if recent else 0.0
        n = len(recent)
        lags = recent.maxlen or 1
        return {f"lag_{k}": recent[n - k] if k <= n else last for k in range(1, lags + 1)}

    def forecast(self) -> float:
        """The forecast of the next value (the last value seen until the model learns)."""
        if self._forecast is None:
            predicted = self._pad.predictive_model.predict_one(self._features())
            self._forecast = float(predicted) if predicted is not None else 0.0
        return self._forecast

    def score_one(self, value: float) -> float:
        """``(value - forecast)^2 / threshold``: 1 at PAD's dynamic threshold."""
        squared_error = (value - self.forecast()) ** 2
        pad = self._pad
        spread = math.sqrt(float(pad.dynamic_se_variance.get()))
        threshold = float(pad.dynamic_mae.get()) + float(pad.n_std) * spread
        if threshold <= 0.0:
            return 0.0 if squared_error == 0.0 else _MAX_RATIO
        return min(_MAX_RATIO, squared_error / threshold)

    def learn_one(self, value: float) -> None:
        """Update the error statistics with this value's miss, then the forecaster."""
        pad = self._pad
        if self.count >= self.settle:  # River's warmup_period: early misses are not kept
            squared_error = (value - self.forecast()) ** 2
            pad.dynamic_mae.update(squared_error)
            pad.dynamic_se_variance.update(squared_error)
        pad.learn_one(self._features(), value)
        self._recent.append(value)
        self._forecast = None
        self.count += 1
