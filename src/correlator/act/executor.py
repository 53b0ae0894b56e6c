"""The executor: from an incident change to audited runbook executions.

For each runbook that matches a change:

1. claim the idempotency key ``runbook:<name>:<incident_id>:<version>`` (put_if_absent);
   if it was taken, the earlier execution is returned, or resumed if it was cut off
   mid-run (steps that finished are not run again, see :meth:`Executor._step`);
2. refuse on the kill switch, a cooldown or the rate limit (``SKIPPED`` with the reason);
3. park ``approval: required`` runbooks as ``PENDING_APPROVAL``;
4. otherwise run the steps (dry-run unless both the setting and the runbook say live),
   apply ``on_failure`` (stop, continue, rollback), and store and publish the record.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from correlator.act.actions.base import ActionDeps, ActionRegistry
from correlator.act.approval import APPROVED, PENDING, Approvals
from correlator.act.audit import AuditLog
from correlator.act.context import default_target, template_context
from correlator.act.guards import Guards, kill_switch_on
from correlator.act.matching import matches, select_runbooks
from correlator.act.records import (
    ExecutionRecord,
    ExecutionStatus,
    Reason,
    StepPhase,
    StepRecord,
    StepStatus,
    execution_id_for,
)
from correlator.act.runbook import Approval, OnFailure, Runbook, Step
from correlator.act.settings import ActSettings
from correlator.act.steps import StepRunner
from correlator.act.template import (
    MissingSecretError,
    TemplateError,
    compile_template,
    render_value,
)
from correlator.model.incident import IncidentChange
from correlator.store.base import StateStore, WriteBatch

__all__ = ["Executor"]

log = logging.getLogger(__name__)


class Executor:
    """Matches changes to runbooks and runs them safely; see the module docstring."""

    def __init__(
        self,
        runbooks: Sequence[Runbook],
        store: StateStore,
        registry: ActionRegistry,
        deps: ActionDeps,
        *,
        audit: AuditLog | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.runbooks = list(runbooks)
        self._by_name = {rb.name: rb for rb in self.runbooks}
        self.store = store
        self.settings: ActSettings = deps.settings
        self.clock = deps.clock
        self.audit = audit or AuditLog(
            store, deps.sink, deps.settings.executions_topic, deps.settings.timeline_max
        )
        self.approvals = Approvals(self.audit, self.clock, deps.settings.idempotency_ttl_s)
        self._guards = Guards(store, deps.settings, self.clock)
        self._environ: Mapping[str, str] = environ or {}
        self._runner = StepRunner(registry, deps, self._environ)

    # --- entry points ----------------------------------------------------------------

    async def handle(self, change: IncidentChange) -> list[ExecutionRecord]:
        """Run (or park, or refuse) every runbook that matches ``change``."""
        return [await self._trigger(rb, change) for rb in select_runbooks(self.runbooks, change)]

    async def run_approved(self) -> list[ExecutionRecord]:
        """Run the executions approved since the last call (and resume cut-off ones)."""
        out: list[ExecutionRecord] = []
        for record in await self.approvals.approved():
            if await self._lease(record.execution_id):
                out.append(await self._run_approved(record))
        return out

    async def _lease(self, execution_id: str) -> bool:
        """One worker at a time runs an approved execution; a dead worker's lease lapses."""
        key = f"execution:{execution_id}:lease"
        now = self.clock.now().timestamp()
        ttl = self.settings.lease_s
        if await self.store.put_if_absent(key, str(now).encode(), ttl):
            return True
        held = await self.store.get(key)
        if held is not None and now - float(held) < ttl:
            return False
        batch = WriteBatch()
        batch.put(key, str(now).encode(), ttl_s=ttl)
        await self.store.write(batch)
        return True

    async def housekeeping(self) -> list[ExecutionRecord]:
        """Expire stale approvals, close outside decisions, run approved executions."""
        expired = await self.approvals.expire()
        settled = await self.approvals.settle()
        return [*expired, *settled, *await self.run_approved()]

    # --- trigger ---------------------------------------------------------------------

    async def _trigger(self, runbook: Runbook, change: IncidentChange) -> ExecutionRecord:
        execution_id = execution_id_for(runbook.name, change.incident_id, change.version)
        key = f"runbook:{runbook.name}:{change.incident_id}:{change.version}"
        ttl = self.settings.idempotency_ttl_s
        if not await self.store.put_if_absent(key, execution_id.encode(), ttl):
            existing = await self.audit.get(execution_id)
            if existing is not None and existing.status is ExecutionStatus.RUNNING:
                log.warning("resuming execution %s of %s", execution_id, runbook.name)
                return await self._run(runbook, change, existing)
            if existing is not None:
                log.info(
                    "execution %s of %s already %s",
                    execution_id,
                    runbook.name,
                    existing.status.value,
                )
                return existing
        now = self.clock.now()
        record = ExecutionRecord(
            execution_id=execution_id,
            runbook=runbook.name,
            incident_id=change.incident_id,
            version=change.version,
            change=change.change,
            target=default_target(change),
            dry_run=self.settings.dry_run or runbook.dry_run,
            status=ExecutionStatus.RUNNING,
            reason=Reason.MATCHED,
            created_at=now,
        )
        try:
            record.target = self._target(runbook, change, execution_id)
        except TemplateError as exc:
            return await self._finish(record, ExecutionStatus.SKIPPED, Reason.RENDER_FAILED, exc)
        refusal = await self._guards.refusal(runbook, record.target, execution_id)
        if refusal is not None:
            return await self._finish(record, ExecutionStatus.SKIPPED, refusal)
        if runbook.approval is Approval.REQUIRED:
            return await self._park(record, change)
        return await self._run(runbook, change, record)

    def _target(self, runbook: Runbook, change: IncidentChange, execution_id: str) -> str:
        if runbook.target is None:
            return default_target(change)
        context = template_context(runbook, change, execution_id)
        return str(compile_template(runbook.target).render(context))

    async def _park(self, record: ExecutionRecord, change: IncidentChange) -> ExecutionRecord:
        record.status = ExecutionStatus.PENDING_APPROVAL
        record.reason = Reason.APPROVAL_REQUIRED
        record.expires_at = record.created_at + timedelta(seconds=self.settings.approval_expiry_s)
        batch = WriteBatch()
        batch.index_add(PENDING, record.execution_id, record.expires_at.timestamp())
        await self.audit.save(record, change=change, timeline=True, publish=True, batch=batch)
        log.info(
            "execution %s of %s waits for approval until %s",
            record.execution_id,
            record.runbook,
            record.expires_at.isoformat(),
        )
        return record

    async def _run_approved(self, record: ExecutionRecord) -> ExecutionRecord:
        runbook = self._by_name.get(record.runbook)
        change = await self.audit.trigger(record.execution_id)
        if runbook is None or change is None:
            return await self._finish(record, ExecutionStatus.FAILED, Reason.RUNBOOK_GONE)
        if await kill_switch_on(self.store, self.settings):
            return await self._finish(record, ExecutionStatus.SKIPPED, Reason.KILL_SWITCH)
        return await self._run(runbook, change, record)

    # --- run -------------------------------------------------------------------------

    def _contexts(
        self, runbook: Runbook, change: IncidentChange, record: ExecutionRecord
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        base = template_context(runbook, change, record.execution_id, record.target)
        masked = {
            **base,
            "params": render_value(runbook.parameters, base, self._environ, mask=True),
        }
        try:
            real = {**base, "params": render_value(runbook.parameters, base, self._environ)}
        except MissingSecretError:
            if not record.dry_run:
                raise
            real = masked
        record.parameters = masked["params"]
        return real, masked

    async def _run(
        self, runbook: Runbook, change: IncidentChange, record: ExecutionRecord
    ) -> ExecutionRecord:
        if record.status is ExecutionStatus.RUNNING and record.started_at is not None:
            record.reason = Reason.RESUMED
        record.status = ExecutionStatus.RUNNING
        record.started_at = record.started_at or self.clock.now()
        record.steps = []
        try:
            real, masked = self._contexts(runbook, change, record)
        except TemplateError as exc:
            return await self._finish(record, ExecutionStatus.FAILED, Reason.RENDER_FAILED, exc)
        await self.audit.save(record, change=change)
        failed: OnFailure | None = None
        any_failed = False
        for index, step in enumerate(runbook.steps):
            if step.when is not None and not matches(step.when, change, any_change=True):
                record.steps.append(self._skipped(step, index))
                continue
            done = await self._step(record, step, index, StepPhase.MAIN, real, masked)
            if done.status.ok:
                continue
            policy = step.on_failure or runbook.on_failure
            if policy is OnFailure.CONTINUE:
                any_failed = True
                continue
            failed = policy
            break
        if failed is OnFailure.ROLLBACK:
            ok = True
            for index, step in enumerate(runbook.rollback):
                done = await self._step(record, step, index, StepPhase.ROLLBACK, real, masked)
                ok = ok and done.status.ok
            status = ExecutionStatus.ROLLED_BACK if ok else ExecutionStatus.ROLLBACK_FAILED
            return await self._finish(record, status, Reason.STEP_FAILED)
        if failed is OnFailure.STOP:
            return await self._finish(record, ExecutionStatus.FAILED, Reason.STEP_FAILED)
        if any_failed:
            return await self._finish(record, ExecutionStatus.PARTIAL, Reason.STEP_FAILED)
        final = ExecutionStatus.DRY_RUN if record.dry_run else ExecutionStatus.SUCCEEDED
        return await self._finish(record, final, Reason.COMPLETED)

    def _skipped(self, step: Step, index: int) -> StepRecord:
        return StepRecord(
            index=index,
            name=step.name,
            action=step.action,
            status=StepStatus.SKIPPED,
            output="`when` does not match this change",
        )

    async def _step(
        self,
        record: ExecutionRecord,
        step: Step,
        index: int,
        phase: StepPhase,
        real: Mapping[str, Any],
        masked: Mapping[str, Any],
    ) -> StepRecord:
        """Run one step at most once per execution, across restarts."""
        now = self.clock.now()
        claim = StepRecord(
            index=index, name=step.name, action=step.action, phase=phase, started_at=now
        )
        prior = await self.audit.claim_step(record.execution_id, claim)
        if prior is not None:
            if prior.status is StepStatus.RUNNING:
                prior.status = StepStatus.INTERRUPTED
                prior.error = "the worker stopped while this step ran; it is not run again"
                prior.finished_at = now
                await self.audit.finish_step(record.execution_id, prior)
            record.steps.append(prior)
            return prior
        done = await self._runner.run(step, index, phase, real, masked, dry_run=record.dry_run)
        await self.audit.finish_step(record.execution_id, done)
        record.steps.append(done)
        await self.audit.save(record)
        log.info(
            "execution %s step %s/%s: %s",
            record.execution_id,
            phase.value,
            step.name,
            done.status.value,
        )
        return done

    async def _finish(
        self,
        record: ExecutionRecord,
        status: ExecutionStatus,
        reason: Reason,
        error: Exception | None = None,
    ) -> ExecutionRecord:
        record.status = status
        record.reason = reason
        record.finished_at = self.clock.now()
        if error is not None:
            record.error = str(error)
        batch = WriteBatch()
        batch.index_remove(APPROVED, record.execution_id)
        batch.index_remove(PENDING, record.execution_id)
        batch.delete(f"execution:{record.execution_id}:lease")
        await self.audit.save(record, timeline=True, publish=True, batch=batch)
        log.info(
            "execution %s of %s for %s v%d: %s (%s)",
            record.execution_id,
            record.runbook,
            record.incident_id,
            record.version,
            status.value,
            reason.value,
        )
        return record
