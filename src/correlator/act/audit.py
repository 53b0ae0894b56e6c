"""The audit trail: execution documents, indexes, the incident timeline and the topic.

Keys (under the store's prefix)::

    execution:<id>                    the ExecutionRecord as JSON
    execution:<id>:change             the IncidentChange that triggered it (for approvals)
    execution:<id>:step:<phase>:<n>   one StepRecord; claimed before the step runs
    executions:by_time                index: execution id by created_at
    executions:incident:<incident>    index: execution ids of one incident
    incident:<id>:timeline            capped log shared with IncidentRepository (kind=runbook)
    runbook:<name>:<incident>:<ver>   idempotency key, value = execution id
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from correlator.act.records import ExecutionRecord, StepPhase, StepRecord
from correlator.model.incident import IncidentChange
from correlator.model.message import RawMessage
from correlator.store.base import StateStore, WriteBatch
from correlator.transport.base import Sink

__all__ = ["BY_TIME", "AuditLog", "execution_message"]

BY_TIME = "executions:by_time"


def _doc(execution_id: str) -> str:
    return f"execution:{execution_id}"


def execution_message(record: ExecutionRecord, topic: str) -> RawMessage:
    """The Kafka record of an execution: key = execution id, JSON value."""
    return RawMessage(
        topic=topic,
        key=record.execution_id.encode(),
        value=record.model_dump_json().encode(),
        partition=-1,
        headers=(
            ("incident-id", record.incident_id.encode()),
            ("status", record.status.value.encode()),
            ("content-type", b"application/json"),
        ),
    )


class AuditLog:
    """Reads and writes execution records; publishes them when given a sink."""

    def __init__(
        self,
        store: StateStore,
        sink: Sink | None = None,
        topic: str = "runbook-executions",
        timeline_max: int = 1000,
    ) -> None:
        self.store = store
        self._sink = sink
        self._topic = topic
        self._timeline_max = timeline_max

    async def get(self, execution_id: str) -> ExecutionRecord | None:
        blob = await self.store.get(_doc(execution_id))
        return None if blob is None else ExecutionRecord.model_validate_json(blob)

    async def get_many(self, execution_ids: Sequence[str]) -> list[ExecutionRecord]:
        blobs = await self.store.get_many([_doc(i) for i in execution_ids])
        return [ExecutionRecord.model_validate_json(b) for b in blobs if b is not None]

    async def recent(self, limit: int = 100) -> list[ExecutionRecord]:
        """Executions, newest first."""
        ids = [i for i, _ in await self.store.index_range(BY_TIME, reverse=True, limit=limit)]
        return await self.get_many(ids)

    async def for_incident(self, incident_id: str, limit: int = 100) -> list[ExecutionRecord]:
        index = f"executions:incident:{incident_id}"
        ids = [i for i, _ in await self.store.index_range(index, limit=limit)]
        return await self.get_many(ids)

    async def trigger(self, execution_id: str) -> IncidentChange | None:
        blob = await self.store.get(f"{_doc(execution_id)}:change")
        return None if blob is None else IncidentChange.model_validate_json(blob)

    def add_to(
        self,
        batch: WriteBatch,
        record: ExecutionRecord,
        *,
        change: IncidentChange | None = None,
        timeline: bool = False,
    ) -> None:
        """Queue the writes that store ``record`` (and its trigger, and a timeline entry)."""
        batch.put(_doc(record.execution_id), record.model_dump_json().encode())
        created = record.created_at.timestamp()
        batch.index_add(BY_TIME, record.execution_id, created)
        batch.index_add(f"executions:incident:{record.incident_id}", record.execution_id, created)
        if change is not None:
            batch.put(f"{_doc(record.execution_id)}:change", change.model_dump_json().encode())
        if timeline:
            batch.append(
                f"incident:{record.incident_id}:timeline",
                json.dumps(_timeline_entry(record)).encode(),
                max_len=self._timeline_max,
            )

    async def save(
        self,
        record: ExecutionRecord,
        *,
        change: IncidentChange | None = None,
        timeline: bool = False,
        publish: bool = False,
        batch: WriteBatch | None = None,
    ) -> None:
        """Store ``record`` durably, then publish it (if asked and a sink is set)."""
        batch = batch or WriteBatch()
        self.add_to(batch, record, change=change, timeline=timeline)
        await self.store.write(batch)
        if publish and self._sink is not None:
            await self._sink.send([execution_message(record, self._topic)])

    # --- steps -----------------------------------------------------------------------

    @staticmethod
    def step_key(execution_id: str, phase: StepPhase, index: int) -> str:
        return f"{_doc(execution_id)}:step:{phase.value}:{index}"

    async def claim_step(self, execution_id: str, step: StepRecord) -> StepRecord | None:
        """Mark a step as started; if it already was, return what was recorded."""
        key = self.step_key(execution_id, step.phase, step.index)
        if await self.store.put_if_absent(key, step.model_dump_json().encode()):
            return None
        blob = await self.store.get(key)
        return step if blob is None else StepRecord.model_validate_json(blob)

    async def finish_step(self, execution_id: str, step: StepRecord) -> None:
        batch = WriteBatch()
        batch.put(
            self.step_key(execution_id, step.phase, step.index), step.model_dump_json().encode()
        )
        await self.store.write(batch)


def _timeline_entry(record: ExecutionRecord) -> dict[str, object]:
    at = record.finished_at or record.started_at or record.created_at
    return {
        "at": at.isoformat(),
        "kind": "runbook",
        "version": record.version,
        "runbook": record.runbook,
        "execution_id": record.execution_id,
        "status": record.status.value,
        "reason": record.reason.value,
        "dry_run": record.dry_run,
        "actor": record.decided_by,
        "note": record.decision_reason or record.error,
        "steps": [f"{s.name}:{s.status.value}" for s in record.steps],
    }
