"""``create_app``: the FastAPI application over the state store, a sink and the topology."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from correlator.clock import Clock
from correlator.config import TopicSettings
from correlator.correlate.topology import TopologyGraph
from correlator.errors import CorrelatorError
from correlator.serve import (
    routes_alerts,
    routes_executions,
    routes_incidents,
    routes_ops,
    routes_silences,
    routes_topology,
    web,
)
from correlator.serve.actions import IncidentActions
from correlator.serve.context import Check, LagProvider, ServeContext
from correlator.serve.executions import (
    ActExecutionBoard,
    ExecutionBoard,
    RunbookCatalog,
    runbooks_from_folder,
)
from correlator.serve.limits import BodyLimitMiddleware
from correlator.serve.metrics import EngineMetrics, StatsLike
from correlator.serve.problems import ApiProblem
from correlator.serve.settings import ServeSettings
from correlator.store.base import StateStore
from correlator.store.incidents import IncidentRepository
from correlator.transport.base import Sink

__all__ = ["create_app"]

_DESCRIPTION = """
Query and act on the incidents correlator finds, see the service topology, approve runbook
executions, send alerts the way Prometheus sends them to Alertmanager, silence alerts for a
maintenance window (the engine picks silences up without a restart), and scrape metrics.

Authenticate with `Authorization: Bearer <token>`; tokens and their scopes (`read`, `write`,
`approve`) come from `serve.tokens`. Every change to an incident is published to the
incidents topic as an `IncidentChange`, like the engine's own.
"""


def create_app(
    settings: ServeSettings,
    *,
    store: StateStore,
    sink: Sink,
    topology_provider: Callable[[], TopologyGraph],
    clock: Clock,
    stats_provider: Callable[[], StatsLike] | None = None,
    topics: TopicSettings | None = None,
    metrics: EngineMetrics | None = None,
    executions: ExecutionBoard | None = None,
    runbooks: RunbookCatalog | None = None,
    broker_check: Check | None = None,
    lag_provider: LagProvider | None = None,
    executions_topic: str = "runbook-executions",
    manage_ports: bool = True,
) -> FastAPI:
    """Build the API.

    With ``manage_ports`` the lifespan starts ``store`` and ``sink`` and stops them after;
    pass False when they are started already (by the engine, or a test fixture).
    ``stats_provider`` returns the engine's running counters when it runs in this process;
    ``broker_check`` answers whether the broker is reachable (for ``/readyz``).
    Approvals go through ``correlator.act`` and publish the decided execution to
    ``executions_topic`` (``settings.act.executions_topic``) unless ``executions`` is given.
    """
    metrics = metrics or EngineMetrics()
    topics = topics or TopicSettings()
    checks: dict[str, Check] = {"store": store.ping}
    if broker_check is not None:
        checks["broker"] = broker_check
    ctx = ServeContext(
        settings=settings,
        topics=topics,
        store=store,
        sink=sink,
        clock=clock,
        topology=topology_provider,
        metrics=metrics,
        executions=executions or ActExecutionBoard(store, clock, sink, executions_topic),
        runbooks=runbooks or runbooks_from_folder(None),
        actions=IncidentActions(store, sink, topics.incidents, clock, metrics),
        incidents=IncidentRepository(store),
        checks=checks,
        stats_provider=stats_provider,
        lag_provider=lag_provider,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if not manage_ports:
            yield
            return
        await store.start()
        try:
            await sink.start()
            try:
                yield
            finally:
                await sink.stop()
        finally:
            await store.stop()

    app = FastAPI(
        title="correlator",
        description=_DESCRIPTION,
        version="1",
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    for module in (
        routes_incidents,
        routes_topology,
        routes_executions,
        routes_alerts,
        routes_silences,
        routes_ops,
        web,
    ):
        app.include_router(module.router)
    _add_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app


def _add_error_handlers(app: FastAPI) -> None:
    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if isinstance(exc.detail, dict):
            body = exc.detail
        else:
            code = HTTPStatus(exc.status_code).phrase.lower().replace(" ", "_")
            body = {"error": code, "detail": str(exc.detail)}
        if request.url.path.startswith("/ui") and exc.status_code in (401, 403):
            return web.login_page(str(body.get("detail", "")), exc.status_code)
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    async def problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblem)
        if request.url.path.startswith("/ui"):
            return web.error_page(exc.detail, exc.status)
        return JSONResponse(exc.body(), status_code=exc.status)

    async def unavailable(request: Request, exc: Exception) -> Response:
        if not (isinstance(exc, CorrelatorError) and exc.retriable):
            raise exc
        return JSONResponse(
            {"error": "unavailable", "detail": f"{exc}; retry shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(ApiProblem, problem)
    app.add_exception_handler(CorrelatorError, unavailable)
