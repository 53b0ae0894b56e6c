"""A detect member's window handover, in memory: what release writes, what assignment keeps."""

from __future__ import annotations

from collections import Counter

from tests.pipeline.conftest import memory_member

from correlator.config import Settings
from correlator.ingest.otlp_encode import encode_spans
from correlator.model.message import RawMessage
from correlator.normalize.handover import WindowHandover
from correlator.stages import DetectEngine
from correlator.store import MemoryStateStore
from correlator.testing import span

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
