"""What every route needs, built once by ``create_app`` and kept on ``app.state.ctx``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from fastapi import Request

from correlator.clock import Clock
from correlator.config import TopicSettings
from correlator.correlate.topology import TopologyGraph
from correlator.serve.actions import IncidentActions
from correlator.serve.executions import ExecutionBoard, RunbookCatalog
from correlator.serve.metrics import EngineMetrics, StatsLike
from correlator.serve.settings import ServeSettings
from correlator.store.base import StateStore
from correlator.store.incidents import IncidentRepository
from correlator.transport.base import Sink

__all__ = ["Check", "LagProvider", "ServeContext", "get_ctx"]

Check = Callable[[], Awaitable[bool]]
LagProvider = Callable[[], Awaitable[Mapping[tuple[str, int], int]]]


@dataclass
class ServeContext:
    settings: ServeSettings
    topics: TopicSettings
    store: StateStore
    sink: Sink
    clock: Clock
    topology: Callable[[], TopologyGraph]
    metrics: EngineMetrics
    executions: ExecutionBoard
    runbooks: RunbookCatalog
    actions: IncidentActions
    incidents: IncidentRepository
    checks: dict[str, Check] = field(default_factory=dict)
    stats_provider: Callable[[], StatsLike] | None = None
    lag_provider: LagProvider | None = None


def get_ctx(request: Request) -> ServeContext:
    ctx: ServeContext = request.app.state.ctx
    return ctx
