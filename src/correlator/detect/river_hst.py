"""``river-hst``: River's Half-Space Trees over the value, its step and (optionally) the hour.

Features of an observation at ``ts`` (each min-max scaled before the trees):

* ``value``: the value itself (a level no recent window held is in the emptiest cells);
* ``step``: ``value`` minus the previous value learned (a sudden jump or drop, even
  within the usual range);
* ``tod_sin``, ``tod_cos`` with ``time_of_day``: the time of day on the unit circle, so
  a level normal at noon but not at 3 am can stand out (off by default).

The raw HST score is calibrated to ``[0, 1]`` by :mod:`correlator.detect.calibration`.

>>> det = RiverHstDetector(RiverHstParams(window=50, warmup=100))
>>> for i in range(300):
...     det.learn_one(10.0 + (i % 5), float(i))
>>> det.score_one(10.0, 300.0) < 0.9 < det.score_one(80.0, 300.0)
True
"""

from __future__ import annotations

import math

from pydantic import Field

from correlator.detect.calibration import CalibratedDetector, CalibrationParams
from correlator.detect.river_models import HalfSpaceTreesModel

__all__ = ["RiverHstDetector", "RiverHstParams"]

_DAY_S = 86_400.0


class RiverHstParams(CalibrationParams):
    """Parameters of :class:`RiverHstDetector`."""

    n_trees: int = Field(10, ge=1, le=50, description="Trees in the ensemble")
    height: int = Field(6, ge=2, le=12, description="Depth of each tree (2**height leaves)")
    window: int = Field(250, ge=10, le=100_000, description="Values per reference window")
    headroom: float = Field(
        0.5, ge=0, le=10, description="Tree space beyond the scaled range, each side"
    )
    scale_window: int | None = Field(
        None, ge=10, description="Values the min-max scaler covers (None: all seen)"
    )
    time_of_day: bool = Field(False, description="Add the time of day as two features")
    seed: int = Field(42, description="Seed of the random splits (same seed, same trees)")


class RiverHstDetector(CalibratedDetector):
    """Scaled Half-Space Trees; the state is the trees, the scaler and a few numbers."""

    __slots__ = ("_model", "_previous")

    params: RiverHstParams

    def __init__(self, params: RiverHstParams | None = None) -> None:
        params = params or RiverHstParams()
        super().__init__(params)
        names = ["value", "step"] + (["tod_sin", "tod_cos"] if params.time_of_day else [])
        self._model = HalfSpaceTreesModel(
            names,
            params.n_trees,
            params.height,
            params.window,
            params.seed,
            params.scale_window,
            params.headroom,
        )
        self._previous: float | None = None

    def _features(self, value: float, ts: float) -> dict[str, float]:
        step = 0.0 if self._previous is None else value - self._previous
        features = {"value": value, "step": step}
        if self.params.time_of_day:
            angle = 2.0 * math.pi * (ts % _DAY_S) / _DAY_S
            features["tod_sin"], features["tod_cos"] = math.sin(angle), math.cos(angle)
        return features

    def _raw(self, value: float, ts: float) -> float:
        return self._model.score_one(self._features(value, ts))

    def _learn(self, value: float, ts: float) -> None:
        self._model.learn_one(self._features(value, ts))
        self._previous = value

    def _ready(self) -> bool:
        return self._model.count >= self.params.window
