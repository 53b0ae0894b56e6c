"""Execution and step records: what ran, why, with what parameters, and how it ended.

These are the documents stored under ``execution:<id>`` and published as JSON to the
``runbook-executions`` topic. Rendered parameters in them are always masked.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from correlator.model.incident import ChangeKind

__all__ = [
    "ExecutionRecord",
    "ExecutionStatus",
    "Reason",
    "StepPhase",
    "StepRecord",
    "StepStatus",
    "execution_id_for",
]


class ExecutionStatus(StrEnum):
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DRY_RUN = "dry_run"
    PARTIAL = "partial"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    ROLLBACK_FAILED = "rollback_failed"
    SKIPPED = "skipped"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self not in _OPEN


_OPEN = frozenset(
    {ExecutionStatus.PENDING_APPROVAL, ExecutionStatus.APPROVED, ExecutionStatus.RUNNING}
)


class Reason(StrEnum):
    """Why an execution is in its status (a decision carries a reason, not a bool)."""

    MATCHED = "matched"
    APPROVAL_REQUIRED = "approval_required"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    KILL_SWITCH = "kill_switch"
    COOLDOWN = "cooldown"
    RATE_LIMITED = "rate_limited"
    RUNBOOK_GONE = "runbook_gone"
    RENDER_FAILED = "render_failed"
    STEP_FAILED = "step_failed"
    COMPLETED = "completed"
    RESUMED = "resumed"


class StepPhase(StrEnum):
    MAIN = "main"
    ROLLBACK = "rollback"


class StepStatus(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    DRY_RUN = "dry_run"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    REFUSED = "refused"
    SKIPPED = "skipped"
    INTERRUPTED = "interrupted"

    @property
    def ok(self) -> bool:
        return self in (StepStatus.SUCCEEDED, StepStatus.DRY_RUN, StepStatus.SKIPPED)


class StepRecord(BaseModel):
    """One step of one execution (all its attempts)."""

    model_config = ConfigDict(extra="forbid")
    index: int
    name: str
    action: str
    phase: StepPhase = StepPhase.MAIN
    status: StepStatus = StepStatus.RUNNING
    attempts: int = 0
    rendered: dict[str, Any] = Field(
        default_factory=dict, description="Rendered config, secrets masked"
    )
    output: str = ""
    error: str | None = None
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None


class ExecutionRecord(BaseModel):
    """One runbook execution for one incident version."""

    model_config = ConfigDict(extra="forbid")
    execution_id: str
    runbook: str
    incident_id: str
    version: int
    change: ChangeKind
    target: str
    dry_run: bool
    status: ExecutionStatus
    reason: Reason
    parameters: dict[str, Any] = Field(default_factory=dict, description="Masked")
    steps: list[StepRecord] = Field(default_factory=list)
    error: str | None = None
    created_at: AwareDatetime
    started_at: AwareDatetime | None = None
    finished_at: AwareDatetime | None = None
    expires_at: AwareDatetime | None = None
    decided_by: str | None = None
    decided_at: AwareDatetime | None = None
    decision_reason: str | None = None

    @property
    def idempotency_key(self) -> str:
        return f"runbook:{self.runbook}:{self.incident_id}:{self.version}"


def execution_id_for(runbook: str, incident_id: str, version: int) -> str:
    """The id of the one execution of ``runbook`` for an incident version.

    >>> execution_id_for("restart", "inc-1", 3) == execution_id_for("restart", "inc-1", 3)
    True
    >>> len(execution_id_for("restart", "inc-1", 3))
    16
    """
    text = f"{runbook}\x1f{incident_id}\x1f{version}"
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()
