"""The act stage: runbooks matched to incident changes, executed safely and audited.

Public API, grouped::

    files       Runbook, load_runbooks, check_runbooks, Problem
    actions     ActionSpec, ActionRegistry, default_registry, register_action, ActionDeps
    running     Executor, RunbookWorker, run_worker, ActSettings
    safety      Approvals (approve/reject), set_kill_switch
    audit       AuditLog, ExecutionRecord, StepRecord, ExecutionStatus, StepStatus, Reason
"""

from correlator.act.actions import (
    ActionConfig,
    ActionDeps,
    ActionFailedError,
    ActionRefusedError,
    ActionRegistry,
    ActionSpec,
    default_registry,
    register_action,
)
from correlator.act.approval import ApprovalError, Approvals
from correlator.act.audit import AuditLog
from correlator.act.consumer import RunbookWorker, run_worker
from correlator.act.executor import Executor
from correlator.act.guards import kill_switch_on, set_kill_switch
from correlator.act.loader import Problem, check_runbooks, load_runbooks
from correlator.act.records import (
    ExecutionRecord,
    ExecutionStatus,
    Reason,
    StepRecord,
    StepStatus,
)
from correlator.act.runbook import Runbook
from correlator.act.settings import ActSettings
from correlator.act.template import TemplateError

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
