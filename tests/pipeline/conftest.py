"""Pipeline test helpers: stage settings on the real broker and Redis, and detect members
(in memory, or two in one consumer group handing partitions over) whose observations a
test reads back. Test modules import them from ``tests.pipeline.conftest``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from correlator.clock import FakeClock
from correlator.config import Settings
from correlator.model.message import RawMessage
from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import LogRecord
from correlator.pipeline import build_engine
from correlator.runtime import EmbeddedBroker, EmbeddedRedis
from correlator.stages import DetectEngine, build_stage_engine, ensure_stage_topics
from correlator.store.base import StateStore
from correlator.testing import T0
from correlator.transport import MemorySink
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink
from correlator.transport.memory import MemorySource

PARTITION = {"api": 0, "db": 1}  # each service's records go to one partition of each topic
SHAPES = {
    "api": ("GET /cart/{n} served in {n} ms", "cache miss for key {n}", "user {n} logged in"),
    "db": ("query {n} took {n} ms", "connection {n} reset by peer", "vacuum done on t{n}"),
}


def stage_settings(
    broker: EmbeddedBroker,
    redis: EmbeddedRedis,
    name: str,
    detect: dict[str, Any] | None = None,
) -> Settings:
    """Settings whose topics (two partitions each), group and key prefix are ``name``'s."""
    data: dict[str, Any] = {
        "kafka": {"bootstrap_servers": broker.bootstrap_servers, "group_id": f"g-{name}"},
        "redis": {"url": redis.url, "key_prefix": f"{name}:"},
        "topics": {
            field: f"{name}-{field}"
            for field in ("spans", "metrics", "logs", "events", "alerts_in", "incidents")
        },
        "correlate": {"topology_dir": None},
        "runbooks_dir": None,
    }
    data["topics"] |= {"dead_letter": f"{name}-dlq", "partitions": 2}
    if detect is not None:
        data["detect"] = detect
    return Settings.model_validate(data)


def shape_lines(service: str, t: int) -> list[LogRecord]:
    """A log line of each of ``service``'s message shapes, at second ``t``."""
    at = T0 + timedelta(seconds=t)
    return [
        LogRecord(service=service, observed_at=at, body=shape.format(n=t * 37 % 1000))
        for shape in SHAPES[service]
    ]


def new_templates(observations: list[Observation], service: str) -> list[str]:
    """The templates reported as new for ``service``."""
    return [
        o.detail
        for o in observations
        if o.signal is Signal.LOG_NEW_TEMPLATE and o.service == service
    ]


def spy(engine: DetectEngine) -> list[Observation]:
    """Every observation ``engine`` hands its detectors, from now on."""
    seen: list[Observation] = []
    process = engine.detect.process

    def recording(observations: Sequence[Observation]) -> Any:
        seen.extend(observations)
        return process(observations)

    engine.detect.process = recording  # type: ignore[method-assign]
    return seen


async def memory_member(settings: Settings, store: StateStore) -> DetectEngine:
    """A started detect member on a memory source and sink, sharing ``store``."""
    engine = build_engine(
        settings,
        source=MemorySource(),
        sink=MemorySink(),
        store=store,
        clock=FakeClock(T0),
        scope="detect",
        engine_class=DetectEngine,
    )
    assert isinstance(engine, DetectEngine)
    await engine.start()
    return engine


async def prepare_topics(settings: Settings) -> None:
    topics = settings.topics
    await ensure_topics(settings.kafka, [*topics.decoders(), topics.incidents], 2)
    await ensure_stage_topics(settings)


def all_partitions(settings: Settings) -> int:
    return len(settings.topics.decoders()) * settings.topics.partitions


async def start_detect(settings: Settings) -> DetectEngine:
    """A started detect member of ``settings``' consumer group."""
    engine = build_stage_engine(settings, "detect")
    assert isinstance(engine, DetectEngine)
    await engine.start()
    return engine


async def until(engines: Sequence[DetectEngine], done: Callable[[], bool], what: str) -> None:
    """Step ``engines`` until ``done()``; fail after about 600 rounds."""
    for _ in range(600):
        if done():
            return
        for engine in engines:
            await engine.step(0.05)
    raise AssertionError(f"timed out waiting until {what}")


def consumed(engines: Sequence[DetectEngine]) -> int:
    return sum(sum(e.stats.consumed.values()) for e in engines)


async def produce(settings: Settings, records: list[RawMessage]) -> None:
    async with KafkaSink(settings.kafka) as sink:
        await sink.send(records)


@dataclass(frozen=True)
class Handover:
    """What two detect members observed when their group moved partitions from A to B."""

    seen_a: list[Observation]
    seen_b: list[Observation]
    before: list[Observation]  # what A had observed when B started
    owned_by_b: set[tuple[str, int]]


async def hand_over(
    settings: Settings,
    first: list[RawMessage],
    second: list[RawMessage],
    ready: Callable[[list[Observation]], bool] | None = None,
    ready_what: str = "",
) -> Handover:
    """Member A owns every partition and reads ``first`` (then waits until ``ready`` holds
    for what it observed); B joins the group, and once A and B split the partitions
    ``second`` is produced and both read it to the end and flush."""
    await prepare_topics(settings)
    every = all_partitions(settings)
    a = await start_detect(settings)
    seen_a = spy(a)
    b: DetectEngine | None = None
    try:
        await until([a], lambda: len(a.owned) == every, "A owns all")
        await produce(settings, first)
        await until([a], lambda: consumed([a]) >= len(first), "A read the first part")
        if ready is not None:
            await until([a], lambda: ready(seen_a), ready_what)
        before = list(seen_a)
        b = await start_detect(settings)  # the group rebalances: A gives partitions to B
        seen_b = spy(b)
        members = [a, b]
        await until(
            members,
            lambda: all(e.owned for e in members) and sum(len(e.owned) for e in members) == every,
            "A and B split the partitions",
        )
        await produce(settings, second)
        total = len(first) + len(second)
        await until(members, lambda: consumed(members) >= total, "A and B read the rest")
        owned_by_b = set(b.owned)
        for engine in members:
            await engine.flush()
    finally:
        await a.stop()
        if b is not None:
            await b.stop()
    return Handover(seen_a, seen_b, before, owned_by_b)
