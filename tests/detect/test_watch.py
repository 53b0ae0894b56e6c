"""Watch alerts: a reading that scores watch_threshold but does not alert (too weak, or not
yet persistent) is reported as a watch alert, which the correlate stage treats apart."""

from __future__ import annotations

import pickle
from datetime import timedelta

from correlator.config import DetectorChoice, DetectSettings
from correlator.detect.registry import detector_factory_for
from correlator.detect.robust import RobustDetector, RobustParams
from correlator.detect.stage import DetectStage
from correlator.model.alert import Severity, is_watch
from correlator.model.observation import Observation, Signal


def latency(value: float, ts: float) -> Observation:
    return Observation("api|latency_p99", "api", Signal.LATENCY_P99, value, ts, 10.0)


def stage(watch: float | None, persistence: int = 1) -> DetectStage:
    params = {"window": 60, "warmup": 10, "two_sided": False, "persistence": persistence}
    defaults = DetectSettings().detectors
    settings = DetectSettings(
        detectors={**defaults, "latency": DetectorChoice(kind="robust", params=params)},
        warmup=10,
        watch_threshold=watch,
    )
    detect = DetectStage(settings, detector_factory_for(settings))
    detect.process([latency(100.0 + (i % 5), i * 10.0) for i in range(60)])
    return detect


def test_a_reading_between_the_watch_and_alert_bars_is_a_watch_alert() -> None:
    # median 102, spread about 5.1: 130 is z 5.5, score 0.71 (below 0.9, above 0.5)
    [watch] = stage(0.5).process([latency(130.0, 600.0)]).alerts
    assert is_watch(watch) and watch.severity is Severity.INFO
    assert 0.5 <= watch.score < 0.9
    assert watch.ends_at == watch.starts_at + timedelta(seconds=10)
    assert stage(None).process([latency(130.0, 600.0)]).alerts == []
    assert stage(0.8).process([latency(130.0, 600.0)]).alerts == []
    assert stage(0.5).process([latency(101.0, 600.0)]).alerts == []


def test_the_first_reading_persistence_holds_back_is_a_watch_then_the_alert_fires() -> None:
    detect = stage(0.5, persistence=2)
    [first] = detect.process([latency(900.0, 600.0)]).alerts
    [second] = detect.process([latency(900.0, 610.0)]).alerts
    assert is_watch(first) and not is_watch(second)
    assert first.fingerprint == second.fingerprint
    assert detect.process([latency(900.0, 620.0)]).alerts == []  # alerting: nothing new


def test_an_unconfirmed_score_survives_a_pickle_and_an_old_one_without_it() -> None:
    det = RobustDetector(RobustParams(window=30, warmup=5, persistence=2))
    for i in range(20):
        det.learn_one(10.0 + i % 2, float(i))
    assert det.score_one(100.0, 20.0) == 0.0 and det.unconfirmed > 0.9
    assert pickle.loads(pickle.dumps(det)).unconfirmed == det.unconfirmed
    old = pickle.loads(pickle.dumps(det))
    object.__delattr__(old, "_unconfirmed")
    assert pickle.loads(pickle.dumps(old)).unconfirmed == 0.0
