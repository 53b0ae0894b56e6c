"""Approvals: executions of ``approval: required`` runbooks wait here for a person.

The serve stage calls :meth:`Approvals.approve` / :meth:`Approvals.reject`; the act
worker picks approved executions up (:meth:`Approvals.approved`) and expires stale ones
(:meth:`Approvals.expire`). A decision is taken once: the first of approve, reject or
expire claims ``execution:<id>:decision`` and the others are refused.

A decision written straight into the ``execution:<id>`` document (serve's
``StoreExecutionBoard`` sets ``status`` to ``approved`` / ``rejected``) is honoured too:
:meth:`Approvals.approved` returns pending-indexed executions whose document says
approved, and :meth:`Approvals.settle` closes the ones that say rejected.

Indexes (under the store's prefix)::

    approvals:pending     execution id by expires_at
    approvals:approved    execution id by decided_at
"""

from __future__ import annotations

from correlator.act.audit import AuditLog
from correlator.act.records import ExecutionRecord, ExecutionStatus, Reason
from correlator.clock import Clock
from correlator.errors import RunbookError
from correlator.store.base import WriteBatch

__all__ = ["APPROVED", "PENDING", "ApprovalError", "Approvals"]

PENDING = "approvals:pending"
APPROVED = "approvals:approved"


class ApprovalError(RunbookError):
    """The execution is unknown, not pending, already decided, or expired."""


class Approvals:
    """Approve, reject, list and expire pending executions."""

    def __init__(self, audit: AuditLog, clock: Clock, decision_ttl_s: float = 30 * 86400.0) -> None:
        self._audit = audit
        self._clock = clock
        self._ttl = decision_ttl_s

    async def pending(self, limit: int = 100) -> list[ExecutionRecord]:
        """Executions waiting for a decision, soonest to expire first."""
        ids = [i for i, _ in await self._audit.store.index_range(PENDING, limit=limit)]
        return await self._audit.get_many(ids)

    async def approved(self, limit: int = 100) -> list[ExecutionRecord]:
        """Approved executions not finished yet (including ones cut off mid-run)."""
        store = self._audit.store
        ids = [i for i, _ in await store.index_range(APPROVED, limit=limit)]
        ids += [i for i, _ in await store.index_range(PENDING, limit=limit) if i not in ids]
        runnable = (ExecutionStatus.APPROVED, ExecutionStatus.RUNNING)
        return [r for r in await self._audit.get_many(ids) if r.status in runnable]

    async def settle(self) -> list[ExecutionRecord]:
        """Close pending-indexed executions that were decided outside this class."""
        store = self._audit.store
        ids = [i for i, _ in await store.index_range(PENDING, limit=1000)]
        out: list[ExecutionRecord] = []
        for record in await self._audit.get_many(ids):
            if record.status is ExecutionStatus.PENDING_APPROVAL:
                continue
            batch = WriteBatch()
            batch.index_remove(PENDING, record.execution_id)
            if record.status is ExecutionStatus.APPROVED:
                batch.index_add(APPROVED, record.execution_id, self._clock.now().timestamp())
                await store.write(batch)
                continue
            if record.status.terminal:
                record.reason = {
                    ExecutionStatus.REJECTED: Reason.REJECTED,
                    ExecutionStatus.EXPIRED: Reason.EXPIRED,
                }.get(record.status, record.reason)
                record.finished_at = record.finished_at or self._clock.now()
                await self._audit.save(record, timeline=True, publish=True, batch=batch)
                out.append(record)
            else:
                await store.write(batch)
        return out

    async def approve(self, execution_id: str, who: str) -> ExecutionRecord:
        """Approve a pending execution; the act worker runs it on its next poll."""
        record = await self._decide(execution_id, who, ExecutionStatus.APPROVED, Reason.APPROVED)
        return record

    async def reject(self, execution_id: str, who: str, reason: str = "") -> ExecutionRecord:
        """Reject a pending execution; it never runs."""
        return await self._decide(
            execution_id, who, ExecutionStatus.REJECTED, Reason.REJECTED, note=reason
        )

    async def expire(self) -> list[ExecutionRecord]:
        """Expire every pending execution past its ``expires_at``; return them."""
        now = self._clock.now().timestamp()
        due = await self._audit.store.index_range(PENDING, max_score=now, limit=1000)
        out: list[ExecutionRecord] = []
        for execution_id, _ in due:
            try:
                out.append(
                    await self._decide(
                        execution_id, "system", ExecutionStatus.EXPIRED, Reason.EXPIRED
                    )
                )
            except ApprovalError:
                continue
        return out

    async def _decide(
        self,
        execution_id: str,
        who: str,
        status: ExecutionStatus,
        reason: Reason,
        note: str = "",
    ) -> ExecutionRecord:
        record = await self._audit.get(execution_id)
        if record is None:
            raise ApprovalError(f"no execution {execution_id!r}")
        if record.status is not ExecutionStatus.PENDING_APPROVAL:
            raise ApprovalError(
                f"execution {execution_id} is {record.status.value}, not pending_approval"
            )
        now = self._clock.now()
        expired = record.expires_at is not None and now >= record.expires_at
        if expired and status is not ExecutionStatus.EXPIRED:
            await self._decide(execution_id, "system", ExecutionStatus.EXPIRED, Reason.EXPIRED)
            raise ApprovalError(f"execution {execution_id} expired at {record.expires_at}")
        claim = f"execution:{execution_id}:decision"
        if not await self._audit.store.put_if_absent(claim, status.value.encode(), self._ttl):
            raise ApprovalError(f"execution {execution_id} was already decided")
        record.status = status
        record.reason = reason
        record.decided_by = who
        record.decided_at = now
        if note:
            record.decision_reason = note
        if status.terminal:
            record.finished_at = now
        batch = WriteBatch()
        batch.index_remove(PENDING, execution_id)
        if status is ExecutionStatus.APPROVED:
            batch.index_add(APPROVED, execution_id, now.timestamp())
        await self._audit.save(record, timeline=True, publish=True, batch=batch)
        return record
