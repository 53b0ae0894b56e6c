"""ContextualDetector: pattern anomalies inside the range, prequential, one alert per incident."""

from __future__ import annotations

import math
import pickle
import random

from correlator.config import DetectSettings
from correlator.detect.contextual import ContextualDetector, ContextualParams
from correlator.detect.metric_detector import MetricDetector
from correlator.detect.registry import build_detector

STEP_S = 300.0  # five-minute points: 288 a day


def daily(i: int, rng: random.Random) -> float:
    """A daily cycle between 19 and 81 with a little bounded noise."""
    return 50.0 + 30.0 * math.sin(2 * math.pi * i / 288) + rng.uniform(-1.0, 1.0)


def feed(detector: ContextualDetector | MetricDetector, values: list[float]) -> list[float]:
    scores = []
    for i, value in enumerate(values):
        scores.append(detector.score_one(value, i * STEP_S))
        detector.learn_one(value, i * STEP_S)
    return scores


def test_a_missing_daily_peak_inside_the_range_is_found_where_the_envelope_sees_nothing() -> None:
    rng = random.Random(3)
    values = [daily(i, rng) for i in range(288 * 6)]
    flat_from = 288 * 5 + 40  # on day six the series stays at its morning level
    values[flat_from : flat_from + 100] = [values[flat_from]] * 100
    contextual = feed(ContextualDetector(), values)
    envelope = feed(MetricDetector(), values)
    assert max(envelope[flat_from:]) == 0.0  # never leaves the range
    assert max(contextual[flat_from : flat_from + 100]) > 0.9
    # once a whole day is learned, the normal days are quiet
    assert max(contextual[2 * 288 : flat_from]) < 0.9


def test_scoring_does_not_change_the_model() -> None:
    rng = random.Random(5)
    values = [daily(i, rng) for i in range(900)]
    untouched = ContextualDetector()
    feed(untouched, values[:600])
    probed = pickle.loads(pickle.dumps(untouched))
    for junk in (500.0, 10.0, -3.0):
        probed.score_one(junk, 600 * STEP_S)
    assert feed_from(probed, values[600:], 600) == feed_from(untouched, values[600:], 600)


def test_a_break_out_scores_once_then_the_cool_down_holds() -> None:
    rng = random.Random(7)
    detector = ContextualDetector(ContextualParams(cooldown=50))
    feed(detector, [daily(i, rng) for i in range(600)])
    scores = feed_from(detector, [400.0] * 30, start=600)
    assert scores[0] > 0.99
    assert scores[1:] == [0.0] * 29


def feed_from(detector: ContextualDetector, values: list[float], start: int) -> list[float]:
    scores = []
    for i, value in enumerate(values, start):
        scores.append(detector.score_one(value, i * STEP_S))
        detector.learn_one(value, i * STEP_S)
    return scores


def test_a_restored_checkpoint_scores_exactly_like_the_detector_that_never_stopped() -> None:
    rng = random.Random(11)
    values = [daily(i, rng) for i in range(1500)]
    values[1400] = 300.0
    whole = feed(ContextualDetector(), values)
    first = ContextualDetector()
    feed(first, values[:1000])
    restored = pickle.loads(pickle.dumps(first))
    assert feed_from(restored, values[1000:], start=1000) == whole[1000:]


def test_nothing_scores_during_warm_up() -> None:
    detector = ContextualDetector()
    scores = feed(detector, [1.0, 2.0, 1.0, 50.0, -40.0] * 29)
    assert max(scores) == 0.0 and detector.seen == 145


def test_irregular_or_dense_series_get_no_seasonal_lag() -> None:
    detector = ContextualDetector()
    for i in range(300):  # one point a second: a day would be 86,400 points
        detector.learn_one(1.0 + i % 3, float(i))
    assert len(pickle.dumps(detector)) < 5_000


def test_the_engine_uses_it_for_metric_series_and_the_registry_builds_it() -> None:
    choice = DetectSettings().detectors["metric"]
    assert choice.kind == "contextual"
    assert isinstance(build_detector(choice.kind, choice.params), ContextualDetector)
    assert isinstance(build_detector("envelope", {}), MetricDetector)  # the fast option


def test_a_plateau_inside_the_range_is_found_by_the_level_shift() -> None:
    rng = random.Random(13)
    # a quiet series with one slow excursion to 100: the envelope spans 9..100 till 1700
    values = [10.0 + rng.uniform(-1.0, 1.0) for _ in range(1500)]
    values[600:780] = [10.0 + i for i in range(90)] + [100.0 - i for i in range(90)]
    plateau = values[:1300] + [90.0 + rng.uniform(-1.0, 1.0) for _ in range(50)]
    envelope = feed(MetricDetector(), plateau)
    contextual = feed(ContextualDetector(), plateau)
    assert max(envelope[1300:]) == 0.0
    assert max(contextual[1300:1305]) > 0.7  # starts the cool-down: one early detection
    assert max(contextual[900:1300]) < 0.9


def test_a_new_record_outranks_a_break_out_of_the_recent_range_only() -> None:
    rng = random.Random(17)
    values = [50.0 + rng.uniform(-5.0, 5.0) for _ in range(2500)]
    values[100] = 200.0  # an old record, out of the 1000-value envelope by now
    detector = ContextualDetector(ContextualParams(cooldown=0))
    feed(detector, values)
    recent_only = detector.score_one(120.0, 2500 * STEP_S)
    record = detector.score_one(260.0, 2500 * STEP_S)
    assert 0.9 < recent_only < record


def test_the_state_stays_small_once_a_day_of_values_is_kept() -> None:
    rng = random.Random(19)
    detector = ContextualDetector()
    feed(detector, [daily(i, rng) for i in range(288 * 4)])
    assert len(pickle.dumps(detector)) < 8_000  # was 10,712 with a deque and order 4
