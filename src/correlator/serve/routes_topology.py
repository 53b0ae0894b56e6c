"""``/topology``: the service graph as JSON and as an SVG picture."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from correlator.serve.auth import Principal, require
from correlator.serve.context import ServeContext, get_ctx
from correlator.serve.routes_incidents import _ERRORS
from correlator.serve.schemas import TopologyView
from correlator.serve.settings import Scope
from correlator.serve.topology_view import topology_svg, topology_view

__all__ = ["router"]

router = APIRouter(tags=["topology"])
Ctx = Annotated[ServeContext, Depends(get_ctx)]
Reader = Annotated[Principal, Depends(require(Scope.READ))]


@router.get("/topology", response_model=TopologyView, responses=_ERRORS)
async def get_topology(ctx: Ctx, _: Reader) -> TopologyView:
    """Services and caller → callee edges, declared and learned from spans."""
    return topology_view(ctx.topology())


@router.get(
    "/topology.svg",
    response_class=Response,
    responses={**_ERRORS, 200: {"content": {"image/svg+xml": {}}, "description": "SVG picture"}},
)
async def get_topology_svg(ctx: Ctx, _: Reader) -> Response:
    """The topology drawn in layers by call depth (callers left of callees)."""
    return Response(topology_svg(ctx.topology()), media_type="image/svg+xml")
