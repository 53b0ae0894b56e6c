"""The load-aware assignor on the real embedded broker: Tansu relays both user data ways."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import pytest

from correlator.config import KafkaSettings
from correlator.model import RawMessage
from correlator.transport.admin import ensure_topics
from correlator.transport.assignor import Plan
from correlator.transport.kafka import KafkaSink, KafkaSource, request_rejoin

pytestmark = pytest.mark.integration

#: Records (of 100 bytes) a 0.1 s tick per partition: any 2-2 split is 400/s against 200/s, the best
#: split (partition 0 alone) is 300/s each.
RATES = {0: 30, 1: 10, 2: 10, 3: 10}


async def _produce(settings: KafkaSettings, topic: str, stop: asyncio.Event) -> None:
    async with KafkaSink(settings) as sink:
        while not stop.is_set():
            await sink.send(
                [
                    RawMessage(topic, b"x" * 100, partition=p)
                    for p, n in RATES.items()
                    for _ in range(n)
                ]
            )
            await asyncio.sleep(0.1)


async def _consume(source: KafkaSource, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await source.get_batch(0.1)


def _owned(source: KafkaSource) -> set[int]:
    return {p for _, p in source.assignment()}


@pytest.mark.slow
async def test_two_members_with_a_skewed_load_end_up_split_by_rate(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"{unique}-skew"
    await ensure_topics(kafka_settings, [topic], partitions=4)
    settings = kafka_settings.model_copy(
        update={"partition_assignor": "load-aware", "load_window_s": 1.0}
    )
    members = [KafkaSource(settings, [topic]) for _ in range(2)]
    assigned = [0, 0]
    for i, member in enumerate(members):

        async def count(_: set[tuple[str, int]], i: int = i) -> None:
            assigned[i] += 1

        member.on_assign.append(count)
    stop = asyncio.Event()
    tasks = []
    try:
        for member in members:
            await member.start()
        tasks = [asyncio.create_task(_consume(m, stop)) for m in members]
        tasks.append(asyncio.create_task(_produce(settings, topic, stop)))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 45
        while loop.time() < deadline:
            plans = [m._balance.plan if m._balance else None for m in members]
            if all(p is not None and p.members == 2 and not p.assumed for p in plans):
                break
            await asyncio.sleep(0.2)
        settled = list(assigned)
        await asyncio.sleep(4.0)  # four windows more: no further rebalance
        owned = [_owned(m) for m in members]
        plans = [m._balance.plan if m._balance else None for m in members]
    finally:
        await _shut_down(stop, tasks, members)
    # the leader read every member's measured weights (JoinGroup user data) ...
    assert sorted(owned, key=len) == [{0}, {1, 2, 3}]
    # ... and every member read the plan it was sent (SyncGroup user data)
    for plan, parts in zip(plans, owned, strict=True):
        assert plan is not None and plan.members == 2 and not plan.assumed
        assert {p for _, p in plan.weights} == parts
        assert plan.total == pytest.approx(600 * 100, rel=0.35)  # bytes a second
        assert plan.load / plan.total == pytest.approx(0.5, abs=0.12)
    assert assigned == settled


async def _until(check: Callable[[], bool], timeout_s: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not check():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.2)
    return True


@pytest.mark.slow
async def test_a_member_joining_a_quiet_group_gets_its_share_and_load_then_splits_by_rate(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    """A quiet group measures 0 on every partition (fetches report the end even when they
    return nothing): the split for a member joining then is by count, not 'balanced at 0'
    with everything left on the first member, and load arriving later splits it by rate."""
    topic = f"{unique}-quiet"
    await ensure_topics(kafka_settings, [topic], partitions=4)
    settings = kafka_settings.model_copy(
        update={"partition_assignor": "load-aware", "load_window_s": 1.0}
    )
    first, second = KafkaSource(settings, [topic]), KafkaSource(settings, [topic])
    members = [first, second]

    def weights(member: KafkaSource) -> dict[tuple[str, int], float]:
        balance = member._balance
        return balance.load.weights(balance.clock()) if balance else {}

    def plans() -> list[Plan | None]:
        return [m._balance.plan if m._balance else None for m in members]

    def split(settled: Callable[[Plan], bool]) -> bool:
        owned = [_owned(m) for m in members]
        return sorted(p for ps in owned for p in ps) == [0, 1, 2, 3] and all(
            p is not None and p.members == 2 and settled(p) for p in plans()
        )

    stop = asyncio.Event()
    tasks = []
    try:
        await first.start()
        tasks.append(asyncio.create_task(_consume(first, stop)))
        quiet = dict.fromkeys([(topic, p) for p in range(4)], 0.0)
        measured = await _until(lambda: weights(first) == quiet, 30)
        await second.start()
        tasks.append(asyncio.create_task(_consume(second, stop)))
        joined = await _until(lambda: split(lambda p: bool(p.weights)), 30)
        quiet_owned = [_owned(m) for m in members]
        quiet_plans = plans()
        tasks.append(asyncio.create_task(_produce(settings, topic, stop)))
        by_rate = await _until(lambda: split(lambda p: not p.assumed), 45)
        busy_owned = [_owned(m) for m in members]
    finally:
        await _shut_down(stop, tasks, members)
    assert measured, f"the first member never measured its partitions quiet: {weights(first)}"
    assert joined, f"no split between both members: {quiet_owned}"
    assert [len(parts) for parts in quiet_owned] == [2, 2]
    assert all(p is not None and p.assumed == set(p.weights) for p in quiet_plans)
    assert by_rate, f"load never split by rate: {busy_owned}"
    assert sorted(busy_owned, key=len) == [{0}, {1, 2, 3}]


@pytest.mark.slow
async def test_a_member_behind_weighs_its_partitions_by_what_arrives(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    """A member that cannot keep up drains each fetch over many batches, so the end offset
    it holds is as old as that fetch: weighing it as the end *now* read 0 most of the time
    and spikes of 10x (measured). Weighed as of its fetch, it is the arrival rate."""
    topic = f"{unique}-behind"
    await ensure_topics(kafka_settings, [topic], partitions=2)
    settings = kafka_settings.model_copy(
        update={"partition_assignor": "load-aware", "load_window_s": 1.0, "max_batch": 5}
    )
    sent = {0: 0, 1: 0}
    stop = asyncio.Event()

    async def produce() -> None:  # 1 kB records: 400/s to partition 0, 100/s to 1
        loop = asyncio.get_running_loop()
        async with KafkaSink(kafka_settings) as sink:
            due = loop.time()
            while not stop.is_set():
                await sink.send(
                    [RawMessage(topic, b"x" * 1000, partition=p) for p in (0, 0, 0, 0, 1)] * 10
                )
                sent[0], sent[1] = sent[0] + 40, sent[1] + 10
                due += 0.1
                await asyncio.sleep(max(0.0, due - loop.time()))

    member = KafkaSource(settings, [topic])
    ratios: dict[int, list[float]] = {0: [], 1: []}
    producer = asyncio.create_task(produce())
    try:
        await member.start()
        loop = asyncio.get_running_loop()
        start = loop.time()
        while loop.time() < start + 20:
            await member.get_batch(0.05)  # 5 records a batch: 250/s, half of what arrives
            await asyncio.sleep(0.02)
            if loop.time() < start + 5:
                continue
            balance = member._balance
            assert balance is not None
            rate = {p: n * 1000 / (loop.time() - start) for p, n in sent.items()}
            for (_, p), weight in balance.load.weights(balance.clock()).items():
                ratios[p].append(weight / rate[p])
        behind = await member.lag() or 0
    finally:
        await _shut_down(stop, [producer], [member])
    assert behind > 1000, f"the member kept up ({behind} records behind): the test measures nothing"
    for p, seen in ratios.items():
        close = [r for r in seen if 0.7 <= r <= 1.3]
        assert len(seen) >= 20 and len(close) >= 0.8 * len(seen), (p, sorted(seen))


async def test_request_rejoin_gets_a_member_a_new_assignment(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    """aiokafka has no public rejoin call: this fails if its private one changes."""
    topic = f"{unique}-rejoin"
    await ensure_topics(kafka_settings, [topic], partitions=2)
    source = KafkaSource(kafka_settings, [topic])
    assigned: list[set[tuple[str, int]]] = []

    async def note(parts: set[tuple[str, int]]) -> None:
        assigned.append(parts)

    source.on_assign.append(note)
    async with source:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not assigned and loop.time() < deadline:
            await source.get_batch(0.1)
        assert assigned, "the member never got its first assignment"
        request_rejoin(source._consumer)
        while len(assigned) < 2 and loop.time() < deadline:
            await source.get_batch(0.1)
    assert len(assigned) == 2
    assert assigned[1] == {(topic, 0), (topic, 1)}


async def _shut_down(
    stop: asyncio.Event, tasks: list[asyncio.Task[None]], members: list[KafkaSource]
) -> None:
    """Stop the consumers' loops, then the members."""
    stop.set()
    for task in tasks:
        with contextlib.suppress(Exception):
            await task
    for member in members:
        await member.stop()
