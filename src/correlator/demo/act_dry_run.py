"""The act stage in the demo: the runbook worker on the incidents topic, in dry-run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from correlator.act import AuditLog, ExecutionRecord, run_worker
from correlator.config import Settings
from correlator.model.message import RawMessage
from correlator.store.redis import RedisStateStore
from correlator.transport.base import Source
from correlator.transport.kafka import KafkaSource

__all__ = ["run_runbooks"]


class _CountingSource:
    """A source that sets ``done`` once ``expected`` records were handled and committed."""

    def __init__(self, inner: Source, expected: int, done: asyncio.Event) -> None:
        self._inner, self._expected, self._done = inner, expected, done
        self._committed = 0

    async def start(self) -> None:
        await self._inner.start()

    async def stop(self) -> None:
        await self._inner.stop()

    async def get_batch(self, timeout_s: float) -> list[RawMessage]:
        return await self._inner.get_batch(timeout_s)

    async def commit(self, batch: Sequence[RawMessage]) -> None:
        await self._inner.commit(batch)
        self._committed += len(batch)
        if self._committed >= self._expected:
            self._done.set()


async def run_runbooks(
    settings: Settings, changes: int, incident_ids: Sequence[str], limit_s: float = 60.0
) -> list[ExecutionRecord]:
    """Run the act worker until it has handled ``changes`` records; return its executions."""
    done = asyncio.Event()
    kafka = KafkaSource(settings.kafka, [settings.topics.incidents], group_id=settings.act.group_id)
    source = _CountingSource(kafka, changes, done)
    await source.start()
    try:
        worker = asyncio.create_task(run_worker(settings, source=source, environ={}, stop=done))
        await asyncio.wait_for(done.wait(), limit_s)
        await worker
    finally:
        await source.stop()
    url = settings.redis.url.get_secret_value()
    async with RedisStateStore(url, settings.redis.key_prefix) as store:
        audit = AuditLog(store)
        records = [r for i in incident_ids for r in await audit.for_incident(i)]
    return sorted(records, key=lambda r: (r.incident_id, r.version, r.runbook))
