"""Span and log signals end to end (normalize → detect, in memory) with the default config.

The demo shop's normal period must raise no alert at all: the robust detector's floors
keep latency, error-ratio, request-rate and log signals quiet until the database fault.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import pytest

from correlator.config import DetectSettings
from correlator.demo.scenario import Scenario
from correlator.detect.registry import detector_factory_for
from correlator.detect.stage import DetectStage
from correlator.model.alert import Alert, AlertStatus
from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import LogRecord, MetricPoint, SpanRecord
from correlator.normalize.stage import NormalizeStage

Event = SpanRecord | MetricPoint | LogRecord


def engine_stages() -> tuple[NormalizeStage, DetectStage]:
    settings = DetectSettings()
    return NormalizeStage(settings.window_s), DetectStage(settings, detector_factory_for(settings))


def run(seconds: Iterable[list[Event]]) -> list[Alert]:
    normalize, detect = engine_stages()
    alerts: list[Alert] = []
    for events in seconds:
        alerts += detect.process(normalize.process(events).observations).alerts
    alerts += detect.process(normalize.process([], flush=True).observations).alerts
    return alerts


@pytest.fixture(scope="module")
def demo() -> tuple[Scenario, list[Alert]]:
    scenario = Scenario()  # 600 s normal, 240 s fault, 540 s recovery
    seconds = ([*s.spans, *s.metrics, *s.logs] for s in scenario.seconds())
    return scenario, run(seconds)


def test_the_normal_period_of_the_demo_raises_no_alert(demo: tuple[Scenario, list[Alert]]) -> None:
    scenario, alerts = demo
    early = [a for a in alerts if a.starts_at < scenario.fault_at]
    assert early == []


def test_the_fault_fires_span_and_log_signals_that_say_what_where_and_how_much(
    demo: tuple[Scenario, list[Alert]],
) -> None:
    _, alerts = demo
    firing = {(a.entity, a.signal): a for a in alerts if a.status is AlertStatus.FIRING}
    db = firing[("payments-db", Signal.LATENCY_P99)]
    assert db.observed is not None and db.expected is not None
    assert db.observed > 5 * db.expected
    assert db.window_s == 10.0 and db.score >= 0.9 and db.series == "payments-db|latency_p99"
    assert db.samples is not None and db.samples >= 1  # the requests behind the percentile
    assert "payments-db" in db.summary and "expected" in db.summary
    for key in [
        ("payments->payments-db", Signal.LATENCY_P99),  # edge signals too
        ("checkout->payments", Signal.ERROR_RATIO),
        ("payments", Signal.LOG_ERROR_RATE),
        ("payments-db", Signal.LOG_NEW_TEMPLATE),
    ]:
        assert key in firing, key
    new_shape = firing[("payments-db", Signal.LOG_NEW_TEMPLATE)]
    assert new_shape.expected == 0.0 and new_shape.observed == 1.0
    assert "slow query" in new_shape.summary
    # hysteresis: every fired series resolves once, after recovery
    resolved = {(a.entity, a.signal) for a in alerts if a.status is AlertStatus.RESOLVED}
    assert {k for k in firing if k[1] is not Signal.LOG_NEW_TEMPLATE} <= resolved


def rate(value: float, ts: float) -> Observation:
    return Observation("shop|request_rate", "shop", Signal.REQUEST_RATE, value, ts, 10.0)


def test_traffic_loss_is_a_symptom_request_rate_is_two_sided() -> None:
    _, detect = engine_stages()
    steady = [rate(12.0 + (i % 3) * 0.5, i * 10.0) for i in range(120)]
    assert detect.process(steady).alerts == []
    [alert] = detect.process([rate(2.0, 1200.0 + i * 10) for i in range(3)]).alerts
    assert alert.signal is Signal.REQUEST_RATE and alert.observed == 2.0
    assert alert.expected is not None and alert.expected > 11


START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def log(t: float, body: str, severity: str = "INFO", service: str = "api") -> LogRecord:
    return LogRecord(
        service=service, observed_at=START + timedelta(seconds=t), severity=severity, body=body
    )


def normal_logs(t: int) -> list[LogRecord]:
    """Two lines a second in a few shapes, an occasional warning."""
    return [
        log(t, f"GET /items/{t % 97} 200 in {3 + t % 5} ms"),
        log(t + 0.5, f"user {t % 13} logged in from 10.0.{t % 7}.{t % 200}"),
        *([log(t + 0.7, f"cache miss for key item:{t}", "WARN")] if t % 30 == 0 else []),
    ]


def test_log_stream_first_minutes_do_not_flood_then_bursts_and_new_shapes_alert() -> None:
    seconds: list[list[Event]] = [list(normal_logs(t)) for t in range(600)]
    # a burst of errors in a new shape, and the usual login lines rising fivefold
    for t in range(600, 660):
        burst = [
            log(t + k / 10, f"payment {t}-{k} failed: card declined", "ERROR") for k in range(5)
        ]
        logins = [log(t + 0.2 + k / 10, f"user {k} logged in from 10.0.1.{k}") for k in range(8)]
        seconds.append([*normal_logs(t), *burst, *logins])
    seconds += [list(normal_logs(t)) for t in range(660, 900)]
    alerts = run(seconds)
    fault = START + timedelta(seconds=600)
    assert [a for a in alerts if a.starts_at < fault] == []  # warm-up: no first-seen flood
    firing = {a.signal: a for a in alerts if a.status is AlertStatus.FIRING}
    assert set(firing) == {
        Signal.LOG_ERROR_RATE,
        Signal.LOG_NEW_TEMPLATE,
        Signal.LOG_TEMPLATE_RATE,
    }
    errors = firing[Signal.LOG_ERROR_RATE]
    assert errors.observed == 5.0 and errors.expected == 0.0 and errors.window_s == 10.0
    assert "card declined" in firing[Signal.LOG_NEW_TEMPLATE].summary
    template = firing[Signal.LOG_TEMPLATE_RATE]
    assert "logged in" in template.summary and template.observed is not None
    assert template.expected is not None and template.observed > 3 * template.expected
