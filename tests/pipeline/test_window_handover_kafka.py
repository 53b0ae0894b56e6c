"""A partition that moves between detect members mid-window is observed as if it had not.

Real broker and Redis. The same records go through one detect member, and through member
A alone until second 25, then A and B in one consumer group (the group moves one service's
partitions to B inside the window [20, 30)): the observations the detectors get, counted
over both members, must be those of the single member.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from correlator.config import Settings
from correlator.ingest.otlp_encode import encode_logs_json, encode_spans
from correlator.model.message import RawMessage
from correlator.model.observation import Observation
from correlator.model.telemetry import LogRecord, SpanKind
from correlator.runtime import EmbeddedBroker, EmbeddedRedis
from correlator.stages import DetectEngine, build_stage_engine, ensure_stage_topics
from correlator.testing import T0, span
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITION = {"api": 0, "db": 1}  # each service's records go to one partition of each topic


def _settings(broker: EmbeddedBroker, redis: EmbeddedRedis, name: str) -> Settings:
    data: dict[str, Any] = {
        "kafka": {"bootstrap_servers": broker.bootstrap_servers, "group_id": f"g-{name}"},
        "redis": {"url": redis.url, "key_prefix": f"{name}:"},
        "topics": {
            field: f"{name}-{field}"
            for field in ("spans", "metrics", "logs", "events", "alerts_in", "incidents")
        },
        # every batch snapshots, so a member that joins starts from the latest log templates
        "detect": {"checkpoint_every_s": 0.001},
        "correlate": {"topology_dir": None},
        "runbooks_dir": None,
    }
    data["topics"] |= {"dead_letter": f"{name}-dlq", "partitions": 2}
    return Settings.model_validate(data)


def _records(settings: Settings, start_s: int, stop_s: int) -> list[RawMessage]:
    """One spans and one logs record per service and second, on the service's partition."""
    topics = settings.topics
    out: list[RawMessage] = []
    for t in range(start_s, stop_s):
        for service, partition in PARTITION.items():
            spans = [
                span(service, t + i / 5, ms=5 + (t * 7 + i * 13) % 80, error=i == t % 6)
                for i in range(5)
            ]
            spans.append(span(service, t + 0.9, ms=3 + t % 7, kind=SpanKind.CLIENT, peer="cache"))
            at = T0 + timedelta(seconds=t)
            logs = [LogRecord(service=service, observed_at=at, body=f"{service} ok in {t} ms")]
            if t % 3 == 0:
                logs.append(
                    LogRecord(
                        service=service,
                        observed_at=at,
                        severity="ERROR",
                        body=f"{service} pool empty",
                    )
                )
            key = service.encode()
            out.append(RawMessage(topics.spans, encode_spans(spans), key=key, partition=partition))
            out.append(
                RawMessage(topics.logs, encode_logs_json(logs), key=key, partition=partition)
            )
    return out


def _spy(engine: DetectEngine) -> list[Observation]:
    """Every observation ``engine`` hands its detectors, from now on."""
    seen: list[Observation] = []
    process = engine.detect.process

    def recording(observations: Sequence[Observation]) -> Any:
        seen.extend(observations)
        return process(observations)

    engine.detect.process = recording  # type: ignore[method-assign]
    return seen


async def _start(settings: Settings) -> DetectEngine:
    engine = build_stage_engine(settings, "detect")
    assert isinstance(engine, DetectEngine)
    await engine.start()
    return engine


async def _until(engines: Sequence[DetectEngine], done: Any, what: str) -> None:
    for _ in range(600):
        if done():
            return
        for engine in engines:
            await engine.step(0.05)
    raise AssertionError(f"timed out waiting until {what}")


def _consumed(engines: Sequence[DetectEngine]) -> int:
    return sum(sum(e.stats.consumed.values()) for e in engines)


async def _produce(settings: Settings, records: list[RawMessage]) -> None:
    async with KafkaSink(settings.kafka) as sink:
        await sink.send(records)


async def _prepare(settings: Settings) -> None:
    topics = settings.topics
    await ensure_topics(settings.kafka, [*topics.decoders(), topics.incidents], 2)
    await ensure_stage_topics(settings)


def _all_partitions(settings: Settings) -> int:
    return len(settings.topics.decoders()) * settings.topics.partitions


async def _single(settings: Settings) -> list[Observation]:
    await _prepare(settings)
    engine = await _start(settings)
    seen = _spy(engine)
    try:
        await _until([engine], lambda: len(engine.owned) == _all_partitions(settings), "owned")
        first, second = _records(settings, 0, 25), _records(settings, 25, 60)
        await _produce(settings, first)
        await _until([engine], lambda: _consumed([engine]) >= len(first), "first half read")
        await _produce(settings, second)
        total = len(first) + len(second)
        await _until([engine], lambda: _consumed([engine]) >= total, "all read")
        await engine.flush()
    finally:
        await engine.stop()
    return seen


async def _split(settings: Settings) -> tuple[list[Observation], set[tuple[str, int]]]:
    """Observations of A and B, and the partitions B ended up owning."""
    await _prepare(settings)
    a = await _start(settings)
    seen = _spy(a)
    b: DetectEngine | None = None
    try:
        await _until([a], lambda: len(a.owned) == _all_partitions(settings), "A owns all")
        first, second = _records(settings, 0, 25), _records(settings, 25, 60)
        await _produce(settings, first)
        await _until([a], lambda: _consumed([a]) >= len(first), "A read the first half")
        b = await _start(settings)  # the group rebalances: A gives partitions to B
        seen_b = _spy(b)
        members = [a, b]
        await _until(
            members,
            lambda: (
                all(e.owned for e in members)
                and sum(len(e.owned) for e in members) == _all_partitions(settings)
            ),
            "A and B split the partitions",
        )
        await _produce(settings, second)
        total = len(first) + len(second)
        await _until(members, lambda: _consumed(members) >= total, "A and B read the rest")
        owned_by_b = set(b.owned)
        for engine in members:
            await engine.flush()
    finally:
        await a.stop()
        if b is not None:
            await b.stop()
    return seen + seen_b, owned_by_b


def _emitted(observations: list[Observation]) -> Counter[tuple[object, ...]]:
    """As a multiset; a log template's series is left out (its id is the member's miner's)."""
    return Counter((o.entity, o.signal, o.detail, o.ts, o.value) for o in observations)


async def test_a_partition_moved_mid_window_gives_the_single_members_observations(
    broker: EmbeddedBroker, redis_server: EmbeddedRedis, unique: str
) -> None:
    single = await _single(_settings(broker, redis_server, f"{unique}a"))
    settings = _settings(broker, redis_server, f"{unique}b")
    split, owned_by_b = await _split(settings)
    moved = {s for s, p in PARTITION.items() if (settings.topics.spans, p) in owned_by_b}
    assert moved, "the rebalance moved a service's partition to B"
    window = T0.timestamp() + 30  # the window [20, 30) the move cut in two
    cut = [o for o in split if o.ts == window and o.entity in moved]
    assert cut, "the moved service's cut window was observed"
    assert _emitted(split) == _emitted(single)
