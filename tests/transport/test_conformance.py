"""The same source/sink behaviour over the memory transport and the real broker."""

from __future__ import annotations

import asyncio

import pytest

from correlator.config import KafkaSettings
from correlator.model import RawMessage
from correlator.transport import MemorySink, MemorySource
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink, KafkaSource


async def _drain(source: KafkaSource, want: int, timeout_s: float = 20.0) -> list[RawMessage]:
    got: list[RawMessage] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while len(got) < want and loop.time() < deadline:
        got.extend(await source.get_batch(0.5))
    return got


async def test_memory_source_commits_next_offset_per_partition() -> None:
    batch = [
        RawMessage("t", b"a", partition=0, offset=7),
        RawMessage("t", b"b", partition=1, offset=2),
    ]
    source = MemorySource([batch])
    got = await source.get_batch(0)
    await source.commit(got)
    assert source.committed == {("t", 0): 8, ("t", 1): 3}
    assert await source.get_batch(0) == []


async def test_memory_sink_keeps_by_topic() -> None:
    sink = MemorySink()
    await sink.send([RawMessage("a", b"1"), RawMessage("b", b"2"), RawMessage("a", b"3")])
    assert [m.value for m in sink.topics["a"]] == [b"1", b"3"]


@pytest.mark.integration
async def test_kafka_round_trip_keys_headers_and_committed_offsets(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"{unique}-rt"
    await ensure_topics(kafka_settings, [topic], partitions=2)
    sent = [
        RawMessage(
            topic, f"v{i}".encode(), key=f"k{i}".encode(), headers=(("h", b"x"),), partition=-1
        )
        for i in range(20)
    ]
    async with KafkaSink(kafka_settings) as sink:
        await sink.send(sent)
    async with KafkaSource(kafka_settings, [topic]) as source:
        first = await _drain(source, 20)
        assert sorted(m.value or b"" for m in first) == sorted(m.value or b"" for m in sent)
        assert all(m.header("h") == b"x" for m in first)
        assert {m.key for m in first} == {m.key for m in sent}
        await source.commit(first[:10])  # only part of the work is durable
    async with KafkaSource(kafka_settings, [topic]) as again:
        replayed = await _drain(again, 10, timeout_s=10.0)
    # the restarted member resumes after the committed offsets: the uncommitted part returns
    assert len(replayed) >= 10
    assert {m.value for m in first[10:]} <= {m.value for m in replayed}


@pytest.mark.integration
async def test_kafka_lag_counts_the_records_not_yet_returned(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"{unique}-lag"
    await ensure_topics(kafka_settings, [topic], partitions=2)
    settings = kafka_settings.model_copy(update={"max_batch": 7})
    async with KafkaSink(kafka_settings) as sink:
        await sink.send([RawMessage(topic, b"x", partition=i % 2) for i in range(30)])
    async with KafkaSource(settings, [topic]) as source:
        assert await source.lag() == 0  # owns nothing before the group is joined
        got = await _drain(source, 1)
        assert 0 < len(got) <= 7
        lag = await source.lag()
        while lag is None:  # until the background fetcher has heard of both partitions
            await asyncio.sleep(0.05)
            lag = await source.lag()
        assert lag == 30 - len(got)
        got += await _drain(source, 30 - len(got))
        assert len(got) == 30 and await source.lag() == 0


@pytest.mark.integration
async def test_kafka_partition_assigned_at_its_end_is_caught_up(
    kafka_settings: KafkaSettings, unique: str
) -> None:
    topic = f"{unique}-end"
    await ensure_topics(kafka_settings, [topic], partitions=1)
    async with KafkaSink(kafka_settings) as sink:
        await sink.send([RawMessage(topic, b"x", partition=0) for _ in range(5)])
    async with KafkaSource(kafka_settings, [topic]) as source:
        got = await _drain(source, 5)
        await source.commit(got)
    async with KafkaSource(kafka_settings, [topic]) as again:
        assert again.caught_up((topic, 7))  # not owned: nothing more to return here
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 60  # the group waits for the first member's session to end
        while not again.assignment() and loop.time() < deadline:
            assert await again.get_batch(0.2) == []
        while not again.caught_up((topic, 0)) and loop.time() < deadline:
            assert await again.get_batch(0.2) == []
        assert again.assignment() == {(topic, 0)} and again.caught_up((topic, 0))
        async with KafkaSink(kafka_settings) as sink:
            await sink.send([RawMessage(topic, b"y", partition=0)])
        assert [m.value for m in await _drain(again, 1)] == [b"y"]
        assert again.caught_up((topic, 0))
