"""Kill the engine mid-stream; the restarted engine scores from the restored checkpoints.

The first engine runs the shop's normal traffic over the real broker and Redis and
checkpoints its models every 0.2 s; it then dies without a final checkpoint, flush or
commit (its connections are just dropped). A second engine in the same consumer group
takes over with the fault arriving at once: each series comes back from Redis with its
learned history before its first score (``seen`` where the first engine left it, where a
fresh model would start at 0 and wait 20 windows), and the database slowdown alerts.
(Records of still-open windows are replayed too, at least once, as designed.)
Partition-revoke checkpoints are not tested here: the rebalance hook is not in place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

import pytest

from correlator.config import Settings
from correlator.demo.produce import scenario_messages, stream_scenario
from correlator.demo.scenario import Scenario
from correlator.detect.stage import Detected
from correlator.model.alert import Alert, AlertStatus
from correlator.model.observation import Observation, Signal
from correlator.pipeline import Engine, build_engine
from correlator.store.redis import RedisStateStore
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink, KafkaSource

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DB = "payments-db|latency_p99"


def engine_for(settings: Settings) -> Engine:
    return build_engine(
        settings,
        source=KafkaSource(settings.kafka, list(settings.topics.decoders())),
        sink=KafkaSink(settings.kafka),
        store=RedisStateStore(settings.redis.url.get_secret_value(), settings.redis.key_prefix),
    )


def capture_alerts(engine: Engine, first_seen: dict[str, int]) -> list[Alert]:
    """Record the alerts, and how much ``DB`` had learned when it was first scored."""
    captured: list[Alert] = []
    process = engine.detect.process

    def recording(observations: Sequence[Observation]) -> Detected:
        if DB not in first_seen and any(o.series == DB for o in observations):
            state = engine.detect.series.get(DB)
            first_seen[DB] = state.seen if state is not None else 0
        detected = process(observations)
        captured.extend(detected.alerts)
        return detected

    engine.detect.process = recording  # type: ignore[method-assign]
    return captured


async def run_until(engine: Engine, records: int, limit_s: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    deadline, seen = loop.time() + limit_s, 0
    while seen < records and loop.time() < deadline:
        seen += await engine.step(0.2)
        await asyncio.sleep(0)
    assert seen >= records, f"consumed {seen} of {records} records"


async def test_a_killed_engine_restarts_from_learned_state_and_alerts_without_warm_up(
    settings: Settings,
) -> None:
    settings = settings.model_copy(
        update={"detect": settings.detect.model_copy(update={"checkpoint_every_s": 0.2})}
    )
    scenario = Scenario(normal_s=400, fault_s=120, recovery_s=60, requests_per_s=6)
    seconds = list(scenario_messages(scenario, settings.topics))
    topics = settings.topics
    await ensure_topics(
        settings.kafka, [*topics.decoders(), topics.incidents, topics.dead_letter], 2
    )

    first = engine_for(settings)
    await first.start()
    async with KafkaSink(settings.kafka) as producer:
        sent = await stream_scenario(producer, seconds[: scenario.normal_s])
    await run_until(first, sent)
    await asyncio.sleep(0.3)
    await first.step(0.2)  # one more periodic checkpoint is due
    learned = first.detect.series[DB].seen
    assert learned >= 30
    # crash: drop the connections; no checkpoint, no flush, no commit of open windows
    await first.source.stop()
    await first.sink.stop()
    await first.store.stop()

    second = engine_for(settings)
    first_seen: dict[str, int] = {}
    alerts = capture_alerts(second, first_seen)
    await second.start()
    assert DB not in second.detect.series  # nothing in memory yet: it must come from Redis
    async with KafkaSink(settings.kafka) as producer:
        sent = await stream_scenario(producer, seconds[scenario.normal_s :])
    await run_until(second, sent)
    await second.stop()

    # restored from Redis before its first score: no warm-up gap (a fresh model starts at 0)
    assert first_seen[DB] >= learned - 1
    assert second.detect.series[DB].seen > learned
    fired = [
        a
        for a in alerts
        if a.status is AlertStatus.FIRING and a.series == DB and a.signal is Signal.LATENCY_P99
    ]
    assert fired, "the restarted engine missed the database slowdown"
    assert fired[0].starts_at < scenario.fault_at + timedelta(seconds=120)
