"""``--stage detect`` members split the telemetry partitions; incidents match one member's.

Real broker and Redis: the demo's known fault is produced once per run onto that run's
topics; one run has a single detect member, the other two in one consumer group, each with
one correlate engine reading the alerts topic.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from tests.pipeline.conftest import stage_settings

from correlator.bench.crash import CrashOutcome, compare
from correlator.config import Settings
from correlator.demo.incidents_topic import read_changes
from correlator.demo.produce import scenario_messages, stream_scenario
from correlator.demo.scenario import Scenario
from correlator.model.incident import IncidentChange, IncidentStatus
from correlator.runtime import EmbeddedBroker, EmbeddedRedis
from correlator.stages import DetectEngine, build_stage_engine, ensure_stage_topics
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _scenario() -> Scenario:
    """A fresh scenario (one draws its random telemetry as it goes)."""
    return Scenario(normal_s=300, fault_s=120, recovery_s=420, requests_per_s=6)


async def _steps(engine: Any, stop: asyncio.Event) -> None:
    while not stop.is_set():
        await engine.step(0.1)


async def _run(settings: Settings, members: int) -> list[IncidentChange]:
    topics = settings.topics
    await ensure_topics(settings.kafka, [*topics.decoders(), topics.incidents], 2)
    await ensure_stage_topics(settings)
    detect = [build_stage_engine(settings, "detect") for _ in range(members)]
    correlate = build_stage_engine(settings, "correlate")
    for engine in [*detect, correlate]:
        await engine.start()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(_steps(e, stop)) for e in [*detect, correlate]]
    try:
        members_ = [e for e in detect if isinstance(e, DetectEngine)]
        owned: list[frozenset[tuple[str, int]]] = []
        for _ in range(600):  # until the group has split every partition
            owned = [e.owned for e in members_]
            if all(owned) and sum(map(len, owned)) == len(topics.decoders()) * 2:
                break
            await asyncio.sleep(0.1)
        assert all(owned), "every detect member owns partitions"
        async with KafkaSink(settings.kafka) as sink:
            sent = await stream_scenario(sink, scenario_messages(_scenario(), topics))
        for _ in range(1200):
            if sum(sum(e.stats.consumed.values()) for e in detect) >= sent:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*tasks)
        for engine in detect:
            await engine.flush()  # the last windows and watermark go to the alerts topic
        while await correlate.step(1.0):
            pass
        await correlate.flush()
    finally:
        stop.set()
        for engine in [*detect, correlate]:
            await engine.stop()
    return await read_changes(settings.kafka, topics.incidents, f"{topics.incidents}-check")


async def test_two_detect_members_split_partitions_and_publish_the_same_incidents(
    broker: EmbeddedBroker, redis_server: EmbeddedRedis, unique: str
) -> None:
    single = await _run(stage_settings(broker, redis_server, f"{unique}a"), members=1)
    split = await _run(stage_settings(broker, redis_server, f"{unique}b"), members=2)
    one, two = CrashOutcome(single, []), CrashOutcome(split, [])
    [incident] = [c.incident for c in one.latest.values()]
    assert incident.status is IncidentStatus.RESOLVED
    assert incident.root_causes[0].entity == "payments-db"
    assert [p for p in compare(one, two) if "Redis" not in p] == []
