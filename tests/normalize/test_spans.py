"""Spans → windowed service/edge observations and call edges."""

from __future__ import annotations

from correlator.model.observation import Signal
from correlator.model.telemetry import SpanKind
from correlator.normalize.spans import SpanWindows
from correlator.testing import span


def by_series(observations: list) -> dict[str, float]:  # type: ignore[type-arg]
    return {o.series: o.value for o in observations}


def test_window_emits_rate_errors_and_latency_after_it_closes() -> None:
    windows = SpanWindows(window_s=10)
    for i in range(10):
        windows.add(span("api", 1 + i * 0.5, ms=100 + i, error=i == 0))
    assert windows.drain() == ([], [])  # the window is still open
    windows.add(span("api", 35, ms=5))  # time moves on past the lateness allowance
    observations, _ = windows.drain()
    values = by_series(observations)
    assert values["api|request_rate"] == 1.0
    assert values["api|error_ratio"] == 0.1
    assert 104 <= values["api|latency_p50"] <= 105
    assert {o.signal for o in observations} >= {Signal.LATENCY_P99}


def test_client_span_gives_an_edge_and_edge_latency() -> None:
    windows = SpanWindows(window_s=10)
    windows.add(span("web", 1, ms=50, kind=SpanKind.CLIENT, peer="api"))
    observations, edges = windows.drain(flush=True)
    assert [(e.caller, e.callee, e.count) for e in edges] == [("web", "api", 1)]
    assert "web->api|latency_p99" in by_series(observations)


def test_parent_child_across_services_gives_an_edge_in_either_order() -> None:
    windows = SpanWindows(window_s=10)
    # the child ends (and arrives) first
    windows.add(span("db", 1, ms=5, span_id="c1c1c1c1c1c1c1c1", parent="a1a1a1a1a1a1a1a1"))
    windows.add(span("api", 1, ms=9, span_id="a1a1a1a1a1a1a1a1"))
    windows.add(span("api", 2, ms=9, span_id="a2a2a2a2a2a2a2a2"))
    windows.add(span("db", 2, ms=5, span_id="c2c2c2c2c2c2c2c2", parent="a2a2a2a2a2a2a2a2"))
    _, edges = windows.drain(flush=True)
    assert sum(e.count for e in edges if (e.caller, e.callee) == ("api", "db")) == 2


def test_late_span_for_an_emitted_window_is_counted_not_mixed_in() -> None:
    windows = SpanWindows(window_s=10)
    windows.add(span("api", 1, ms=10))
    windows.add(span("api", 40, ms=10))
    first, _ = windows.drain()
    windows.add(span("api", 2, ms=10))
    again, _ = windows.drain()
    assert len(first) == 4 and again == []
    assert windows.late == 1
