"""Spans → windowed service/edge observations and call edges."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from functools import cache

import pytest

from correlator.bench.load import Fault, Load
from correlator.model.observation import Signal
from correlator.model.telemetry import SpanKind, SpanRecord, SpanRow
from correlator.normalize.spans import SpanWindows, _Recent
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
    # an error ratio and the percentiles say how many requests they were measured over
    samples = {o.signal: o.samples for o in observations if o.entity == "api"}
    assert samples == {
        Signal.REQUEST_RATE: 0,
        Signal.ERROR_RATIO: 10,
        Signal.LATENCY_P50: 10,
        Signal.LATENCY_P99: 10,
    }


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


@cache
def fleet_spans() -> list[SpanRecord]:
    load = Load(services=9, requests_per_s=40, metrics_per_service=1, seconds=45)
    load.faults = [Fault(load.leaf(), 20, 10)]
    return [s for t in range(load.seconds) for s in load.second(t)[0]]


def emitted(
    windows: SpanWindows, chunks: Sequence[Sequence[SpanRecord | SpanRow]]
) -> tuple[list, list]:  # type: ignore[type-arg]
    observations, edges = [], []
    for chunk in chunks:
        windows.add_all(chunk)
        got = windows.drain()
        observations += got[0]
        edges += got[1]
    got = windows.drain(flush=True)
    return observations + got[0], edges + got[1]


@pytest.mark.parametrize("size", [1, 7, 500, 100_000], ids=lambda n: f"chunks-of-{n}")
def test_any_batching_of_a_stream_gives_what_one_span_at_a_time_gives(size: int) -> None:
    spans = fleet_spans()
    one_at_a_time = SpanWindows(window_s=10)
    for s in spans:
        one_at_a_time.add(s)
    expected = one_at_a_time.drain(flush=True)
    chunks = [spans[i : i + size] for i in range(0, len(spans), size)]
    assert emitted(SpanWindows(window_s=10), chunks) == expected


def test_rows_give_the_windows_their_records_give() -> None:
    spans = fleet_spans()
    expected = emitted(SpanWindows(window_s=10), [spans])
    rows = [SpanRow.of(s) for s in spans]
    mixed = [row if i % 3 else span for i, (span, row) in enumerate(zip(spans, rows, strict=True))]
    assert emitted(SpanWindows(window_s=10), [rows[:1000], rows[1000:]]) == expected
    assert emitted(SpanWindows(window_s=10), [mixed]) == expected
    assert expected[0] and expected[1]


def test_window_counts_and_edges_match_a_direct_count_of_the_spans() -> None:
    spans = fleet_spans()
    observations, edges = SpanWindows(window_s=10).drain(flush=True)  # nothing yet
    assert (observations, edges) == ([], [])
    observations, edges = emitted(SpanWindows(window_s=10), [spans])
    served: Counter[tuple[str, float]] = Counter()
    calls: Counter[tuple[str, str]] = Counter()
    for s in spans:
        end = s.start_at.timestamp() + s.duration_ms / 1000
        window_end = (end // 10 + 1) * 10
        if s.span_kind is SpanKind.SERVER:
            served[(s.service, window_end)] += 1
        if s.span_kind is SpanKind.CLIENT:
            calls[(s.service, s.peer_service)] += 1
    rates = {
        (o.entity, o.ts): o.value * 10 for o in observations if o.signal is Signal.REQUEST_RATE
    }
    assert {k: v for k, v in rates.items() if "->" not in k[0]} == served
    # the load names every callee, so client spans and parent links count each call twice
    # (a parent link counts in the window of whichever of the two spans came second)
    linked: Counter[tuple[str, str]] = Counter()
    for e in edges:
        linked[(e.caller, e.callee)] += e.count
    assert linked == calls + calls


def test_parents_are_remembered_for_at_least_the_bound_of_recent_spans() -> None:
    recent: _Recent[str] = _Recent(3)
    for n in range(7):
        recent[f"s{n}"] = f"svc{n}"
    assert [recent.get(f"s{n}") for n in range(7)] == [None] * 3 + [f"svc{n}" for n in range(3, 7)]
    assert recent.pop("s3") == "svc3" and recent.get("s3") is None
