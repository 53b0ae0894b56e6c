"""Logs → error and warning rates, template rates and first-seen templates, per window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from correlator.bench.load import Fault, Load
from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import LogRecord
from correlator.normalize.logs import LogWindows

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def log(t: float, severity: str = "INFO", service: str = "api", body: str = "") -> LogRecord:
    return LogRecord(
        service=service,
        observed_at=START + timedelta(seconds=t),
        severity=severity,
        body=body or f"{severity.lower()} line {int(t) % 7}",
    )


def rates(observations: list[Observation], signal: Signal) -> dict[tuple[str, float], float]:
    return {
        (o.service, o.ts - START.timestamp()): o.value for o in observations if o.signal is signal
    }


def test_warnings_and_errors_are_counted_per_service_and_window() -> None:
    windows = LogWindows(window_s=10)
    windows.add_all(
        [
            log(1, "WARN"),
            log(2, "WARNING"),
            log(3, "ERROR"),
            log(4, "INFO"),
            log(5, "WARN", service="db"),
            log(12, "INFO"),  # a quiet window still says 0
            log(13, "FATAL", service="db"),
        ]
    )
    observations = windows.drain(flush=True)
    assert rates(observations, Signal.LOG_WARN_RATE) == {
        ("api", 10.0): 0.2,
        ("db", 10.0): 0.1,
        ("api", 20.0): 0.0,
        ("db", 20.0): 0.0,
    }
    assert rates(observations, Signal.LOG_ERROR_RATE) == {
        ("api", 10.0): 0.1,
        ("db", 10.0): 0.0,
        ("api", 20.0): 0.0,
        ("db", 20.0): 0.1,
    }
    warn = next(o for o in observations if o.signal is Signal.LOG_WARN_RATE)
    assert warn.series == "api|log_warn_rate" and warn.window_s == 10


def test_a_window_is_emitted_once_it_closes_and_late_lines_are_only_counted() -> None:
    windows = LogWindows(window_s=10)
    windows.add_all([log(1, "WARN"), log(15)])
    assert rates(windows.drain(), Signal.LOG_WARN_RATE) == {}  # 0-10 is within lateness
    windows.add(log(31))
    assert rates(windows.drain(), Signal.LOG_WARN_RATE) == {("api", 10.0): 0.1, ("api", 20.0): 0}
    windows.add(log(2, "WARN"))
    assert windows.late == 1
    assert rates(windows.drain(flush=True), Signal.LOG_WARN_RATE) == {("api", 40.0): 0.0}


def fleet_logs() -> list[LogRecord]:
    load = Load(services=9, requests_per_s=40, metrics_per_service=1, seconds=40, log_p=0.3)
    load.faults = [Fault(load.leaf(), 15, 10)]
    return [r for t in range(load.seconds) for r in load.second(t)[2]]


@pytest.mark.parametrize("size", [1, 13, 100_000], ids=lambda n: f"chunks-of-{n}")
def test_any_batching_of_a_stream_gives_what_one_line_at_a_time_gives(size: int) -> None:
    records = fleet_logs()
    one_at_a_time = LogWindows(window_s=10)
    expected: list[Observation] = []
    for r in records:
        one_at_a_time.add(r)
    expected = one_at_a_time.drain(flush=True)
    windows, got = LogWindows(window_s=10), []
    for i in range(0, len(records), size):
        windows.add_all(records[i : i + size])
        got += windows.drain()
    got += windows.drain(flush=True)
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    # the faulty leaf's slow-query warnings make a burst the others do not have
    warn = rates(got, Signal.LOG_WARN_RATE)
    assert max(warn.values()) == max(v for (s, _), v in warn.items() if s == "svc-008") > 0
