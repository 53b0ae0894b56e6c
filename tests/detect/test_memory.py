"""Bytes per series for each detector kind (the table in ``detect/stage.py``), and the caps."""

from __future__ import annotations

import math
import pickle
import random
import tracemalloc

import pytest

from correlator.config import DetectSettings
from correlator.detect.registry import build_detector, detector_factory_for
from correlator.detect.series import SeriesState
from correlator.detect.stage import DetectStage
from correlator.model.observation import Observation, Signal


def measure(kind: str, n: int = 5000) -> tuple[int, int]:
    """(pickle bytes, live bytes) of one SeriesState after ``n`` points of a daily series."""
    rng = random.Random(1)
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        state = SeriesState(build_detector(kind, {}))
        for i in range(n):
            ts = 1.7e9 + 300.0 * i
            value = 50 + 20 * math.sin(2 * math.pi * i / 288) + rng.gauss(0, 3)
            state.detector.score_one(value, ts)
            state.detector.learn_one(value, ts)
            state.track(value)
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    live = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    return len(pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)), live


@pytest.mark.parametrize(
    ("kind", "max_pickle", "max_live"),
    [("envelope", 2_000, 10_000), ("contextual", 7_000, 40_000), ("robust", 3_000, 10_000)],
)
def test_bytes_per_series_stay_within_the_documented_bounds(
    kind: str, max_pickle: int, max_live: int
) -> None:
    pickled, live = measure(kind)
    print(f"{kind}: pickle {pickled} B, live {live} B")  # -s shows the table's figures
    assert pickled <= max_pickle
    assert live <= max_live


def obs(series: str, ts: float) -> Observation:
    return Observation(series, "api", Signal.METRIC, 1.0, ts)


def test_a_series_idle_past_the_ttl_is_evicted_and_handed_back_for_its_checkpoint() -> None:
    settings = DetectSettings(idle_ttl_s=600.0)
    stage = DetectStage(settings, detector_factory_for(settings))
    stage.process([obs("old", 0.0), obs("busy", 0.0)])
    out = stage.process([obs("busy", 300.0)])
    assert out.evicted == {}
    out = stage.process([obs("busy", 700.0)])
    assert list(out.evicted) == ["old"]
    assert out.evicted["old"].seen == 1 and "old" not in stage.dirty
    assert list(stage.series) == ["busy"]
    stage.restore(out.evicted)  # it reports again: restored, not started afresh
    stage.process([obs("old", 710.0)])
    assert stage.series["old"].seen == 2
