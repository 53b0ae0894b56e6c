"""``/silences``: maintenance windows kept in the store, which the engine picks up live.

The engine's correlate stage reloads them without a restart (``SilenceLoader`` checks the
store's silence version before each batch), so a silence posted here mutes matching alerts
from the next batch on; deleting it lets them through again.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from correlator.correlate.rules import Matcher, Silence, SilenceRepository
from correlator.serve.auth import Principal, require
from correlator.serve.context import ServeContext, get_ctx
from correlator.serve.problems import FieldProblem, NotFound
from correlator.serve.routes_incidents import _ERRORS, BODY_ERRORS
from correlator.serve.schemas import ErrorBody, SilenceBody, SilenceView
from correlator.serve.settings import Scope

__all__ = ["router", "silence_view"]

router = APIRouter(prefix="/silences", tags=["silences"])
Ctx = Annotated[ServeContext, Depends(get_ctx)]
Reader = Annotated[Principal, Depends(require(Scope.READ))]
Writer = Annotated[Principal, Depends(require(Scope.WRITE))]
SilenceId = Annotated[str, Path(min_length=1, max_length=200)]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NOT_FOUND = {**_ERRORS, 404: {"model": ErrorBody, "description": "No such silence"}}


def silence_view(silence: Silence, now: datetime) -> SilenceView:
    """The API's view of a stored silence; matchers written back as text."""
    state = "pending" if now < silence.starts_at else "active"
    if now >= silence.ends_at:
        state = "expired"
    return SilenceView(
        id=silence.id,
        matchers=[f"{m.name}{m.type.value}{m.value}" for m in silence.matchers],
        starts_at=silence.starts_at,
        ends_at=silence.ends_at,
        created_by=silence.created_by,
        comment=silence.comment,
        state=state,
    )


@router.get("", response_model=list[SilenceView], responses=_ERRORS)
async def get_silences(
    ctx: Ctx,
    _: Reader,
    include_expired: Annotated[bool, Query(description="Also silences that have ended")] = False,
) -> list[SilenceView]:
    """Active and scheduled silences, soonest ending first."""
    now = ctx.clock.now()
    found = await SilenceRepository(ctx.store).current(_EPOCH if include_expired else now)
    return [silence_view(s, now) for s in found]


@router.post(
    "",
    status_code=201,
    response_model=SilenceView,
    responses={**_ERRORS, **BODY_ERRORS},
)
async def post_silence(ctx: Ctx, who: Writer, body: SilenceBody) -> SilenceView:
    """Mute alerts matching every matcher between ``starts_at`` and ``ends_at``."""
    now = ctx.clock.now()
    if body.ends_at <= now:
        raise FieldProblem(["body", "ends_at"], "ends_at is in the past: a silence must end later")
    starts = body.starts_at or now
    if body.ends_at <= starts:
        raise FieldProblem(["body", "ends_at"], "ends_at must be after starts_at")
    silence = Silence(
        id=str(uuid.uuid4()),
        matchers=[Matcher.parse(m) for m in body.matchers],
        starts_at=starts,
        ends_at=body.ends_at,
        created_by=body.created_by or who.name,
        comment=body.comment,
    )
    repository = SilenceRepository(ctx.store)
    await repository.put(silence)
    await repository.prune(now)
    return silence_view(silence, now)


@router.delete("/{silence_id}", status_code=204, response_class=Response, responses=_NOT_FOUND)
async def delete_silence(ctx: Ctx, _: Writer, silence_id: SilenceId) -> Response:
    """Remove a silence: matching alerts are no longer muted from the engine's next batch."""
    repository = SilenceRepository(ctx.store)
    if await repository.get(silence_id) is None:
        raise NotFound(f"silence {silence_id!r} does not exist")
    await repository.delete(silence_id)
    return Response(status_code=204)
