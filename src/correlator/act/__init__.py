"""The act stage: runbooks matched to incident changes, executed safely and audited.

Public API, grouped::

    files       Runbook, load_runbooks, check_runbooks, Problem
    actions     ActionSpec, ActionRegistry, default_registry, register_action, ActionDeps
    running     Executor, RunbookWorker, run_worker, ActSettings
    safety      Approvals (approve/reject), set_kill_switch
    audit       AuditLog, ExecutionRecord, StepRecord, ExecutionStatus, StepStatus, Reason

The names load on first use, so ``correlator.config`` can import ``correlator.act.settings``
without pulling in the executor (and without an import cycle).
"""

from __future__ import annotations

from correlator.lazy import lazy_attributes

__all__ = [
    "ActSettings",
    "ActionConfig",
    "ActionDeps",
    "ActionFailedError",
    "ActionRefusedError",
    "ActionRegistry",
    "ActionSpec",
    "ApprovalError",
    "Approvals",
    "AuditLog",
    "ExecutionRecord",
    "ExecutionStatus",
    "Executor",
    "Problem",
    "Reason",
    "Runbook",
    "RunbookWorker",
    "StepRecord",
    "StepStatus",
    "TemplateError",
    "check_runbooks",
    "default_registry",
    "kill_switch_on",
    "load_runbooks",
    "register_action",
    "run_worker",
    "set_kill_switch",
]

_HOMES = {
    "ActSettings": "correlator.act.settings",
    "ActionConfig": "correlator.act.actions",
    "ActionDeps": "correlator.act.actions",
    "ActionFailedError": "correlator.act.actions",
    "ActionRefusedError": "correlator.act.actions",
    "ActionRegistry": "correlator.act.actions",
    "ActionSpec": "correlator.act.actions",
    "ApprovalError": "correlator.act.approval",
    "Approvals": "correlator.act.approval",
    "AuditLog": "correlator.act.audit",
    "ExecutionRecord": "correlator.act.records",
    "ExecutionStatus": "correlator.act.records",
    "Executor": "correlator.act.executor",
    "Problem": "correlator.act.loader",
    "Reason": "correlator.act.records",
    "Runbook": "correlator.act.runbook",
    "RunbookWorker": "correlator.act.consumer",
    "StepRecord": "correlator.act.records",
    "StepStatus": "correlator.act.records",
    "TemplateError": "correlator.act.template",
    "check_runbooks": "correlator.act.loader",
    "default_registry": "correlator.act.actions",
    "kill_switch_on": "correlator.act.guards",
    "load_runbooks": "correlator.act.loader",
    "register_action": "correlator.act.actions",
    "run_worker": "correlator.act.consumer",
    "set_kill_switch": "correlator.act.guards",
}

__getattr__ = lazy_attributes(__name__, _HOMES)
