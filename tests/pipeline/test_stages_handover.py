"""A detect member's window handover, in memory: what release writes, what assignment keeps."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from tests.pipeline.conftest import memory_member, spy

from correlator.clock import FakeClock
from correlator.config import Settings
from correlator.ingest.otlp_encode import encode_spans
from correlator.model.message import RawMessage
from correlator.model.observation import Observation
from correlator.normalize.handover import WindowHandover
from correlator.stages import DetectEngine
from correlator.store import MemoryStateStore
from correlator.testing import T0, span

SETTINGS = Settings.model_validate({"runbooks_dir": None})
SPANS = (SETTINGS.topics.spans, 0)


def record(at_s: float, offset: int) -> RawMessage:
    body = encode_spans([span("api", at_s, ms=10 + offset)])
    return RawMessage(SPANS[0], body, key=b"api", partition=SPANS[1], offset=offset)


async def member(store: MemoryStateStore) -> DetectEngine:
    return await memory_member(SETTINGS, store)


def series(engine: DetectEngine) -> Counter[tuple[str, float]]:
    observations = engine.normalize.drain(flush=True).observations
    return Counter((o.series, o.value) for o in observations)


async def test_release_hands_windows_over_at_the_consumed_offset_and_drops_later_records() -> None:
    store = MemoryStateStore()
    old = await member(store)
    await old._assigned({SPANS})
    await old.process([record(1, 0), record(2, 1), record(3, 2)])
    await old.release({SPANS})
    [handed] = (await WindowHandover(store).load([SPANS])).values()
    assert handed.position == 3
    assert old.normalize.origins() == set()
    await old.process([record(4, 3)])  # fetched before the revoke: the next owner reads it
    assert old.normalize.origins() == set() and SPANS not in old.positions


async def test_assignment_merges_the_windows_and_keeps_them_when_consumption_resumes_there() -> (
    None
):
    store = MemoryStateStore()
    old, new, alone = await member(store), await member(store), await member(store)
    for engine in (old, alone):
        await engine._assigned({SPANS})
        await engine.process([record(1, 0), record(2, 1)])
    await old.release({SPANS})
    await new._assigned({SPANS})
    assert await WindowHandover(store).load([SPANS]) == {}  # merged, then deleted
    for engine in (new, alone):
        await engine.process([record(3, 2)])
    assert series(new) == series(alone)


async def test_windows_covering_records_that_will_be_replayed_are_taken_back_out() -> None:
    """The old member wrote them but died before committing: the new one starts lower."""
    store = MemoryStateStore()
    old, new, fresh = await member(store), await member(store), await member(store)
    await old._assigned({SPANS})
    await old.process([record(1, 0), record(2, 1)])
    await old.release({SPANS})
    await new._assigned({SPANS})
    replay = [record(1, 0), record(2, 1), record(3, 2)]  # from the last committed offset
    await new.process(replay)
    await fresh._assigned({SPANS})
    await fresh.process(replay)
    assert series(new) == series(fresh)  # each span counted once


async def test_a_member_that_crashed_after_a_checkpoint_leaves_its_windows_to_the_next_owner() -> (
    None
):
    store = MemoryStateStore()
    crashed, new, alone = await member(store), await member(store), await member(store)
    await crashed._assigned({SPANS})
    await crashed.process([record(1, 0), record(2, 1)])
    await crashed.checkpoint()  # commits offset 2 with the windows of offsets 0 and 1
    await crashed.process([record(3, 2)])  # then it dies: offset 2 is read again
    await new._assigned({SPANS})
    [handed] = new._handed.values()
    assert handed.position == 2
    await new.process([record(3, 2), record(4, 3)])
    await alone._assigned({SPANS})
    await alone.process([record(1, 0), record(2, 1), record(3, 2), record(4, 3)])
    assert series(new) == series(alone)


async def test_a_checkpoint_keeps_the_open_windows_and_writes_none_for_a_partition_without() -> (
    None
):
    store = MemoryStateStore()
    engine = await member(store)
    other = (SPANS[0], 1)
    await engine._assigned({SPANS, other})
    await engine.process([record(1, 0)])
    await engine.checkpoint()
    assert set(await WindowHandover(store).load([SPANS, other])) == {SPANS}
    assert engine.normalize.origins() == {SPANS}  # still open here


async def test_a_member_checkpoint_leaves_the_shared_template_miner_alone() -> None:
    store = MemoryStateStore()
    engine = await member(store)
    await engine._assigned({SPANS})
    await engine.process([record(1, 0)])
    await engine.checkpoint()
    assert await store.get("logs:template-miner") is None  # its miners are per partition


def on(partition: int, service: str, at_s: float, offset: int) -> RawMessage:
    body = encode_spans([span(service, at_s, ms=10 + offset % 7)])
    return RawMessage(SPANS[0], body, key=service.encode(), partition=partition, offset=offset)


def spans_of(service: str, partition: int, start: int, stop: int) -> list[RawMessage]:
    """One span a second from ``start`` to ``stop``; the offset is the second."""
    return [on(partition, service, t, t) for t in range(start, stop)]


async def test_a_partition_taken_over_from_a_slower_member_loses_no_span_to_closed_windows() -> (
    None
):
    """The slow member has read api's partition to second 25; the fast one has closed its
    own windows to second 40 when it takes api over: api's seconds 25-40 still count."""
    store = MemoryStateStore()
    slow, fast, alone = await member(store), await member(store), await member(MemoryStateStore())
    other = (SPANS[0], 1)
    await slow._assigned({SPANS})
    await slow.process(spans_of("api", 0, 0, 25))
    await fast._assigned({other})
    await fast.process(spans_of("db", 1, 0, 60))
    closed = fast.normalize.spans.closed_upto(None)
    assert closed is not None and closed * 10 - T0.timestamp() == 30  # [30, 40) emitted
    await slow.release({SPANS})
    seen = spy(fast)
    await fast._assigned({SPANS, other})
    await fast.process(spans_of("api", 0, 25, 70) + spans_of("db", 1, 60, 70))
    await fast.flush()
    assert fast.normalize.spans.late == 0
    seen_alone = spy(alone)
    await alone._assigned({SPANS})
    await alone.process(spans_of("api", 0, 0, 70))
    await alone.flush()

    def api(observations: list[Observation]) -> Counter[tuple[str, float, float]]:
        return Counter((o.series, o.ts, o.value) for o in observations if o.entity == "api")

    slow_emitted = T0.timestamp() + 10  # the slow member had emitted the window [0, 10)
    assert api(seen) == api([o for o in seen_alone if o.ts > slow_emitted])


async def test_a_lagging_partition_gone_idle_closes_its_windows_by_the_watermark() -> None:
    """api is taken over lagging, sends to second 35 and goes silent: once it has been idle
    for detect.idle_partition_s, its last window [30, 40) closes with the others' instead
    of waiting for a record that may never come."""
    store = MemoryStateStore()
    slow, fast = await member(store), await member(store)
    other = (SPANS[0], 1)
    await slow._assigned({SPANS})
    await slow.process(spans_of("api", 0, 0, 25))
    await fast._assigned({other})
    await fast.process(spans_of("db", 1, 0, 60))
    await slow.release({SPANS})
    await fast._assigned({SPANS, other})
    seen = spy(fast)
    await fast.process(spans_of("api", 0, 25, 36) + spans_of("db", 1, 60, 70))
    assert fast.normalize.lagging() == {SPANS}

    def api_windows() -> set[float]:
        return {o.ts - T0.timestamp() for o in seen if o.entity == "api"}

    assert 30 not in api_windows()  # [30, 40) is still open: api lags at second 35
    assert isinstance(fast.clock, FakeClock)
    fast.clock.advance(timedelta(seconds=SETTINGS.detect.idle_partition_s + 1))
    await fast.process(spans_of("db", 1, 70, 80))
    assert fast.normalize.lagging() == set()
    assert 30 in api_windows()  # closed by the watermark (db at second 80), no flush
