"""A partition that moves between detect members mid-window is observed as if it had not.

Real broker and Redis. The same records go through one detect member, and through member
A alone until second 25, then A and B in one consumer group (the group moves one service's
partitions to B inside the window [20, 30)): the observations the detectors get, counted
over both members, must be those of the single member.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from tests.pipeline.conftest import (
    PARTITION,
    all_partitions,
    consumed,
    hand_over,
    prepare_topics,
    produce,
    spy,
    stage_settings,
    start_detect,
    until,
)

from correlator.config import Settings
from correlator.ingest.otlp_encode import encode_logs_json, encode_spans
from correlator.model.message import RawMessage
from correlator.model.observation import Observation
from correlator.model.telemetry import LogRecord, SpanKind
from correlator.runtime import EmbeddedBroker, EmbeddedRedis
from correlator.testing import T0, span

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _settings(broker: EmbeddedBroker, redis: EmbeddedRedis, name: str) -> Settings:
    # every batch snapshots, so a member that joins starts from the latest log templates
    return stage_settings(broker, redis, name, detect={"checkpoint_every_s": 0.001})


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


async def _single(settings: Settings) -> list[Observation]:
    await prepare_topics(settings)
    engine = await start_detect(settings)
    seen = spy(engine)
    try:
        await until([engine], lambda: len(engine.owned) == all_partitions(settings), "owned")
        first, second = _records(settings, 0, 25), _records(settings, 25, 60)
        await produce(settings, first)
        await until([engine], lambda: consumed([engine]) >= len(first), "first half read")
        await produce(settings, second)
        total = len(first) + len(second)
        await until([engine], lambda: consumed([engine]) >= total, "all read")
        await engine.flush()
    finally:
        await engine.stop()
    return seen


def _emitted(observations: list[Observation]) -> Counter[tuple[object, ...]]:
    """As a multiset; a log template's series is left out (its id is the member's miner's)."""
    return Counter((o.entity, o.signal, o.detail, o.ts, o.value) for o in observations)


async def test_a_partition_moved_mid_window_gives_the_single_members_observations(
    broker: EmbeddedBroker, redis_server: EmbeddedRedis, unique: str
) -> None:
    single = await _single(_settings(broker, redis_server, f"{unique}a"))
    settings = _settings(broker, redis_server, f"{unique}b")
    run = await hand_over(settings, _records(settings, 0, 25), _records(settings, 25, 60))
    split = run.seen_a + run.seen_b
    moved = {s for s, p in PARTITION.items() if (settings.topics.spans, p) in run.owned_by_b}
    assert moved, "the rebalance moved a service's partition to B"
    window = T0.timestamp() + 30  # the window [20, 30) the move cut in two
    cut = [o for o in split if o.ts == window and o.entity in moved]
    assert cut, "the moved service's cut window was observed"
    assert _emitted(split) == _emitted(single)


async def test_a_member_that_crashed_leaves_its_windows_to_the_member_that_takes_over(
    broker: EmbeddedBroker, redis_server: EmbeddedRedis, unique: str
) -> None:
    """A checkpoints at second 25 (inside the window [20, 30)), reads on without
    committing and dies; B resumes at A's committed offsets and replays the rest."""
    single = await _single(_settings(broker, redis_server, f"{unique}a"))
    settings = stage_settings(broker, redis_server, f"{unique}c")
    await prepare_topics(settings)
    every = all_partitions(settings)
    crashed = await start_detect(settings)
    seen_crashed = spy(crashed)
    committed, uncommitted = _records(settings, 0, 25), _records(settings, 25, 28)
    try:
        await until([crashed], lambda: len(crashed.owned) == every, "A owns all")
        await produce(settings, committed)
        await until([crashed], lambda: consumed([crashed]) >= len(committed), "A read 0-25")
        await crashed.checkpoint()
        before = list(seen_crashed)
        await produce(settings, uncommitted)
        total = len(committed) + len(uncommitted)
        await until([crashed], lambda: consumed([crashed]) >= total, "A read 25-28")
    finally:  # dies: no hand-over on the revoke, no commit, no snapshot
        crashed.source.on_revoke.clear()  # type: ignore[attr-defined]
        await crashed.source.stop()
        await crashed.sink.stop()
        await crashed.store.stop()
    survivor = await start_detect(settings)
    seen = spy(survivor)
    try:
        await until([survivor], lambda: len(survivor.owned) == every, "B owns all")
        rest = _records(settings, 28, 60)
        await produce(settings, rest)
        replayed = len(uncommitted) + len(rest)
        await until([survivor], lambda: consumed([survivor]) >= replayed, "B read 25-60")
        await survivor.flush()
    finally:
        await survivor.stop()
    window = T0.timestamp() + 30
    assert [o for o in before if o.ts == window] == [], "[20, 30) was open at the crash"
    assert _emitted(before + seen) == _emitted(single)
