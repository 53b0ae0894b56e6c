"""The default metric detector: what it must do for the engine and for NAB."""

from __future__ import annotations

import math
import pickle
import random

import pytest

from correlator.detect.base import Detector
from correlator.detect.envelope import RollingEnvelope
from correlator.detect.metric_detector import MetricDetector, MetricDetectorParams
from correlator.detect.registry import build_detector, detector_kinds
from correlator.errors import DetectorError


def _noisy_daily(n: int, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [50.0 + 10.0 * math.sin(i * 2 * math.pi / 288) + rng.gauss(0, 1) for i in range(n)]


def _replay(detector: Detector, values: list[float], start: int = 0) -> list[float]:
    scores = []
    for i, value in enumerate(values, start):
        scores.append(detector.score_one(value, 300.0 * i))
        detector.learn_one(value, 300.0 * i)
    return scores


def test_a_spike_after_a_stable_period_scores_high() -> None:
    detector = MetricDetector()
    _replay(detector, _noisy_daily(2000))
    assert detector.score_one(120.0, 2000 * 300.0) > 0.99
    assert detector.score_one(-20.0, 2000 * 300.0) > 0.99  # and a drop


def test_a_stable_series_scores_low_after_warm_up() -> None:
    detector = MetricDetector()
    values = _noisy_daily(5000)
    scores = _replay(detector, values)
    late = scores[1500:]
    # Noise still sets a new 1000-row record now and then; it must stay rare.
    assert sum(s >= 0.9 for s in late) <= 0.003 * len(late)
    assert sum(s > 0 for s in late) <= 0.01 * len(late)


def test_nothing_scores_during_warm_up() -> None:
    detector = MetricDetector(MetricDetectorParams(warmup=50))
    scores = _replay(detector, [1.0] * 10 + [1000.0] + [1.0] * 30)
    assert scores == [0.0] * 41


def test_the_first_break_out_alerts_and_the_cool_down_holds_the_rest() -> None:
    params = MetricDetectorParams(window=500, warmup=100, cooldown=50)
    detector = MetricDetector(params)
    _replay(detector, _noisy_daily(600))
    scores = _replay(detector, [200.0 + 10.0 * i for i in range(60)], start=600)
    assert scores[0] > 0.99
    assert scores[1:51] == [0.0] * 50
    assert scores[51] > 0.9  # still climbing out of its envelope once the cool-down ends


def test_a_flat_series_that_moves_alerts() -> None:
    detector = MetricDetector()
    _replay(detector, [0.0] * 500)
    assert detector.score_one(1.0, 1e6) > 0.99


def test_a_protected_spike_does_not_blind_the_detector() -> None:
    params = MetricDetectorParams(window=1000, warmup=100, cooldown=10)
    protected, naive = (
        MetricDetector(params),
        MetricDetector(params.model_copy(update={"protect": 0})),
    )
    values = _noisy_daily(800)
    for detector in (protected, naive):
        _replay(detector, values)
        _replay(detector, [10_000.0], start=800)  # a wild outlier, learned
        _replay(detector, values[:20], start=801)
    assert protected.score_one(150.0, 1e6) > 0.9
    assert naive.score_one(150.0, 1e6) == 0.0


def test_pickle_round_trip_gives_identical_subsequent_scores() -> None:
    values = _noisy_daily(3000, seed=3)
    values[2500] = 150.0
    detector = MetricDetector()
    _replay(detector, values[:1200])
    restored = pickle.loads(pickle.dumps(detector))
    assert _replay(restored, values[1200:], 1200) == _replay(detector, values[1200:], 1200)


def test_scoring_does_not_learn() -> None:
    detector = MetricDetector(MetricDetectorParams(cooldown=0))
    _replay(detector, _noisy_daily(500))
    twin = pickle.loads(pickle.dumps(detector))
    first = detector.score_one(95.0, 1e6)
    assert first > 0.9
    assert detector.score_one(95.0, 1e6) == first
    detector.score_one(80.0, 1e6)
    later = _noisy_daily(300, seed=5)
    assert _replay(detector, later, 500) == _replay(twin, later, 500)


def test_memory_stays_bounded() -> None:
    params = MetricDetectorParams(window=200)
    detector = MetricDetector(params)
    _replay(detector, _noisy_daily(5000))
    typical = len(pickle.dumps(detector))
    _replay(detector, [float(i) for i in range(20_000)], start=5000)  # worst case: a ramp
    envelope = detector._envelope
    assert len(envelope) <= 2 * params.window
    assert typical < 2_000
    assert len(pickle.dumps(detector)) < 20 * params.window + 2_000


def test_envelope_matches_a_brute_force_window() -> None:
    rng = random.Random(11)
    envelope = RollingEnvelope(window=37)
    seen: list[float] = []
    for _ in range(2000):
        value = float(rng.randint(0, 50))
        envelope.update(value)
        seen.append(value)
        assert (envelope.low, envelope.high) == (min(seen[-37:]), max(seen[-37:]))


def test_river_envelope_gives_the_same_scores() -> None:
    values = _noisy_daily(3000, seed=9)
    values[2000] = 90.0
    values[2600] = 5.0
    queue = MetricDetector(MetricDetectorParams(window=400))
    river = MetricDetector(MetricDetectorParams(window=400, envelope="river"))
    scores = _replay(queue, values)
    assert scores == _replay(river, values)
    assert max(scores[2000:2002]) > 0.9 and max(scores[2600:2602]) > 0.9


@pytest.mark.parametrize("kind", sorted(detector_kinds()))
def test_every_registered_kind_builds_with_default_params(kind: str) -> None:
    detector = build_detector(kind, {})
    scores = _replay(detector, _noisy_daily(300))
    assert all(0.0 <= s <= 1.0 for s in scores)


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("nope", {}, "unknown detector kind 'nope'"),
        ("default", {"window": 1}, "window"),
        ("default", {"colour": "red"}, "colour"),
    ],
    ids=["unknown-kind", "bad-value", "unknown-param"],
)
def test_bad_detector_config_is_a_detector_error(
    kind: str, params: dict[str, object], message: str
) -> None:
    with pytest.raises(DetectorError, match=message):
        build_detector(kind, params)
