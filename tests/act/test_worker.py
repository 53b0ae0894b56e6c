"""RunbookWorker on the memory transport: commit only after durable work."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from correlator.act.consumer import RunbookWorker
from correlator.act.records import ExecutionStatus
from correlator.act.runbook import Runbook
from correlator.errors import StoreError
from correlator.model.incident import IncidentChange
from correlator.model.message import RawMessage
from correlator.publish.stage import change_message
from correlator.store.base import WriteBatch
from correlator.transport.memory import MemorySource

ChangeFactory = Callable[..., IncidentChange]

RUNBOOK = """\
name: say
match: {services: [payments]}
dry_run: false
steps:
  - name: say
    action: command
    with: {argv: [echo, "{{ incident_id }}"]}
"""


def _message(change: IncidentChange, offset: int) -> RawMessage:
    msg = change_message(change, "incidents")
    return RawMessage("incidents", msg.value, msg.key, partition=0, offset=offset)


async def test_worker_executes_and_commits_each_batch(
    kit: Any, parse: Callable[..., Runbook], change: ChangeFactory
) -> None:
    source = MemorySource(
        [
            [_message(change(incident_id="a"), 0), RawMessage("incidents", b"{not json", offset=1)],
            [_message(change(incident_id="b"), 2)],
        ]
    )
    worker = RunbookWorker(source, kit.executor([parse(RUNBOOK)], command_allowlist=["echo"]))
    first = await worker.run_once()
    assert [(r.incident_id, r.status) for r in first] == [("a", ExecutionStatus.SUCCEEDED)]
    assert source.committed == {("incidents", 0): 2}  # the bad message is skipped, not stuck
    second = await worker.run_once()
    assert [r.steps[0].output for r in second] == ["b\n"]
    assert source.committed == {("incidents", 0): 3}


class FlakyStore:
    """Fails the first ``failures`` writes like a Redis outage would."""

    def __init__(self, inner: Any, failures: int) -> None:
        self._inner = inner
        self.failures = failures

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def write(self, batch: WriteBatch) -> None:
        if self.failures:
            self.failures -= 1
            raise StoreError("Redis transaction failed: connection refused")
        await self._inner.write(batch)


async def test_worker_retries_an_outage_before_committing(
    kit: Any, parse: Callable[..., Runbook], change: ChangeFactory
) -> None:
    kit.store = FlakyStore(kit.store, failures=1)
    source = MemorySource([[_message(change(incident_id="a"), 0)]])
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        assert source.committed == {}  # nothing is committed while the work is not durable

    executor = kit.executor([parse(RUNBOOK)], command_allowlist=["echo"])
    worker = RunbookWorker(source, executor, retry_backoff_s=0.5, sleep=sleep)
    [record] = await worker.run_once()
    assert record.status is ExecutionStatus.SUCCEEDED
    assert sleeps == [0.5]
    assert source.committed == {("incidents", 0): 1}
