"""An origin taken over from behind: its lines and spans count against its own old owner's
closed windows, and its windows close by its own progress until it catches up."""

from __future__ import annotations

import pickle
from collections import Counter
from datetime import timedelta

from correlator.model.observation import Observation
from correlator.model.telemetry import LogRecord
from correlator.normalize.logs import LogWindows
from correlator.normalize.spans import SpanWindows
from correlator.testing import T0, span

FAST, MOVED = ("logs", 0), ("logs", 1)
B0 = int(T0.timestamp() // 10)  # the bucket of the window [0, 10)


def lines(service: str, start: int, stop: int) -> list[LogRecord]:
    return [
        LogRecord(
            service=service,
            observed_at=T0 + timedelta(seconds=t),
            severity="ERROR" if t % 3 else "INFO",
            body="x",
        )
        for t in range(start, stop)
    ]


def levels(observations: list[Observation], service: str) -> Counter[tuple[str, float, float]]:
    return Counter(
        (o.series, o.ts - T0.timestamp(), o.value)
        for o in observations
        if o.entity == service and "log_template" not in o.series
    )


def test_a_lagging_origins_lines_count_in_windows_this_instance_had_closed() -> None:
    windows, alone = LogWindows(10.0), LogWindows(10.0)
    windows.add_all(lines("db", 0, 60), FAST)
    emitted = windows.drain()
    assert windows.closed_upto(None) is not None and levels(emitted, "api") == Counter()
    windows.lagging.start(MOVED, closed=B0, here=windows.closed_upto(None))  # [0, 10) done
    out: list[Observation] = []
    for start in range(10, 70, 5):  # the moved partition catches up five seconds at a time
        windows.add_all(lines("api", start, start + 5), MOVED)
        out += windows.drain(watermark=60.0 + T0.timestamp())
    out += windows.drain(flush=True)
    alone.add_all(lines("api", 0, 70))
    expected = [o for o in alone.drain(flush=True) if o.ts > T0.timestamp() + 10]
    assert windows.late == 0
    assert levels(out, "api") == levels(expected, "api")
    assert MOVED not in windows.lagging.closed  # caught up


def test_a_lagging_origin_still_drops_what_its_old_owner_had_closed() -> None:
    windows = LogWindows(10.0)
    windows.add_all(lines("db", 0, 60), FAST)
    windows.drain()
    windows.lagging.start(MOVED, closed=B0 + 1, here=windows.closed_upto(None))
    windows.add_all(lines("api", 15, 25), MOVED)  # [10, 20) was emitted by the old owner
    assert windows.late == 5


def test_an_origin_taken_over_from_ahead_does_not_lag() -> None:
    windows = SpanWindows(10.0)
    windows.add_all([span("db", t, ms=5) for t in range(0, 30)], FAST)
    windows.drain()
    windows.lagging.start(MOVED, closed=B0 + 4, here=windows.closed_upto(None))
    assert windows.lagging.closed == {}


def test_lagging_spans_close_by_their_own_progress_not_the_watermark() -> None:
    windows = SpanWindows(10.0)
    windows.add_all([span("db", t, ms=5) for t in range(0, 60)], FAST)
    windows.drain()
    windows.lagging.start(MOVED, closed=None, here=windows.closed_upto(None))
    windows.add_all([span("api", t, ms=5) for t in range(0, 15)], MOVED)
    observations, _ = windows.drain(watermark=T0.timestamp() + 60)
    ends = {o.ts - T0.timestamp() for o in observations if o.entity == "api"}
    assert ends == set()  # api has reached second 15: [0, 10) waits for one more window
    windows.add_all([span("api", t, ms=5) for t in range(15, 25)], MOVED)
    observations, _ = windows.drain(watermark=T0.timestamp() + 60)
    assert {o.ts - T0.timestamp() for o in observations if o.entity == "api"} == {10.0}


def test_windows_pickled_before_origins_could_lag_restore_and_go_on() -> None:
    spans, logs = SpanWindows(10.0), LogWindows(10.0)
    spans.add_all([span("db", t, ms=5) for t in range(0, 15)], FAST)
    logs.add_all(lines("db", 0, 15), FAST)
    restored = []
    for windows in (spans, logs):
        state = pickle.loads(pickle.dumps(windows)).__dict__
        del state["lagging"]  # what an engine before this change snapshotted
        again = type(windows).__new__(type(windows))
        again.__setstate__(state)
        restored.append(again)
    old_spans, old_logs = restored
    assert isinstance(old_spans, SpanWindows) and isinstance(old_logs, LogWindows)
    old_spans.add_all([span("db", t, ms=5) for t in range(15, 40)], FAST)
    old_logs.add_all(lines("db", 15, 40), FAST)
    spans.add_all([span("db", t, ms=5) for t in range(15, 40)], FAST)
    logs.add_all(lines("db", 15, 40), FAST)
    assert old_spans.drain() == spans.drain()
    assert levels(old_logs.drain(), "db") == levels(logs.drain(), "db")
