"""River's ``anomaly.HalfSpaceTrees`` over min-max scaled features."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from river import anomaly, preprocessing

#: Surprisal of a cell without reference mass in every tree.
MAX_SURPRISAL = 50.0

# River 0.26.1 leaves these untyped; the wrapper types its own surface instead.
_anomaly: Any = anomaly
_preprocessing: Any = preprocessing

__all__ = ["HalfSpaceTreesModel"]


class HalfSpaceTreesModel:
    """``preprocessing.MinMaxScaler`` then ``anomaly.HalfSpaceTrees``, one feature dict a call.

    The trees split the unit cube, so each feature is scaled to ``[0, 1]`` by the running
    minimum and maximum (over the last ``scale_window`` values, or all of them when
    ``None``), and the trees span ``[-headroom, 1 + headroom]`` on each feature (River's
    ``limits``) so that a value beyond the range seen lands in cells no learned value
    reached, rather than in the edge cell it shares with the largest values.
    River's score is ``1 - mass / max_mass`` in ``[0, 1]`` (the reference mass of the cells
    the features fall in, summed over the trees); it is bounded, so a far-off value scores
    barely above a mildly odd one. The score here is its surprisal ``-ln(mass / max_mass)``
    (the same order, unbounded up to :data:`MAX_SURPRISAL` for cells no value reached),
    and 0 until the first ``window`` values have been learned (no reference mass before).

    >>> model = HalfSpaceTreesModel(["value"], n_trees=5, height=6, window=50, seed=1)
    >>> for i in range(200):
    ...     model.learn_one({"value": float(i % 10)})
    >>> model.score_one({"value": 5.0}) < model.score_one({"value": 60.0})
    True
    """

    __slots__ = ("_scaler", "_trees", "count")

    def __init__(
        self,
        features: Sequence[str],
        n_trees: int,
        height: int,
        window: int,
        seed: int,
        scale_window: int | None = None,
        headroom: float = 0.5,
    ) -> None:
        self._scaler: Any = _preprocessing.MinMaxScaler(window_size=scale_window)
        limits = {name: (-headroom, 1.0 + headroom) for name in features}
        self._trees: Any = _anomaly.HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window, seed=seed, limits=limits
        )
        self.count = 0

    def score_one(self, features: dict[str, float]) -> float:
        """Surprisal of ``features``' cells, scaled by the range learned so far."""
        mass = 1.0 - float(self._trees.score_one(self._scaler.transform_one(features)))
        return MAX_SURPRISAL if mass <= 0.0 else min(MAX_SURPRISAL, -math.log(mass))

    def learn_one(self, features: dict[str, float]) -> None:
        """Widen the scaler's range with ``features``, then add them to the trees."""
        self._scaler.learn_one(features)
        self._trees.learn_one(self._scaler.transform_one(features))
        self.count += 1
