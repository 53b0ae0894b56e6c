"""The act worker on the real broker and Redis: commit after durable work, replay-safe."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from correlator.act.actions.base import ActionDeps
from correlator.act.actions.plugins import default_registry
from correlator.act.consumer import RunbookWorker, run_worker
from correlator.act.executor import Executor
from correlator.act.records import ExecutionRecord, ExecutionStatus, StepStatus
from correlator.act.runbook import Runbook
from correlator.act.settings import ActSettings
from correlator.config import Settings
from correlator.model.incident import IncidentChange
from correlator.model.message import RawMessage
from correlator.publish.stage import change_message
from correlator.store.redis import RedisStateStore
from correlator.transport.admin import ensure_topics
from correlator.transport.kafka import KafkaSink, KafkaSource

pytestmark = pytest.mark.integration

ChangeFactory = Callable[..., IncidentChange]
Parse = Callable[..., Runbook]

RUNBOOK = """\
name: notify-then-fix
match: {{root_cause: [payments-db]}}
dry_run: false
cooldown_s: 0
steps:
  - name: notify
    action: http
    with:
      url: "{url}/notify"
      body: {{incident: "{{{{ incident_id }}}}", version: "{{{{ version }}}}"}}
  - name: fix
    action: command
    with: {{argv: [{fix}]}}
    timeout_s: 60
"""


async def _publish(settings: Settings, changes: list[IncidentChange]) -> None:
    await ensure_topics(settings.kafka, [settings.topics.incidents], settings.topics.partitions)
    async with KafkaSink(settings.kafka) as sink:
        await sink.send([change_message(c, settings.topics.incidents) for c in changes])


def _executor(
    settings: Settings,
    store: RedisStateStore,
    sink: KafkaSink,
    http: httpx.AsyncClient,
    runbooks: list[Runbook],
    act: ActSettings,
) -> Executor:
    deps = ActionDeps(settings=act, http=http, sink=sink)
    return Executor(runbooks, store, default_registry(plugins=False), deps, environ={})


async def _drain(
    worker: RunbookWorker, want: int, timeout_s: float = 30.0
) -> list[ExecutionRecord]:
    out: list[ExecutionRecord] = []
    deadline = asyncio.get_running_loop().time() + timeout_s
    while len(out) < want:
        assert asyncio.get_running_loop().time() < deadline, f"only {len(out)} of {want}"
        out += await worker.run_once()
    return out


async def _read_all(settings: Settings, topic: str, group: str, want: int) -> list[RawMessage]:
    got: list[RawMessage] = []
    async with KafkaSource(settings.kafka, [topic], group_id=group) as source:
        deadline = asyncio.get_running_loop().time() + 30
        while len(got) < want and asyncio.get_running_loop().time() < deadline:
            got += await source.get_batch(0.5)
    return got


@pytest.mark.slow
async def test_restart_and_replay_never_run_a_step_twice(
    settings: Settings,
    redis_store: RedisStateStore,
    http_server: Any,
    http_client: httpx.AsyncClient,
    parse: Parse,
    change: ChangeFactory,
    unique: str,
) -> None:
    act = ActSettings(
        dry_run=False, command_allowlist=["echo"], executions_topic=f"{unique}-executions"
    )
    await ensure_topics(settings.kafka, [act.executions_topic], 1)
    rb = parse(RUNBOOK.format(url=http_server.url, fix='echo, "fixed {{ root_cause }}"'))
    changes = [
        change(incident_id="a"),
        change("updated", incident_id="a", version=2),  # no match: updates are not triggers
        change(incident_id="b"),
    ]
    await _publish(settings, changes)
    group = f"act-{unique}"

    async with KafkaSink(settings.kafka) as sink:
        source = KafkaSource(settings.kafka, [settings.topics.incidents], group_id=group)
        async with source:
            worker = RunbookWorker(
                source, _executor(settings, redis_store, sink, http_client, [rb], act)
            )
            first = await _drain(worker, 2)
        assert sorted((r.incident_id, r.status.value) for r in first) == [
            ("a", "succeeded"),
            ("b", "succeeded"),
        ]
        assert [s.output for s in first[0].steps] == ["200 {}", "fixed payments-db\n"]
        assert len(http_server.requests) == 2

        # A full replay (new group, from the earliest offset): same executions, no new steps.
        replay_group = f"act-replay-{unique}"
        async with KafkaSource(
            settings.kafka, [settings.topics.incidents], group_id=replay_group
        ) as replay:
            worker = RunbookWorker(
                replay, _executor(settings, redis_store, sink, http_client, [rb], act)
            )
            replayed = await _drain(worker, 2)
        assert {r.execution_id for r in replayed} == {r.execution_id for r in first}
        assert len(http_server.requests) == 2

    published = await _read_all(settings, act.executions_topic, f"read-{unique}", 2)
    records = [json.loads(m.value or b"") for m in published]
    assert sorted(r["incident_id"] for r in records) == ["a", "b"]
    assert {m.key for m in published} == {r.execution_id.encode() for r in first}


@pytest.mark.slow
async def test_crash_mid_execution_resumes_without_repeating_finished_steps(
    settings: Settings,
    redis_store: RedisStateStore,
    http_server: Any,
    http_client: httpx.AsyncClient,
    parse: Parse,
    change: ChangeFactory,
    unique: str,
) -> None:
    act = ActSettings(
        dry_run=False, command_allowlist=["sleep"], executions_topic=f"{unique}-executions"
    )
    await ensure_topics(settings.kafka, [act.executions_topic], 1)
    rb = parse(RUNBOOK.format(url=http_server.url, fix='sleep, "30"'))
    await _publish(settings, [change(incident_id="c")])
    group = f"act-{unique}"

    async with KafkaSink(settings.kafka) as sink:
        async with KafkaSource(
            settings.kafka, [settings.topics.incidents], group_id=group
        ) as source:
            worker = RunbookWorker(
                source, _executor(settings, redis_store, sink, http_client, [rb], act)
            )
            task = asyncio.create_task(worker.run(asyncio.Event()))
            for _ in range(300):
                if await redis_store.keys("execution:") and any(
                    k.endswith(":step:main:1") for k in await redis_store.keys("execution:")
                ):
                    break
                await asyncio.sleep(0.1)
            assert len(http_server.requests) == 1
            task.cancel()  # the worker dies while `sleep 30` runs; nothing was committed
            with pytest.raises(asyncio.CancelledError):
                await task

        # The restarted worker reads the uncommitted change again. A fresh group stands in
        # for the same one: rejoining a group on the test broker takes ~20 s, and with
        # nothing committed both start from the same offset.
        async with KafkaSource(
            settings.kafka, [settings.topics.incidents], group_id=f"act-resume-{unique}"
        ) as source:
            worker = RunbookWorker(
                source, _executor(settings, redis_store, sink, http_client, [rb], act)
            )
            [resumed] = await _drain(worker, 1)

    assert len(http_server.requests) == 1  # notify was not sent again
    assert [(s.name, s.status) for s in resumed.steps] == [
        ("notify", StepStatus.SUCCEEDED),
        ("fix", StepStatus.INTERRUPTED),
    ]
    assert resumed.status is ExecutionStatus.FAILED


async def test_run_worker_wires_kafka_and_redis_from_settings(
    settings: Settings, http_server: Any, parse: Parse, change: ChangeFactory, unique: str
) -> None:
    act = ActSettings(
        dry_run=True,
        command_allowlist=["echo"],
        executions_topic=f"{unique}-executions",
        group_id=f"act-{unique}",
    )
    rb = parse(RUNBOOK.format(url=http_server.url, fix='echo, "fixed"'))
    await _publish(settings, [change(incident_id="d")])
    stop = asyncio.Event()
    task = asyncio.create_task(run_worker(settings, act=act, runbooks=[rb], environ={}, stop=stop))
    store = RedisStateStore(settings.redis.url.get_secret_value(), prefix=settings.redis.key_prefix)
    await store.start()
    try:
        record: ExecutionRecord | None = None
        for _ in range(300):  # the record is stored when it starts, then when it ends
            ids = await store.index_range("executions:by_time")
            if ids:
                [(execution_id, _)] = ids
                blob = await store.get(f"execution:{execution_id}")
                assert blob is not None
                record = ExecutionRecord.model_validate_json(blob)
                if record.status is not ExecutionStatus.RUNNING:
                    break
            if task.done():
                break
            await asyncio.sleep(0.1)
        assert record is not None, "the worker stored no execution"
        assert record.status is ExecutionStatus.DRY_RUN, record.steps
        assert record.steps[0].rendered["body"] == {"incident": "d", "version": 1}
        assert http_server.requests == []
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)
        await store.stop()
