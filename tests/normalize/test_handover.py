"""Open windows taken out of one normalizer and merged into another give the same windows."""

from __future__ import annotations

import pickle
from collections import Counter
from datetime import timedelta

from correlator.model.observation import Observation
from correlator.model.telemetry import LogRecord, SpanKind, SpanRecord
from correlator.normalize.handover import HandedWindows, WindowHandover
from correlator.normalize.log_templates import LogTemplateMiner
from correlator.normalize.logs import LogWindows
from correlator.normalize.spans import SpanWindows
from correlator.normalize.stage import NormalizeStage
from correlator.store.base import WriteBatch
from correlator.store.memory import MemoryStateStore
from correlator.testing import T0, span

API, DB = ("spans", 0), ("spans", 1)  # the partitions each service's spans come from


def spans_of(service: str, start_s: int, stop_s: int) -> list[SpanRecord]:
    """Several spans a second with varied latency, errors and calls."""
    out = []
    for t in range(start_s, stop_s):
        for i in range(4):
            out.append(span(service, t + i / 4, ms=10 + (t * 7 + i * 13) % 90, error=i == t % 5))
        out.append(span(service, t + 0.9, ms=5 + t % 11, kind=SpanKind.CLIENT, peer="cache"))
    return out


def logs_of(service: str, start_s: int, stop_s: int) -> list[LogRecord]:
    out = []
    for t in range(start_s, stop_s):
        at = T0 + timedelta(seconds=t)
        body = f"{service} request {t * 31} served in {t % 13} ms"
        out.append(LogRecord(service=service, observed_at=at, body=body))
        if t % 3 == 0:
            out.append(
                LogRecord(service=service, observed_at=at, severity="ERROR", body="pool exhausted")
            )
        if t % 4 == 0:
            out.append(LogRecord(service=service, observed_at=at, severity="WARN", body="slow"))
    return out


def emitted(observations: list[Observation]) -> Counter[tuple[object, ...]]:
    """Observations as a multiset (the template id left out: it is the miner's)."""
    return Counter((o.entity, o.signal, o.detail, o.ts, o.value) for o in observations)


def test_spans_taken_mid_window_and_merged_elsewhere_give_the_single_windows() -> None:
    """api stays on A; db's partition moves to B at second 25, inside window [20, 30)."""
    single = SpanWindows(window_s=10)
    single.add_all(spans_of("api", 0, 25) + spans_of("db", 0, 25))
    single.add_all(spans_of("api", 25, 60) + spans_of("db", 25, 60))
    a, b = SpanWindows(window_s=10), SpanWindows(window_s=10)
    a.add_all(spans_of("api", 0, 25), API)
    a.add_all(spans_of("db", 0, 25), DB)
    before, edges_before = a.drain(watermark=T0.timestamp() + 25)  # [0, 10) closes
    state = a.take(DB)
    assert state is not None
    b.merge(DB, pickle.loads(pickle.dumps(state)))  # as it travels through the store
    a.add_all(spans_of("api", 25, 60), API)
    b.add_all(spans_of("db", 25, 60), DB)
    observations, edges = single.drain(flush=True)
    after_a, edges_a = a.drain(flush=True)
    after_b, edges_b = b.drain(flush=True)
    assert emitted(before + after_a + after_b) == emitted(observations)
    assert Counter(edges_before + edges_a + edges_b) == Counter(edges)
    assert {o.entity for o in after_a} == {"api", "api->cache"}  # A kept nothing of db's


def test_a_window_fed_from_two_origins_emits_one_observation_per_series() -> None:
    spans = spans_of("api", 0, 10)
    one = SpanWindows(window_s=10)
    one.add_all(spans)
    two = SpanWindows(window_s=10)
    two.add_all(spans[::2], API)
    two.add_all(spans[1::2], DB)
    assert emitted(two.drain(flush=True)[0]) == emitted(one.drain(flush=True)[0])


def test_logs_taken_and_merged_give_the_single_windows_under_a_restored_miner() -> None:
    single = LogWindows(window_s=10)
    single.add_all(logs_of("api", 0, 25) + logs_of("db", 0, 25))
    single.add_all(logs_of("api", 25, 60) + logs_of("db", 25, 60))
    a = LogWindows(window_s=10)
    a.add_all(logs_of("api", 0, 25), API)
    a.add_all(logs_of("db", 0, 25), DB)
    before = a.drain(watermark=T0.timestamp() + 25)
    b = LogWindows(window_s=10, miner=LogTemplateMiner.from_bytes(a.miner.to_bytes()))
    state = a.take(DB)
    assert state is not None
    b.merge(DB, state)
    a.add_all(logs_of("api", 25, 60), API)
    b.add_all(logs_of("db", 25, 60), DB)
    split = before + a.drain(flush=True) + b.drain(flush=True)
    assert emitted(split) == emitted(single.drain(flush=True))
    assert b.unmatched == 0


def test_template_counts_a_receiving_miner_does_not_know_are_dropped_and_counted() -> None:
    a, b = LogWindows(window_s=10), LogWindows(window_s=10)  # b's miner has seen nothing
    a.add_all(logs_of("db", 0, 5), DB)
    state = a.take(DB)
    assert state is not None
    b.merge(DB, state)
    observations = b.drain(flush=True)
    assert b.unmatched == len(logs_of("db", 0, 5))
    error_rates = [o.value for o in observations if o.series == "db|log_error_rate"]
    assert error_rates == [2 / 10]  # level counts still merge exactly (t = 0 and 3)
    assert not [o for o in observations if "template" in o.series]


def test_taking_an_origin_without_windows_gives_none_and_leaves_others() -> None:
    stage = NormalizeStage(window_s=10)
    stage.add(spans_of("api", 0, 3), API)
    assert stage.take(DB) is None
    assert stage.origins() == {API}
    taken = stage.take(API)
    assert taken is not None and taken.spans is not None
    assert stage.origins() == set()
    assert stage.drain(flush=True).observations == []


def test_windows_pickled_before_origins_existed_still_restore() -> None:
    old = SpanWindows(window_s=10)
    old.add_all(spans_of("api", 0, 3))
    state = dict(old.__dict__)
    state["_cells"] = state.pop("_cells_by_origin")[None]
    state["_edges"] = state.pop("_edges_by_origin")[None]
    restored = SpanWindows.__new__(SpanWindows)
    restored.__setstate__(state)
    fresh = SpanWindows(window_s=10)
    fresh.add_all(spans_of("api", 0, 3))
    assert emitted(restored.drain(flush=True)[0]) == emitted(fresh.drain(flush=True)[0])


async def test_the_store_keeps_one_entry_per_partition_with_a_ttl_until_deleted() -> None:
    store = MemoryStateStore()
    handover = WindowHandover(store, ttl_s=3600)
    stage = NormalizeStage(window_s=10)
    stage.add(spans_of("db", 0, 5), DB)
    windows = stage.take(DB)
    assert windows is not None
    batch = WriteBatch()
    handover.add_to(batch, {DB: HandedWindows(42, windows)}, released=[API, DB])
    assert list(batch.ttls.values()) == [3600]
    assert batch.deletes == ["handover:spans:0"]  # a stale entry of API must not linger
    await store.write(batch)
    found = await handover.load([API, DB])
    assert list(found) == [DB] and found[DB].position == 42
    into = NormalizeStage(window_s=10)
    into.merge(DB, found[DB].windows)
    expected = NormalizeStage(window_s=10)
    expected.add(spans_of("db", 0, 5))
    got = into.drain(flush=True).observations
    assert emitted(got) == emitted(expected.drain(flush=True).observations)
    await handover.delete([DB])
    assert await handover.load([DB]) == {}


async def test_an_unreadable_entry_is_skipped() -> None:
    store = MemoryStateStore()
    batch = WriteBatch()
    batch.put("handover:spans:1", b"not a pickle")
    await store.write(batch)
    assert await WindowHandover(store).load([DB]) == {}
