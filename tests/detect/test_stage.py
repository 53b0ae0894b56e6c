"""DetectStage: warm-up, hysteresis, direction, series cap."""

from __future__ import annotations

from correlator.config import DetectSettings
from correlator.detect.registry import detector_factory_for
from correlator.detect.stage import DetectStage
from correlator.model.alert import AlertStatus
from correlator.model.observation import Observation, Signal


def latency(value: float, ts: float, series: str = "api|latency_p99") -> Observation:
    return Observation(series, "api", Signal.LATENCY_P99, value, ts, 10.0)


def detect(**overrides: float) -> DetectStage:
    settings = DetectSettings.model_validate({"warmup": 30, **overrides})
    return DetectStage(settings, detector_factory_for(settings))


def steady(n: int, start: float = 0.0) -> list[Observation]:
    return [latency(100.0 + (i % 5), start + i * 10) for i in range(n)]


def test_a_jump_after_warmup_fires_once_and_clears_after_recovery() -> None:
    stage = detect()
    assert stage.process(steady(200)).alerts == []
    fault = [latency(900.0 + i, 2000 + i * 10) for i in range(6)]
    fired = stage.process(fault).alerts
    assert [a.status for a in fired] == [AlertStatus.FIRING]
    assert fired[0].observed == 900.0 and fired[0].expected is not None and fired[0].expected < 110
    cleared = stage.process(steady(20, start=2100)).alerts
    assert [a.status for a in cleared] == [AlertStatus.RESOLVED]
    assert cleared[0].fingerprint == fired[0].fingerprint


def test_no_alert_during_warmup() -> None:
    stage = detect()
    observations = [latency(100.0, i * 10) for i in range(10)] + [latency(5000.0, 100)]
    assert stage.process(observations).alerts == []


def test_a_drop_in_latency_is_not_a_symptom() -> None:
    stage = detect()
    stage.process(steady(200))
    assert stage.process([latency(1.0, 2000 + i * 10) for i in range(5)]).alerts == []


def test_series_cap_evicts_the_least_recently_seen() -> None:
    stage = detect(max_series=2)
    out = stage.process([latency(1.0, 0, "a"), latency(1.0, 1, "b"), latency(1.0, 2, "c")])
    assert list(out.evicted) == ["a"]
    assert list(stage.series) == ["b", "c"]
