"""``/runbooks`` and ``/executions``: what can run, what ran, and approvals."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query

from correlator.serve.auth import Principal, require
from correlator.serve.context import ServeContext, get_ctx
from correlator.serve.routes_incidents import _ERRORS, BODY_ERRORS
from correlator.serve.schemas import ErrorBody, ExecutionDecision, ExecutionView, RunbookView
from correlator.serve.settings import Scope

__all__ = ["router"]

router = APIRouter(tags=["runbooks"])
Ctx = Annotated[ServeContext, Depends(get_ctx)]
Reader = Annotated[Principal, Depends(require(Scope.READ))]
Approver = Annotated[Principal, Depends(require(Scope.APPROVE))]
ExecutionId = Annotated[str, Path(min_length=1, max_length=200)]
DecisionIn = Annotated[ExecutionDecision, Body()]
_DECIDE = {
    **_ERRORS,
    **BODY_ERRORS,
    404: {"model": ErrorBody, "description": "No such execution"},
    409: {"model": ErrorBody, "description": "Not waiting for approval"},
}


@router.get("/runbooks", response_model=list[RunbookView], responses=_ERRORS)
async def get_runbooks(ctx: Ctx, _: Reader) -> list[RunbookView]:
    """The runbooks loaded from the runbooks folder."""
    return await ctx.runbooks()


@router.get("/executions", response_model=list[ExecutionView], responses=_ERRORS)
async def get_executions(
    ctx: Ctx,
    _: Reader,
    status: Annotated[str | None, Query(max_length=50, description="e.g. pending_approval")] = None,
    incident_id: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[ExecutionView]:
    """Runbook executions, newest first."""
    return await ctx.executions.list(status=status, incident_id=incident_id, limit=limit)


@router.post("/executions/{execution_id}/approve", response_model=ExecutionView, responses=_DECIDE)
async def approve(
    ctx: Ctx,
    who: Approver,
    execution_id: ExecutionId,
    body: DecisionIn = ExecutionDecision(),  # noqa: B008
) -> ExecutionView:
    """Let an execution that waits for approval run (needs the ``approve`` scope)."""
    view = await ctx.executions.decide(
        execution_id, approve=True, actor=who.name, reason=body.reason
    )
    return view


@router.post("/executions/{execution_id}/reject", response_model=ExecutionView, responses=_DECIDE)
async def reject(
    ctx: Ctx,
    who: Approver,
    execution_id: ExecutionId,
    body: DecisionIn = ExecutionDecision(),  # noqa: B008
) -> ExecutionView:
    """Refuse an execution that waits for approval (needs the ``approve`` scope)."""
    return await ctx.executions.decide(
        execution_id, approve=False, actor=who.name, reason=body.reason
    )
