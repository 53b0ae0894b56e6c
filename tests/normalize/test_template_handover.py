"""A partition's log template miner moves with its windows: same ids, nothing new twice."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import LogRecord
from correlator.normalize.handover import WindowHandover
from correlator.normalize.log_templates import LogTemplateMiner
from correlator.normalize.logs import LogWindows, template_prefix
from correlator.store.memory import MemoryStateStore
from correlator.testing import T0

API, DB = ("logs", 0), ("logs", 1)  # the partitions each service's logs come from
SHAPES = {
    "api": ("GET /cart/{n} served in {n} ms", "cache miss for key {n}", "user {n} logged in"),
    "db": ("query {n} took {n} ms", "connection {n} reset by peer", "vacuum done on t{n}"),
}


def logs_of(service: str, start_s: int, stop_s: int) -> list[LogRecord]:
    """A line of each of the service's message shapes a second (all met in the first 3 s)."""
    out = []
    for t in range(start_s, stop_s):
        at = T0 + timedelta(seconds=t)
        for shape in SHAPES[service]:
            body = shape.format(n=t * 37 % 1000)
            out.append(LogRecord(service=service, observed_at=at, body=body))
    return out


def template_rates(observations: list[Observation]) -> Counter[tuple[str, float, float, str]]:
    return Counter(
        (o.series, o.ts, o.value, o.detail)
        for o in observations
        if o.signal is Signal.LOG_TEMPLATE_RATE
    )


def new_templates(observations: list[Observation]) -> list[str]:
    return [o.detail for o in observations if o.signal is Signal.LOG_NEW_TEMPLATE]


def member() -> LogWindows:
    return LogWindows(window_s=10, miner_per_origin=True)


def test_a_moved_partition_keeps_its_template_ids_and_reports_no_template_twice() -> None:
    """db's partition moves from A to B at second 25, inside window [20, 30); B had mined
    other lines before, so a miner of B's own would number db's templates differently."""
    single = member()
    single.add_all(logs_of("api", 0, 25), API)
    single.add_all(logs_of("db", 0, 25), DB)
    single.add_all(logs_of("api", 25, 60), API)
    single.add_all(logs_of("db", 25, 60), DB)
    expected = single.drain(flush=True)

    a, b = member(), member()
    b.add_all(logs_of("api", 0, 3), ("logs", 7))  # B's history: another partition's lines
    b.drain(flush=True)
    a.add_all(logs_of("api", 0, 25), API)
    a.add_all(logs_of("db", 0, 25), DB)
    before = a.drain(watermark=T0.timestamp() + 25)
    windows, miner = a.take(DB), a.take_miner(DB)
    assert windows is not None and miner is not None
    b.put_miner(DB, miner)
    b.merge(DB, windows)
    a.add_all(logs_of("api", 25, 60), API)
    b.add_all(logs_of("db", 25, 60), DB)
    after_b = b.drain(flush=True)
    got = before + a.drain(flush=True) + after_b

    assert new_templates(after_b) == []
    assert sorted(new_templates(got)) == sorted(new_templates(expected))
    assert template_rates(got) == template_rates(expected)
    assert b.unmatched == 0
    moved = {o.series for o in after_b if o.signal is Signal.LOG_TEMPLATE_RATE}
    assert moved and all(key.startswith("db|log_template_rate|logs:1:") for key in moved)


def test_each_origin_mines_alone_and_its_ids_carry_the_origin() -> None:
    """The same line on two partitions is first seen once on each, under two series."""
    windows = member()
    line = [LogRecord(service="api", observed_at=T0, body="disk full on /var")]
    windows.add_all(line, API)
    windows.add_all(line, DB)
    out = windows.drain(flush=True)
    assert len(new_templates(out)) == 2
    series = sorted(o.series for o in out if o.signal is Signal.LOG_TEMPLATE_RATE)
    assert series[0].startswith(f"api|log_template_rate|{template_prefix(API)}")
    assert series[1].startswith(f"api|log_template_rate|{template_prefix(DB)}")


def test_one_shared_miner_unless_asked_and_for_origin_none() -> None:
    shared = LogTemplateMiner()
    windows = LogWindows(window_s=10, miner=shared)
    windows.add_all(logs_of("api", 0, 3), API)
    windows.add_all(logs_of("api", 3, 6), DB)
    assert shared.template_count == 3 and windows.miners() == {}
    out = windows.drain(flush=True)
    assert len(new_templates(out)) == 3
    assert all(
        o.series.rsplit("|", 1)[1] in shared.templates()
        for o in out
        if o.signal is Signal.LOG_TEMPLATE_RATE
    )
    with pytest.raises(ValueError, match="miner_per_origin"):
        windows.put_miner(API, LogTemplateMiner())


def test_a_new_origins_miner_starts_from_the_shared_one() -> None:
    """Templates an engine with one miner already knew are not first seen again."""
    shared = LogTemplateMiner()
    for record in logs_of("api", 0, 3):
        shared.add(record.body)
    windows = LogWindows(window_s=10, miner=shared, miner_per_origin=True)
    windows.add_all(logs_of("api", 3, 9), API)
    assert new_templates(windows.drain(flush=True)) == []
    assert shared.template_count == 3  # a copy mined them


async def test_miners_round_trip_through_the_store_under_their_partition() -> None:
    store = MemoryStateStore()
    windows = member()
    windows.add_all(logs_of("db", 0, 5), DB)
    assert set(windows.changed_miners()) == {DB} and windows.changed_miners() == {}
    miner = windows.take_miner(DB)
    assert miner is not None
    await WindowHandover(store).save({}, [DB], {DB: miner})
    loaded = await WindowHandover(store).load_miners([API, DB])
    assert set(loaded) == {DB}
    assert loaded[DB].templates() == miner.templates()
