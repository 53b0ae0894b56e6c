"""The demo: embedded broker and Redis, the scenario streamed through them, the engine on it."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from correlator.act import ExecutionRecord
from correlator.config import Settings
from correlator.demo.act_dry_run import run_runbooks
from correlator.demo.incidents_topic import latest_versions, read_changes
from correlator.demo.produce import scenario_messages, stream_scenario
from correlator.demo.scenario import Scenario
from correlator.model.incident import Incident
from correlator.pipeline import Engine, build_engine
from correlator.runtime import EmbeddedBroker, EmbeddedRedis
from correlator.store.incidents import IncidentRepository
from correlator.store.redis import RedisStateStore
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink, KafkaSource

__all__ = [
    "DemoResult",
    "demo_settings",
    "run_demo",
    "run_engine_until",
    "run_scenario",
]

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    """What the demo saw: incidents as read back from the topic and from Redis."""

    incidents: list[Incident]
    stored: list[Incident]
    root_cause: str
    records_sent: int
    changes_on_topic: int
    dead_lettered: int
    alerts: int
    events: int
    elapsed_s: float
    executions: list[ExecutionRecord] = field(default_factory=list)


def demo_settings(
    bootstrap: str, redis_url: str, topology_dir: Path | None, runbooks_dir: Path | None
) -> Settings:
    """Settings of the demo: the embedded services, the shipped topology and runbooks.

    Runbooks run in dry-run (the default); kubectl is allowlisted so the remediation
    runbook shows the exact command it would run.
    """
    return Settings.model_validate(
        {
            "kafka": {"bootstrap_servers": bootstrap, "group_id": "correlator-demo"},
            "redis": {"url": redis_url},
            "correlate": {"topology_dir": topology_dir},
            "runbooks_dir": runbooks_dir,
            "act": {"dry_run": True, "command_allowlist": ["kubectl"]},
        }
    )


async def run_engine_until(engine: Engine, expected: asyncio.Future[int], limit_s: float) -> None:
    """Step the engine until it has consumed as many records as the producer sent."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    seen = 0
    while loop.time() < deadline:
        seen += await engine.step(0.2)
        if expected.done() and seen >= expected.result():
            break
    await engine.flush()


async def run_scenario(
    settings: Settings, scenario: Scenario, limit_s: float = 300.0
) -> DemoResult:
    """Stream ``scenario`` through the broker while the engine runs; read the results back."""
    started = time.monotonic()
    topics = settings.topics
    await ensure_topics(
        settings.kafka,
        [*topics.decoders(), topics.incidents, topics.dead_letter],
        topics.partitions,
    )
    store = RedisStateStore(settings.redis.url.get_secret_value(), settings.redis.key_prefix)
    engine = build_engine(
        settings,
        source=KafkaSource(settings.kafka, list(topics.decoders())),
        sink=KafkaSink(settings.kafka),
        store=store,
    )
    await engine.start()
    sent: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def produce() -> None:
        async with KafkaSink(settings.kafka) as sink:
            sent.set_result(await stream_scenario(sink, scenario_messages(scenario, topics)))

    producer = asyncio.create_task(produce())
    try:
        await run_engine_until(engine, sent, limit_s)
        await producer
    finally:
        await engine.stop()
    reader = f"{settings.kafka.group_id}-reader"
    changes = await read_changes(settings.kafka, topics.incidents, reader)
    current = latest_versions(changes)
    async with RedisStateStore(
        settings.redis.url.get_secret_value(), settings.redis.key_prefix
    ) as st:
        stored = await IncidentRepository(st).recent(limit=1000)
    incidents = sorted((c.incident for c in current.values()), key=lambda i: i.opened_at)
    executions: list[ExecutionRecord] = []
    if settings.runbooks_dir is not None:
        ids = [i.incident_id for i in incidents]
        executions = await run_runbooks(settings, len(changes), ids)
    return DemoResult(
        incidents=incidents,
        stored=stored,
        root_cause=scenario.root_cause,
        records_sent=sent.result(),
        changes_on_topic=len(changes),
        dead_lettered=engine.stats.dead_lettered,
        alerts=engine.stats.alerts,
        events=engine.stats.events,
        elapsed_s=time.monotonic() - started,
        executions=executions,
    )


def run_demo(
    work_dir: Path,
    topology_dir: Path | None,
    runbooks_dir: Path | None = None,
    scenario: Scenario | None = None,
    limit_s: float = 300.0,
    then: Callable[[Settings, DemoResult], None] | None = None,
) -> DemoResult:
    """Start the embedded broker and Redis, run the demo, stop them again.

    ``then`` runs while they are still up, with the demo's settings and result (for
    ``correlator demo --serve``: report, then serve the API until interrupted).
    """
    with EmbeddedBroker(work_dir / "broker") as broker, EmbeddedRedis(work_dir / "redis") as redis:
        settings = demo_settings(broker.bootstrap_servers, redis.url, topology_dir, runbooks_dir)
        result = asyncio.run(run_scenario(settings, scenario or Scenario(), limit_s))
        if then is not None:
            then(settings, result)
        return result
