"""The act stage as a consumer of the incidents topic, in its own consumer group.

``RunbookWorker`` reads ``IncidentChange`` JSON from a Source, hands each change to the
Executor, and commits the batch only after every execution it caused is stored (and
published). A store or broker outage retries the same batch in place; a message that is
not an IncidentChange is logged and skipped. Between batches the worker expires stale
approvals and runs approved executions.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from typing import Any

import httpx
from pydantic import ValidationError

from correlator.act.actions.base import ActionDeps, ActionRegistry
from correlator.act.actions.plugins import default_registry
from correlator.act.executor import Executor
from correlator.act.loader import load_runbooks
from correlator.act.records import ExecutionRecord
from correlator.act.runbook import Runbook
from correlator.act.settings import ActSettings, act_settings_of
from correlator.clock import Clock, SystemClock
from correlator.errors import CorrelatorError
from correlator.model.incident import IncidentChange
from correlator.model.message import RawMessage
from correlator.store.base import StateStore
from correlator.store.redis import RedisStateStore
from correlator.transport.admin import ensure_topics
from correlator.transport.base import Sink, Source
from correlator.transport.kafka import KafkaSink, KafkaSource

__all__ = ["RunbookWorker", "decode_change", "run_worker"]

log = logging.getLogger(__name__)


def decode_change(message: RawMessage) -> IncidentChange | None:
    """The IncidentChange in ``message``, or None (logged) if it is not one."""
    if message.value is None:
        return None
    try:
        return IncidentChange.model_validate_json(message.value)
    except ValidationError as exc:
        log.warning(
            "skipping %s[%d]@%d: not an IncidentChange (%d errors, first: %s)",
            message.topic,
            message.partition,
            message.offset,
            exc.error_count(),
            exc.errors()[0]["msg"],
        )
        return None


class RunbookWorker:
    """Consumes incident changes and executes matching runbooks."""

    def __init__(
        self,
        source: Source,
        executor: Executor,
        *,
        poll_timeout_s: float = 0.2,
        retry_backoff_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.source = source
        self.executor = executor
        self._poll_timeout_s = poll_timeout_s
        self._retry_backoff_s = retry_backoff_s
        self._sleep = sleep
        self._last_housekeeping = float("-inf")

    async def process(self, batch: Sequence[RawMessage]) -> list[ExecutionRecord]:
        """Execute for every change in ``batch`` (retrying outages), then commit it."""
        out: list[ExecutionRecord] = []
        for message in batch:
            change = decode_change(message)
            if change is not None:
                out += await self._retrying(functools.partial(self.executor.handle, change))
        await self._retrying(lambda: self._commit(batch))
        return out

    async def _commit(self, batch: Sequence[RawMessage]) -> list[ExecutionRecord]:
        await self.source.commit(batch)
        return []

    async def _retrying(
        self, work: Callable[[], Awaitable[list[ExecutionRecord]]]
    ) -> list[ExecutionRecord]:
        while True:
            try:
                return await work()
            except CorrelatorError as exc:
                if not exc.retriable:
                    raise
                log.warning("act: %s; retrying in %.1fs", exc, self._retry_backoff_s)
                await self._sleep(self._retry_backoff_s)

    async def run_once(self) -> list[ExecutionRecord]:
        """One poll: a batch of changes, then housekeeping if it is due."""
        batch = await self.source.get_batch(self._poll_timeout_s)
        out = await self.process(batch) if batch else []
        now = self.executor.clock.monotonic()
        if now - self._last_housekeeping >= self.executor.settings.poll_s:
            self._last_housekeeping = now
            out += await self._retrying(self.executor.housekeeping)
        return out

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until ``stop`` is set."""
        while not stop.is_set():
            await self.run_once()


async def run_worker(
    settings: Any,
    *,
    act: ActSettings | None = None,
    runbooks: Sequence[Runbook] | None = None,
    store: StateStore | None = None,
    source: Source | None = None,
    sink: Sink | None = None,
    http: httpx.AsyncClient | None = None,
    registry: ActionRegistry | None = None,
    environ: Mapping[str, str] | None = None,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run the act stage until ``stop`` is set (forever when None).

    ``settings`` is the main :class:`~correlator.config.Settings`; ``act`` defaults to
    ``settings.act``. Every port not given is built from settings (Kafka source in the
    ``act.group_id`` group on ``topics.incidents``, Kafka sink, Redis store) and closed on
    exit. ``environ`` is where ``${ENV:NAME}`` secrets come from (default: the process
    environment, read here and nowhere else in the act stage).
    """
    act = act or act_settings_of(settings)
    registry = registry or default_registry()
    if runbooks is None:
        folder = settings.runbooks_dir
        runbooks = [] if folder is None else load_runbooks(folder, registry)
    async with AsyncExitStack() as stack:
        if store is None:
            store = RedisStateStore(
                settings.redis.url.get_secret_value(), prefix=settings.redis.key_prefix
            )
            await store.start()
            stack.push_async_callback(store.stop)
        if sink is None or source is None:
            await ensure_topics(
                settings.kafka,
                [settings.topics.incidents, act.executions_topic],
                settings.topics.partitions,
            )
            if sink is None:
                sink = KafkaSink(settings.kafka)
                await sink.start()
                stack.push_async_callback(sink.stop)
            if source is None:
                source = KafkaSource(
                    settings.kafka, [settings.topics.incidents], group_id=act.group_id
                )
                await source.start()
                stack.push_async_callback(source.stop)
        if http is None:
            http = await stack.enter_async_context(httpx.AsyncClient(timeout=30.0))
        deps = ActionDeps(settings=act, http=http, sink=sink, clock=clock or SystemClock())
        executor = Executor(
            runbooks,
            store,
            registry,
            deps,
            environ=os.environ if environ is None else environ,
        )
        worker = RunbookWorker(
            source, executor, poll_timeout_s=settings.kafka.poll_timeout_ms / 1000
        )
        log.info(
            "act worker: %d runbooks, dry_run=%s, group %s",
            len(runbooks),
            act.dry_run,
            act.group_id,
        )
        await worker.run(stop or asyncio.Event())
