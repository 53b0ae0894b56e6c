"""A service whose partition moves between detect members keeps its log templates.

Real broker and Redis. Member A reads every partition, then B joins the consumer group and
takes one service's partitions inside a window. B started before A gave them up, with no
template of that service: it must still number the service's templates as A did, report
none of them as new, and count every line of the window the move cut in two.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest

from correlator.config import Settings
from correlator.ingest.otlp_encode import encode_logs_json
from correlator.model.message import RawMessage
from correlator.model.observation import Observation, Signal
from correlator.model.telemetry import LogRecord
from correlator.runtime import EmbeddedBroker, EmbeddedRedis
from correlator.stages import DetectEngine, build_stage_engine, ensure_stage_topics
from correlator.testing import T0
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PARTITION = {"api": 0, "db": 1}  # each service's records go to one partition of each topic
SHAPES = {
    "api": ("GET /cart/{n} served in {n} ms", "cache miss for key {n}", "user {n} logged in"),
    "db": ("query {n} took {n} ms", "connection {n} reset by peer", "vacuum done on t{n}"),
}
SECONDS = 60


def _settings(broker: EmbeddedBroker, redis: EmbeddedRedis, name: str) -> Settings:
    data: dict[str, Any] = {
        "kafka": {"bootstrap_servers": broker.bootstrap_servers, "group_id": f"g-{name}"},
        "redis": {"url": redis.url, "key_prefix": f"{name}:"},
        "topics": {
            field: f"{name}-{field}"
            for field in ("spans", "metrics", "logs", "events", "alerts_in", "incidents")
        },
        # no checkpoint but the first and those of the rebalance: B, which starts between
        # them, finds no template that A mined; topics without data stop holding event
        # time back after a second, so A emits its first window before B joins
        "detect": {"checkpoint_every_s": 3600, "idle_partition_s": 1.0},
        "correlate": {"topology_dir": None},
        "runbooks_dir": None,
    }
    data["topics"] |= {"dead_letter": f"{name}-dlq", "partitions": 2}
    return Settings.model_validate(data)


def _records(settings: Settings, start_s: int, stop_s: int) -> list[RawMessage]:
    """One logs record per service and second, a line of each of its message shapes."""
    out: list[RawMessage] = []
    for t in range(start_s, stop_s):
        at = T0 + timedelta(seconds=t)
        for service, partition in PARTITION.items():
            lines = [
                LogRecord(service=service, observed_at=at, body=shape.format(n=t * 37 % 1000))
                for shape in SHAPES[service]
            ]
            out.append(
                RawMessage(
                    settings.topics.logs,
                    encode_logs_json(lines),
                    key=service.encode(),
                    partition=partition,
                )
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


def _lines_by_series(observations: list[Observation], service: str) -> dict[str, float]:
    """Lines counted under each of ``service``'s template series."""
    lines: dict[str, float] = defaultdict(float)
    for o in observations:
        if o.signal is Signal.LOG_TEMPLATE_RATE and o.service == service:
            lines[o.series] += o.value * o.window_s
    return dict(lines)


def _new(observations: list[Observation], service: str) -> list[str]:
    return [
        o.detail
        for o in observations
        if o.signal is Signal.LOG_NEW_TEMPLATE and o.service == service
    ]


async def test_a_moved_service_keeps_its_template_ids_and_reports_no_template_again(
    broker: EmbeddedBroker, redis_server: EmbeddedRedis, unique: str
) -> None:
    settings = _settings(broker, redis_server, unique)
    topics = settings.topics
    await ensure_topics(settings.kafka, [*topics.decoders(), topics.incidents], 2)
    await ensure_stage_topics(settings)
    every = len(topics.decoders()) * topics.partitions
    a = await _start(settings)
    seen_a = _spy(a)
    b: DetectEngine | None = None
    try:
        await _until([a], lambda: len(a.owned) == every, "A owns all")
        first, second = _records(settings, 0, 25), _records(settings, 25, SECONDS)
        await _produce(settings, first)
        await _until([a], lambda: _consumed([a]) >= len(first), "A read the first part")
        await _until(
            [a],
            lambda: all(_lines_by_series(seen_a, service) for service in PARTITION),
            "A emitted a window of each service",
        )
        before = list(seen_a)
        b = await _start(settings)  # the group rebalances: A gives partitions to B
        seen_b = _spy(b)
        members = [a, b]
        await _until(
            members,
            lambda: all(e.owned for e in members) and sum(len(e.owned) for e in members) == every,
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

    [moved] = [s for s, p in PARTITION.items() if (topics.logs, p) in owned_by_b]
    assert len(_new(seen_a, moved)) == len(SHAPES[moved]), "A saw each template first"
    assert _new(seen_b, moved) == []
    ids_of_a = set(_lines_by_series(before, moved))
    assert ids_of_a and set(_lines_by_series(seen_b, moved)) == ids_of_a
    assert _lines_by_series(seen_a + seen_b, moved) == dict.fromkeys(ids_of_a, float(SECONDS))
