"""Event time across partitions: a partition with records still to fetch holds it back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from correlator.clock import FakeClock
from correlator.config import Settings
from correlator.pipeline import Engine, build_engine
from correlator.store import MemoryStateStore
from correlator.transport import MemorySink
from correlator.transport.memory import MemorySource

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


class OwnedSource(MemorySource):
    """A memory source that owns partitions and says which still have records to fetch."""

    def __init__(self, owned: set[tuple[str, int]]) -> None:
        super().__init__()
        self.owned = owned
        self.behind: set[tuple[str, int]] = set()

    def assignment(self) -> set[tuple[str, int]]:
        return set(self.owned)

    def caught_up(self, partition: tuple[str, int]) -> bool:
        return partition not in self.behind


def engine_over(source: OwnedSource, clock: FakeClock) -> tuple[Engine, Settings]:
    settings = Settings.model_validate({"runbooks_dir": None})
    engine = build_engine(
        settings, source=source, sink=MemorySink(), store=MemoryStateStore(), clock=clock
    )
    return engine, settings


def test_an_unreported_partition_with_a_backlog_holds_event_time_past_the_idle_wait() -> None:
    clock = FakeClock(START)
    settings = Settings.model_validate({"runbooks_dir": None})
    spans, metrics = (settings.topics.spans, 0), (settings.topics.metrics, 0)
    source = OwnedSource({spans, metrics})
    source.behind.add(metrics)  # metrics have not answered yet, but hold records
    engine, settings = engine_over(source, clock)
    t0 = START.timestamp()

    engine._advance_watermark({spans: t0 + 30})
    assert engine.watermark < t0, "the first partition to answer cannot run ahead"
    clock.advance(timedelta(seconds=settings.detect.idle_partition_s + 1))
    engine._advance_watermark({spans: t0 + 40})
    assert engine.watermark < t0, "a backlog is not silence, however long it waits"

    source.behind.clear()  # it has nothing to fetch and still no data: now it is idle
    engine._advance_watermark({spans: t0 + 41})
    assert engine.watermark == t0 + 41


def test_an_unreported_caught_up_partition_stops_holding_after_the_idle_wait() -> None:
    clock = FakeClock(START)
    settings = Settings.model_validate({"runbooks_dir": None})
    spans, metrics = (settings.topics.spans, 0), (settings.topics.metrics, 0)
    engine, settings = engine_over(OwnedSource({spans, metrics}), clock)
    t0 = START.timestamp()

    engine._advance_watermark({spans: t0 + 30})
    assert engine.watermark < t0
    clock.advance(timedelta(seconds=settings.detect.idle_partition_s + 1))
    engine._advance_watermark({spans: t0 + 40})
    assert engine.watermark == t0 + 40


def test_with_idle_partition_s_0_a_caught_up_partition_never_holds_event_time() -> None:
    clock = FakeClock(START)
    settings = Settings.model_validate({"runbooks_dir": None, "detect": {"idle_partition_s": 0}})
    spans, metrics = (settings.topics.spans, 0), (settings.topics.metrics, 0)
    source = OwnedSource({spans, metrics})
    engine = build_engine(
        settings, source=source, sink=MemorySink(), store=MemoryStateStore(), clock=clock
    )
    t0 = START.timestamp()

    engine._advance_watermark({spans: t0 + 0.99, metrics: t0})
    assert engine.watermark == t0 + 0.99, "both caught up: the newest time, no wall wait"
    source.behind.add(metrics)  # metrics now have records to fetch: they hold time again
    engine._advance_watermark({spans: t0 + 2.5, metrics: t0 + 1})
    assert engine.watermark == t0 + 1


def test_the_tick_clock_runs_on_wall_time_only_when_nothing_is_left_to_fetch() -> None:
    clock = FakeClock(START)
    settings = Settings.model_validate({"runbooks_dir": None})
    spans = (settings.topics.spans, 0)
    source = OwnedSource({spans})
    engine, settings = engine_over(source, clock)
    t0 = START.timestamp()
    engine._advance_watermark({spans: t0 + 10})
    silent = settings.detect.idle_partition_s + 3

    source.behind.add(spans)  # a backlog: a slow fetch is not a silent stream
    clock.advance(timedelta(seconds=silent))
    assert engine.tick_clock() == engine.watermark == t0 + 10
    source.behind.clear()
    assert engine.tick_clock() == t0 + 10 + 3


def test_a_due_snapshot_waits_for_a_moment_with_nothing_to_fetch_at_most_twice_as_long() -> None:
    clock = FakeClock(START)
    settings = Settings.model_validate({"runbooks_dir": None})
    spans = (settings.topics.spans, 0)
    source = OwnedSource({spans})
    engine, settings = engine_over(source, clock)
    every = settings.detect.checkpoint_every_s
    engine._last_snapshot = clock.monotonic()

    source.behind.add(spans)
    clock.advance(timedelta(seconds=every + 1))
    assert not engine._snapshot_due(), "a backlog: the snapshot waits for a gap"
    source.behind.clear()
    assert engine._snapshot_due()
    source.behind.add(spans)
    clock.advance(timedelta(seconds=every))
    assert engine._snapshot_due(), "twice the interval: due whatever the backlog"
