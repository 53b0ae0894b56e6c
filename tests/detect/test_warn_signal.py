"""A burst of warnings is a log signal of its own (normalize → detect, default config)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from correlator.config import DetectSettings
from correlator.detect.registry import detector_factory_for
from correlator.detect.stage import DetectStage
from correlator.model.alert import Alert, AlertStatus
from correlator.model.observation import Signal
from correlator.model.telemetry import LogRecord
from correlator.normalize.stage import NormalizeStage

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def log(t: float, body: str, severity: str = "INFO") -> LogRecord:
    return LogRecord(
        service="api", observed_at=START + timedelta(seconds=t), severity=severity, body=body
    )


def second(t: int, warnings: int = 0) -> list[LogRecord]:
    """Two lines a second, an occasional warning, and ``warnings`` more of a known shape."""
    lines = [log(t, f"GET /items/{t % 97} 200 in {3 + t % 5} ms")]
    lines.append(log(t + 0.5, f"cache miss for key item:{t}", "WARN" if t % 30 == 0 else "INFO"))
    lines += [log(t + 0.1 * k, f"cache miss for key item:{t}-{k}", "WARN") for k in range(warnings)]
    return lines


def run(seconds: list[list[LogRecord]]) -> list[Alert]:
    settings = DetectSettings()
    normalize = NormalizeStage(settings.window_s)
    detect = DetectStage(settings, detector_factory_for(settings))
    alerts: list[Alert] = []
    for events in seconds:
        alerts += detect.process(normalize.process(events).observations).alerts
    return alerts + detect.process(normalize.process([], flush=True).observations).alerts


def test_a_warning_burst_in_a_known_shape_fires_log_warn_rate_not_error_rate() -> None:
    seconds = [second(t) for t in range(600)]
    seconds += [second(t, warnings=4) for t in range(600, 660)]
    seconds += [second(t) for t in range(660, 900)]
    alerts = run(seconds)
    firing = [a for a in alerts if a.status is AlertStatus.FIRING]
    # the shape's own rate rises too; nothing was logged at error level
    assert sorted(a.signal for a in firing) == [Signal.LOG_TEMPLATE_RATE, Signal.LOG_WARN_RATE]
    [warn] = [a for a in firing if a.signal is Signal.LOG_WARN_RATE]
    assert warn.starts_at >= START + timedelta(seconds=600)
    assert warn.observed is not None and warn.observed >= 4.0 and warn.window_s == 10.0
    assert warn.series == "api|log_warn_rate"
    assert any(a.signal is Signal.LOG_WARN_RATE for a in alerts if a.status is AlertStatus.RESOLVED)


def test_steady_occasional_warnings_raise_nothing() -> None:
    assert run([second(t) for t in range(900)]) == []
