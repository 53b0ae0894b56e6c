"""ContextualDetector: pattern anomalies inside the range, prequential, one alert per incident."""

from __future__ import annotations

import copy
import math
import pickle
import random

import pytest

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


#: The corpus-wide NAB threshold of the default configuration is 0.806: a score above it
#: is a detection there, one below 0.6 does not even start a cool-down.
NAB_THRESHOLD = 0.806


def feed_counting_alerts(detector: ContextualDetector, values: list[float]) -> list[int]:
    """Feed ``values``; the detector's alert count after each one."""
    counts = []
    for i, value in enumerate(values):
        detector.score_one(value, i * STEP_S)
        detector.learn_one(value, i * STEP_S)
        counts.append(detector.alerts)
    return counts


def test_a_missing_daily_peak_inside_the_range_is_found_where_the_envelope_sees_nothing() -> None:
    rng = random.Random(3)
    values = [daily(i, rng) for i in range(288 * 6)]
    flat_from = 288 * 5 + 40  # on day six the series stays at its morning level
    values[flat_from : flat_from + 100] = [values[flat_from]] * 100
    contextual = feed(ContextualDetector(), values)
    envelope = feed(MetricDetector(), values)
    assert max(envelope[flat_from:]) == 0.0  # never leaves the range
    assert max(contextual[flat_from : flat_from + 100]) > NAB_THRESHOLD + 0.05
    # once a whole day is learned, the normal days are quiet: no alert at all
    assert max(contextual[2 * 288 : flat_from]) < 0.6
    alerts = feed_counting_alerts(ContextualDetector(), values)
    assert alerts[flat_from - 1] == alerts[2 * 288] < alerts[flat_from + 99]


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
    earlier_alerts, earlier_recent = detector.alerts, detector.recent_alerts
    assert earlier_recent <= earlier_alerts
    scores = feed_from(detector, [400.0] * 30, start=600)
    # a saturated break-out, divided by the damping of the alerts the warm-up days raised
    assert scores[0] > 0.99 / (1.0 + 0.01 * earlier_recent)
    assert scores[1:] == [0.0] * 29
    assert detector.alerts == earlier_alerts + 1


def test_a_deeper_record_breaks_through_the_cool_down() -> None:
    rng = random.Random(7)
    detector = ContextualDetector(ContextualParams(cooldown=50))
    feed(detector, [daily(i, rng) for i in range(600)])
    first, inside, deeper, same_again = feed_from(detector, [150.0, 80.0, 300.0, 300.0], 600)
    assert first > NAB_THRESHOLD and deeper > NAB_THRESHOLD
    assert inside == 0.0  # in range, inside the cool-down
    assert same_again == 0.0  # no longer beyond the record envelope


def test_a_series_that_alerts_often_needs_a_stronger_break_out_for_the_same_score() -> None:
    rng = random.Random(23)
    quiet = [daily(i, rng) for i in range(2000)]
    noisy = list(quiet)
    for at in range(400, 1800, 120):  # a spike every 120 points, each a new record
        noisy[at] = 100.0 + at / 10.0
    calm, busy = ContextualDetector(), ContextualDetector()
    feed(calm, quiet)
    feed(busy, noisy)
    assert busy.alerts >= calm.alerts + 10
    probe = 2000 * STEP_S
    assert busy.score_one(400.0, probe) < calm.score_one(400.0, probe)
    undamped = ContextualDetector(ContextualParams(alert_damping=0.0))
    feed(undamped, noisy)
    assert busy.score_one(400.0, probe) == pytest.approx(
        undamped.score_one(400.0, probe) / (1.0 + 0.01 * busy.recent_alerts)
    )


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
    alerts = feed_counting_alerts(ContextualDetector(), plateau)
    assert max(envelope[1300:]) == 0.0
    assert max(contextual[1300:1305]) > 0.5  # the slow excursion raised 22 damping alerts
    assert alerts[1299] == alerts[900] < alerts[1304]  # starts the cool-down: early and once
    assert max(contextual[900:1300]) < 0.01


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


def test_a_checkpoint_from_before_the_alert_count_and_shared_range_still_restores() -> None:
    rng = random.Random(29)
    values = [daily(i, rng) + (150.0 if i == 1000 else 0.0) for i in range(1200)]
    params = ContextualParams(range_window=4999)  # novelty keeps its own envelope, as it did
    detector = ContextualDetector(params)
    feed(detector, values[:800])
    # the slot state as the older version pickled it: no alert count, no running sum of
    # the level shift's window, no flag for a shared envelope
    state = copy.deepcopy(detector.__reduce_ex__(2)[2])
    del state[1]["_alerts"]
    novelty, level = state[1]["_novelty"], state[1]["_level"]
    novelty_state, level_state = novelty.__reduce_ex__(2)[2], level.__reduce_ex__(2)[2]
    del novelty_state[1]["_owns_range"]
    del level_state[1]["_sum"]
    novelty.__setstate__(novelty_state)
    level.__setstate__(level_state)
    old = ContextualDetector.__new__(ContextualDetector)
    old.__setstate__(state)
    assert old.alerts == 0 and detector.alerts > 0
    detector._alerts = 0  # what the old checkpoint could not know
    assert feed_from(old, values[800:], 800) == feed_from(detector, values[800:], 800)


def test_novelty_bins_the_shared_record_envelope_exactly_as_its_own_copy() -> None:
    rng = random.Random(31)
    values = [daily(i, rng) + (200.0 if i % 500 == 499 else 0.0) for i in range(3000)]
    shared = ContextualDetector()
    apart = ContextualDetector(ContextualParams(range_window=4999))
    assert shared._novelty._range is shared._record
    assert apart._novelty._range is not apart._record
    assert feed(shared, values) == feed(apart, values)  # 3000 values fit either window
    assert len(pickle.dumps(shared)) < len(pickle.dumps(apart))


def test_the_alert_damping_wears_off_once_a_series_calms_down() -> None:
    params = ContextualParams(alert_half_life=100.0)
    detector = ContextualDetector(params)
    values = [10.0 + (i % 5) for i in range(300)] + [500.0, 10.0, 11.0]
    feed_counting_alerts(detector, values)
    alerts, recent = detector.alerts, detector.recent_alerts
    assert alerts >= 1 and recent > 0.5
    calm = feed_counting_alerts(detector, [10.0 + (i % 5) for i in range(200)])
    assert calm[-1] == alerts  # no alert in the calm stretch...
    # ...so after two half-lives a quarter of the recent count is left
    assert detector.recent_alerts == pytest.approx(recent / 4, rel=0.01)
