"""The detector protocol: one online model per series, scored before it learns."""

from __future__ import annotations

from typing import Protocol

__all__ = ["Detector", "DetectorFactory"]


class Detector(Protocol):
    """An online anomaly model for one univariate series.

    Prequential use: ``score_one`` first (the model has not seen ``value``), then
    ``learn_one``. Scores are in ``[0, 1]``; higher means more anomalous.
    """

    def score_one(self, value: float, ts: float) -> float:
        """Score ``value`` observed at unix time ``ts`` without learning it."""
        ...

    def learn_one(self, value: float, ts: float) -> None:
        """Update the model with ``value`` observed at unix time ``ts``."""
        ...


class DetectorFactory(Protocol):
    """Builds a fresh detector for a new series."""

    def __call__(self) -> Detector: ...
