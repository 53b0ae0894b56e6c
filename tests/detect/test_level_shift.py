"""LevelShift: the short mean's running sum is exact and survives a checkpoint."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from correlator.detect.level_shift import LevelShift


def reference_score(shift: LevelShift, value: float) -> float:
    """The documented formula, with the short window summed afresh."""
    short_mean = (sum(list(shift._recent)[1:]) + value) / shift.short
    assert shift._mean is not None
    spread = max(math.sqrt(shift._var), 1e-3 * abs(shift._mean), 1e-12)
    z = abs(short_mean - shift._mean) / spread
    return 0.0 if z <= shift.z_start else 1.0 - math.exp(-(z - shift.z_start) / shift.z_scale)


def test_scores_follow_the_formula_and_survive_pickling() -> None:
    rng = random.Random(3)
    shift = LevelShift(short=4, alpha=0.01, z_start=8.0, z_scale=2.0, warmup=50)
    for i in range(3000):  # values that would let a drifting running sum show
        shift.learn_one(1e6 * (i % 2) + 10.0 + rng.uniform(-1.0, 1.0))
    restored = pickle.loads(pickle.dumps(shift))
    probes = [10.5, 2e6, 4e6, -3e6]
    assert [shift.score_one(v) for v in probes] == pytest.approx(
        [reference_score(shift, v) for v in probes], abs=1e-12
    )
    assert [restored.score_one(v) for v in probes] == [shift.score_one(v) for v in probes]
    assert shift.score_one(4e6) > 0.9 and shift.score_one(10.5) == 0.0
