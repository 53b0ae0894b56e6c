"""``/healthz``, ``/readyz`` and ``/metrics``."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from correlator.errors import CorrelatorError
from correlator.serve.auth import check, ui_token
from correlator.serve.context import Check, ServeContext, get_ctx
from correlator.serve.metrics import CONTENT_TYPE
from correlator.serve.settings import Scope
from correlator.store.incidents import OPEN

__all__ = ["router"]

router = APIRouter(tags=["operations"])
Ctx = Annotated[ServeContext, Depends(get_ctx)]
_CHECK_TIMEOUT_S = 2.0


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, bool]


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    """The process answers."""
    return Health(status="ok")


async def _run(probe: Check) -> bool:
    try:
        return bool(await asyncio.wait_for(probe(), _CHECK_TIMEOUT_S))
    except (TimeoutError, OSError, CorrelatorError):
        return False


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "A dependency does not answer"}},
)
async def readyz(ctx: Ctx) -> JSONResponse:
    """Ready when the store and the broker answer."""
    names = list(ctx.checks)
    results = await asyncio.gather(*(_run(ctx.checks[n]) for n in names))
    checks = dict(zip(names, results, strict=True))
    ready = all(results)
    body = Readiness(status="ready" if ready else "not_ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
async def metrics(request: Request, ctx: Ctx) -> Response:
    """Engine and API metrics in the Prometheus text format."""
    if not ctx.settings.metrics_public:
        check(request, ui_token(request), Scope.READ)
    if ctx.stats_provider is not None:
        ctx.metrics.sync(ctx.stats_provider())
    if ctx.lag_provider is not None:
        with contextlib.suppress(CorrelatorError, OSError):
            ctx.metrics.set_lag(await ctx.lag_provider())
    with contextlib.suppress(CorrelatorError, OSError):
        ctx.metrics.set_open_incidents(await ctx.store.index_size(OPEN))
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)
