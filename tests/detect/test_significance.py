"""An error ratio over a known number of requests alerts only when its failures beat chance."""

from __future__ import annotations

import math

import pytest

from correlator.config import DetectSettings
from correlator.detect.registry import detector_factory_for
from correlator.detect.significance import binomial_tail, significant_errors
from correlator.detect.stage import DetectStage
from correlator.model.observation import Observation, Signal


def exact_tail(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k, n + 1))


@pytest.mark.parametrize(
    ("k", "n", "p"), [(1, 14, 0.001), (3, 40, 0.02), (7, 60, 0.1), (2, 2, 0.5)]
)
def test_the_binomial_tail_matches_the_exact_sum(k: int, n: int, p: float) -> None:
    assert binomial_tail(k, n, p) == pytest.approx(exact_tail(k, n, p), rel=1e-9)


def test_a_large_count_is_summed_without_overflow() -> None:
    tail = binomial_tail(60, 1221, 0.001)
    assert 0.0 < tail < 1e-50


def test_the_usual_ratio_is_floored() -> None:
    # a series that never failed: 2 failures in 30 requests are rare at 0.1 %, not at 5 %
    assert significant_errors(2 / 30, 30, usual=0.0, floor=0.001, alpha=0.001)
    assert not significant_errors(2 / 30, 30, usual=0.05, floor=0.001, alpha=0.001)


def errors(ratio: float, ts: float, samples: int) -> Observation:
    return Observation("fn|error_ratio", "fn", Signal.ERROR_RATIO, ratio, ts, 10.0, "", samples)


def stage(**overrides: object) -> DetectStage:
    settings = DetectSettings.model_validate({"warmup": 30, **overrides})
    detect = DetectStage(settings, detector_factory_for(settings))
    detect.process([errors(0.02, i * 10.0, 50) for i in range(100)])  # 1 failure in 50
    return detect


def test_one_failure_of_a_few_requests_is_no_alert_and_many_are() -> None:
    assert stage().process([errors(1 / 5, 1000.0, 5)]).alerts == []  # 20 %, but 1 of 5
    [fired] = stage().process([errors(5 / 14, 1000.0, 14)]).alerts
    assert fired.samples == 14


def test_without_a_request_count_or_with_the_check_off_the_ratio_alone_decides() -> None:
    assert len(stage().process([errors(1 / 5, 1000.0, 0)]).alerts) == 1
    assert len(stage(error_alpha=None).process([errors(1 / 5, 1000.0, 5)]).alerts) == 1


def test_a_ratio_at_or_under_the_usual_one_is_never_significant() -> None:
    assert not significant_errors(0.0101, 5_000_000, usual=0.02, floor=0.001, alpha=0.01)
    # the sum stops once past what the caller asked about
    assert binomial_tail(1, 1_000, 0.01, stop_above=0.5) > 0.5
