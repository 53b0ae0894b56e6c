"""``/incidents``: list, detail, and the actions that publish new versions."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query
from pydantic import AwareDatetime

from correlator.model.alert import Severity
from correlator.model.incident import IncidentStatus
from correlator.serve.actions import timeline_key
from correlator.serve.auth import Principal, require
from correlator.serve.context import ServeContext, get_ctx
from correlator.serve.problems import ApiProblem, NotFound
from correlator.serve.query import CursorError, IncidentQuery, SortKey, list_incidents, summary_of
from correlator.serve.schemas import (
    AssignBody,
    ChangeResult,
    CommentBody,
    ErrorBody,
    IncidentDetail,
    IncidentPage,
    MergeBody,
    NoteBody,
    RankedRootCause,
    SplitBody,
    TimelineEntry,
)
from correlator.serve.settings import Scope
from correlator.serve.topology_view import incident_roles, topology_view

__all__ = ["incident_detail", "router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or invalid token"},
    403: {"model": ErrorBody, "description": "The token lacks the scope"},
}
_ONE = {**_ERRORS, 404: {"model": ErrorBody, "description": "No such incident"}}
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not JSON in UTF-8"},
    413: {"model": ErrorBody, "description": "Body larger than serve.max_body_bytes"},
}
_ACT = {
    **_ONE,
    **BODY_ERRORS,
    409: {"model": ErrorBody, "description": "The incident's state forbids it, or it changed"},
}

router = APIRouter(prefix="/incidents", tags=["incidents"])
Ctx = Annotated[ServeContext, Depends(get_ctx)]
Reader = Annotated[Principal, Depends(require(Scope.READ))]
Writer = Annotated[Principal, Depends(require(Scope.WRITE))]
IncidentId = Annotated[str, Path(min_length=1, max_length=200, description="e.g. inc-1a2b3c")]


class BadCursor(ApiProblem):
    error = "bad_cursor"


@router.get(
    "",
    response_model=IncidentPage,
    responses={**_ERRORS, 400: {"model": ErrorBody, "description": "Bad cursor"}},
)
async def get_incidents(
    ctx: Ctx,
    _: Reader,
    status: Annotated[list[IncidentStatus], Query(description="open, resolved")] = [],  # noqa: B006
    service: Annotated[
        list[str], Query(description="Incidents touching any of these services")
    ] = [],  # noqa: B006
    severity: Annotated[list[Severity], Query(description="Incident severity")] = [],  # noqa: B006
    since: Annotated[
        AwareDatetime | None, Query(description="Active at or after it (ISO 8601, with zone)")
    ] = None,
    until: Annotated[
        AwareDatetime | None, Query(description="Opened at or before it (ISO 8601, with zone)")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="Text in title or labels")] = None,
    sort: SortKey = SortKey.UPDATED_DESC,
    limit: Annotated[int | None, Query(ge=1, le=500)] = None,
    cursor: Annotated[str | None, Query(max_length=2000, description="next_cursor")] = None,
) -> IncidentPage:
    """Incidents matching every filter given, one page at a time."""
    query = IncidentQuery(
        status=status,
        service=service,
        severity=severity,
        since=since,
        until=until,
        q=q or None,
        sort=sort,
        limit=limit or ctx.settings.default_page_size,
    )
    try:
        return await list_incidents(ctx.store, query, cursor, ctx.settings.max_scan)
    except CursorError as exc:
        raise BadCursor(str(exc)) from exc


async def incident_detail(ctx: ServeContext, incident_id: str) -> IncidentDetail:
    """Everything about one incident (also used by the web view)."""
    incident = await ctx.incidents.get(incident_id)
    if incident is None:
        raise NotFound(f"incident {incident_id!r} does not exist")
    executions = await ctx.executions.list(incident_id=incident_id, limit=100)
    timeline = _timeline(await ctx.store.read_log(timeline_key(incident_id)))
    nodes = [*incident.services, *(c.entity for c in incident.root_causes)]
    return IncidentDetail(
        **summary_of(incident).model_dump(),
        alerts=incident.alerts,
        root_causes=[
            RankedRootCause(rank=i, **c.model_dump())
            for i, c in enumerate(sorted(incident.root_causes, key=lambda c: -c.score), 1)
        ],
        timeline=timeline,
        executions=executions,
        topology=topology_view(ctx.topology(), nodes, incident_roles(incident)),
    )


def _timeline(raw: list[bytes]) -> list[TimelineEntry]:
    """Timeline entries, folding serve's note about a version into the version's entry."""
    out: list[dict[str, Any]] = []
    for blob in raw:
        try:
            entry = json.loads(blob)
        except ValueError:
            continue
        if not isinstance(entry, dict) or "at" not in entry or "kind" not in entry:
            continue
        folds = entry.get("source") == "api" and out and "source" not in out[-1]
        if folds and out[-1].get("version") == entry.get("version"):
            out[-1] = {**out[-1], **entry}
        else:
            out.append(entry)
    return [TimelineEntry.model_validate(e) for e in out]


@router.get("/{incident_id}", response_model=IncidentDetail, responses=_ONE)
async def get_incident(ctx: Ctx, _: Reader, incident_id: IncidentId) -> IncidentDetail:
    """Alerts, services, ranked root causes with evidence, timeline and topology subgraph."""
    return await incident_detail(ctx, incident_id)


NoteIn = Annotated[NoteBody, Body()]


@router.post("/{incident_id}/ack", response_model=ChangeResult, responses=_ACT)
async def ack(
    ctx: Ctx,
    who: Writer,
    incident_id: IncidentId,
    body: NoteIn = NoteBody(),  # noqa: B008
) -> ChangeResult:
    """Acknowledge: someone is on it (labels ``acknowledged_by``, ``acknowledged_at``)."""
    return await ctx.actions.ack(incident_id, who.name, body)


@router.post("/{incident_id}/resolve", response_model=ChangeResult, responses=_ACT)
async def resolve(
    ctx: Ctx,
    who: Writer,
    incident_id: IncidentId,
    body: NoteIn = NoteBody(),  # noqa: B008
) -> ChangeResult:
    """Resolve now (published as a ``resolved`` change)."""
    return await ctx.actions.resolve(incident_id, who.name, body)


@router.post("/{incident_id}/reopen", response_model=ChangeResult, responses=_ACT)
async def reopen(
    ctx: Ctx,
    who: Writer,
    incident_id: IncidentId,
    body: NoteIn = NoteBody(),  # noqa: B008
) -> ChangeResult:
    """Reopen a resolved incident (clears its acknowledgement)."""
    return await ctx.actions.reopen(incident_id, who.name, body)


@router.post("/{incident_id}/assign", response_model=ChangeResult, responses=_ACT)
async def assign(ctx: Ctx, who: Writer, incident_id: IncidentId, body: AssignBody) -> ChangeResult:
    """Assign to someone (label ``assignee``)."""
    return await ctx.actions.assign(incident_id, who.name, body)


@router.post("/{incident_id}/comments", response_model=ChangeResult, responses=_ACT)
async def comment(
    ctx: Ctx, who: Writer, incident_id: IncidentId, body: CommentBody
) -> ChangeResult:
    """Add a comment to the timeline."""
    return await ctx.actions.comment(incident_id, who.name, body)


@router.post("/{incident_id}/merge", response_model=ChangeResult, responses=_ACT)
async def merge(ctx: Ctx, who: Writer, incident_id: IncidentId, body: MergeBody) -> ChangeResult:
    """Move the other incident's alerts into this one; the other resolves as ``merged_into``."""
    return await ctx.actions.merge(incident_id, who.name, body)


@router.post("/{incident_id}/split", response_model=ChangeResult, responses=_ACT)
async def split(ctx: Ctx, who: Writer, incident_id: IncidentId, body: SplitBody) -> ChangeResult:
    """Move the alerts with the given fingerprints into a new incident (in ``related``)."""
    return await ctx.actions.split(incident_id, who.name, body)
