"""Typed wrappers around the River estimators the River-backed detector kinds use.

The modules of this package (with :mod:`correlator.detect.river_adapter`) are the only
ones that import River (pinned 0.26.1; ruff's banned-api enforces it). Each wrapper takes
plain floats or ``dict[str, float]`` features and returns plain floats, so the detector
kinds (:mod:`~correlator.detect.river_hst`, :mod:`~correlator.detect.river_gaussian`,
:mod:`~correlator.detect.river_predictive`) never see River's types.
"""

from __future__ import annotations

from correlator.detect.river_models.gaussian import GaussianModel
from correlator.detect.river_models.hst import HalfSpaceTreesModel
from correlator.detect.river_models.predictive import PredictiveModel
from correlator.detect.river_models.quantile import StreamingQuantile

__all__ = ["GaussianModel", "HalfSpaceTreesModel", "PredictiveModel", "StreamingQuantile"]
